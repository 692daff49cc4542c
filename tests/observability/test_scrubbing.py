"""Secrets are scrubbed from error reports at any depth (issue 14, finding 4)."""

from __future__ import annotations

from conduit.observability.scrubbing import FILTERED, scrub


def test_scrub_walks_every_depth() -> None:
    event = {"a": [{"b": {"Password": "x", "ok": "y"}}], "authorization": {"c": 1}, "t": ("eyJa.eyJb.sig",)}
    assert scrub(event) == {
        "a": [{"b": {"Password": FILTERED, "ok": "y"}}],
        "authorization": FILTERED,
        "t": [FILTERED],
    }
