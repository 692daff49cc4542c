"""Prometheus metrics, correct under several gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (:mod:`conduit.observability.metrics_dir`, called by
deploy/gunicorn.conf.py and,
under uWSGI, by :mod:`conduit.wsgi`, sets it before the workers fork and empties the directory when the
master starts), every worker writes its values to files in that directory and ``/metrics`` adds up the
files of all workers, so a scrape gives the same totals whichever worker answers it. When a worker exits,
its counters and histograms stay (a total never goes down), its live gauges (in-flight requests, pool
connections) go.
Without the variable (embedded, tests, ``flask run``) a plain in-process registry is used.

The metrics live at module level, once per process: every app object of a process shares them (tests
build several apps, so they look at differences). ``/metrics`` is served to ``METRICS_ALLOW`` only;
anyone else gets the same 403 JSON nginx sends.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import Engine, event

from conduit import __version__
from conduit.observability import metrics_dir
from conduit.settings import Settings
from conduit.storage.database import DATABASE
from conduit.web.errors import error_response

#: The ``endpoint`` label of a request that matched no route (404, 405): never the raw path, whose values
#: a client could multiply at will.
UNMATCHED = "unmatched"
#: HTTP methods that keep their own ``method`` label; anything else a client invents is "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds. Most API answers take milliseconds; a login (argon2) tens of ms; 30 s is gunicorn's timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FORBIDDEN_MESSAGE = "is not allowed from this address"


def multiprocess_dir() -> str | None:
    return os.environ.get(metrics_dir.MULTIPROC_ENV) or None


_dir = multiprocess_dir()
if _dir:  # the values are files there; they cannot be created in a missing directory
    os.makedirs(_dir, exist_ok=True)

#: Holds the metrics of this module. In multiprocess mode it is not what ``/metrics`` reads (that is a
#: registry built per scrape from the files); a private registry keeps them out of the global default one.
REGISTRY = CollectorRegistry()
if not _dir:  # these read this process only, which is wrong when several workers answer the scrapes
    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)
    GCCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "conduit_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "endpoint", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "conduit_http_request_duration_seconds",
    "Time from the start of a request's handling to its response, by method and route template.",
    ["method", "endpoint"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_IN_FLIGHT = Gauge(
    "conduit_http_requests_in_flight",
    "Requests being handled now.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_POOL_CHECKED_OUT = Gauge(
    "conduit_db_pool_checked_out_connections",
    "Database connections checked out of the pools (in use by a request or command).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_POOL_CAPACITY = Gauge(
    "conduit_db_pool_max_connections",
    "Connections the pools may hold at most (DB_POOL_SIZE + DB_MAX_OVERFLOW per worker; 0: SQLite).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
READY = Gauge(
    "conduit_ready",
    "1 when the readiness check (what /readyz answers) passed at the last scrape, else 0.",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "conduit_build_info",
    "Always 1; the labels name the running version and source revision.",
    ["version", "revision"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
USERS_REGISTERED = Counter(
    "conduit_users_registered_total", "Accounts created by registration.", registry=REGISTRY
)
ARTICLES_PUBLISHED = Counter("conduit_articles_published_total", "Articles published.", registry=REGISTRY)
COMMENTS_CREATED = Counter("conduit_comments_created_total", "Comments created.", registry=REGISTRY)

_START = "_metrics_started"


def init_app(app: Flask, settings: Settings) -> None:
    """Time and count every request, watch the database pool, serve ``/metrics`` to METRICS_ALLOW.

    Call it right after the database is set up and before the other ``before_request`` hooks, so that a
    request refused early (401, 422) is timed and counted too.
    """
    BUILD_INFO.labels(__version__, settings.conduit_revision).set(1)
    database = DATABASE.find(app)
    engine: Engine | None = getattr(database, "engine", None)
    if engine is not None:
        watch_pool(engine, 0 if settings.is_sqlite else settings.db_pool_size + settings.db_max_overflow)
    if not settings.metrics_enabled:
        return
    app.before_request(_start_request)
    app.after_request(_count_response)
    app.teardown_request(_end_request)
    allowed = [ipaddress.ip_network(network, strict=False) for network in settings.metrics_allow]
    app.add_url_rule("/metrics", "metrics", _metrics_view(allowed), methods=["GET"])
    if settings.metrics_port is not None:
        app.before_request(_separate_port(settings.metrics_port))


#: What the metrics port serves besides ``/metrics``: the probes, so a scraper can tell up from down.
PROBES = frozenset({"/healthz", "/readyz"})


def local_port() -> int | None:
    """The port the connection came in on, from gunicorn's socket (the Host header can say anything)."""
    sock = request.environ.get("gunicorn.socket")
    try:
        port = sock.getsockname()[1] if sock is not None else None
    except (OSError, AttributeError, IndexError, TypeError):
        return None
    return port if isinstance(port, int) else None


def _separate_port(metrics_port: int) -> Callable[[], Response | None]:
    """``before_request``: ``/metrics`` only on the metrics port, and only it (and the probes) there."""

    def check() -> Response | None:
        if request.path in PROBES:
            return None
        if (local_port() == metrics_port) != (request.path == "/metrics"):
            return error_response(404, {"route": ["not found on this port"]})
        return None

    return check


def watch_pool(engine: Engine, capacity: int) -> None:
    """Count the connections checked out of *engine*'s pool (SQLAlchemy pool events)."""
    DB_POOL_CAPACITY.inc(capacity)

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        DB_POOL_CHECKED_OUT.dec()


def endpoint_label() -> str:
    """The route template (``/api/articles/<slug>``), never the raw path."""
    rule = request.url_rule
    return UNMATCHED if rule is None else rule.rule


def method_label() -> str:
    return request.method if request.method in KNOWN_METHODS else "other"


def _start_request() -> None:
    g.setdefault(_START, time.perf_counter())
    HTTP_IN_FLIGHT.inc()


#: The children of the request metrics by their label values, as ``labels()`` returns them (it checks
#: and converts the values and takes a lock on every call). As bounded as the metrics themselves: route
#: templates, known methods and statuses.
_REQUEST_COUNTERS: dict[tuple[str, str, int], Any] = {}
_REQUEST_DURATIONS: dict[tuple[str, str], Any] = {}


def _count_response(response: Response) -> Response:
    method, endpoint, status = method_label(), endpoint_label(), response.status_code
    counter = _REQUEST_COUNTERS.get((method, endpoint, status))
    if counter is None:
        counter = HTTP_REQUESTS.labels(method, endpoint, str(status))
        _REQUEST_COUNTERS[method, endpoint, status] = counter
    counter.inc()
    started: float | None = g.get(_START)
    if started is not None:
        duration = _REQUEST_DURATIONS.get((method, endpoint))
        if duration is None:
            duration = _REQUEST_DURATIONS[method, endpoint] = HTTP_DURATION.labels(method, endpoint)
        duration.observe(time.perf_counter() - started)
    return response


def _end_request(_exc: BaseException | None) -> None:
    if g.pop(_START, None) is not None:
        HTTP_IN_FLIGHT.dec()


def is_allowed(address: str | None, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return any(ip in network for network in allowed)


def _metrics_view(allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Callable[[], Response]:
    def metrics() -> Response:
        if not is_allowed(request.remote_addr, allowed):
            return error_response(403, {"request": [FORBIDDEN_MESSAGE]})
        READY.set(1 if _readiness_status() == 200 else 0)
        return Response(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)

    return metrics


def _readiness_status() -> int:
    """What ``/readyz`` would answer now (the same check), so alerts need no probe of their own."""
    from conduit.observability.health import (
        readyz,  # here: health imports the database layer, not needed at import
    )

    return readyz()[1]


def exposition() -> bytes:
    """The text format of every metric: all workers' in multiprocess mode, this process's otherwise."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
