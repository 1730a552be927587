"""Synthetic semesters on a documented generative model, with human errors and drift on request."""
