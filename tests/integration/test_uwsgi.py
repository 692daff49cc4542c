"""The real thing, second kind: uWSGI with deploy/uwsgi/conduit.ini, spoken to over the uwsgi protocol
directly and through nginx's uwsgi_pass.

Only the port (CONDUIT_UWSGI_PORT) and the worker count (WEB_CONCURRENCY) differ from production; both
come from the environment the ini documents, so the ini itself is what runs.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from conduit.ops.nginx_config import (
    STATIC_ROOT,
    NginxTarget,
    StandaloneNginx,
    worker_user_for,
    write_standalone,
)
from harness.net import Reply, free_port, http_request
from tests.support.servers import REPO, server_env, wait_until
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.slow

UWSGI_INI = REPO / "deploy" / "uwsgi" / "conduit.ini"
START_TIMEOUT = 20.0
#: How long a graceful stop may take here, where no request is slow (worker-reload-mercy is 30 s).
STOP_TIMEOUT = 15.0
WORKERS = 2
OTHER_CLIENT = "127.0.0.2"  # a client address other than nginx's own


# --- the uwsgi protocol --------------------------------------------------------------------------------


def _sized(data: bytes) -> bytes:
    """A uwsgi string: 2-byte little-endian length, then the bytes."""
    return struct.pack("<H", len(data)) + data


def uwsgi_packet(variables: dict[str, str], body: bytes = b"") -> bytes:
    """One request: modifier1 0 (WSGI), 2-byte little-endian size of the variables, modifier2 0, the
    variables as key/value uwsgi strings, then the body (CONTENT_LENGTH bytes)."""
    payload = b"".join(
        _sized(key.encode("latin-1")) + _sized(value.encode("latin-1")) for key, value in variables.items()
    )
    return struct.pack("<BHB", 0, len(payload), 0) + payload + body


def request_variables(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, str]:
    """The CGI-style variables nginx's uwsgi_params sends for a request."""
    path_info, _, query = path.partition("?")
    variables = {
        "REQUEST_METHOD": method,
        "REQUEST_URI": path,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_SCHEME": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "localhost",
    }
    if body:
        variables["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        variables[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return variables


def parse_response(raw: bytes) -> Reply:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:  # an OSError, so that wait_until tries again
        raise ConnectionError(f"no complete HTTP response: {raw[:300]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    protocol, status, _reason = status_line.split(" ", 2)
    assert protocol.startswith("HTTP/"), status_line
    headers = dict(line.split(": ", 1) for line in header_lines)
    return Reply(int(status), headers, body)


def read_to_end(sock: socket.socket) -> bytes:
    """uWSGI closes the connection after each response."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def uwsgi_call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    """One request over the uwsgi protocol; a JSON *body* is sent as application/json."""
    data = b"" if body is None else json.dumps(body).encode()
    sent_headers = {"Content-Type": "application/json"} if data else {}
    sent_headers.update(headers or {})
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(uwsgi_packet(request_variables(method, path, data, sent_headers), data))
        return parse_response(read_to_end(sock))


# --- processes -----------------------------------------------------------------------------------------


def uwsgi_binary() -> str:
    """The venv's uwsgi (a dev dependency, built from PyPI); it finds the venv's packages by itself."""
    binary = Path(sys.executable).with_name("uwsgi")
    if not os.access(binary, os.X_OK):
        require_or_skip(f"uWSGI is not installed at {binary} (it is a dev dependency: make test installs it)")
    return str(binary)


def uwsgi_env(**values: str) -> dict[str, str]:
    """The test's environment without UWSGI_* variables: uWSGI reads each one as an option (UWSGI_SOCKET
    from a developer's shell would add a socket)."""
    env = {name: value for name, value in server_env(**values).items() if not name.startswith("UWSGI_")}
    env.pop("CONDUIT_UWSGI_PORT", None)
    env.pop("CONDUIT_UWSGI_SOCKET", None)
    env.update(values)
    return env


def start_time(pid: int) -> int:
    """The start time of a process (field 22 of /proc/PID/stat): a PID and its start time name one
    process, even if the PID is reused later."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def children_of(pid: int) -> dict[int, int]:
    """The children of *pid* (its uWSGI workers), each with its start time."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found[int(entry.name)] = int(fields[19])
    return found


def alive(pid: int, started: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19]) == started and fields[0] != "Z"


def stop_uwsgi(process: subprocess.Popen[bytes], workers: dict[int, int]) -> None:
    """Stop a uWSGI we started: SIGTERM (graceful, die-on-term), then SIGKILL; then make sure none of its
    workers (by PID and start time) outlived it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pid, started in workers.items():
        if alive(pid, started):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Uwsgi:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path
    #: Every worker seen so far (PID: start time), so that none can outlive the test.
    seen: dict[int, int] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        return uwsgi_call(self.port, method, path, body, headers)

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def workers(self) -> dict[int, int]:
        """The master's current workers (PID: start time)."""
        current = children_of(self.process.pid) if self.process.poll() is None else {}
        self.seen.update(current)
        return current


@contextmanager
def uwsgi(workdir: Path, env: dict[str, str], *args: str) -> Iterator[Uwsgi]:
    """uWSGI with its output in files (a pipe nobody reads could fill up and block it)."""
    stdout = workdir / "uwsgi.stdout"
    stderr = workdir / "uwsgi.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [uwsgi_binary(), "--ini", str(UWSGI_INI), *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        running = Uwsgi(process, int(env.get("CONDUIT_UWSGI_PORT", "8001")), stdout, stderr)
        try:
            yield running
        finally:
            running.workers()
            stop_uwsgi(process, running.seen)


def wait_until_serving(uwsgi_server: Uwsgi) -> None:
    wait_until(
        lambda: uwsgi_server.call("GET", "/healthz").status == 200,
        "uWSGI /healthz over the uwsgi protocol",
        START_TIMEOUT,
        alive=lambda: uwsgi_server.process.poll() is None,
        log=uwsgi_server.stderr,
    )
    uwsgi_server.workers()


@pytest.fixture
def uwsgi_server(workdir: Path, sqlite_url: str) -> Iterator[Uwsgi]:
    env = uwsgi_env(
        CONDUIT_UWSGI_PORT=str(free_port()),
        WEB_CONCURRENCY=str(WORKERS),
        CONDUIT_ENV="testing",
        DATABASE_URL=sqlite_url,
    )
    with uwsgi(workdir, env) as running:
        wait_until_serving(running)
        yield running


def uwsgi_get(option: str, **env: str) -> str:
    """What the ini sets *option* to in this environment (``uwsgi --get`` prints it and exits)."""
    result = subprocess.run(
        [uwsgi_binary(), "--ini", str(UWSGI_INI), "--get", option],
        env=uwsgi_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


# --- the ini -------------------------------------------------------------------------------------------


def test_the_ini_takes_port_and_workers_from_the_environment() -> None:
    cores = os.cpu_count() or 1
    assert uwsgi_get("processes") == str(2 * cores + 1)  # gunicorn's default, WEB_CONCURRENCY unset
    assert uwsgi_get("processes", WEB_CONCURRENCY="3") == "3"
    # A unix socket by default (issue 14, finding 8); TCP on loopback only when asked for by port.
    assert uwsgi_get("uwsgi-socket") == "/run/conduit/uwsgi.sock"
    assert uwsgi_get("uwsgi-socket", CONDUIT_UWSGI_SOCKET="/srv/x/uwsgi.sock") == "/srv/x/uwsgi.sock"
    assert uwsgi_get("chmod-socket") == "660"
    assert uwsgi_get("uwsgi-socket", CONDUIT_UWSGI_PORT="9123") == "127.0.0.1:9123"
    # The choices the other tests rely on, and gunicorn's figures.
    assert uwsgi_get("harakiri") == "30"
    assert uwsgi_get("worker-reload-mercy") == "30"
    assert uwsgi_get("max-requests") == "2000"
    assert uwsgi_get("lazy-apps") == "false"
    for flag in ("strict", "master", "need-app", "die-on-term", "vacuum", "single-interpreter"):
        assert uwsgi_get(flag) == "true", flag


# --- (a) the uwsgi protocol, directly ------------------------------------------------------------------


def test_serves_the_api_over_the_uwsgi_protocol(uwsgi_server: Uwsgi) -> None:
    tags = uwsgi_server.call("GET", "/api/tags")
    assert tags.status == 200
    assert tags.headers["Content-Type"].startswith("application/json")
    assert tags.json() == {"tags": []}

    user = {"user": {"username": "gina", "email": "gina@example.com", "password": "password123"}}
    created = uwsgi_server.call("POST", "/api/users", user)
    assert created.status == 201, created.body
    token = created.json()["user"]["token"]
    me = uwsgi_server.call("GET", "/api/user", headers={"Authorization": f"Token {token}"})
    assert me.status == 200
    assert me.json()["user"]["username"] == "gina"

    taken = uwsgi_server.call("POST", "/api/users", user)
    assert taken.status == 409
    missing = uwsgi_server.call("GET", "/api/no/such/route")
    assert missing.status == 404
    assert missing.headers["Content-Type"].startswith("application/json")

    # nginx sends the request id as X-Request-ID; the app echoes it and logs it on its one request line
    # (uWSGI's own request log is off: disable-logging).
    echoed = uwsgi_server.call("GET", "/api/tags?limit=1", headers={"X-Request-ID": "over-uwsgi-1"})
    assert echoed.headers["X-Request-ID"] == "over-uwsgi-1"
    line = request_line(uwsgi_server, "over-uwsgi-1")
    assert re.fullmatch(r'127\.0\.0\.1 "GET /api/tags\?limit=1 HTTP/1\.1" 200 [\d.]+ms', line), line
    assert sum("GET /api/tags?limit=1 " in line for line in uwsgi_server.log().splitlines()) == 1


def test_metrics_add_up_every_worker(workdir: Path, sqlite_url: str) -> None:
    """conduit.wsgi makes the multiprocess directory in uWSGI's master: one total per instance."""
    env = uwsgi_env(
        CONDUIT_UWSGI_PORT=str(free_port()),
        WEB_CONCURRENCY=str(WORKERS),
        CONDUIT_ENV="testing",
        DATABASE_URL=sqlite_url,
        LOG_FORMAT="json",  # the request lines name the worker (pid)
    )
    with uwsgi(workdir, env) as running:
        wait_until_serving(running)
        sent = 40
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: running.call("GET", "/api/tags").status, range(sent)))
        assert statuses == [200] * sent
        lines = [json.loads(line) for line in running.log().splitlines() if line.startswith("{")]
        served_by = {line["pid"] for line in lines if line.get("path") == "/api/tags"}
        assert len(served_by) == WORKERS, served_by  # both workers served some
        for _ in range(6):  # whichever worker answers the scrape, it reports the instance
            scrape = running.call("GET", "/metrics")
            assert scrape.status == 200
            assert tags_requests(text_string_to_metric_families(scrape.body.decode())) == sent


def tags_requests(families: Iterable[Metric]) -> float:
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "conduit_http_requests_total" and sample.labels.get("endpoint") == "/api/tags"
    )


def test_large_request_headers_fit(uwsgi_server: Uwsgi) -> None:
    """buffer-size: the request's variables may exceed uWSGI's default 4 KiB (then there is no answer)."""
    headers = {f"X-Pad-{number}": "p" * 3000 for number in range(4)}
    assert uwsgi_server.call("GET", "/api/tags", headers=headers).status == 200


def test_nothing_is_written_to_stdout(uwsgi_server: Uwsgi) -> None:
    for path in ("/healthz", "/readyz", "/api/tags", "/api/articles", "/nope"):
        uwsgi_server.call("GET", path)
    uwsgi_server.call("POST", "/api/users", {"user": {}})
    workers = uwsgi_server.workers()
    stop_uwsgi(uwsgi_server.process, workers)
    assert uwsgi_server.process.returncode == 0
    assert uwsgi_server.stdout.read_bytes() == b""
    log = uwsgi_server.log()
    assert "spawned uWSGI worker" in log  # the logs exist: they went to stderr
    assert '"GET /api/articles HTTP/1.1" 200' in log  # so did the request log
    assert "Traceback" not in log


# --- (b) what the socket exposes; the fork -------------------------------------------------------------


def _ipv4(hex_address: str) -> str:
    return socket.inet_ntoa(bytes.fromhex(hex_address)[::-1])


def _ipv6(hex_address: str) -> str:
    """An address of /proc/net/tcp6: four 32-bit words, each in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def _ipv6_plain(hex_address: str) -> str:
    """An address of /proc/net/if_inet6: the 16 bytes in order."""
    return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hex_address))


def open_files(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.add(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return found


def listening_sockets(pids: list[int]) -> set[tuple[str, int]]:
    """Every TCP address the processes listen on, from /proc (whatever uWSGI says about itself)."""
    inodes = {
        int(target[8:-1]) for pid in pids for target in open_files(pid) if target.startswith("socket:[")
    }
    found = set()
    for table, decode in (("/proc/net/tcp", _ipv4), ("/proc/net/tcp6", _ipv6)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A" and int(fields[9]) in inodes:  # 0A: LISTEN
                found.add((decode(address), int(port, 16)))
    return found


def other_addresses_of_this_host() -> list[str]:
    """This host's addresses other than loopback (and IPv6 link-local, which needs an interface)."""
    found = []
    last = None
    for line in Path("/proc/net/fib_trie").read_text().splitlines():
        match = re.search(r"\|-- (\d+\.\d+\.\d+\.\d+)$", line)
        if match:
            last = match.group(1)
        elif line.strip() == "/32 host LOCAL" and last and not last.startswith("127.") and last not in found:
            found.append(last)
    inet6 = Path("/proc/net/if_inet6")
    for line in inet6.read_text().splitlines() if inet6.exists() else []:
        address = _ipv6_plain(line.split()[0])
        if address != "::1" and not address.startswith("fe80:"):
            found.append(address)
    return found


def test_the_socket_is_bound_to_loopback_only(uwsgi_server: Uwsgi) -> None:
    bound = re.findall(r"^uwsgi socket \d+ bound to (\S+) address (\S+) fd \d+$", uwsgi_server.log(), re.M)
    assert bound == [("TCP", f"127.0.0.1:{uwsgi_server.port}")]
    pids = [uwsgi_server.process.pid, *uwsgi_server.workers()]
    assert listening_sockets(pids) == {("127.0.0.1", uwsgi_server.port)}
    for address in other_addresses_of_this_host():
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            assert sock.connect_ex((address, uwsgi_server.port)) != 0, f"uWSGI answers on {address}"


def test_a_request_cannot_make_uwsgi_load_other_code(uwsgi_server: Uwsgi, tmp_path: Path) -> None:
    """max-apps = 1: UWSGI_FILE with UWSGI_APPID would otherwise make a worker import any Python file
    (seed 004: never expose a uwsgi socket)."""
    marker = tmp_path / "loaded"
    intruder = tmp_path / "intruder.py"
    intruder.write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'intruder']\n"
    )
    for extra in (
        {"UWSGI_FILE": str(intruder), "UWSGI_APPID": "intruder"},
        {"UWSGI_FILE": str(intruder), "SCRIPT_NAME": "/x"},
    ):
        variables = {**request_variables("GET", "/api/x/y"), **extra}
        with socket.create_connection(("127.0.0.1", uwsgi_server.port), timeout=10) as sock:
            sock.sendall(uwsgi_packet(variables))
            answer = parse_response(read_to_end(sock))
        assert answer.body != b"intruder"
        assert answer.status == 404  # Conduit's answer for an unknown API route
        assert answer.headers["Content-Type"].startswith("application/json")
    assert not marker.exists()
    assert "you cannot load more than 1 apps" in uwsgi_server.log()


def test_the_master_holds_no_database_connection(uwsgi_server: Uwsgi, sqlite_url: str) -> None:
    """The app is loaded in the master before the fork (lazy-apps off): the engine must not have
    connected there, or every worker would share the master's connection."""
    database = sqlite_url.removeprefix("sqlite:///")
    for _ in range(10):  # the workers connect
        assert uwsgi_server.call("GET", "/readyz").status == 200
    assert database not in open_files(uwsgi_server.process.pid)
    assert any(database in open_files(pid) for pid in uwsgi_server.workers())


# --- (c) an unsafe configuration -----------------------------------------------------------------------


def test_production_without_a_secret_key_refuses_to_start(workdir: Path, sqlite_url: str) -> None:
    env = uwsgi_env(
        CONDUIT_UWSGI_PORT=str(free_port()),
        WEB_CONCURRENCY=str(WORKERS),
        CONDUIT_ENV="production",
        DATABASE_URL=sqlite_url,
    )
    with uwsgi(workdir, env) as running:
        try:
            returncode = running.process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"uWSGI kept running for {START_TIMEOUT:.0f} s with an unsafe configuration")
    log = running.log()
    assert returncode == 4, log  # conduit.wsgi's status, from the master itself
    refusals = [line for line in log.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1, log  # once, not once per worker respawned
    assert "SECRET_KEY" in refusals[0]
    assert "Traceback" not in log, log
    assert "spawned uWSGI worker" not in log
    assert running.stdout.read_bytes() == b""


# --- (d) signals ---------------------------------------------------------------------------------------


@dataclass
class HalfSent:
    """A registration whose body is only half sent: a worker has taken it and waits for the rest."""

    sock: socket.socket
    rest: bytes

    def finish(self) -> Reply:
        try:
            self.sock.sendall(self.rest)
            raw = read_to_end(self.sock)
        except OSError as error:
            pytest.fail(f"the request in progress was cut: {error!r}")
        if not raw:
            pytest.fail("the request in progress was cut: the connection closed without an answer")
        return parse_response(raw)


@contextmanager
def request_in_flight(uwsgi_server: Uwsgi, username: str) -> Iterator[HalfSent]:
    data = json.dumps(
        {"user": {"username": username, "email": f"{username}@example.com", "password": "password123"}}
    ).encode()
    variables = request_variables("POST", "/api/users", data, {"Content-Type": "application/json"})
    with socket.create_connection(("127.0.0.1", uwsgi_server.port), timeout=STOP_TIMEOUT) as sock:
        sock.sendall(uwsgi_packet(variables, data[:10]))
        # uWSGI drops a client silent for socket-timeout (4 s): the rest must follow well before that.
        time.sleep(0.5)  # a worker accepts it and waits for the body
        yield HalfSent(sock, data[10:])


def signal_master(uwsgi_server: Uwsgi, signum: signal.Signals) -> None:
    """Send *signum* to the master and wait until it has reacted (it logs what it does)."""
    logged = len(uwsgi_server.log())
    uwsgi_server.process.send_signal(signum)
    wait_until(lambda: len(uwsgi_server.log()) > logged, f"uWSGI reacting to {signum.name}", 3)
    time.sleep(0.2)  # the master has told the workers


def test_sighup_reloads_gracefully(uwsgi_server: Uwsgi) -> None:
    """HUP: the request in progress is answered, the same master reloads the app into new workers, and
    the socket stays open throughout (a client connecting mid-reload waits, it is not refused)."""
    before = uwsgi_server.workers()
    assert len(before) == WORKERS
    with request_in_flight(uwsgi_server, "during-reload") as pending:
        signal_master(uwsgi_server, signal.SIGHUP)
        answer = pending.finish()
    assert answer.status == 201, answer.body
    assert answer.json()["user"]["username"] == "during-reload"
    assert "gracefully killing workers" in uwsgi_server.log()

    # Mid-reload (the app may not be loaded yet): a new connection waits in the backlog and is answered.
    assert uwsgi_server.call("GET", "/api/profiles/during-reload").status == 200

    def replaced() -> bool:
        now = uwsgi_server.workers()
        return len(now) == WORKERS and not set(now) & set(before)

    wait_until(replaced, "new workers", START_TIMEOUT, alive=lambda: uwsgi_server.process.poll() is None)
    assert uwsgi_server.process.poll() is None  # the same master
    assert "binary reloading uWSGI" in uwsgi_server.log()
    assert uwsgi_server.log().count("uwsgi socket 0 bound to TCP address") == 1  # inherited, never closed
    for _ in range(2 * WORKERS):
        assert uwsgi_server.call("GET", "/api/tags").status == 200
    assert "Traceback" not in uwsgi_server.log()


def test_sigterm_stops_gracefully_and_promptly(uwsgi_server: Uwsgi) -> None:
    """TERM (die-on-term + the graceful hook): the request in progress is answered, then uWSGI exits 0
    with its workers, and the port closes."""
    workers = uwsgi_server.workers()
    with request_in_flight(uwsgi_server, "during-stop") as pending:
        stopping = time.monotonic()
        signal_master(uwsgi_server, signal.SIGTERM)
        answer = pending.finish()
    assert answer.status == 201, answer.body
    try:
        returncode = uwsgi_server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"uWSGI still running {STOP_TIMEOUT:.0f} s after SIGTERM:\n{uwsgi_server.log()[-3000:]}")
    assert time.monotonic() - stopping < STOP_TIMEOUT
    assert returncode == 0
    assert "graceful shutdown triggered" in uwsgi_server.log()
    assert "goodbye to uWSGI" in uwsgi_server.log()
    assert not [pid for pid, started in workers.items() if alive(pid, started)]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", uwsgi_server.port), timeout=3).close()
    assert "Traceback" not in uwsgi_server.log()


def test_a_killed_master_leaves_no_worker_holding_the_port(uwsgi_server: Uwsgi) -> None:
    """no-orphans: a worker busy with a request when the master is SIGKILLed (the OOM killer) dies with
    it. Otherwise it holds the port until its request ends (harakiri is the master's job), and the
    restarted uWSGI cannot bind it. (uWSGI 2.0.31 retires idle orphans by itself.)"""
    workers = uwsgi_server.workers()
    assert len(workers) == WORKERS
    with request_in_flight(uwsgi_server, "orphaned"):
        uwsgi_server.process.kill()
        uwsgi_server.process.wait(timeout=10)
        # Well within socket-timeout (4 s), after which the busy worker would give up its request anyway.
        wait_until(
            lambda: not [pid for pid, started in workers.items() if alive(pid, started)],
            "the workers to die with their master",
            2,
        )
    with socket.socket() as sock:  # what the restarted uWSGI does first
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", uwsgi_server.port))
        sock.listen()


# --- (e) behind nginx ----------------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        require_or_skip("nginx is not installed (bin/system-packages nginx)")
    return found


@contextmanager
def private_nginx(prefix: Path, site: NginxTarget) -> Iterator[StandaloneNginx]:
    """nginx from the project's templates, everything under *prefix*; stopped (QUIT, then TERM) by the
    PID in its pid file."""
    nginx = StandaloneNginx(prefix=prefix, site=site, user=worker_user_for(STATIC_ROOT, prefix))
    conf = write_standalone(nginx)
    command = [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", str(nginx.error_log)]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    subprocess.run(command, check=True, capture_output=True, timeout=30)  # daemonizes, writes its pid file
    master = int(nginx.pid_file.read_text().split()[0])
    started = start_time(master)
    try:
        yield nginx
    finally:
        for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if not alive(master, started):
                break
            os.kill(master, sig)
            deadline = time.monotonic() + grace
            while alive(master, started) and time.monotonic() < deadline:
                time.sleep(0.1)


def request_line(uwsgi_server: Uwsgi, request_id: str) -> str:
    """The app's request line for *request_id*, from the client address on (the only line per request)."""
    marker = f"[conduit.request] [{request_id}] "
    wait_until(lambda: marker in uwsgi_server.log(), f"the request line of {request_id}", 5)
    lines = [line for line in uwsgi_server.log().splitlines() if marker in line]
    assert len(lines) == 1, lines
    return lines[0].split(marker, 1)[1]


def test_through_nginx_with_uwsgi_pass(uwsgi_server: Uwsgi, tmp_path: Path) -> None:
    port = free_port()
    prefix = tmp_path / "nginx"
    site = NginxTarget(
        upstreams=(f"127.0.0.1:{uwsgi_server.port}",),
        protocol="uwsgi",
        http_port=port,
        access_log=str(prefix / "access.log"),
        error_log=str(prefix / "error.log"),
    )
    base = f"http://127.0.0.1:{port}"
    with private_nginx(prefix, site):
        wait_until(lambda: http_request(base, "GET", "/healthz").status == 200, "nginx -> uWSGI", 10)

        tags = http_request(base, "GET", "/api/tags")
        assert tags.status == 200
        assert tags.json() == {"tags": []}
        # nginx's request id reaches the app (uwsgi_param HTTP_X_REQUEST_ID) and its request line.
        request_id = tags.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert request_line(uwsgi_server, request_id).startswith('127.0.0.1 "GET /api/tags HTTP/1.1" 200 ')

        # Another client (a second loopback address): REMOTE_ADDR is the client's, from uwsgi_params,
        # and a well-formed X-Request-ID of the client's is kept.
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10, source_address=(OTHER_CLIENT, 0)
        )
        try:
            connection.request("GET", "/api/tags", headers={"X-Request-ID": "from-another-client-1"})
            assert connection.getresponse().status == 200
        finally:
            connection.close()
        line = request_line(uwsgi_server, "from-another-client-1")
        assert line.startswith(f'{OTHER_CLIENT} "GET /api/tags HTTP/1.1" 200 ')

        user = {"user": {"username": "nina", "email": "nina@example.com", "password": "password123"}}
        created = http_request(base, "POST", "/api/users", user)
        assert created.status == 201, created.body
        token = created.json()["user"]["token"]
        me = http_request(base, "GET", "/api/user", headers={"Authorization": f"Token {token}"})
        assert me.status == 200
        assert me.json()["user"]["username"] == "nina"

        # Headers nginx accepts (8 KiB a line) fit in uWSGI's buffer too: no 502 for a big request.
        padded = {f"X-Pad-{number}": "p" * 3000 for number in range(4)}
        assert http_request(base, "GET", "/api/tags", headers=padded).status == 200
        # One uwsgi connection per request (the protocol has no keep-alive): every one is answered.
        for _ in range(20):
            assert http_request(base, "GET", "/api/articles").status == 200

        # uWSGI gone: nginx answers for it, in JSON.
        stop_uwsgi(uwsgi_server.process, uwsgi_server.workers())
        down = http_request(base, "GET", "/api/tags")
        assert down.status == 502
        assert "server" in down.json()["errors"]
        assert down.headers["Retry-After"] == "5"

    access = (prefix / "access.log").read_text()
    assert f"rid={request_id}" in access
    assert "Traceback" not in uwsgi_server.log()


def test_the_default_socket_is_a_unix_socket_only_its_owner_and_group_may_use(
    workdir: Path, sqlite_url: str
) -> None:
    """Issue 14, finding 8: on a loopback TCP socket any local process could send requests (and its own
    X-Forwarded-For); the unix socket has mode 660, so only uWSGI's user and group (nginx) connect."""
    path = workdir / "run" / "uwsgi.sock"
    path.parent.mkdir()
    env = uwsgi_env(
        CONDUIT_UWSGI_SOCKET=str(path),
        WEB_CONCURRENCY="1",
        CONDUIT_ENV="testing",
        DATABASE_URL=sqlite_url,
    )
    with uwsgi(workdir, env) as running:

        def healthz() -> int:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                try:
                    sock.connect(str(path))
                except OSError:
                    return 0
                sock.sendall(uwsgi_packet(request_variables("GET", "/healthz", b"", {}), b""))
                return parse_response(read_to_end(sock)).status

        wait_until(
            lambda: healthz() == 200, "uWSGI /healthz on its unix socket", START_TIMEOUT, log=running.stderr
        )
        mode = path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o660, oct(stat.S_IMODE(mode))
        assert listening_sockets([running.process.pid, *running.workers()]) == set()  # no TCP socket
