"""Fixtures of the provisioning checks (``make check-provisioning``, issue 17): the test hosts' image and
two pinned releases of this repository's HEAD, made the way a user makes them.

The releases come from a throwaway clone: tag ``v0.0.0-check.1`` at HEAD, then an empty commit tagged
``v0.0.0-check.2`` (a second release to roll out), each archived by ``bin/release.py``. The app code
provisioned is therefore HEAD's, committed; the roles and playbooks are the working tree's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import hosts, podman
from tests.support.provisioning import (
    FIRST,
    SECOND,
    VM_GROUPS,
    Provisioned,
    Releases,
    Scenario,
    settings,
    write_fleet_inventory,
)
from tests.support.skips import require_or_skip

REPO = Path(__file__).resolve().parents[2]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=check", "-c", "user.email=check@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    work = tmp_path_factory.mktemp("releases")
    clone = work / "conduit"
    git(work, "clone", "--quiet", str(REPO), str(clone))
    git(clone, "tag", FIRST)
    git(clone, "commit", "--quiet", "--allow-empty", "-m", "The second release of the provisioning check")
    git(clone, "tag", SECOND)
    dist = work / "dist"
    for tag in (FIRST, SECOND):
        subprocess.run(
            [
                sys.executable,
                str(REPO / "bin" / "release.py"),
                tag,
                "--repo",
                str(clone),
                "--output",
                str(dist),
            ],
            check=True,
            capture_output=True,
        )
    return Releases(dist, {tag: git(clone, "rev-parse", tag) for tag in (FIRST, SECOND)})


@pytest.fixture(scope="session")
def host_image() -> str:
    why = podman.missing()
    if why:
        require_or_skip(why)
    if not hosts.ANSIBLE_PLAYBOOK.exists():
        require_or_skip(f"no {hosts.ANSIBLE_PLAYBOOK} (make .venv/.installed-dev)")
    if shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        require_or_skip("no OpenSSH client (bin/system-packages openssh-client)")
    return hosts.host_image()


@pytest.fixture(scope="session")
def provisioned(request: pytest.FixtureRequest, host_image: str, releases: Releases) -> Iterator[Provisioned]:
    """The selected scenarios' hosts (the one VM: test_vm.py, the fleet: test_fleet.py), provisioned by
    site.yml at the same time (one ansible-playbook run each: their waits on apt and PyPI overlap). Every
    host and network is removed at the end."""
    modules = {item.path.stem for item in request.session.items}
    # Short: ssh's control sockets live under it (a unix socket path has at most 107 bytes).
    base = Path(tempfile.mkdtemp(prefix="cp-", dir=os.environ.get("CONDUIT_PROVISIONING_DIR", "/tmp")))
    try:
        with contextlib.ExitStack() as stack:
            vm = fleet = None
            if "test_vm" in modules:
                vm = stack.enter_context(hosts.Fleet.started(base / "vm", prefix="conduit-vm"))
                vm.add("vm", publish=(80,))
            if "test_fleet" in modules:
                fleet = stack.enter_context(hosts.Fleet.started(base / "fleet", prefix="conduit-fleet"))
                fleet.add("lb", publish=(80,))
                for name in ("app1", "app2", "db"):
                    fleet.add(name)
            runs: dict[str, tuple[hosts.Fleet, Path, Future[hosts.PlaybookRun]]] = {}
            with ThreadPoolExecutor(2) as pool:
                for name, machines in (("vm", vm), ("fleet", fleet)):
                    if machines is None:
                        continue
                    machines.wait_ssh()
                    inventory = base / name / "inventory.yml"
                    if machines is vm:
                        hosts.write_inventory(inventory, machines, VM_GROUPS, settings(releases, machines))
                    else:
                        write_fleet_inventory(inventory, machines, releases, FIRST)
                    log = base / name / "site-1.log"
                    runs[name] = (
                        machines,
                        inventory,
                        pool.submit(hosts.ansible_playbook, inventory, "site.yml", log),
                    )
                scenarios = {
                    name: Scenario(m, inventory, run.result()) for name, (m, inventory, run) in runs.items()
                }
            for name, scenario in scenarios.items():
                first = scenario.first
                print(f"\nPROVISIONING {name} first run: {first.seconds:.0f} s, recap {first.recap}")
            yield Provisioned(scenarios.get("vm"), scenarios.get("fleet"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
