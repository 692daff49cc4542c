"""Faults under load against the live ``make stack`` topology: nginx, two gunicorn, PostgreSQL, Redis.

The module starts one stack with ``bin/stack.py up`` in a temp dir on free ports, with a PostgreSQL cluster
and a redis-server of its own (DATABASE_URL and REDIS_URL name dead ports, so the stack makes private
ones): only those are ever stopped, never the machine's servers. Each scenario drives tests/integration/
load.py through nginx for a bounded time, injects its fault, checks what the client saw and that every
acknowledged write exists once, and records its figures in ``var/reliability/results.json``, from which
``bin/reliability_table.py`` writes the table of docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from conduit.app import create_app
from conduit.settings import load_settings
from conduit.storage import migrations as migrate
from conduit.storage.database import DATABASE, get_db, make_engine
from harness.net import Reply, free_port, http_request
from tests.support.faults import (
    DEAD,
    FaultStack,
    SlowClients,
    assert_acknowledged_writes_exist_once,
    cut_short,
    describe,
    listening,
    process_environ,
    record,
    register,
    reported_as_error,
    require_tools,
    statuses,
    wait_gone,
)
from tests.support.listen_queue import accept_queue, accepted
from tests.support.load import Load, Writer
from tests.support.processes import GUNICORN_CONFIG, Proc, descendants
from tests.support.servers import REPO, server_env, stop, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[FaultStack]:
    require_tools()
    # The private cluster runs as the postgres user, which must reach it (pytest's tmp dirs are 0700).
    directory = Path(tempfile.mkdtemp(prefix="conduit-faults-"))
    directory.chmod(0o755)
    port, app_ports = free_port(), (free_port(), free_port())
    env = server_env(
        STACK_DIR=str(directory),
        STACK_PORT=str(port),
        STACK_APP_PORTS=",".join(map(str, app_ports)),
        DATABASE_URL=f"postgresql://postgres@{DEAD}/conduit_stack",
        REDIS_URL=f"redis://{DEAD}/0",
        WEB_CONCURRENCY="2",
        # Every request of the load passes through the rate limiter and its Redis counters (loopback is
        # exempt by default), under a limit it never reaches.
        RATE_LIMIT_EXEMPT="",
        RATE_LIMIT_API="100000/minute",
        # a few writers publish for the whole run: far above the per-account defaults
        RATE_LIMIT_ARTICLES_USER="100000/minute",
        RATE_LIMIT_COMMENTS_USER="100000/minute",
    )
    running = FaultStack(directory, port, app_ports, env)
    started = running.run("up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield running
    finally:
        stopped = running.run("down")
        for process in running.respawned:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not [p for p in (port, *app_ports) if listening(p)], "stack-down left ports open"
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def writers(fault_stack: FaultStack) -> list[Writer]:
    return [register(fault_stack, f"w{uuid.uuid4().hex[:10]}") for _ in range(3)]


def test_graceful_reload_under_load(fault_stack: FaultStack, writers: list[Writer]) -> None:
    fault_stack.settle()
    port = fault_stack.app_ports[0]
    old = fault_stack.workers(port)
    with Load(fault_stack.port, writers).running() as load:
        time.sleep(2)
        os.kill(fault_stack.master(port).pid, signal.SIGHUP)
        wait_gone(old, "the old workers after HUP")
        wait_until(lambda: len(fault_stack.workers(port)) == 2, "two new workers", 20)
        time.sleep(2)
    assert not fault_stack.workers(port) & old
    failed = [o for o in load.outcomes if not o.ok]
    acknowledged, _ = assert_acknowledged_writes_exist_once(fault_stack, load)
    record("1. graceful reload (HUP) of one master", load.outcomes, statuses(load.outcomes))
    assert not failed, describe(failed, fault_stack)
    assert acknowledged > 0


def test_rolling_restart_under_load(fault_stack: FaultStack, writers: list[Writer]) -> None:
    fault_stack.settle()
    with Load(fault_stack.port, writers).running() as load:
        time.sleep(2)
        for port in fault_stack.app_ports:
            master = fault_stack.master(port)
            environ, cwd = process_environ(master)
            os.kill(master.pid, signal.SIGTERM)
            wait_gone({master, *fault_stack.workers(port)}, f"gunicorn :{port} stopping")
            assert not listening(port)
            time.sleep(1)  # the other server alone
            mark = fault_stack.access_log_size()
            assert fault_stack.respawn({port: (environ, cwd)})[port] != master
            # nginx takes a server back after its fail_timeout: only then may the other one stop
            wait_until(partial(fault_stack.nginx_served_by, port, mark), f"nginx using :{port} again", 15)
    failed = [o for o in load.outcomes if not o.ok]
    assert_acknowledged_writes_exist_once(fault_stack, load)
    record(
        "2. rolling restart: TERM, start again, one upstream then the other",
        load.outcomes,
        statuses(load.outcomes),
    )
    assert not failed, describe(failed, fault_stack)


def test_kill_9_of_a_worker_under_load(fault_stack: FaultStack, writers: list[Writer]) -> None:
    fault_stack.settle()
    port = fault_stack.app_ports[0]
    master = fault_stack.master(port)
    with Load(fault_stack.port, writers, pause=0.02).running() as load:
        time.sleep(2)
        victim = sorted(fault_stack.workers(port), key=lambda p: p.pid)[0]
        os.kill(victim.pid, signal.SIGKILL)
        wait_gone({victim}, "the killed worker")
        wait_until(lambda: len(fault_stack.workers(port) - {victim}) == 2, "a replacement worker", 20)
        time.sleep(2)
    assert fault_stack.master(port) == master
    failed_reads = [o for o in load.outcomes if not o.ok and not o.write]
    failed_writes = [o for o in load.outcomes if not o.ok and o.write]
    acknowledged, _ = assert_acknowledged_writes_exist_once(fault_stack, load)
    record(
        "3. kill -9 of one worker",
        load.outcomes,
        f"{statuses(load.outcomes)}; failed reads: {statuses(failed_reads) or 'none'} "
        f"({sum(map(cut_short, failed_reads))} cut short); "
        f"failed writes: {statuses(failed_writes) or 'none'}; "
        f"{acknowledged} writes acknowledged, all stored once",
    )
    # nginx retries every GET the dead worker had not started to answer; one it had is cut short
    assert all(cut_short(o) for o in failed_reads), describe(failed_reads, fault_stack)
    assert all(reported_as_error(o) for o in failed_writes), describe(failed_writes, fault_stack)


def test_postgresql_stopped_for_5_seconds(fault_stack: FaultStack, writers: list[Writer]) -> None:
    fault_stack.settle()
    masters = {port: fault_stack.master(port) for port in fault_stack.app_ports}
    workers = {port: fault_stack.workers(port) for port in fault_stack.app_ports}
    pg_port = fault_stack.pg_port
    options = f"-p {pg_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={fault_stack.pgdata}"
    log = fault_stack.directory / "log" / "postgresql.log"
    readiness: list[Reply] = []
    with Load(fault_stack.port, writers).running() as load:
        time.sleep(2)
        fault_stack.pg_ctl("-m", "fast", "stop")
        down_at = load.elapsed()
        try:
            while load.elapsed() < down_at + 5:
                for base in (fault_stack.url, *(f"http://127.0.0.1:{p}" for p in fault_stack.app_ports)):
                    readiness.append(http_request(base, "GET", "/readyz", timeout=5))
                time.sleep(0.5)
        finally:
            up_at = load.elapsed()
            fault_stack.pg_ctl("-l", str(log), "-o", options, "start")
        back_at = load.elapsed()
        time.sleep(8)
    during = [o for o in load.outcomes if down_at <= o.started < back_at]
    refused = [o for o in load.outcomes if not o.ok]
    after = [o for o in load.outcomes if o.started >= back_at + 5]
    assert {port: fault_stack.master(port) for port in fault_stack.app_ports} == masters, (
        "a master was restarted"
    )
    assert {port: fault_stack.workers(port) for port in fault_stack.app_ports} == workers, (
        "a worker was restarted"
    )
    assert all(r.status == 503 and r.json()["status"] == "not ready" for r in readiness), readiness
    assert all(r.headers.get("Retry-After") for r in readiness)
    assert [o for o in during if not o.ok], "the outage was not seen at all"
    wrong = [o for o in refused if o.status != 503 or "retry-after" not in o.headers or o.error != "database"]
    assert not wrong, describe(wrong, fault_stack)
    assert [o for o in after if not o.ok] == []
    assert len(after) > 20
    last_failure = max(o.started + o.latency for o in refused)
    assert_acknowledged_writes_exist_once(fault_stack, load)
    record(
        "4. PostgreSQL stopped for 5 s",
        load.outcomes,
        f"{statuses(load.outcomes)}; every failure a 503 JSON `database` error with Retry-After; "
        f"/readyz 503 'not ready' ({len(readiness)} probes); last failure "
        f"{max(0.0, last_failure - up_at):.1f} s after the restart began, "
        f"0 failed of {len(after)} after that",
        outage_seconds=round(up_at - down_at, 1),
    )


def test_redis_down(fault_stack: FaultStack, writers: list[Writer]) -> None:
    fault_stack.settle()
    pid_file = fault_stack.pid_file("redis")
    redis = Proc.of(int(pid_file.read_text().split()[0]))
    title = re.search(r":(\d+)", " ".join(redis.cmdline()))  # redis-server retitles itself: "... host:port"
    assert title is not None
    port = title.group(1)
    command = [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", port]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(pid_file)]
    command += ["--logfile", str(fault_stack.directory / "log" / "redis.log")]
    readiness: list[Reply] = []
    with Load(fault_stack.port, writers).running() as load:
        time.sleep(2)
        os.kill(redis.pid, signal.SIGTERM)
        try:
            wait_gone({redis}, "redis-server stopping", 10)
            down_at = load.elapsed()
            while load.elapsed() < down_at + 6:
                for base in (fault_stack.url, *(f"http://127.0.0.1:{p}" for p in fault_stack.app_ports)):
                    readiness.append(http_request(base, "GET", "/readyz", timeout=5))
                time.sleep(0.5)
        finally:
            up_at = load.elapsed()
            subprocess.run(command, check=True, capture_output=True, timeout=10)
        wait_until(
            lambda: http_request(fault_stack.url, "GET", "/readyz").json()["checks"]["redis"] == "ok",
            "Redis again",
            10,
        )
        time.sleep(1)
    during = [o for o in load.outcomes if down_at <= o.started < up_at]
    failed = [o for o in load.outcomes if not o.ok]
    assert all(r.status == 200 for r in readiness), [r.body for r in readiness if r.status != 200]
    assert all(r.json()["checks"]["redis"] == "unavailable" for r in readiness)
    assert all(r.json()["degraded"] == ["redis"] for r in readiness)
    assert_acknowledged_writes_exist_once(fault_stack, load)
    record(
        "5. Redis stopped for 6 s",
        load.outcomes,
        f"{statuses(load.outcomes)}; /readyz 200 with degraded [redis] in all {len(readiness)} probes; "
        f"max latency while down {max(o.latency for o in during) * 1000:.0f} ms",
    )
    assert not failed, describe(failed, fault_stack)
    assert len(during) > 20


def test_kill_9_of_every_app_process_loses_no_acknowledged_write(
    fault_stack: FaultStack, writers: list[Writer]
) -> None:
    fault_stack.settle()
    with Load(fault_stack.port, writers, threads=6, pause=0.02, write_share=0.8).running() as load:
        time.sleep(3)
        saved = {}
        victims: set[Proc] = set()
        for port in fault_stack.app_ports:
            master = fault_stack.master(port)
            saved[port] = process_environ(master)
            victims |= {master, *descendants(master.pid)}
        for proc in victims:
            os.kill(proc.pid, signal.SIGKILL)
        killed_at = load.elapsed()
        wait_gone(victims, "every app process", 10)
        fault_stack.respawn(saved)
        fault_stack.settle()
        back_at = load.elapsed()
        time.sleep(2)
    acknowledged, stored = assert_acknowledged_writes_exist_once(fault_stack, load)
    failed = [o for o in load.outcomes if not o.ok]
    assert all(reported_as_error(o) for o in failed), describe(failed, fault_stack)
    assert [o for o in load.outcomes if o.started > back_at + 1 and not o.ok] == []
    assert [o for o in load.outcomes if o.started + o.latency < killed_at and not o.ok] == []
    record(
        "6. kill -9 of both masters and all workers, then start again",
        load.outcomes,
        f"{statuses(load.outcomes)}; {acknowledged} writes acknowledged with 201, each stored exactly once "
        f"({stored} stored: a write cut after its commit is stored but was reported as an error); "
        f"{len(victims)} processes killed, nginx serving again after {back_at - killed_at:.1f} s "
        "(every failure in that time: nginx's 502 JSON, with no server to send to)",
    )
    assert acknowledged > 50


def test_slow_clients_do_not_delay_normal_requests(fault_stack: FaultStack, writers: list[Writer]) -> None:
    fault_stack.settle()
    with Load(fault_stack.port, writers, write_share=0.0).running() as load:
        time.sleep(4)
        slow_from = load.elapsed()
        held = []
        with SlowClients(fault_stack.port, 200) as slow:
            for _ in range(18):
                time.sleep(0.5)
                held.append(slow.drip())
        slow_until = load.elapsed()
    before = sorted(o.latency for o in load.outcomes if o.started < slow_from)
    during = sorted(o.latency for o in load.outcomes if slow_from <= o.started < slow_until)
    failed = [o for o in load.outcomes if not o.ok]

    def p95(values: list[float]) -> float:
        return values[int(len(values) * 0.95)]

    record(
        "7. 200 slow clients (headers or body, 1 byte / 0.5 s, 9 s)",
        load.outcomes,
        f"{statuses(load.outcomes)}; normal GETs p95 {p95(before) * 1000:.0f} ms without, "
        f"{p95(during) * 1000:.0f} ms with the slow clients (max {during[-1] * 1000:.0f} ms); "
        f"{min(held)} of 200 slow connections still open at the end",
    )
    assert min(held) >= 190, held
    assert not failed, describe(failed, fault_stack)
    assert len(during) > 50
    assert p95(during) < max(1.0, 5 * p95(before)), (p95(before), p95(during))


def test_a_statement_over_db_statement_timeout_is_cancelled_but_not_a_migration(
    fault_stack: FaultStack,
) -> None:
    """A request stuck in the database is bounded (gunicorn's timeout does not end gthread threads)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{fault_stack.pg_port}/conduit_stack"
    engine = make_engine(load_settings(database_url=url, db_statement_timeout_ms=200))
    try:
        with engine.connect() as conn, pytest.raises(OperationalError) as cancelled:
            conn.execute(text("SELECT pg_sleep(2)"))
        assert isinstance(cancelled.value.orig, psycopg.errors.QueryCanceled)
        with engine.begin() as conn:
            migrate._no_statement_timeout(conn)
            conn.execute(text("SELECT pg_sleep(0.4)"))
    finally:
        engine.dispose()


def _start_gunicorn(tmp_path: Path, port: int, config: Path, **env: str) -> subprocess.Popen[bytes]:
    """gunicorn with two gthread workers on SQLite, answering /healthz."""
    environ = server_env(
        CONDUIT_ENV="development",
        DATABASE_URL=f"sqlite:///{tmp_path / 'conduit.db'}",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        LOG_LEVEL="warning",
        **env,
    )
    command = [sys.executable, "-m", "gunicorn", "-c", str(config), "conduit.wsgi:app"]
    with (tmp_path / "gunicorn.log").open("wb") as log:
        server = subprocess.Popen(command, env=environ, cwd=tmp_path, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: http_request(url, "GET", "/healthz").status == 200,
        "gunicorn",
        30,
        alive=lambda: server.poll() is None,
        log=tmp_path / "gunicorn.log",
    )
    return server


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def _request_in_flight(port: int) -> socket.socket:
    """A request whose headers are not finished: it holds a worker's thread, and so the worker, until the
    final CRLF is sent. Returned once a worker has accepted it (/proc/net/tcp)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(HEALTHZ[:-2])
    client_port = conn.getsockname()[1]
    wait_until(lambda: accepted(port, client_port), "a worker accepts the request in flight")
    return conn


def _answer(conn: socket.socket) -> bytes:
    """The start of the answer, or the error in its place; then close (gunicorn waits for that, up to 2 s)."""
    with conn:
        try:
            return conn.recv(16)
        except OSError as error:
            return repr(error).encode()


def test_a_stopping_gunicorn_answers_what_is_queued_then_refuses_while_it_finishes(tmp_path: Path) -> None:
    """deploy/gunicorn.conf.py's post_worker_init, step by step, with no race: connections the kernel
    completed before the workers saw the TERM are all answered, and once the workers have taken them the
    port stops listening although a request is still in flight: a new connection is refused (nginx sends
    it to the other server) instead of waiting in the queue to be reset when the last worker exits.

    The workers are stopped (SIGSTOP) while the connections queue up, and continued once the master has
    closed its socket and signalled them; /proc/net/tcp shows the listen queue. Without the hook the
    workers take at most one queued connection each on their way out and the port listens until the
    request in flight is done: 4 or 5 of the 6 queued connections got no answer, in 5 runs out of 5."""
    port = free_port()
    server = _start_gunicorn(tmp_path, port, GUNICORN_CONFIG)
    workers = descendants(server.pid)
    held: list[socket.socket] = []  # closed on the way out, or a worker waits 30 s for the request in flight
    try:
        assert len(workers) == 2, workers
        in_flight = _request_in_flight(port)
        held.append(in_flight)
        for worker in workers:
            os.kill(worker.pid, signal.SIGSTOP)
        wait_until(lambda: all(worker.stopped() for worker in workers), "the workers stop")
        queued = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(6)]
        held.extend(queued)
        for conn in queued:
            conn.sendall(HEALTHZ)
        wait_until(lambda: accept_queue(port) == 6, "6 connections in the listen queue")
        server.send_signal(signal.SIGTERM)
        wait_until(
            lambda: all(worker.signal_pending(signal.SIGTERM) for worker in workers),
            "the master closes its socket and signals the workers",
        )
        for worker in workers:
            os.kill(worker.pid, signal.SIGCONT)

        answers = [_answer(conn) for conn in queued]
        assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers), answers
        wait_until(lambda: accept_queue(port) is None, "the port stops listening", 10)
        assert server.poll() is None, "gunicorn exited: the request in flight no longer holds it"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        in_flight.sendall(b"\r\n")
        assert _answer(in_flight).startswith(b"HTTP/1.1 200")
        assert server.wait(timeout=40) == 0
    finally:
        for worker in workers:
            if worker.running():
                os.kill(worker.pid, signal.SIGCONT)
        for conn in held:
            conn.close()
        stop(server)


def test_a_stopping_gunicorn_refuses_new_connections_instead_of_resetting_them(tmp_path: Path) -> None:
    """The same under a stream of connections: TERM while 4 clients connect in a loop and a request is in
    flight. The port stops listening while that request is still held, each connection is answered or
    refused, and none that gunicorn accepted is reset or left unanswered.

    One reset is not gunicorn's to prevent (seen once in CI, 1 connection in 3,721): a connection the
    kernel completes after the last worker found the listen queue empty and before it closed the socket
    (microseconds, unless the worker is preempted right there) was accepted by nobody, and the kernel
    resets it when the socket closes. The accept log (tests/support/gunicorn_accept_log.py) tells it
    apart from a connection gunicorn accepted; the test above shows that nothing queued before the
    workers' last look is left. Without the hook the port listens until the request in flight is done,
    and this test fails there."""
    port = free_port()
    accept_log = tmp_path / "accepted.log"
    server = _start_gunicorn(
        tmp_path, port, REPO / "tests" / "support" / "gunicorn_accept_log.py", ACCEPT_LOG=str(accept_log)
    )
    counts = {"answered": 0, "refused": 0}
    others: list[tuple[int, float, str]] = []  # client port, when its connect() began, what it got
    lock = threading.Lock()
    done = threading.Event()

    def connect_repeatedly() -> None:
        while not done.is_set():
            began = time.monotonic()
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            except ConnectionRefusedError:
                outcome = "refused"
            else:
                with conn:
                    client_port = conn.getsockname()[1]
                    try:
                        conn.sendall(HEALTHZ)
                        answer = conn.recv(16)
                    except OSError as error:
                        answer = repr(error).encode()
                outcome = (
                    "answered" if answer.startswith(b"HTTP/1.1 200") else answer.decode(errors="replace")
                )
            with lock:
                if outcome in counts:
                    counts[outcome] += 1
                else:
                    others.append((client_port, began, outcome))
            time.sleep(0.002)

    clients = [threading.Thread(target=connect_repeatedly) for _ in range(4)]
    held: list[socket.socket] = []  # closed on the way out, or a worker waits 30 s for the request in flight
    try:
        for client in clients:
            client.start()
        time.sleep(1)
        in_flight = _request_in_flight(port)
        held.append(in_flight)
        server.send_signal(signal.SIGTERM)
        wait_until(lambda: accept_queue(port) is None, "the port stops listening", 10)
        assert server.poll() is None, "gunicorn exited: the request in flight no longer holds it"
        time.sleep(0.5)
        in_flight.sendall(b"\r\n")
        assert _answer(in_flight).startswith(b"HTTP/1.1 200")
        assert server.wait(timeout=40) == 0
    finally:
        done.set()
        for client in clients:
            if client.is_alive():
                client.join(10)
        for conn in held:
            conn.close()
        stop(server)
    accepts: dict[int, list[float]] = {}
    for line in accept_log.read_text().splitlines():
        client_port, at = line.split()
        accepts.setdefault(int(client_port), []).append(float(at))

    def reset_by_the_kernel(client_port: int, began: float, outcome: str) -> bool:
        reset = outcome.startswith(("ConnectionResetError", "BrokenPipeError"))
        return reset and not any(at >= began for at in accepts.get(client_port, []))

    dropped = [other for other in others if not reset_by_the_kernel(*other)]
    assert not dropped, f"{counts}; gunicorn accepted these, or they got no answer: {dropped}"
    assert counts["answered"] > 0, counts
    assert counts["refused"] > 0, counts


def test_a_connection_the_server_dropped_does_not_replace_the_response(fault_stack: FaultStack) -> None:
    """Seen in the PostgreSQL scenario: the session's ROLLBACK at the end of a request failed on the
    connection PostgreSQL had just dropped, and the exception escaped the app (gunicorn's HTML 500)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{fault_stack.pg_port}/conduit_stack"
    app = create_app(load_settings(conduit_env="testing", database_url=url, redis_url=None))
    try:
        with app.app_context():
            backend = get_db().session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with fault_stack.database() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        with app.app_context():
            assert get_db().session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        database = DATABASE.get(app)
        database.dispose()
