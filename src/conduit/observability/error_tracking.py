"""Optional error tracking with Sentry: active only when ``SENTRY_DSN`` is set.

Without a DSN the SDK is not even imported, so nothing can be sent anywhere. With one, unhandled errors
(which the app logs with ``log.exception`` before answering 500) reach Sentry through its logging
integration, tagged with the profile, the release and the request id. No personal data is sent
(the SDK's default: its scrubber removes cookies, the Authorization header and the client address), no
frame locals (``LoginUser(password=...)`` was one), and every value under a key naming a password,
token or secret is scrubbed at any depth (:mod:`conduit.observability.scrubbing`).
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context

from conduit import __version__
from conduit.observability.scrubbing import scrub, scrub_event
from conduit.settings import Settings


def _before_send(event: Any, hint: Any) -> Any:
    if has_request_context():
        event.setdefault("tags", {})["request_id"] = g.get("request_id", "-")
    return scrub_event(event, hint)


def init_error_tracking(settings: Settings) -> bool:
    """Start the Sentry SDK for this process when a DSN is configured; returns whether it did."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.conduit_env,
        release=f"conduit@{__version__}",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        integrations=[FlaskIntegration()],
        before_send=_before_send,
        before_send_transaction=_before_send,
        before_breadcrumb=lambda crumb, hint: scrub(crumb),
        include_local_variables=False,
        send_default_pii=False,
    )
    return True
