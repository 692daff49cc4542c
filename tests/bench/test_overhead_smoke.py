"""A smoke run of bench/overhead.py (the per-request overhead levers, issue 16): a tiny dataset and a few
requests per variant. It proves the study still finds every lever in the app it switches off and writes
its table; it asserts behaviour, never speed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.redis_server import redis_url_or_skip

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ["nothing", "metrics", "log-line", "validation", "headers", "rate-limits", "all"]

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_every_lever_is_switched_off_and_measured(pg_server_url: str, tmp_path: Path) -> None:
    url = sa.make_url(pg_server_url).set(drivername="postgresql")
    server = url.render_as_string(hide_password=False).rsplit("/", 1)[0]
    database = f"conduit_overhead_smoke_{os.getpid()}"
    output = tmp_path / "overhead.md"
    command = [
        sys.executable,
        str(ROOT / "bench" / "overhead.py"),
        f"--postgres={server}",
        f"--database={database}",
        f"--redis-url={redis_url_or_skip()}",
        "--users=3",
        "--articles=5",
        "--requests=3",
        "--rounds=2",
        "--warmup=2",
        f"--output={output}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "round 2/2" in done.stderr
    table = output.read_text()
    assert done.stdout == table
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert [name for name in rows if name != "switched off"] == VARIANTS
    for variant in VARIANTS:
        assert re.search(r"\| \d+\.\d{3} \|", rows[variant]), rows[variant]
    engine = sa.create_engine(pg_server_url)
    try:
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database})
            assert left.first() is None  # the study drops its database
    finally:
        engine.dispose()
