"""A small load driver for the fault tests: threads sending a steady mix of reads and writes through nginx.

Every request is recorded (:class:`Outcome`): what was sent, the status or the connection error the client
got, the latency, and for a write the unique key it carried (an article title, a comment body) and what
the server answered (the slug or comment id), so a test can check afterwards that every acknowledged write
exists exactly once. The driver is bounded twice: by the time the test lets it run and by ``max_requests``.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

READ = "read"
ARTICLE = "article"
COMMENT = "comment"


@dataclass(frozen=True)
class Outcome:
    kind: str  # READ, ARTICLE or COMMENT
    method: str
    path: str
    started: float  # seconds since the driver started
    latency: float
    status: int | None  # None: no HTTP answer (connection refused, reset, timeout)
    error: str = ""  # the exception, or the first error key of a JSON error body
    headers: dict[str, str] = field(default_factory=dict)
    key: str = ""  # a write's unique title or comment body
    created: str = ""  # the slug or comment id a 201 named

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)

    @property
    def write(self) -> bool:
        return self.kind != READ


@dataclass(frozen=True)
class Writer:
    token: str
    slug: str  # an article it may comment on


class Load:
    """``with Load(...).running() as load:`` sends requests until the block ends or max_requests are sent."""

    def __init__(
        self,
        port: int,
        writers: list[Writer],
        *,
        threads: int = 4,
        pause: float = 0.04,
        write_share: float = 0.3,
        max_requests: int = 4000,
        timeout: float = 15.0,
        tag: str = "",
    ) -> None:
        self.port = port
        self.writers = writers
        self.threads = threads
        self.pause = pause
        self.write_share = write_share if writers else 0.0
        self.max_requests = max_requests
        self.timeout = timeout
        self.tag = tag or uuid.uuid4().hex[:8]
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = 0.0
        self._slugs: list[str] = [w.slug for w in writers]

    @contextmanager
    def running(self) -> Iterator[Load]:
        self._started = time.monotonic()
        workers = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(self.threads)]
        for worker in workers:
            worker.start()
        try:
            yield self
        finally:
            self._stop.set()
            for worker in workers:
                worker.join(self.timeout + 5)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def sent_since(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.started >= moment]

    def _loop(self, number: int) -> None:
        rng = random.Random(f"{self.tag}-{number}")
        conn: http.client.HTTPConnection | None = None
        sequence = 0
        while not self._stop.is_set():
            with self._lock:
                if len(self.outcomes) >= self.max_requests:
                    return
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            sequence += 1
            outcome = self._one(conn, rng, f"{self.tag}-{number}-{sequence}")
            if outcome.status is None or outcome.headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
            with self._lock:
                self.outcomes.append(outcome)
                if outcome.kind == ARTICLE and outcome.status == 201:
                    self._slugs.append(outcome.created)
            self._stop.wait(self.pause)
        if conn is not None:
            conn.close()

    def _one(self, conn: http.client.HTTPConnection, rng: random.Random, key: str) -> Outcome:
        if rng.random() < self.write_share:
            writer = rng.choice(self.writers)
            auth = {"Authorization": f"Token {writer.token}", "Content-Type": "application/json"}
            if rng.random() < 0.6:
                title = f"load {key}"
                article = {"title": title, "description": "fault test", "body": "b" * 200}
                return self._send(conn, ARTICLE, "POST", "/api/articles", {"article": article}, auth, title)
            slug = rng.choice(self._slugs)
            body = f"comment {key}"
            path = f"/api/articles/{slug}/comments"
            return self._send(conn, COMMENT, "POST", path, {"comment": {"body": body}}, auth, body)
        choice = rng.random()
        if choice < 0.4:
            path = "/api/articles?limit=10"
        elif choice < 0.6:
            path = "/api/tags"
        elif choice < 0.85 and self._slugs:
            path = f"/api/articles/{rng.choice(self._slugs[-50:])}"
        else:
            path = f"/api/articles/{rng.choice(self._slugs[-50:])}/comments" if self._slugs else "/healthz"
        return self._send(conn, READ, "GET", path, None, {}, "")

    def _send(
        self,
        conn: http.client.HTTPConnection,
        kind: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        key: str,
    ) -> Outcome:
        started = time.monotonic()
        at = started - self._started
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            latency = time.monotonic() - started
            return Outcome(kind, method, path, at, latency, None, f"{type(exc).__name__}: {exc}", key=key)
        latency = time.monotonic() - started
        answer = {name.lower(): value for name, value in response.getheaders()}
        created, error = "", ""
        try:
            document = json.loads(raw) if raw else {}
        except ValueError:
            document, error = {}, f"not JSON: {raw[:80]!r}"
        if response.status == 201 and kind == ARTICLE:
            created = document["article"]["slug"]
        elif response.status == 201 and kind == COMMENT:
            created = str(document["comment"]["id"])
        elif response.status >= 400 and isinstance(document, dict):
            error = error or ",".join(sorted(document.get("errors", {})))
        return Outcome(kind, method, path, at, latency, response.status, error, answer, key, created)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """The figures a reliability row shows: sent, failed, max latency, and what the client saw."""
    failed = [o for o in outcomes if not o.ok]
    seen = Counter(o.status if o.status is not None else "no answer" for o in outcomes)
    return {
        "sent": len(outcomes),
        "reads": sum(not o.write for o in outcomes),
        "writes": sum(o.write for o in outcomes),
        "failed": len(failed),
        "failed_reads": sum(not o.write for o in failed),
        "failed_writes": sum(o.write for o in failed),
        "max_latency_ms": round(max((o.latency for o in outcomes), default=0.0) * 1000),
        "statuses": {str(status): count for status, count in sorted(seen.items(), key=str)},
    }
