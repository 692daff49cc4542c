"""Typed access to the objects ``create_app()`` attaches to the Flask app.

Each owner declares one :class:`Extension` (``DATABASE``, ``SETTINGS``, ``TOKENS``...) and reads its object
through it, so a key is written once and every reader gets the right type.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from flask import Flask, current_app

from conduit.settings import Settings

T = TypeVar("T")


class Extension(Generic[T]):
    def __init__(self, name: str) -> None:
        self.key = f"conduit.{name}"

    def install(self, app: Flask, value: T) -> T:
        app.extensions[self.key] = value
        return value

    def get(self, app: Flask | None = None) -> T:
        """The object of *app* (default: the current app); KeyError when it was never installed."""
        value: T = (app or current_app).extensions[self.key]
        return value

    def find(self, app: Flask | None = None) -> T | None:
        value: T | None = (app or current_app).extensions.get(self.key)
        return value


SETTINGS: Extension[Settings] = Extension("settings")


def current_settings() -> Settings:
    """The settings of the current app."""
    return SETTINGS.get()
