"""The WSGI entry point: ``gunicorn conduit.wsgi:app`` (or uWSGI's ``module = conduit.wsgi:app``).

An unsafe or invalid configuration stops the worker with one line on stderr and exit status 4
(:mod:`conduit.startup`), gunicorn's "app failed to load", so the master stops instead of respawning
workers forever.

Under uWSGI, which loads this module in its master before forking (lazy-apps off), the multiprocess
metrics directory is prepared here, as deploy/gunicorn.conf.py does for gunicorn, so ``/metrics`` adds
up every worker; each worker drops its live gauges when it exits.
"""

from __future__ import annotations

import os

from conduit.observability import metrics_dir

try:
    import uwsgi  # type: ignore[import-untyped]  # only inside uWSGI
except ImportError:
    uwsgi = None

if uwsgi is not None:
    metrics_dir.prepare()

    def _at_exit() -> None:
        if os.getpid() == uwsgi.masterpid():
            metrics_dir.remove_own()
        else:
            metrics_dir.worker_exited(os.getpid())

    uwsgi.atexit = _at_exit

from conduit.app import create_app  # after the metrics directory is named
from conduit.settings import ConfigError
from conduit.startup import load_settings_or_exit, refuse

try:
    # uWSGI loads this module once, in its master: the place to check the database too, as gunicorn's
    # master does in deploy/gunicorn.conf.py; gunicorn's workers import it after that check.
    app = create_app(load_settings_or_exit(check_database=uwsgi is not None))
except ConfigError as exc:  # a log sink that cannot open
    refuse(exc)
