"""One VM (issue 17, item 2): site.yml provisions a fresh Debian 12 host with everything on it; then,
through the host's nginx on a 127.0.0.1 port: the RealWorld suites, reload and restart under a steady
read load, a reboot, the logs, and a second playbook run that changes nothing."""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import hosts
from harness.realworld import RealWorldMissingError, conformance_tool
from tests.provisioning.support import active, failed, get, read_load, ready, report, wait_for
from tests.support.provisioning import FIRST, Provisioned, Releases
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.slow
SERVICES = ("conduit.socket", "conduit", "nginx", "postgresql", "redis-server", "nftables")


@dataclass
class VM:
    fleet: hosts.Fleet
    inventory: Path
    workdir: Path
    first: hosts.PlaybookRun

    @property
    def port(self) -> int:
        return self.fleet.hosts["vm"].port(80)


@pytest.fixture(scope="module")
def vm(provisioned: Provisioned) -> VM:
    scenario = provisioned.vm
    assert scenario is not None
    assert scenario.first.returncode == 0, scenario.first.tail()
    return VM(scenario.hosts, scenario.inventory, scenario.workdir, scenario.first)


def test_the_host_runs_every_service_and_answers_through_nginx(vm: VM, releases: Releases) -> None:
    assert vm.first.recap["vm"]["failed"] == 0
    assert active(vm.fleet, "vm", *SERVICES) == dict.fromkeys(SERVICES, "active")
    status, headers, body = get(vm.port, "/readyz")
    assert status == 200, body
    assert set(body["checks"].values()) == {"ok"}, body  # database (and its schema), redis
    # the pinned release runs: the tag's commit, from its own directory behind /srv/conduit
    assert body["revision"] == releases.commits[FIRST]
    assert vm.fleet.run("vm", "readlink", "/srv/conduit").stdout.strip() == f"/srv/conduit-releases/{FIRST}"
    assert headers["server"] == "nginx"
    # the firewall is loaded: only SSH and HTTP(S) come in
    rules = vm.fleet.run("vm", "nft", "list", "table", "inet", "conduit").stdout
    assert "policy drop" in rules
    assert "tcp dport 22 accept" in rules


def test_the_realworld_suites_pass_through_the_hosts_nginx(vm: VM) -> None:
    try:
        tool = conformance_tool()
    except RealWorldMissingError as exc:
        require_or_skip(str(exc))
    started = time.monotonic()
    done = subprocess.run(
        [str(tool), f"http://127.0.0.1:{vm.port}"], capture_output=True, text=True, timeout=600, check=False
    )
    print(f"\nPROVISIONING vm conformance: exit {done.returncode} in {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_logs_reach_the_journal_and_the_file(vm: VM) -> None:
    request_id = f"provisioning-{uuid.uuid4().hex}"
    status, _, _ = get(vm.port, "/api/tags", headers={"X-Request-ID": request_id})
    assert status == 200

    def logged() -> bool:
        journal = vm.fleet.run("vm", "journalctl", "-u", "conduit", "--no-pager", "-o", "cat", "-n", "200")
        in_file = vm.fleet.run("vm", "grep", "-c", request_id, "/var/log/conduit/conduit.log")
        return request_id in journal.stdout and in_file.returncode == 0

    wait_for(logged, 20, f"request {request_id} in journalctl -u conduit and /var/log/conduit/conduit.log")
    access = vm.fleet.run("vm", "grep", "-c", request_id, "/var/log/nginx/conduit-access.log")
    assert access.returncode == 0, "nginx's access log names the request id too"


def test_reload_and_restart_under_a_steady_read_load_fail_no_request(vm: VM) -> None:
    load = read_load(vm.port)
    with load.running():
        time.sleep(2)
        reloaded = load.elapsed()
        assert vm.fleet.run("vm", "systemctl", "reload", "conduit").returncode == 0
        time.sleep(4)  # the reload's new workers take over meanwhile
        restarted = load.elapsed()
        assert vm.fleet.run("vm", "systemctl", "restart", "conduit").returncode == 0
        back = wait_for(lambda: ready(vm.port), 60, "conduit ready after the restart")
        time.sleep(2)
    outcomes = load.outcomes
    line = report(
        "vm reload+restart",
        outcomes,
        load,
        reload_at_s=round(reloaded, 1),
        restart_at_s=round(restarted, 1),
        ready_after_restart_s=round(back, 1),
    )
    assert len(outcomes) > 100, line
    assert not failed(outcomes), line
    assert active(vm.fleet, "vm", "conduit") == {"conduit": "active"}


def test_a_reboot_brings_everything_back(vm: VM) -> None:
    started = time.monotonic()
    vm.fleet.restart("vm")
    back = wait_for(lambda: ready(vm.port), 120, "/readyz through nginx after the reboot")
    report(
        "vm reboot",
        [],
        ready_through_nginx_s=round(time.monotonic() - started, 1),
        after_start_s=round(back, 1),
    )
    assert active(vm.fleet, "vm", *SERVICES) == dict.fromkeys(SERVICES, "active")
    status, _, body = get(vm.port, "/api/articles?limit=1")
    assert status == 200, body


def test_a_second_run_changes_nothing(vm: VM) -> None:
    vm.fleet.wait_ssh()
    second = hosts.ansible_playbook(vm.inventory, "site.yml", vm.workdir / "site-2.log")
    print(f"\nPROVISIONING vm second run: {second.seconds:.0f} s, recap {second.recap}")
    assert second.returncode == 0, second.tail()
    assert second.recap["vm"]["changed"] == 0, second.tail(200)
