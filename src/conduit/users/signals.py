"""What the users area announces to the areas above it, which it must not import (tests/test_layers.py):
blinker signals, as Flask's own. A receiver runs in the request, after the commit."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: An account's public profile (username, bio or image) changed and is committed. Sender: the user id.
profile_changed = _signals.signal("profile-changed")
