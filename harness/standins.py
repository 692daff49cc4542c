"""Test-only stand-ins for the official images Conduit's Dockerfile and compose.yaml name, built from
Debian's packages because no registry is reachable (harness/standins/README.md says what each keeps of
the official image). ``ensure()`` builds what is missing or out of date and returns the image names."""

from __future__ import annotations

from pathlib import Path

from harness import podman

RECIPES = Path(__file__).with_name("standins")
BASE = "localhost/conduit-test/debian:bookworm"
NAMES = ("python", "nginx", "postgres", "redis", "prometheus")
#: An imported root has no image configuration: PATH as Debian's and the official images' (podman kube
#: play, unlike podman run, adds none).
BASE_CHANGES = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 'CMD ["/bin/bash"]')


def image(name: str) -> str:
    return f"localhost/conduit-test/{name}:bookworm"


def ensure(names: tuple[str, ...] = NAMES, say: object = None) -> dict[str, str]:
    """Build the base and each stand-in unless its label shows the current recipe; ``{name: image}``."""
    report = say if callable(say) else (lambda _line: None)
    base_recipe = podman.debian_image(BASE, changes=BASE_CHANGES)
    images = {}
    for name in names:
        folder = RECIPES / name
        recipe = podman.recipe_hash(base_recipe, folder)
        built = podman.build_image(
            image(name),
            folder,
            recipe=recipe,
            file=folder / "Containerfile",
            build_args={"BASE": BASE},
        )
        report(f"{image(name)}: {'built' if built else 'cached'} (recipe {recipe})")
        images[name] = image(name)
    return images
