from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``, e.g. ``2026-11-20T09:05:00.000Z``.

    The Postman suite requires the fraction even when it is zero.
    """
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
