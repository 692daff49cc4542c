"""The migration revisions this code carries, read from the scripts without importing Alembic.

``/readyz`` compares the database's revision with the code's head (:mod:`conduit.observability.health`).
Alembic's ``ScriptDirectory`` answers that, but importing Alembic (and Mako) cost every worker 4.3 MiB
after its first probe (issue 16, docs/decisions.md "Memory"). A script states its place in the chain in
two module-level assignments, ``revision = "0007"`` and ``down_revision = "0006"`` (None for the first, a
tuple for a merge); they are read here with :mod:`ast`, without running the script. The head is the one
revision no other script names as its down revision, as Alembic's ``get_current_head`` has it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

#: Alembic's own choice of script files: ``*.py`` but ``__init__.py`` and editor lock files (``.#x.py``).
_SCRIPT = re.compile(r"(?!\.\#|__init__)(.*\.py)$")


class RevisionError(ValueError):
    """The scripts do not form one chain with one head."""


@dataclass(frozen=True)
class Scripts:
    head: str | None
    known: frozenset[str]


def _names(value: ast.expr | None) -> tuple[str, ...]:
    """The revisions an assigned value names: a string, None, or a tuple or list of strings."""
    if value is None:
        return ()
    literal = ast.literal_eval(value)
    if literal is None:
        return ()
    if isinstance(literal, str):
        return (literal,)
    if isinstance(literal, tuple | list) and all(isinstance(item, str) for item in literal):
        return tuple(literal)
    raise RevisionError(f"a revision must be a string, None or a tuple of strings, not {literal!r}")


def _assignments(path: Path) -> dict[str, ast.expr | None]:
    found: dict[str, ast.expr | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node.value
    return found


def migrations_dir() -> Path:
    """``migrations/`` of the source tree, or the copy a wheel carries inside the package."""
    here = Path(__file__).resolve().parents[1]  # the conduit package
    for candidate in (here.parents[1] / "migrations", here / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("Alembic migrations not found next to the conduit package")


def read_scripts(versions: Path) -> Scripts:
    """The head and every revision of the scripts in *versions* (a migrations ``versions/`` folder)."""
    down: dict[str, tuple[str, ...]] = {}
    for path in sorted(versions.iterdir()):
        if not path.is_file() or not _SCRIPT.match(path.name):
            continue
        assigned = _assignments(path)
        if "revision" not in assigned:
            raise RevisionError(f"{path.name} names no revision")  # Alembic refuses it too
        (revision,) = _names(assigned["revision"]) or (None,)
        if revision is None:
            raise RevisionError(f"{path.name}: revision is empty")
        if revision in down:
            raise RevisionError(f"{path.name}: revision {revision} is in two scripts")
        down[revision] = _names(assigned.get("down_revision"))
    named_below = {parent for parents in down.values() for parent in parents}
    missing = named_below - set(down)
    if missing:
        raise RevisionError(f"down revisions without a script: {', '.join(sorted(missing))}")
    heads = sorted(set(down) - named_below)
    if len(heads) > 1:
        raise RevisionError(f"several heads: {', '.join(heads)}; merge them")
    return Scripts(heads[0] if heads else None, frozenset(down))
