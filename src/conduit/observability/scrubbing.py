"""What must never leave in an error report: values under a key that names a secret, and tokens.

Sentry's own scrubber knows a fixed list of header and field names; a JSON body such as
``{"user": {"password": ...}}`` or a nested ``api_token`` went through (issue 14, finding 4). This walks
the whole event, whatever its depth.
"""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"
#: A key naming any of these (case-insensitive, anywhere in the name) has its value replaced.
SECRET_KEY_WORDS = ("password", "passwd", "token", "secret", "authorization", "cookie", "api_key", "apikey")
#: A JWT anywhere in a string (a token quoted in a message, a URL, a header of another name).
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")


def names_a_secret(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in SECRET_KEY_WORDS)


def scrub(value: Any) -> Any:
    """A copy of *value* with every secret replaced by ``[Filtered]``."""
    if isinstance(value, dict):
        return {key: FILTERED if names_a_secret(key) else scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return JWT.sub(FILTERED, value)
    return value


def scrub_event(event: Any, hint: Any = None) -> Any:
    """Sentry's ``before_send``: the request body as a raw string is dropped, the rest scrubbed."""
    request = event.get("request") if isinstance(event, dict) else None
    if isinstance(request, dict) and isinstance(request.get("data"), str):
        request["data"] = FILTERED
    return scrub(event)
