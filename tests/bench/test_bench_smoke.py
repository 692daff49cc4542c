"""A smoke run of `make bench` (bench/api_bench.py): a tiny dataset, one-second runs. It proves the
benchmark works end to end and checks what it writes; it asserts behaviour, never speed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.skips import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = {"hello", "wsgi", "articles", "articles_auth", "feed", "article", "comments", "tags", "create"}
#: The list with a token (Redis and PostgreSQL), a cached read and a write (a body through uwsgi_pass). Not
#: the baselines: they serve thousands of requests a second, so a worker reaches max-requests (2000) within
#: a run, and a recycled uWSGI worker cuts the keep-alive connections of the direct HTTP path (wrk: read
#: errors). Their servers start all the same, and their memory is checked.
UWSGI_ENDPOINTS = {"articles_auth", "tags", "create"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def run_bench(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory, name: str, *options: str
) -> tuple[Path, str, str]:
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            require_or_skip(f"{tool} is not installed (apt-get install {tool})")
    url = sa.make_url(pg_server_url).set(drivername="postgresql")
    server = url.render_as_string(hide_password=False).rsplit("/", 1)[0]
    results = tmp_path_factory.mktemp(f"bench-results-{name}")
    database = f"conduit_bench_{name}_{os.getpid()}"
    command = [
        sys.executable,
        str(ROOT / "bench" / "api_bench.py"),
        "--scale=0.005",
        "--warmup=1",  # a cold worker on a busy machine may not answer within the first second
        "--connections=2",
        "--workers=1",
        f"--database={database}",
        f"--postgres={server}",
        f"--results-dir={results}",
        *options,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return results, database, server


@pytest.fixture(scope="module")
def bench_run(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    # 2 s: a write under a loaded machine may take most of a second
    return run_bench(pg_server_url, tmp_path_factory, "smoke", "--duration=2")


@pytest.fixture(scope="module")
def uwsgi_run(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The same benchmark on uWSGI (deploy/uwsgi/conduit.ini), main matrix only, 1-second runs."""
    if not os.access(Path(sys.executable).with_name("uwsgi"), os.X_OK):
        require_or_skip("uWSGI is not installed in the venv (it is a dev dependency: make test installs it)")
    return run_bench(
        pg_server_url,
        tmp_path_factory,
        "smoke_uwsgi",
        "--server=uwsgi",
        "--duration=1",
        "--no-scaling",
        f"--endpoints={','.join(sorted(UWSGI_ENDPOINTS))}",
    )


def only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_every_endpoint_ran_through_both_paths_without_errors(bench_run: tuple[Path, str, str]) -> None:
    data: dict[str, Any] = json.loads(only(bench_run[0], "*Z.json").read_text())

    main = [run for run in data["runs"] if "-" not in run["server"]]
    assert {(run["endpoint"], run["path"]) for run in main} == {
        (endpoint, path) for endpoint in ENDPOINTS for path in ("direct", "nginx")
    }
    assert all(run["requests"] > 0 and run["rps"] > 0 for run in data["runs"])
    assert all(run["non_2xx"] == 0 and run["socket_errors"] == 0 for run in data["runs"])
    assert all(0 < run["p50_ms"] <= run["p99_ms"] for run in data["runs"])
    assert {run["server"] for run in data["runs"]} >= {"conduit-1w", "conduit-2w", "hello-1w", "hello-2w"}


def test_the_results_hold_sql_counts_memory_and_the_dataset(bench_run: tuple[Path, str, str]) -> None:
    data: dict[str, Any] = json.loads(only(bench_run[0], "*Z.json").read_text())

    lists = {name: counts for name, counts in data["sql"].items() if name.startswith(("articles", "feed"))}
    assert lists
    assert all(counts["max"] <= 3 for counts in lists.values())
    assert {"article", "comments", "tags", "create"} <= set(data["sql"])
    assert data["memory"]["conduit"]["rss_mib"]
    assert all(v > 0 for v in data["memory"]["conduit"]["rss_mib"])
    assert data["dataset"]["users"] == 5
    assert data["dataset"]["articles"] == 60
    assert data["machine"]["cores"] >= 1


def test_the_markdown_report_has_the_tables(bench_run: tuple[Path, str, str]) -> None:
    text = only(bench_run[0], "*Z.md").read_text()

    for heading in (
        "## Targets",
        "## Throughput",
        "## Every run",
        "## What nginx costs",
        "## SQL statements",
    ):
        assert heading in text
    assert "## Memory" in text
    assert "## Scaling" in text
    table = [
        line for line in text.splitlines() if line.startswith("| direct |") or line.startswith("| nginx |")
    ]
    assert len(table) == 2 * len(ENDPOINTS)


def test_the_plots_are_png_images(bench_run: tuple[Path, str, str]) -> None:
    import matplotlib.image

    for name in ("*-throughput.png", "*-latency.png"):
        path = only(bench_run[0], name)
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        height, width = matplotlib.image.imread(path).shape[:2]
        assert height > 100
        assert width > 100


def test_the_benchmark_database_is_dropped(bench_run: tuple[Path, str, str]) -> None:
    _, database, server = bench_run
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres")
    with engine.connect() as conn:
        names = set(conn.scalars(sa.text("SELECT datname FROM pg_database")))
    engine.dispose()
    assert database not in names


def test_uwsgi_serves_every_endpoint_through_both_paths_and_its_cpu_is_counted(
    uwsgi_run: tuple[Path, str, str],
) -> None:
    data: dict[str, Any] = json.loads(only(uwsgi_run[0], "*Z.json").read_text())

    assert data["options"]["server"] == "uwsgi"
    assert {(run["endpoint"], run["path"]) for run in data["runs"]} == {
        (endpoint, path) for endpoint in UWSGI_ENDPOINTS for path in ("direct", "nginx")
    }
    failed = [
        run
        for run in data["runs"]
        if not (run["requests"] > 0 and run["non_2xx"] == run["socket_errors"] == 0)
    ]
    assert not failed, failed
    # The server side's CPU includes uWSGI's master and workers (a second of load is many clock ticks).
    assert all(run["cpu_ms"] > 0 for run in data["runs"]), data["runs"]
    # The workers are the master's children, found in /proc: one each (--workers=1), with its memory.
    for name in ("conduit", "hello", "wsgi"):
        assert len(data["memory"][name]["rss_mib"]) == 1
        assert len(data["memory"][name]["private"]) == 1
    report = only(uwsgi_run[0], "*Z.md").read_text()
    assert "uWSGI with deploy/uwsgi/conduit.ini (1 processes x 2 threads" in report
    assert "uwsgi_pass" in report
    assert "## Scaling" not in report
