"""Metrics under real gunicorn with 2 workers: one total whichever worker answers the scrape.

The test names its own PROMETHEUS_MULTIPROC_DIR so that it can read each worker's file: that shows which
worker served what, which worker holds a request, and what a killed worker leaves behind.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from harness.net import free_port
from tests.support.gunicorn import Server, gunicorn, wait_until_healthy
from tests.support.servers import server_env, stop, wait_until

pytestmark = pytest.mark.slow

ROUTE = "/api/tags"
REQUESTS = "conduit_http_requests_total"
IN_FLIGHT = "conduit_http_requests_in_flight"


def scraped(metrics_server: Server, name: str, **labels: str) -> float:
    reply = metrics_server.request("GET", "/metrics")
    assert reply.status == 200, reply.body[:300]
    total = 0.0
    for family in text_string_to_metric_families(reply.body.decode()):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def per_worker(directory: Path, name: str, **labels: str) -> dict[int, float]:
    """*name* in each worker's own files (``counter_<pid>.db``, ``gauge_livesum_<pid>.db``, ...)."""
    values: dict[int, float] = {}
    for path in directory.glob("*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    values[pid] = values.get(pid, 0.0) + sample.value
    return values


def start(workdir: Path, sqlite_url: str, **extra: str) -> Iterator[Server]:
    port = free_port()
    env = server_env(
        PORT=str(port), WEB_CONCURRENCY="2", CONDUIT_ENV="testing", DATABASE_URL=sqlite_url, **extra
    )
    for name in ("METRICS_ENABLED", "METRICS_ALLOW", "CONDUIT_OWN_METRICS_DIR"):
        env.pop(name, None)
    if "PROMETHEUS_MULTIPROC_DIR" not in extra:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with gunicorn(workdir, env) as process:
        metrics_server = Server(
            process, f"http://127.0.0.1:{port}", workdir / "gunicorn.stdout", workdir / "gunicorn.stderr"
        )
        wait_until_healthy(metrics_server)
        yield metrics_server


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    path = tmp_path / "prometheus"
    path.mkdir()
    (path / "counter_4242.db").write_bytes(b"left by an earlier run")  # must be wiped at start
    return path


@pytest.fixture
def metrics_server(tmp_path: Path, sqlite_url: str, metrics_dir: Path) -> Iterator[Server]:
    workdir = tmp_path / "run"
    workdir.mkdir()
    yield from start(workdir, sqlite_url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), CONDUIT_REVISION="r1")


def workers(metrics_server: Server, directory: Path) -> set[int]:
    return {
        pid
        for pid in per_worker(directory, "conduit_db_pool_max_connections")
        if pid != metrics_server.process.pid
    }


def serve_on_both_workers(metrics_server: Server, directory: Path) -> int:
    """GET ROUTE on fresh connections, a few at a time, until both workers have served some; how many."""
    sent = 0
    with ThreadPoolExecutor(max_workers=6) as pool:
        while sent < 300:
            replies = list(pool.map(lambda _: metrics_server.request("GET", ROUTE).status, range(12)))
            assert replies == [200] * 12
            sent += 12
            served = per_worker(directory, REQUESTS, endpoint=ROUTE, status="200")
            if len([count for count in served.values() if count]) == 2:
                return sent
    pytest.fail(f"one worker served all {sent} requests: {served}")


def test_totals_are_the_same_whichever_worker_answers(metrics_server: Server, metrics_dir: Path) -> None:
    assert not (metrics_dir / "counter_4242.db").exists()
    assert len(workers(metrics_server, metrics_dir)) == 2

    sent = serve_on_both_workers(metrics_server, metrics_dir)
    served = per_worker(metrics_dir, REQUESTS, endpoint=ROUTE, status="200")
    assert sorted(served) == sorted(workers(metrics_server, metrics_dir)), served
    assert sum(served.values()) == sent

    # Every scrape reports the total, until both workers have answered scrapes.
    for _ in range(100):
        assert scraped(metrics_server, REQUESTS, method="GET", endpoint=ROUTE, status="200") == sent
        scrapes = per_worker(metrics_dir, REQUESTS, endpoint="/metrics")
        if len([count for count in scrapes.values() if count]) == 2:
            break
    else:
        pytest.fail(f"one worker answered every scrape: {scrapes}")
    assert scraped(metrics_server, "conduit_http_request_duration_seconds_count", endpoint=ROUTE) == sent
    assert scraped(metrics_server, "conduit_build_info", revision="r1") == 1
    reply = metrics_server.request("GET", "/metrics")
    assert b"process_cpu_seconds_total" not in reply.body  # per-process collectors are off
    assert b'endpoint="/api/tags"' in reply.body


def hold_a_request(metrics_server: Server) -> socket.socket:
    """A POST whose body never finishes: its worker counts it in flight until the worker dies."""
    connection = socket.create_connection(
        ("127.0.0.1", int(metrics_server.base_url.rsplit(":", 1)[1])), timeout=10
    )
    connection.sendall(
        b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"user": '
    )
    return connection


def test_a_killed_worker_keeps_its_counts_and_drops_its_live_gauges(
    metrics_server: Server, metrics_dir: Path
) -> None:
    sent = serve_on_both_workers(metrics_server, metrics_dir)
    connection = hold_a_request(metrics_server)
    try:
        holding: dict[int, float] = {}

        def held() -> bool:
            holding.update(per_worker(metrics_dir, IN_FLIGHT))
            return any(holding.values())

        wait_until(held, "a worker with a request in flight", 10)
        victim = next(pid for pid, count in holding.items() if count)
        assert scraped(metrics_server, IN_FLIGHT) == 2  # the held request and the scrape itself
        before = per_worker(metrics_dir, REQUESTS, endpoint=ROUTE)

        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                not (metrics_dir / f"gauge_livesum_{victim}.db").exists()
                and len(workers(metrics_server, metrics_dir) - {victim}) == 2
            ),
            "gunicorn to reap the killed worker and start another",
            15,
            alive=lambda: metrics_server.process.poll() is None,
            log=metrics_server.stderr,
        )
    finally:
        connection.close()

    assert (metrics_dir / f"counter_{victim}.db").exists()
    assert before[victim] > 0
    for _ in range(6):  # whichever worker answers: the dead one's requests still count
        assert scraped(metrics_server, REQUESTS, method="GET", endpoint=ROUTE, status="200") == sent
        assert (
            scraped(metrics_server, IN_FLIGHT) == 1
        )  # only the scrape: the held request died with its worker


def test_without_a_directory_gunicorn_makes_a_private_one(tmp_path: Path, sqlite_url: str) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    instances = start(workdir, sqlite_url, TMPDIR=str(private_tmp))
    metrics_server = next(instances)
    try:
        made = list(private_tmp.glob("conduit-metrics-*"))
        assert len(made) == 1, made
        for _ in range(10):
            assert metrics_server.request("GET", ROUTE).status == 200
        for _ in range(5):
            assert scraped(metrics_server, REQUESTS, endpoint=ROUTE) == 10
        assert list(made[0].glob("counter_*.db")), "the workers write no files there"
    finally:
        stop(metrics_server.process)
        instances.close()
    deadline = time.monotonic() + 5
    while made[0].exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not made[0].exists(), "the private directory outlived gunicorn"


def test_metrics_on_a_port_of_their_own(tmp_path: Path, sqlite_url: str) -> None:
    """Issue 14, finding 8: with METRICS_PORT, gunicorn listens there too; /metrics answers only on that
    port and that port serves nothing else but the probes, whatever the Host header claims."""
    metrics_port = free_port()
    workdir = tmp_path / "run"
    workdir.mkdir()
    for server in start(workdir, sqlite_url, METRICS_PORT=str(metrics_port)):
        api = server.request
        metrics = Server(server.process, f"http://127.0.0.1:{metrics_port}", server.stdout, server.stderr)
        assert api("GET", "/metrics").status == 404
        assert api("GET", "/metrics", headers={"Host": f"127.0.0.1:{metrics_port}"}).status == 404
        assert api("GET", "/api/tags").status == 200
        scrape = metrics.request("GET", "/metrics")
        assert scrape.status == 200
        assert "conduit_build_info" in scrape.body.decode()
        assert metrics.request("GET", "/api/tags").status == 404
        assert metrics.request("GET", "/readyz").status == 200
