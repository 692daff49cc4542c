"""Import rules: no module of the package imports from a layer above its own (docs/decisions.md,
"Layout"), and no test module imports another.

From the bottom: settings and the typed extension registry; web plumbing and storage; security, the
edge and observability; the domain areas (each may use the ones before it); the model registry; the
factory; the entry points and operations. A module may import its own layer and any layer below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import conduit

PACKAGE = Path(conduit.__file__).parent
LAYERS: list[tuple[str, ...]] = [
    ("conduit", "conduit.settings", "conduit.extensions"),
    ("conduit.web", "conduit.storage"),
    ("conduit.security", "conduit.edge", "conduit.observability"),
    ("conduit.users",),
    ("conduit.profiles",),
    ("conduit.tags",),
    ("conduit.articles",),
    ("conduit.comments",),
    ("conduit.models",),
    ("conduit.app",),
    ("conduit.startup", "conduit.wsgi", "conduit.ops", "conduit.__main__"),
]

#: Modules that only re-export for users of the package, lazily: ``conduit.create_app`` (Flask's
#: ``--app conduit``).
FACES = {"conduit"}


def layer_of(module: str) -> int:
    """The layer of the longest prefix of *module* that a layer names."""
    best, rank = "", -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, rank = name, index
    assert rank >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return rank


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[str]:
    """Every conduit module *path* imports, at the top or inside a function."""
    return [name for name in imports_of_any(path) if name == "conduit" or name.startswith("conduit.")]


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        if importer in FACES:
            continue
        for imported in imports_of(path):
            if layer_of(imported) > layer_of(importer):
                upward.append(f"{importer} imports {imported}")
    assert upward == [], "\n".join(upward)


def test_the_check_sees_an_upward_import() -> None:
    assert layer_of("conduit.storage.database") < layer_of("conduit.users.models")
    assert layer_of("conduit.web.errors") < layer_of("conduit.ops.cli")
    assert layer_of("conduit.observability.logs.sinks") == layer_of("conduit.edge.cors")


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/support/; fixtures come from conftest.py by name, never by import."""
    tests = Path(__file__).parent
    offenders = [
        f"{path.relative_to(tests)} imports {name}"
        for path in sorted(tests.rglob("*.py"))
        for name in imports_of_any(path)
        if name.startswith("tests.") and (name.split(".")[-2].startswith("test_") or ".conftest" in name)
    ]
    assert offenders == [], "\n".join(offenders)


def imports_of_any(path: Path) -> list[str]:
    """Every name *path* imports (``from a.b import c`` is ``a.b.c``), at the top or in a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found
