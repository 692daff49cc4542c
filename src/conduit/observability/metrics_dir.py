"""The directory of Prometheus's multiprocess mode, set up by the server's master before it forks.

Every worker writes its metrics to files in one directory and ``/metrics`` adds up the files of all
workers (:mod:`conduit.observability.metrics`). ``PROMETHEUS_MULTIPROC_DIR`` names it; unset, the master
makes a
private one (two server instances on one host must never share a directory) and removes it at exit.
Either way its ``*.db`` files are deleted when the master starts: counters start from zero with a new
master. The master notes a directory it made in its environment (``CONDUIT_OWN_METRICS_DIR``), which
its re-executions and workers inherit.

Deliberately free of :mod:`prometheus_client` imports but one: :mod:`conduit.observability.metrics` reads the
variable when it is imported, so this must run first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OWN_ENV = "CONDUIT_OWN_METRICS_DIR"


def prepare() -> Path:
    """Name (making it when unset) and empty the directory; returns it."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        path = tempfile.mkdtemp(prefix="conduit-metrics-")
        os.environ[MULTIPROC_ENV] = path
        os.environ[OWN_ENV] = path
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # the last run's values (only prometheus_client's files)
        stale.unlink()
    return directory


def worker_exited(pid: int) -> None:
    """A worker is gone: keep its counters and histograms, drop its live gauges (in-flight requests and
    pool connections it no longer holds)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_own() -> None:
    """At the master's exit: remove the directory if the master made it."""
    own = os.environ.get(OWN_ENV)
    if own and own == os.environ.get(MULTIPROC_ENV):
        shutil.rmtree(own, ignore_errors=True)
