"""Conduit's image, built from the Dockerfile unchanged: only ``PYTHON_IMAGE`` names the stand-in.

Its recipe is the Dockerfile, .dockerignore, every file the build context sends (the .dockerignore
allowlist) and the Python image's recipe: the image is rebuilt when one of them changes, always with
``--no-cache`` (buildah 1.28 once reused a stale stage through ``RUN --mount=type=bind,from=build``).
"""

from __future__ import annotations

from pathlib import Path

from harness import podman

REPO = podman.REPO
#: What .dockerignore excludes inside the allowlisted paths.
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".pyd")


def context_files() -> list[Path]:
    """The files ``podman build .`` sends: the ``!path`` lines of .dockerignore, without its exclusions."""
    files: list[Path] = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        if not line.startswith("!"):
            continue
        path = REPO / line[1:].rstrip("/")
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in candidates:
            relative = file.relative_to(REPO).as_posix()
            if not file.is_file() or "__pycache__" in file.parts or file.suffix in _EXCLUDED_SUFFIXES:
                continue
            if relative.startswith("src/conduit/static/") and file.suffix == ".gz":
                continue
            files.append(file)
    return files


def recipe(python_image: str) -> str:
    python_recipe = podman.image_recipe(python_image) or python_image
    parts: list[str | Path] = [python_recipe, REPO / "Dockerfile", REPO / ".dockerignore"]
    for file in context_files():
        parts += [file.relative_to(REPO).as_posix(), file]
    return podman.recipe_hash(*parts)


def ensure(image: str, python_image: str, *, force: bool = False) -> tuple[str, bool]:
    """Build ``image`` (``--no-cache``) unless it carries the current recipe; (recipe, whether built)."""
    current = recipe(python_image)
    if force:
        podman.podman("rmi", "--force", image, check=False)
    built = podman.build_image(
        image,
        REPO,
        recipe=current,
        build_args={"PYTHON_IMAGE": python_image},
        no_cache=True,
    )
    return current, built
