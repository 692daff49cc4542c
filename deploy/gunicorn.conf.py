"""gunicorn settings for Conduit (``conduit serve`` and ``make run`` use this file).

Every value can be overridden from the environment:

* ``GUNICORN_BIND`` (or ``HOST`` and ``PORT``): where to listen; default ``127.0.0.1:8000``.
* ``WEB_CONCURRENCY``: worker processes; default ``CPU cores + 1``.
* ``GUNICORN_THREADS``: threads per worker (gthread); default 2. Workers x threads is
  ``2 * cores + 2`` requests at once, about gunicorn's ``2 * cores + 1`` advice, in fewer processes.
* ``GUNICORN_WORKER_CLASS``: ``gthread`` (default) or ``sync``. gthread was chosen by measurement
  (bench/studies/worker_class.py, docs/decisions.md): behind nginx it serves as many requests as sync with
  ``2 * cores + 1`` workers, with 10-14 % less CPU per request (it keeps nginx's upstream keepalive
  connections) and about 45 % less memory.
* ``GUNICORN_TIMEOUT``, ``GUNICORN_GRACEFUL_TIMEOUT``, ``GUNICORN_KEEPALIVE`` (5 s: nginx drops its idle
  upstream connections after 4 s, before gunicorn does).
* ``METRICS_PORT``: a second listener, on the same host, where ``/metrics`` is served (and only there).
* ``FORWARDED_ALLOW_IPS``: proxies whose X-Forwarded-* headers gunicorn trusts; default loopback.
"""

import multiprocessing
import os

from conduit.observability.logs import gunicorn_logconfig
from conduit.settings import ConfigError
from conduit.startup import load_settings_or_exit, port_problem, refuse

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8000")
bind = os.environ.get("GUNICORN_BIND", f"{_host}:{_port}").split(",")
# METRICS_PORT: /metrics gets a listener of its own, which the app tells apart by its socket (issue 14).
if os.environ.get("METRICS_PORT"):
    bind.append(f"{_host}:{os.environ['METRICS_PORT']}")

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# A safety net against a slow leak, not a cure: the soak (docs/performance.md) shows none, and a new
# worker costs 0.5-0.7 s of CPU before its first request, 0.3 ms per request at 2,000 (issue 16).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "2000"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn >= 25 opens a control socket at a fixed path by default; two instances on one host
# would collide there, and Conduit does not use it.
control_socket_disable = True

# Logging: conduit.observability.logs decides the handlers for gunicorn's master and workers and for the
# app alike
# (LOG_FORMAT, LOG_DIR, LOG_SYSLOG_ADDRESS, ADMINS: docs/configuration.md); gunicorn's error log propagates
# to them. gunicorn's access log is off: the app writes one conduit.request line per request, with the
# request id, the real client address (ProxyFix), the status, the duration and the user id.
# An unusable configuration (or log sink) stops here with one line, before gunicorn starts anything.
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
accesslog = None


try:
    logconfig_dict = gunicorn_logconfig(load_settings_or_exit(), loglevel)
except ConfigError as _exc:  # a log sink that cannot open
    refuse(_exc)

proc_name = "conduit"


def on_starting(server: object) -> None:
    """Check, once, in the master, before any worker boots: the database answers and the port is free.
    Otherwise gunicorn stops with one line naming the setting, instead of every worker failing in turn
    (or five "Connection in use" retries) with tracebacks. Not on a re-exec (USR2) or socket activation,
    where the listening sockets are inherited."""
    load_settings_or_exit(check_database=True)
    if not (os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS")):
        problem = port_problem(list(server.cfg.bind))  # type: ignore[attr-defined]
        if problem:
            refuse(problem)
    # Prometheus multiprocess mode: name and empty the directory here, in the master, before any worker
    # forks. Not on a reload (HUP): counters carry on across reloads, from zero only with a new master.
    from conduit.observability import metrics_dir

    metrics_dir.prepare()


def post_worker_init(worker: object) -> None:
    """A stopping gthread worker closes its listening sockets at once instead of when it exits.

    After a TERM the master closes its copy of the listening socket, but each worker keeps its own until
    it has finished its requests, so the kernel goes on completing connections nobody will accept and
    resets them when the last worker exits: nginx has sent the request by then, and cannot retry a POST
    (docs/reliability.md, rolling restart). Here the worker accepts what already waits (and answers it
    with "Connection: close"), then closes its sockets: once all have, a new connection is refused, and
    nginx sends the request, POST included, to the other server. On a HUP the master and the new workers
    keep the socket open, so nothing is refused.

    One instant is left that no hook here can close: a connection the kernel completes after the last
    worker found the queue empty and before it closes the socket (microseconds, unless the worker is
    preempted right there) is accepted by nobody, and the kernel resets it as the socket closes. nginx
    retries it if it is a GET; a POST gets a 502 (docs/reliability.md, rolling restart)."""
    import select

    stop_accepting = getattr(worker, "set_accept_enabled", None)  # gthread only
    if stop_accepting is None:
        return

    def set_accept_enabled(enabled: bool) -> None:
        stop_accepting(enabled)
        if enabled or worker.alive:  # type: ignore[attr-defined]
            return
        for listener in worker.sockets:  # type: ignore[attr-defined]
            while select.select([listener], [], [], 0)[0]:
                worker.accept(listener)  # type: ignore[attr-defined]
            listener.close()

    worker.set_accept_enabled = set_accept_enabled  # type: ignore[attr-defined]


def child_exit(server: object, worker: object) -> None:
    """A worker is gone (stopped, recycled by max_requests, or killed)."""
    from conduit.observability import metrics_dir

    metrics_dir.worker_exited(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    from conduit.observability import metrics_dir

    metrics_dir.remove_own()
