"""What the provisioning scenarios share: the pinned releases, the inventories, what was provisioned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import hosts

FIRST = "v0.0.0-check.1"


SECOND = "v0.0.0-check.2"


@dataclass(frozen=True)
class Releases:
    dist: Path
    commits: dict[str, str]  # tag -> commit id

    def archive_pattern(self) -> str:
        return str(self.dist / "conduit-{{ conduit_version }}.tar.gz")


@dataclass
class Scenario:
    hosts: hosts.Fleet
    inventory: Path
    first: hosts.PlaybookRun

    @property
    def workdir(self) -> Path:
        return self.inventory.parent


#: The fleet's groups; the app hosts run gunicorn under supervisor (seed 002), the one VM under systemd.
FLEET_GROUPS = {"lb": ["lb"], "app": ["app1", "app2"], "db": ["db"]}


FLEET_APP_VARS = {"conduit_process_manager": "supervisor"}


def write_fleet_inventory(path: Path, fleet: hosts.Fleet, releases: Releases, version: str) -> Path:
    return hosts.write_inventory(
        path, fleet, FLEET_GROUPS, settings(releases, fleet, version), {"app": FLEET_APP_VARS}
    )


VM_GROUPS = {"db": ["vm"], "app": ["vm"], "lb": ["vm"]}


@dataclass
class Provisioned:
    vm: Scenario | None
    fleet: Scenario | None


def settings(releases: Releases, fleet: hosts.Fleet, version: str = FIRST) -> dict[str, object]:
    """The inventory variables both scenarios share."""
    return {
        "conduit_version": version,
        "conduit_release_archive": releases.archive_pattern(),
        # nginx answers only its server_name (any other Host: 444); the test's requests name 127.0.0.1
        "conduit_domain": "127.0.0.1",
        "conduit_workers": 2,
        # The test's client reaches nginx through podman's port forwarding, i.e. from the network's
        # gateway address: exempt from the rate limits, as a monitoring or load-test source would be.
        # PASSWORD_BLOCKLIST=false: the official RealWorld suites (run-conformance) register with
        # password123, which the production profile's common-password list refuses (docs/security.md).
        "conduit_extra_env": {
            "RATE_LIMIT_EXEMPT": f"127.0.0.0/8,{fleet.gateway}",
            "PASSWORD_BLOCKLIST": "false",
        },
    }
