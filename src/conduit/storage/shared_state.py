"""Redis, the home of state that all workers and hosts share (caches now; rate limits later).

Optional: without ``REDIS_URL`` there is no client and nothing here talks to Redis. With it, the app
has one client (:func:`shared_state`), every key starts with ``REDIS_KEY_PREFIX``, and every use fails
open: an error costs the request nothing but the cache, a hung Redis about ``REDIS_TIMEOUT`` (twice at
worst: to connect, then to answer; redis-py's retries are off), this worker then leaves Redis alone for
``REDIS_BACKOFF_SECONDS``, and a warning is logged at most once per :data:`WARNING_INTERVAL_SECONDS`.

Caches use a generation counter (:meth:`SharedState.cached`, :meth:`SharedState.invalidate`): readers
look the value up under the current generation, writers increment the generation after their
transaction commits. A reader that raced a writer can only store its stale value under the old
generation, which nobody reads any more.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from conduit.settings import ConfigError, Settings

EXTENSION = "conduit.storage.shared_state"
#: A failing Redis is reported at most once per this many seconds per worker; the next warning says
#: how many failures were not logged meanwhile.
WARNING_INTERVAL_SECONDS = 60.0

log = logging.getLogger("conduit.storage.shared_state")

T = TypeVar("T")
D = TypeVar("D")

_GENERATION = re.compile(r"-?[0-9]{1,20}", re.ASCII)


def _seed() -> int:
    """A random first generation: when the counter is lost (eviction, restart without persistence),
    counting again from 0 or 1 could meet values cached under those numbers before the loss."""
    return secrets.randbelow(2**62)


class SharedState:
    """The app's Redis client, its key prefix, and the fail-open policy around every call."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        backoff_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The raw client, for uses that bring their own error handling; prefix its keys with :meth:`key`.
        self.client = client
        self.prefix = prefix
        self.backoff_seconds = backoff_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._failing = False
        self._last_warning: float | None = None
        self._unlogged_failures = 0
        # Generation keys whose increment could not be sent yet: sent before any other command.
        self._pending_bumps: set[str] = set()

    def key(self, name: str) -> str:
        return self.prefix + name

    @property
    def backing_off(self) -> bool:
        return self._clock() < self._down_until

    def call(
        self, operation: Callable[[redis.Redis], T], default: D, *, what: str, during_backoff: bool = False
    ) -> T | D:
        """``operation(client)``, or *default* when Redis fails or this worker is backing off."""
        if not during_backoff and self.backing_off:
            return default
        try:
            self._flush_pending_bumps()
            result = operation(self.client)
        except RedisError as exc:
            self._failed(what, exc)
            return default
        self._succeeded()
        return result

    def ping(self) -> bool:
        """Whether Redis answers now; ignores the back-off, so a success ends it early."""
        return self.call(lambda client: bool(client.ping()), False, what="PING", during_backoff=True)

    def cached(
        self,
        name: str,
        compute: Callable[[], T],
        *,
        ttl: int,
        parse: Callable[[Any], T | None],
        variant: str = "",
    ) -> T:
        """The JSON value cached as *name* (its *variant*: one of several values that share *name*'s
        generation) under the current generation, else ``compute()``, stored for *ttl* seconds. *parse*
        checks a decoded value and returns None for one of the wrong shape (a miss). *compute* must read
        the database after this call starts (no transaction already open), or it could store data older
        than the generation it is filed under."""
        lookup = self.call(lambda client: self._lookup(client, name, variant), None, what=f"read of {name}")
        if lookup is None:  # Redis failed, or the generation was unusable
            return compute()
        value_key, raw = lookup
        if raw is not None:
            value = self._decode(value_key, raw, parse)
            if value is not None:
                return value
        value = compute()
        encoded = json.dumps(value, separators=(",", ":"))
        self.call(lambda client: client.set(value_key, encoded, ex=ttl), None, what=f"write of {name}")
        return value

    def invalidate(self, name: str) -> None:
        """Start a new generation of *name*. Call it after the transaction that changed the data has
        committed. When Redis fails, the increment is sent before this worker's next Redis command;
        meanwhile other workers may serve the old value, for at most its TTL."""
        with self._lock:
            self._pending_bumps.add(self.key(f"{name}:gen"))
        self.call(lambda client: None, None, what=f"invalidation of {name}")

    def close(self) -> None:
        self.client.close()

    def _lookup(self, client: redis.Redis, name: str, variant: str) -> tuple[str, bytes | str | None] | None:
        generation_key = self.key(f"{name}:gen")
        generation = client.get(generation_key)
        if generation is None:
            with client.pipeline(transaction=True) as pipe:
                pipe.set(generation_key, _seed(), nx=True)
                pipe.get(generation_key)
                generation = pipe.execute()[1]
        text = generation.decode("ascii", "replace") if isinstance(generation, bytes) else str(generation)
        if not _GENERATION.fullmatch(text):
            log.warning("the generation of %s is not an integer; starting a new one", name)
            client.set(generation_key, _seed())
            return None
        value_key = self.key(f"{name}:{text}:{variant}" if variant else f"{name}:{text}")
        return value_key, client.get(value_key)

    def _decode(self, key: str, raw: bytes | str, parse: Callable[[Any], T | None]) -> T | None:
        try:
            value = parse(json.loads(raw))
        except ValueError:  # not JSON, or not UTF-8
            value = None
        if value is None:
            log.warning("ignoring an unreadable cached value under %s", key)
        return value

    def _flush_pending_bumps(self) -> None:
        with self._lock:
            pending = sorted(self._pending_bumps)
        for generation_key in pending:
            self._bump(generation_key)
            with self._lock:
                self._pending_bumps.discard(generation_key)

    def _bump(self, generation_key: str) -> None:
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.set(generation_key, _seed(), nx=True)
                pipe.incr(generation_key)
                pipe.execute()
        except ResponseError:  # the generation is not an integer: start a new one
            self.client.set(generation_key, _seed())

    def _failed(self, what: str, exc: RedisError) -> None:
        with self._lock:
            now = self._clock()
            self._down_until = now + self.backoff_seconds
            self._failing = True
            if self._last_warning is not None and now - self._last_warning < WARNING_INTERVAL_SECONDS:
                self._unlogged_failures += 1
                return
            self._last_warning = now
            unlogged, self._unlogged_failures = self._unlogged_failures, 0
        reason = (str(exc).splitlines() or [""])[0]
        since = f" ({unlogged} more failures since the last warning)" if unlogged else ""
        log.warning(
            "Redis failed during the %s (%s: %s); going on without it, next try in %g s%s",
            what,
            type(exc).__name__,
            reason,
            self.backoff_seconds,
            since,
        )

    def _succeeded(self) -> None:
        if not self._failing:
            return
        with self._lock:
            recovered, self._failing = self._failing, False
            self._down_until = 0.0
        if recovered:
            log.info("Redis answers again")


def init_app(app: Flask, settings: Settings) -> SharedState | None:
    """Give *app* its Redis client when ``REDIS_URL`` is set (no connection is made here)."""
    if settings.redis_url is None:
        return None
    try:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.redis_timeout,
            socket_timeout=settings.redis_timeout,
            # A retry would multiply the worst case of every request; the back-off handles outages.
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL: {exc}") from None
    state = SharedState(
        client, prefix=settings.redis_key_prefix, backoff_seconds=settings.redis_backoff_seconds
    )
    app.extensions[EXTENSION] = state
    return state


def shared_state() -> SharedState | None:
    """The current app's :class:`SharedState`, or None in embedded mode (no ``REDIS_URL``)."""
    state: SharedState | None = current_app.extensions.get(EXTENSION)
    return state


def cached(
    name: str, compute: Callable[[], T], *, ttl: int, parse: Callable[[Any], T | None], variant: str = ""
) -> T:
    """:meth:`SharedState.cached` when Redis is configured and *ttl* is positive, else ``compute()``."""
    state = shared_state()
    if state is None or ttl <= 0:
        return compute()
    return state.cached(name, compute, ttl=ttl, parse=parse, variant=variant)


def invalidate(name: str) -> None:
    """:meth:`SharedState.invalidate` when Redis is configured."""
    state = shared_state()
    if state is not None:
        state.invalidate(name)
