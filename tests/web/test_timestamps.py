"""Timestamps leave as ISO-8601 UTC with exactly three fraction digits and ``Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conduit.web.timestamps import iso_utc

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 20, 9, 5, 0, tzinfo=UTC), "2026-11-20T09:05:00.000Z"),
        (datetime(2026, 11, 20, 9, 5, 0, 1, tzinfo=UTC), "2026-11-20T09:05:00.000Z"),
        (datetime(2026, 11, 20, 9, 5, 0, 7_000, tzinfo=UTC), "2026-11-20T09:05:00.007Z"),
        (datetime(2026, 11, 20, 9, 5, 0, 999_999, tzinfo=UTC), "2026-11-20T09:05:00.999Z"),
        (datetime(1999, 1, 2, 3, 4, 5, 120_000, tzinfo=UTC), "1999-01-02T03:04:05.120Z"),
    ],
)
def test_three_digit_milliseconds_and_z(value: datetime, expected: str) -> None:
    assert iso_utc(value) == expected
    assert ISO_MS_Z.match(iso_utc(value))


def test_other_time_zones_are_converted_to_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2026, 7, 1, 12, 0, 0, 250_000, tzinfo=paris_summer)) == "2026-07-01T10:00:00.250Z"
    new_york = timezone(timedelta(hours=-5))
    assert iso_utc(datetime(2026, 12, 31, 22, 30, tzinfo=new_york)) == "2027-01-01T03:30:00.000Z"
    india = timezone(timedelta(hours=5, minutes=30))
    assert iso_utc(datetime(2026, 1, 1, 0, 15, tzinfo=india)) == "2025-12-31T18:45:00.000Z"


def test_now_matches_the_format() -> None:
    assert ISO_MS_Z.match(iso_utc(datetime.now(UTC)))
