"""Conduit: the RealWorld API on Flask, ready for production."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("conduit")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from conduit.app import create_app

        return create_app
    raise AttributeError(name)
