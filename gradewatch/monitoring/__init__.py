"""Monitoring: drift (``fit(reference)`` / ``calculate(data)``), accuracy once grades arrive, and alerts."""
