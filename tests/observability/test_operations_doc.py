"""docs/operations.md describes what the code emits: every metric, every alert, every JSON log field."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import yaml

from conduit.observability import metrics
from conduit.observability.logs import formatters

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def test_every_metric_is_described() -> None:
    families = [family for family in metrics.REGISTRY.collect() if family.name.startswith("conduit_")]
    assert len(families) >= 10
    for family in families:
        # prometheus-client names a counter's family without the _total its samples carry
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{name}`" in DOC, f"{name} is not in docs/operations.md"


def test_every_alert_has_a_runbook() -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    alerts = [rule["alert"] for rule in rules]
    assert alerts
    for alert in alerts:
        assert re.search(rf"^### {alert}$", DOC, re.M), f"no runbook section for {alert}"


def test_every_json_field_of_a_request_line_is_described() -> None:
    record = logging.LogRecord("conduit.request", logging.INFO, __file__, 1, "GET /", None, None)
    for name, value in {
        "request_id": "abc",
        "user_id": 7,
        "method": "GET",
        "path": "/",
        "status": 200,
        "duration_ms": 1.0,
        "client_ip": "127.0.0.1",
    }.items():
        setattr(record, name, value)
    try:
        raise RuntimeError("for exc_info")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    fields = json.loads(formatters.JsonFormatter().format(record))
    for field in fields:
        assert f"| `{field}` |" in DOC, f"the JSON field {field} is not in docs/operations.md"
