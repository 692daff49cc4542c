"""The blocklist of common passwords (NIST SP 800-63B, 5.1.1.2; issue 14, finding 11).

The list is zxcvbn's ``passwords`` frequency list: the 30,000 most frequent passwords of Xato's corpus of
ten million passwords from breaches, shipped in the ``zxcvbn`` package (MIT; docs/decisions.md). Only
the entries a registration could use (at least PASSWORD_MIN characters) are kept; the comparison
ignores case, as the list is lowercase.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from conduit.users.schemas import PASSWORD_MIN


@cache
def _blocklist() -> frozenset[str]:
    """Loaded on the first check, from zxcvbn's ``frequency_lists`` module alone. Importing the zxcvbn
    package builds ranked dictionaries of all its lists: 12 MB more RSS in every worker, where loading
    this set costs about 5 MB, and only in a worker that checks a password (measured on 3.11)."""
    package = importlib.util.find_spec("zxcvbn")
    if package is None or not package.submodule_search_locations:
        raise RuntimeError("the zxcvbn package (the common-password list) is not installed")
    source = Path(next(iter(package.submodule_search_locations))) / "frequency_lists.py"
    spec = importlib.util.spec_from_file_location("conduit_zxcvbn_frequency_lists", source)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the common-password list from {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    words: list[str] = module.FREQUENCY_LISTS["passwords"]
    return frozenset(word for word in words if len(word) >= PASSWORD_MIN)


def is_common(password: str) -> bool:
    """Whether *password*, in any case, is on the list."""
    return password.lower() in _blocklist()
