"""The two baselines of bench/api_bench.py, served by the same gunicorn configuration as Conduit: a Flask
hello-world (``baselines:flask_app``) and a bare WSGI callable (``baselines:wsgi_app``). Both answer
``/healthz`` with a small JSON body, which the bench's nginx check expects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

HELLO = b"Hello, World!"
HEALTHY = b'{"status": "ok"}'

flask_app = Flask("hello")


@flask_app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@flask_app.get("/", defaults={"path": ""})
@flask_app.get("/<path:path>")
def hello(path: str) -> str:
    return "Hello, World!"


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/healthz":
        body, kind = HEALTHY, "application/json"
    else:
        body, kind = HELLO, "text/plain"
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]
