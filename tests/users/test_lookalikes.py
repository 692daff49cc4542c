"""Look-alike usernames share a skeleton, and disarm is imported by the first skeleton, not by the app."""

from __future__ import annotations

import subprocess
import sys

from conduit.users.lookalikes import skeleton

PROBE = """
import sys
import conduit.app, conduit.users.service, conduit.ops.cli
loaded_at_start = sorted(name for name in sys.modules if name.split(".")[0] == "disarm")
from conduit.users.lookalikes import skeleton
print(loaded_at_start, skeleton("\\u0430lice") == skeleton("alice"), "disarm" in sys.modules)
"""


def test_disarm_is_imported_on_the_first_skeleton_only() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[] True True"


def test_look_alikes_share_a_skeleton() -> None:
    assert skeleton("\u0430lice") == skeleton("alice") == skeleton("aIice")
    assert skeleton("alice") != skeleton("bob")
