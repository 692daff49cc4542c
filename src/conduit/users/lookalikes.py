"""Look-alike usernames (issue 14, finding 11): a confusable skeleton after Unicode TR39.

Two names with the same skeleton look alike: Cyrillic ``\u0430`` (U+0430) in ``\u0430lice`` and Latin
``a`` in ``alice``, capital ``I`` and small ``l`` in ``aIice``. The skeleton is kept in
``users.username_skeleton`` (unique, indexed), so a look-alike of a taken name is the same conflict as
the name itself. The skeleton comes from disarm's ``skeleton_key`` (TR39's confusables table plus case
folding; docs/decisions.md). It is a key, never shown. A disarm upgrade that changes its table needs the
column recomputed (as migration 0005 does); the lock pins the version.

disarm is imported on the first call, not with the app: its tables cost every worker 3.8 MiB (issue 16,
docs/decisions.md "Memory"), and only a registration or a new username needs a skeleton.
"""

from __future__ import annotations


def skeleton(username: str) -> str:
    """The key two look-alike usernames share."""
    from disarm import skeleton_key

    return skeleton_key(username)
