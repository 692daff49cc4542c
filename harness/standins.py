"""Test-only stand-ins for the official images Conduit's Dockerfile and compose.yaml name, built from
Debian's packages because no registry is reachable (harness/standins/README.md says what each keeps of
the official image). ``base()`` makes the Debian base they share (one debootstrap root), ``build(name)``
one stand-in; each is rebuilt only when its recipe changed. bin/check-containers.py builds them at once."""

from __future__ import annotations

import time
from pathlib import Path

from harness import podman

RECIPES = Path(__file__).with_name("standins")
BASE = "localhost/conduit-test/debian:bookworm"
NAMES = ("python", "nginx", "postgres", "redis", "prometheus")
#: An imported root has no image configuration: PATH as Debian's and the official images' (podman kube
#: play, unlike podman run, adds none).
#: Debian's python3 with pip and venv goes into the one debootstrap root every stand-in shares: the
#: python stand-in then needs no apt run, and Conduit's image (FROM it) starts building sooner, which is
#: the longest path of a cold build. The other stand-ins carry Python too; they are test-only.
BASE_PACKAGES = ("ca-certificates", "python3", "python3-pip", "python3-venv", "python-is-python3")
BASE_CHANGES = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 'CMD ["/bin/bash"]')


def image(name: str) -> str:
    return f"localhost/conduit-test/{name}:bookworm"


def base() -> str:
    """The Debian base every stand-in is built FROM (one debootstrap root for all); its recipe hash."""
    return podman.debian_image(BASE, include=BASE_PACKAGES, changes=BASE_CHANGES)


def build(name: str, base_recipe: str) -> tuple[str, str, bool, float]:
    """One stand-in, unless its label shows the current recipe: (image, recipe, whether built, seconds)."""
    began = time.monotonic()
    folder = RECIPES / name
    recipe = podman.recipe_hash(base_recipe, folder)
    built = podman.build_image(
        image(name),
        folder,
        recipe=recipe,
        file=folder / "Containerfile",
        build_args={"BASE": BASE},
    )
    return image(name), recipe, built, time.monotonic() - began
