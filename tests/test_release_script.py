"""bin/release.py builds the archive the Ansible roles deploy from a tag, never from a branch (issue 14,
finding 11; the roles themselves install that archive: tests/provisioning drives them on a VM)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bin" / "release.py"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def release(repo: Path, version: str, output: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), version, "--repo", str(repo), "--output", str(output)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_a_release_is_built_from_a_tag_and_a_branch_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "file.txt").write_text("one\n")
    git(repo, "add", "file.txt")
    git(repo, "commit", "--quiet", "-m", "one")
    git(repo, "tag", "v1.0.0")

    refused = release(repo, "main", tmp_path / "dist")
    assert refused.returncode == 1
    assert "never from a branch" in refused.stderr
    assert not (tmp_path / "dist" / "conduit-main.tar.gz").exists()

    built = release(repo, "v1.0.0", tmp_path / "dist")
    assert built.returncode == 0, built.stderr
    with tarfile.open(tmp_path / "dist" / "conduit-v1.0.0.tar.gz") as archive:
        assert "conduit-v1.0.0/file.txt" in archive.getnames()
        release_file = archive.extractfile("conduit-v1.0.0/RELEASE")
        assert release_file is not None
        assert release_file.read().decode().startswith("v1.0.0 ")


def test_the_ansible_roles_require_a_release_version_and_install_its_archive() -> None:
    defaults = yaml.safe_load((REPO / "deploy/ansible/roles/conduit_settings/defaults/main.yml").read_text())
    assert defaults["conduit_version"] == ""  # no default branch: the operator names a tag
    assert "conduit-{{ conduit_version }}.tar.gz" in defaults["conduit_release_archive"]
    checks = (REPO / "deploy/ansible/roles/conduit_common/tasks/main.yml").read_text()
    assert "conduit_version | length > 0" in checks
    roles = "\n".join(path.read_text() for path in (REPO / "deploy/ansible/roles").rglob("*.yml"))
    assert "ansible.builtin.git" not in roles
    assert "\ngit:" not in roles
