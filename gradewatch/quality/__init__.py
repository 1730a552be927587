"""Data quality: the cleaning rules, the reference they clean against, and their report."""
