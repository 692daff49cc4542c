#!/usr/bin/env python3
"""Build the release archive the Ansible roles install: ``make release VERSION=<tag>``.

The archive is ``git archive`` of the tag (tracked files only, exactly as committed), under one folder
``conduit-<tag>/``, plus a ``RELEASE`` file with the tag and its commit id. A release is pinned: VERSION
must name a tag, never a branch or a working tree, so the same VERSION always means the same code.

    bin/release.py v1.2.0                  # -> dist/conduit-v1.2.0.tar.gz
    bin/release.py v1.2.0 --repo DIR --output DIR
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Safe as a file and directory name on every host (and in the archive's name).
TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


class ReleaseError(RuntimeError):
    pass


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 (fixed program)
        ["git", "-C", str(repo), *args],  # noqa: S607 (git from PATH, like make)
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def tag_commit(repo: Path, version: str) -> str:
    """The commit of tag *version*; a branch, a commit id or anything else is refused."""
    if not TAG_PATTERN.match(version):
        raise ReleaseError(f"VERSION={version!r} is not a usable tag name (letters, digits, . _ + -)")
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{version}^{{commit}}")
    except ReleaseError:
        raise ReleaseError(
            f"VERSION={version} is not a tag of {repo} (git tag --list); a release is built from a tag, "
            "never from a branch"
        ) from None


def build(repo: Path, version: str, output: Path) -> Path:
    commit = tag_commit(repo, version)
    output.mkdir(parents=True, exist_ok=True)
    archive = output / f"conduit-{version}.tar.gz"
    with tempfile.TemporaryDirectory() as work:
        release_file = Path(work) / "RELEASE"
        release_file.write_text(f"{version} {commit}\n")
        partial = output / f".{archive.name}.partial"
        git(
            repo,
            "archive",
            "--format=tar.gz",
            f"--prefix=conduit-{version}/",
            f"--add-file={release_file}",
            f"--output={partial.resolve()}",
            commit,
        )
        partial.replace(archive)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="the tag to release, e.g. v1.2.0")
    parser.add_argument("--repo", type=Path, default=REPO, help="the repository (default: this one)")
    parser.add_argument("--output", type=Path, default=REPO / "dist", help="where to write (default: dist/)")
    args = parser.parse_args(argv)
    try:
        archive = build(args.repo, args.version, args.output)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(f"release: wrote {archive} ({archive.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
