"""A gunicorn config: deploy/gunicorn.conf.py unchanged, plus one line per connection a worker accepts, in
the file $ACCEPT_LOG: the client's port and time.monotonic() (one clock for every process of the machine).

With it, tests/integration/test_faults.py tells a connection gunicorn accepted and then dropped (its doing)
from one the kernel completed but nobody accepted before the listening socket closed (the kernel resets
those, whatever the server does)."""

from __future__ import annotations

import os
import runpy
import time
from pathlib import Path
from typing import Any

_DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"
_settings = {name: value for name, value in runpy.run_path(str(_DEPLOY_CONFIG)).items() if name[:2] != "__"}
globals().update(_settings)


def post_worker_init(worker: Any) -> None:
    _settings["post_worker_init"](worker)
    log = open(os.environ["ACCEPT_LOG"], "a", buffering=1)  # noqa: SIM115 (open while the worker lives)
    enqueue = worker.enqueue_req  # gthread: each accepted connection goes through it

    def enqueue_req(conn: Any) -> None:
        log.write(f"{conn.client[1]} {time.monotonic():.6f}\n")
        enqueue(conn)

    worker.enqueue_req = enqueue_req
