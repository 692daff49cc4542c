"""schemathesis (property-based fuzzing from the OpenAPI documents) against a live gunicorn: our own
``/api/openapi.json`` and the official RealWorld ``openapi.yml``, every check, bounded examples.

No case may answer 5xx or break the response schema. The few checks that cannot hold are configured in
tests/integration/schemathesis.toml and below, each with its reason (docs/security.md, "Fuzzing").

Both runs happen on PostgreSQL, the production database: it refuses what SQLite stores (a NUL character in
text, an integer beyond its column's range), so the fuzz run on SQLite it replaces never saw those 500s
(issue 14, finding 3); the API tests run on both backends. One backend keeps the run within its budget.
Both configurations carry fuzz dictionaries of hostile values (NUL characters, integers of 2^31 and more,
negative ones) that schemathesis substitutes into path, query and body fields."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.net import free_port, http_request
from harness.realworld import RealWorldMissingError, realworld_file
from tests.support.databases import migrated, pg_server_url_or_none, postgres_database
from tests.support.servers import REPO, server_env, stop, wait_until
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.slow

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")
REALWORLD_CONFIG = Path(__file__).with_name("schemathesis-realworld.toml")
#: Test cases per operation and phase: about 40 s for our document and 15 s for the official one on a
#: loaded 2-core machine.
MAX_EXAMPLES = "8"
SEED = "20261121"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    server = pg_server_url_or_none()
    if server is None:
        require_or_skip("no PostgreSQL server (set TEST_DATABASE_URL or run one on 127.0.0.1:5432)")
    with postgres_database(server) as url:
        yield from migrated(url)


@pytest.fixture(scope="module")
def fuzzed_server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    env = server_env(
        PORT=str(port),
        WEB_CONCURRENCY="2",
        CONDUIT_ENV="testing",
        DATABASE_URL=database,
        LOG_REQUESTS="false",
    )
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(REPO / "deploy" / "gunicorn.conf.py"),
                "conduit.wsgi:app",
            ],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: http_request(base_url, "GET", "/healthz").status == 200,
            "gunicorn /healthz",
            20,
            alive=lambda: process.poll() is None,
            log=log,
        )
        yield base_url
    finally:
        stop(process)
        tracebacks = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
        assert not tracebacks, f"the server logged {len(tracebacks)} tracebacks; see {log}"


@pytest.fixture(scope="module")
def token(fuzzed_server: str) -> str:
    user = {"user": {"username": "fuzzer", "email": "fuzzer@example.com", "password": "password123"}}
    created = http_request(fuzzed_server, "POST", "/api/users", user)
    assert created.status == 201, created.body
    value: str = created.json()["user"]["token"]
    return value


def schemathesis(
    workdir: Path, config: Path, location: str, token: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    if not ST.exists():
        require_or_skip(f"{ST} is missing (schemathesis is a dev dependency)")
    command = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        location,
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        # One worker: hypothesis' lambda descriptions call ast.parse, which CPython 3.11 cannot run in
        # two threads at once ("SystemError: AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--header",
        f"Authorization: Token {token}",
        "--no-color",
        *extra,
    ]
    # From a directory of its own: schemathesis keeps a cache (.schemathesis/) in the working directory.
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120, check=False)


def summary(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-6000:]


def test_our_openapi_document(fuzzed_server: str, token: str, tmp_path: Path) -> None:
    result = schemathesis(tmp_path, CONFIG, f"{fuzzed_server}/api/openapi.json", token)
    assert result.returncode == 0, summary(result)


def test_the_official_realworld_document(fuzzed_server: str, token: str, tmp_path: Path) -> None:
    try:
        official_spec = realworld_file("openapi.yml")
    except RealWorldMissingError as missing:
        require_or_skip(str(missing))
    result = schemathesis(
        tmp_path, REALWORLD_CONFIG, str(official_spec), token, "--url", f"{fuzzed_server}/api"
    )
    assert result.returncode == 0, summary(result)
