"""Skip loudly on a laptop, fail under CI=true: every real dependency is required in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_or_skip(reason: str) -> NoReturn:
    """Skip loudly on a laptop; fail under CI=true, where every real dependency must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {reason}")
