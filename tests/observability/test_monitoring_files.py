"""deploy/prometheus and deploy/grafana: promtool accepts them, and they name only metrics the app exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from conduit.observability import metrics
from tests.support.servers import REPO
from tests.support.skips import require_or_skip

PROMETHEUS = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "conduit.json"
#: Series Prometheus makes itself.
PROMETHEUS_OWN = {"up"}


def exported_series() -> set[str]:
    """The sample names conduit.observability.metrics exports (counter ``x``: ``x_total``; histogram:
    ``x_bucket``...)."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(value._name + "_total")
        elif isinstance(value, Histogram):
            names.update(value._name + suffix for suffix in ("_bucket", "_count", "_sum"))
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def series_in(expr: str) -> set[str]:
    """Metric names in a PromQL expression: ours (``conduit_...``) and Prometheus's ``up``."""
    return set(re.findall(r"\bconduit_[a-z0-9_]+\b", expr)) | (
        PROMETHEUS_OWN & set(re.findall(r"\b\w+\b", expr))
    )


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    if shutil.which("promtool") is None:
        require_or_skip(
            "promtool is not installed (Debian package prometheus: bin/system-packages prometheus)"
        )
    result = subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def dashboard_exprs() -> list[tuple[str, str]]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]]


def test_the_exported_series_are_what_the_issue_names() -> None:
    names = exported_series()
    for name in (
        "conduit_http_requests_total",
        "conduit_http_request_duration_seconds_bucket",
        "conduit_http_requests_in_flight",
        "conduit_db_pool_checked_out_connections",
        "conduit_build_info",
        "conduit_users_registered_total",
        "conduit_articles_published_total",
        "conduit_comments_created_total",
    ):
        assert name in names


def test_prometheus_config_is_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    conduit = next(job for job in config["scrape_configs"] if job["job_name"] == "conduit")
    assert conduit["static_configs"][0]["targets"] == ["127.0.0.1:8001", "127.0.0.1:8002"]


def test_alert_rules_are_valid_and_pass_their_unit_tests() -> None:
    assert "SUCCESS: 4 rules found" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_alerts_cover_the_issue_and_use_exported_metrics() -> None:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    rules = {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}
    assert set(rules) == {
        "ConduitHigh5xxRatio",
        "ConduitHighLatencyP95",
        "ConduitInstanceDown",
        "ConduitNotReady",
    }
    known = exported_series() | PROMETHEUS_OWN
    for name, expr in rules.items():
        used = series_in(expr)
        assert used, name
        assert used <= known, f"{name} uses {used - known}"


def test_dashboard_panels_use_exported_metrics() -> None:
    exprs = dashboard_exprs()
    titles = " ".join(title for title, _ in exprs).lower()
    for topic in ("request rate", "error rate", "latency percentiles", "db pool"):
        assert topic in titles
    known = exported_series() | PROMETHEUS_OWN
    for title, expr in exprs:
        used = series_in(expr)
        assert used, f"panel {title!r} names no metric: {expr}"
        assert used <= known, f"panel {title!r} uses {used - known}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool has no query linter; a recording rule per panel query makes `check rules` parse them."""
    substitutions = {"$__rate_interval": "5m", "$job": "conduit", "$instance": ".*"}
    rules = []
    for number, (_title, expr) in enumerate(dashboard_exprs()):
        for variable, replacement in substitutions.items():
            expr = expr.replace(variable, replacement)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query{number}", "expr": expr})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in promtool("check", "rules", str(path), cwd=tmp_path)


@pytest.mark.parametrize("path", [*PROMETHEUS.glob("*.yml"), DASHBOARD], ids=lambda path: path.name)
def test_files_parse(path: Path) -> None:
    assert (json.loads if path.suffix == ".json" else yaml.safe_load)(path.read_text())
