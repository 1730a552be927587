"""Jinja filters that make numbers and times readable on the pages."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def when(value: datetime | None) -> str:
    """A time in UTC, to the minute; naive times (SQLite) are stored as UTC."""
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def register_filters(app: Flask) -> None:
    app.add_template_filter(percent, "percent")
    app.add_template_filter(number, "number")
    app.add_template_filter(when, "when")
