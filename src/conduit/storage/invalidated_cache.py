"""A per-process cache whose entries other processes evict through Redis pub/sub (issue 16: the token's
account checked without a query of its own).

Each process keeps a dict; a writer, after its transaction commits, publishes the changed key on the
cache's channel, and a daemon thread in every process that subscribed to it evicts that key. The cache
serves nothing while that thread is not subscribed (before the first subscription, after a fork, while
Redis is down or the connection broke): lookups miss and the caller reads the database, as without a
cache. On every (re)subscription the cache starts empty, so a message lost while unsubscribed cannot
leave a stale entry.

A reader that misses reads the database, then stores what it read only if no eviction arrived since it
started (:meth:`InvalidatedCache.begin` / :meth:`InvalidatedCache.store`): a writer that committed
while the reader was reading publishes after its commit, so the reader either sees the change or drops
its value. Entries also expire after ``ttl`` seconds, which bounds what a lost message (a writer cut off
from Redis while the readers are not) can cost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from redis.exceptions import RedisError

log = logging.getLogger("conduit.storage.invalidated_cache")

V = TypeVar("V")

#: Seconds the listener waits for a message before it checks its connection (a PING).
POLL_SECONDS = 1.0


class InvalidatedCache(Generic[V]):
    def __init__(
        self,
        client: redis.Redis,
        channel: str,
        *,
        ttl: float,
        retry_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.channel = channel
        self.ttl = ttl
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[V, float]] = {}
        #: Incremented by every eviction and (re)subscription: a reader's value read before one is dropped.
        self._generation = 0
        self._live = False
        self._pid: int | None = None
        self._stopped = threading.Event()

    @property
    def live(self) -> bool:
        return self._live

    def _ensure_listener(self) -> None:
        """Start this process's listener (again after a fork: threads do not survive it)."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
            self._live = False
            self._entries.clear()
            self._generation += 1
        thread = threading.Thread(target=self._listen, name=f"invalidations:{self.channel}", daemon=True)
        thread.start()

    def get(self, key: int) -> V | None:
        self._ensure_listener()
        if not self.live:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if self._clock() >= expires:
            self._entries.pop(key, None)
            return None
        return value

    def begin(self) -> int:
        """Call before reading the database for a miss; pass the result to :meth:`store`."""
        return self._generation

    def store(self, key: int, value: V, generation: int) -> None:
        with self._lock:
            if self._live and generation == self._generation:
                self._entries[key] = (value, self._clock() + self.ttl)

    def publish(self, key: int) -> None:
        """After the commit that changed *key*: every process evicts it (this one at once). A failed
        publish is logged; the other processes keep their entry for at most ``ttl`` seconds."""
        self._evict(key)
        try:
            self.client.publish(self.channel, str(key))
        except RedisError as exc:
            log.warning("could not publish the invalidation of %s on %s: %s", key, self.channel, exc)

    def stop(self) -> None:
        self._stopped.set()

    def _evict(self, key: int) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._generation += 1

    def _down(self) -> None:
        with self._lock:
            self._live = False
            self._entries.clear()
            self._generation += 1

    def _listen(self) -> None:
        pid = os.getpid()
        while not self._stopped.is_set() and self._pid == pid:
            pubsub = self.client.pubsub(ignore_subscribe_messages=False)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                last_ping = self._clock()
                while not self._stopped.is_set() and self._pid == pid:
                    message = pubsub.get_message(timeout=POLL_SECONDS)
                    if message is None:
                        if self._clock() - last_ping >= POLL_SECONDS:
                            pubsub.ping()
                            last_ping = self._clock()
                        continue
                    if message["type"] == "subscribe":
                        with self._lock:
                            self._entries.clear()
                            self._generation += 1
                            self._live = True
                        log.debug("subscribed to %s", self.channel)
                    elif message["type"] == "message":
                        self._on_message(message["data"])
            except (RedisError, OSError, ValueError) as exc:  # ValueError: the client was closed
                if self._live:
                    log.warning(
                        "lost the subscription to %s (%s); cache off until it is back", self.channel, exc
                    )
            finally:
                self._down()
                with contextlib.suppress(RedisError, OSError):  # closing a broken connection
                    pubsub.close()
            self._stopped.wait(self.retry_seconds)

    def _on_message(self, data: bytes | str) -> None:
        text = data.decode("ascii", "replace") if isinstance(data, bytes) else str(data)
        if text.isdigit():
            self._evict(int(text))
        else:  # anything else: drop everything rather than guess
            self._down_and_up()

    def _down_and_up(self) -> None:  # entries cleared, still subscribed
        with self._lock:
            self._entries.clear()
            self._generation += 1
