"""What the Redis tests share: the real server (or a loud skip), key prefixes of their own, dead and
silent servers. Tests never flush the server: other runs may share it; each deletes its own keys."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.support.skips import require_or_skip

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_or_skip() -> str:
    """``TEST_REDIS_URL`` or 127.0.0.1:6379 when it answers a PING; else skip (fail under CI=true)."""
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_or_skip(
            f"no Redis answers at TEST_REDIS_URL or 127.0.0.1:6379 ({type(exc).__name__}); "
            "run one or set TEST_REDIS_URL"
        )
    finally:
        client.close()
    return url


def unique_prefix() -> str:
    return f"conduit-test:{uuid.uuid4().hex}:"


@contextmanager
def own_keys(url: str) -> Iterator[tuple[redis.Redis, str]]:
    """A client and a fresh key prefix; every key under the prefix is deleted afterwards."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    prefix = unique_prefix()
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def closed_port_url() -> str:
    """A Redis URL on which nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


class SilentServer:
    """Accepts connections and never answers: every Redis command times out."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._sock.getsockname()[1]}/0"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _address = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self._sock.close()


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()
