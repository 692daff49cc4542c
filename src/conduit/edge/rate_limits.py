"""Rate limits (Flask-Limiter): a global per-address limit on the API, in which an expensive read weighs
more than a cheap one (:mod:`conduit.edge.costs`), login and registration limits per address and per
account, and per-account limits on publishing articles and comments.

Login (issue 14, finding 6; docs/security.md, "Password guessing"): no counter that an outsider can fill
refuses the owner. Every attempt counts per address; a failed one (401) counts per account and address,
and per account from every address. The account-wide count refuses nobody: once it is spent the account
is *under attack*, and then an address that already failed on it within the strict window is refused,
while an address with no failure on it (the owner's, most likely) still gets its try.

Counters live in Redis when ``REDIS_URL`` is set, so every worker of every server shares them, and in
the process's memory otherwise. Limiting fails open: when Redis fails, each worker carries on with
in-memory counters (the same limits, per worker) and tries Redis again after 1, 2, 4 ... 32 s; a
request is never refused because Redis is down. Addresses in ``RATE_LIMIT_EXEMPT`` are never limited.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask_limiter import ApplicationLimit, Limit, Limiter, RequestLimit
from limits import parse_many
from redis.backoff import NoBackoff
from redis.retry import Retry

from conduit.edge.costs import account_or_address, read_cost
from conduit.settings import Settings
from conduit.web.errors import error_response

EXTENSION = "conduit.limiter"
#: Sliding window counters: no double burst at a window's edge, at the cost of two counters per key.
STRATEGY = "sliding-window-counter"
LOGIN_ENDPOINT = "users.login"
REGISTER_ENDPOINT = "users.register"
ARTICLE_ENDPOINT = "articles.create_article"
COMMENT_ENDPOINT = "comments.add_comment"


def client_address() -> str:
    """The client's address; behind nginx, ProxyFix has already put the real one in ``remote_addr``."""
    return request.remote_addr or "unknown"


def account_key() -> str:
    """The account a login or registration names: a digest of the e-mail sent (no address in Redis)."""
    body = request.get_json(silent=True)
    user = body.get("user") if isinstance(body, dict) else None
    email = user.get("email") if isinstance(user, dict) else None
    if not isinstance(email, str) or not email.strip():
        return "account:none"
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def account_and_address() -> str:
    """The account a login names, from this client address."""
    return f"{account_key()}@{client_address()}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


class LoginGuard:
    """Failed logins per account from every address, which refuse nobody by themselves, and the strict
    per account and address count that applies while those are spent (the account is under attack).

    Both live in the limiter's storage (Redis when configured). ``check`` runs before the login view,
    ``record`` after it answered 401. Storage errors let the request through: limiting fails open, as
    everywhere here."""

    def __init__(self, limiter: Limiter, settings: Settings, exempt: Callable[[], bool]) -> None:
        self.limiter = limiter
        self.enabled = settings.rate_limit_enabled
        self.account_items = parse_many(settings.rate_limit_login_account)
        self.strict_items = parse_many(settings.rate_limit_login_account_strict)
        self.exempt = exempt

    def _applies(self) -> bool:
        return (
            self.enabled
            and request.endpoint == LOGIN_ENDPOINT
            and request.method == "POST"
            and not self.exempt()
        )

    def check(self) -> Response | None:
        if not self._applies():
            return None
        strategy = self.limiter.limiter
        account, source = account_key(), account_and_address()
        try:
            if all(strategy.test(item, "login-account", account) for item in self.account_items):
                return None
            for item in self.strict_items:
                if not strategy.test(item, "login-strict", source):
                    reset = strategy.get_window_stats(item, "login-strict", source).reset_time
                    retry = min(item.get_expiry(), max(1, math.ceil(reset - time.time())))
                    return _refused(retry)
        except Exception:  # noqa: BLE001 - fail open, like Flask-Limiter's swallow_errors
            return None
        return None

    def record(self, response: Response) -> Response:
        if self._applies() and _failed(response):
            strategy = self.limiter.limiter
            try:
                for item in self.account_items:
                    strategy.hit(item, "login-account", account_key())
                for item in self.strict_items:
                    strategy.hit(item, "login-strict", account_and_address())
            except Exception:  # noqa: BLE001 - fail open, like Flask-Limiter's swallow_errors
                return response
        return response


class _Resolved:
    """A limit that Flask-Limiter expands into its runtime limits once, not on every request, and not at
    all for a request it does not apply to.

    Flask-Limiter re-parses every limit string and builds, hashes and sorts a runtime limit per item for
    every request (13 for the limits below), then skips those whose method or ``exempt_when`` excludes
    the request: 0.3 of its 0.6 ms per API request went there (bench/overhead.py, docs/decisions.md).
    Here a request the limit does not apply to gets none, and the others get the same objects each
    time. Only for fixed limit strings: a callable one could change between requests."""

    methods: Any
    exempt_when: Callable[[], bool] | None
    limit_provider: Any

    def __iter__(self) -> Iterator[Any]:
        if has_request_context() and not self._applies():
            return iter(())
        resolved = self.__dict__.get("_resolved")
        if resolved is None:
            if not isinstance(self.limit_provider, str):
                raise TypeError("only a fixed limit string can be resolved once")
            resolved = self.__dict__["_resolved"] = tuple(super().__iter__())  # type: ignore[misc]
        return iter(resolved)

    def _applies(self) -> bool:
        if self.methods is not None and request.method.lower() not in self.methods:
            return False
        return not (self.exempt_when is not None and self.exempt_when())


class ResolvedLimit(_Resolved, Limit):
    """:class:`flask_limiter.Limit`, resolved once (:class:`_Resolved`)."""


class ResolvedApplicationLimit(_Resolved, ApplicationLimit):
    """:class:`flask_limiter.ApplicationLimit`, resolved once (:class:`_Resolved`)."""


def _only(endpoint: str) -> Callable[[], bool]:
    def exempt() -> bool:
        return request.endpoint != endpoint

    return exempt


def _not_api() -> bool:
    return not request.path.startswith("/api/")


def _never_limited(settings: Settings) -> Callable[[], bool]:
    networks = [ipaddress.ip_network(network, strict=False) for network in settings.rate_limit_exempt]

    def exempt() -> bool:
        if request.method == "OPTIONS":  # CORS preflights: the request that follows is counted
            return True
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return False
        return any(address in network for network in networks)

    return exempt


def _too_many(limit: RequestLimit) -> Response:
    window = limit.limit.get_expiry()
    try:
        retry = min(window, max(1, math.ceil(limit.reset_at - time.time())))
    except Exception:  # noqa: BLE001 - the storage failed between the hit and now: say the window
        retry = window
    return _refused(retry)


def _refused(retry: int) -> Response:
    return error_response(
        429,
        {"rate_limit": [f"too many requests; retry in {retry} seconds"]},
        {"Retry-After": str(retry)},
    )


def storage(settings: Settings) -> tuple[str, dict[str, Any]]:
    """Flask-Limiter's storage URI and options: Redis with the app's prefix and timeouts, else memory."""
    if settings.redis_url is None:
        return "memory://", {}
    uri = settings.redis_url
    if uri.startswith("unix://"):
        uri = "redis+unix://" + uri.removeprefix("unix://")
    options: dict[str, Any] = {
        "key_prefix": settings.redis_key_prefix + "limits",
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        # Retries would multiply the time a dead Redis costs; the in-memory fallback handles outages.
        "retry": Retry(NoBackoff(), 0),
    }
    return uri, options


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Limit *app*'s requests; its ``before_request`` hook runs where this is called."""

    def per_endpoint(value: str, key: Callable[[], str], endpoint: str) -> Limit:
        return ResolvedLimit(
            value, key_function=key, exempt_when=_only(endpoint), methods=["POST"], finalized=True
        )

    uri, options = storage(settings)
    limiter = Limiter(
        client_address,
        application_limits=[
            ResolvedApplicationLimit(
                settings.rate_limit_api, exempt_when=_not_api, cost=read_cost(settings), finalized=True
            ),
        ],
        default_limits=[
            per_endpoint(settings.rate_limit_login_ip, client_address, LOGIN_ENDPOINT),
            ResolvedLimit(
                settings.rate_limit_login_account_address,
                key_function=account_and_address,
                exempt_when=_only(LOGIN_ENDPOINT),
                methods=["POST"],
                deduct_when=_failed,
                finalized=True,
            ),
            per_endpoint(settings.rate_limit_register_ip, client_address, REGISTER_ENDPOINT),
            per_endpoint(settings.rate_limit_register_account, account_key, REGISTER_ENDPOINT),
            per_endpoint(
                settings.rate_limit_articles_user, account_or_address(client_address), ARTICLE_ENDPOINT
            ),
            per_endpoint(
                settings.rate_limit_comments_user, account_or_address(client_address), COMMENT_ENDPOINT
            ),
        ],
        strategy=STRATEGY,
        storage_uri=uri,
        storage_options=options,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        headers_enabled=False,  # headers on every response would cost a second storage call each
        on_breach=_too_many,
        enabled=settings.rate_limit_enabled,
    )
    exempt = _never_limited(settings)
    limiter.request_filter(exempt)
    limiter.init_app(app)
    guard = LoginGuard(limiter, settings, exempt)
    app.before_request(guard.check)
    app.after_request(guard.record)
    app.extensions[EXTENSION] = limiter
    return limiter
