"""Where the RealWorld specification and its official suites are: one setting, ``REALWORLD_DIR``.

The folder holds ``openapi.yml``, ``hurl/``, ``postman/`` and ``e2e/``, as the ``specs/`` folder of
https://github.com/gothinkster/realworld does. A relative value is taken from the repository's root, so
``REALWORLD_DIR=../shared/realworld`` names a folder beside the checkout. The conformance runner is
``$CONDUIT_CONFORMANCE_TOOL``, else ``tools/run-conformance`` beside that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTING = "REALWORLD_DIR"
WHERE = (
    "set REALWORLD_DIR to a folder with the RealWorld openapi.yml, hurl/, postman/ and e2e/ "
    "(the specs/ folder of https://github.com/gothinkster/realworld)"
)


class RealWorldMissingError(LookupError):
    """A RealWorld file is needed and the setting does not lead to it; the message is one line."""


def realworld_dir() -> Path | None:
    value = os.environ.get(SETTING, "").strip()
    return (REPO / value).resolve() if value else None


def realworld_file(relative: str) -> Path:
    folder = realworld_dir()
    if folder is None:
        raise RealWorldMissingError(f"REALWORLD_DIR is not set: {WHERE}")
    path = folder / relative
    if not path.exists():
        raise RealWorldMissingError(f"REALWORLD_DIR={folder} has no {relative}: {WHERE}")
    return path


def conformance_tool() -> Path:
    explicit = os.environ.get("CONDUIT_CONFORMANCE_TOOL", "").strip()
    if explicit:
        return Path(explicit)
    folder = realworld_dir()
    if folder is None:
        raise RealWorldMissingError(f"REALWORLD_DIR is not set: {WHERE}")
    tool = folder.parent / "tools" / "run-conformance"
    if not tool.is_file():
        raise RealWorldMissingError(
            f"no conformance runner at {tool}: set CONDUIT_CONFORMANCE_TOOL to a run-conformance script"
        )
    return tool
