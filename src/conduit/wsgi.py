"""The WSGI entry point: ``gunicorn conduit.wsgi:app``.

An unsafe or invalid configuration stops the worker with one line on stderr and exit status 4,
gunicorn's "app failed to load", so the master stops instead of respawning workers forever.
"""

from __future__ import annotations

import sys

from conduit.app import create_app
from conduit.settings import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.stderr.write(f"conduit: refusing to start: {exc}\n")
    sys.stderr.flush()
    raise SystemExit(4) from None
