"""Flask's JSON provider on orjson: responses are serialised in C, straight to bytes."""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response

_OPTIONS = orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    """Compact, keys in insertion order (``sort_keys`` is off for the API). Types orjson does not know
    fall back to Flask's own conversions (dates, Decimal, UUID, dataclasses, ``__html__``). Request bodies
    are still parsed by the standard library, whose errors and edge cases (big integers, NaN) the API's
    validation was written against; parsing is not where the time goes."""

    sort_keys = False
    compact = True

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.get("indent"):
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if not self.compact:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=self.default, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)
        return self._app.response_class(body, mimetype=self.mimetype)  # type: ignore[arg-type]
