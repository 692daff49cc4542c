"""A fleet (issue 17, item 3): one inventory, groups lb (nginx), app (two hosts, gunicorn under supervisor)
and db (PostgreSQL + Redis), provisioned by the same site.yml; then faults under a steady read load sent
to the load balancer's 127.0.0.1 port, each bounded in time: an app host cut off the network and put
back, a rolling release across the app hosts (release.yml), and a restart of the database host."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from harness import hosts
from tests.provisioning.support import active, failed, get, read_load, ready, report, wait_for
from tests.support.provisioning import SECOND, Provisioned, Releases, write_fleet_inventory

pytestmark = pytest.mark.slow
ACCESS_LOG = "/var/log/nginx/conduit-access.log"
#: how long one app host stays cut off
CUT_OFF_SECONDS = 10


@dataclass
class Fleet:
    hosts: hosts.Fleet
    inventory: Path
    workdir: Path
    releases: Releases

    @property
    def port(self) -> int:
        return self.hosts.hosts["lb"].port(80)

    def address(self, name: str) -> str:
        return self.hosts.hosts[name].address

    def access_log_lines(self) -> list[str]:
        return self.hosts.run("lb", "cat", ACCESS_LOG).stdout.splitlines()

    def write_inventory(self, version: str) -> None:
        write_fleet_inventory(self.inventory, self.hosts, self.releases, version)


@pytest.fixture(scope="module")
def fleet(provisioned: Provisioned, releases: Releases) -> Fleet:
    scenario = provisioned.fleet
    assert scenario is not None
    assert scenario.first.returncode == 0, scenario.first.tail()
    return Fleet(scenario.hosts, scenario.inventory, scenario.workdir, releases)


def reachable(fleet: Fleet, source: str, address: str, port: int) -> bool:
    """Whether ``source`` opens a TCP connection to ``address:port`` within 2 s (the firewall's view)."""
    script = (
        "import socket,sys\n"
        f"try:\n socket.create_connection(({address!r},{port}),timeout=2).close()\n"
        "except OSError:\n sys.exit(1)\n"
    )
    return fleet.hosts.run(source, "python3", "-c", script).returncode == 0


def supervisor_running(fleet: Fleet, app: str) -> bool:
    return "RUNNING" in fleet.hosts.run(app, "supervisorctl", "status", "conduit").stdout


def test_the_fleet_is_provisioned_with_both_app_hosts_behind_nginx(fleet: Fleet) -> None:
    site = fleet.hosts.run("lb", "cat", "/etc/nginx/sites-available/conduit").stdout
    for app in ("app1", "app2"):
        assert f"server {fleet.address(app)}:8000 " in site
        assert active(fleet.hosts, app, "supervisor") == {"supervisor": "active"}
        # supervisor says STARTING for startsecs (10 s, deploy/supervisor/conduit.conf) after a
        # (re)start: on a quiet machine the check can come before that has passed.
        wait_for(
            partial(supervisor_running, fleet, app),
            timeout=30,
            what=f"{app}: `supervisorctl status conduit` says RUNNING",
        )
    assert active(fleet.hosts, "db", "postgresql", "redis-server") == {
        "postgresql": "active",
        "redis-server": "active",
    }
    assert active(fleet.hosts, "lb", "nginx") == {"nginx": "active"}
    # both app hosts answer through the balancer
    before = len(fleet.access_log_lines())
    for _ in range(20):
        assert get(fleet.port, "/api/tags")[0] == 200
    upstreams = " ".join(fleet.access_log_lines()[before:])
    for app in ("app1", "app2"):
        assert f"upstream={fleet.address(app)}:8000" in upstreams
    # the firewall: gunicorn from the load balancer only, PostgreSQL and Redis from the app hosts only
    db, app1 = fleet.address("db"), fleet.address("app1")
    assert reachable(fleet, "lb", app1, 8000)
    assert not reachable(fleet, "db", app1, 8000)
    assert reachable(fleet, "app1", db, 5432)
    assert reachable(fleet, "app2", db, 6379)
    assert not reachable(fleet, "lb", db, 5432)
    assert not reachable(fleet, "lb", db, 6379)


def test_an_app_host_cut_off_the_network_fails_no_get_and_rejoins(fleet: Fleet) -> None:
    app1 = f"upstream={fleet.address('app1')}:8000"
    load = read_load(fleet.port)
    with load.running():
        time.sleep(2)
        cut = load.elapsed()
        fleet.hosts.disconnect("app1")
        time.sleep(CUT_OFF_SECONDS)
        during = len(fleet.access_log_lines())
        fleet.hosts.connect("app1")
        back = load.elapsed()
        rejoined = wait_for(
            lambda: any(app1 in line and '" 200 ' in line for line in fleet.access_log_lines()[during:]),
            60,
            "app1 answering through the balancer again",
        )
        time.sleep(2)
    outcomes = load.outcomes
    line = report(
        "fleet app host cut off",
        outcomes,
        load,
        cut_at_s=round(cut, 1),
        reconnected_at_s=round(back, 1),
        rejoined_after_s=round(rejoined, 1),
    )
    assert len(outcomes) > 100, line
    assert not failed(outcomes), line


def test_a_rolling_release_fails_no_request(fleet: Fleet) -> None:
    fleet.write_inventory(SECOND)
    # a slower load (2 threads, 100 ms pauses): the playbook runs for minutes, the count bound must outlast it
    load = read_load(fleet.port, max_requests=40000, threads=2, pause=0.1)
    with load.running():
        time.sleep(2)
        run = hosts.ansible_playbook(fleet.inventory, "release.yml", fleet.workdir / "release.log")
        finished = load.elapsed()
        time.sleep(2)
    outcomes = load.outcomes
    line = report("fleet rolling release", outcomes, load, playbook_s=round(run.seconds), recap=run.recap)
    assert run.returncode == 0, run.tail()
    assert len(outcomes) > 100, line
    assert max(o.started for o in outcomes) > finished, "the load ran until the release was done: " + line
    assert not failed(outcomes), line
    new = fleet.releases.commits[SECOND]
    for app in ("app1", "app2"):
        health = fleet.hosts.run(
            app,
            "python3",
            "-c",
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/healthz').read().decode())",
        )
        assert new in health.stdout, (app, health.stdout, health.stderr)
    assert get(fleet.port, "/readyz")[2]["revision"] == new


def test_a_database_host_restart_gives_503_json_then_recovers_within_5_s(fleet: Fleet) -> None:
    load = read_load(fleet.port)
    with load.running():
        time.sleep(2)
        down = load.elapsed()
        fleet.hosts.stop("db")
        time.sleep(5)
        fleet.hosts.start("db")
        wait_for(
            lambda: fleet.hosts.run("db", "pg_isready", "-q", "-h", "127.0.0.1").returncode == 0,
            90,
            "PostgreSQL accepting connections on the restarted db host",
            step=0.2,
        )
        db_ready = load.elapsed()
        time.sleep(6)  # longer than the 5 s the recovery may take
    outcomes = load.outcomes
    bad = failed(outcomes)
    last_failure = max((o.started + o.latency for o in bad), default=db_ready)
    recovery = max(0.0, last_failure - db_ready)
    line = report(
        "fleet db host restart",
        outcomes,
        load,
        down_at_s=round(down, 1),
        db_ready_at_s=round(db_ready, 1),
        recovered_after_db_ready_s=round(recovery, 1),
        answered_503=sum(o.status == 503 for o in outcomes),
    )
    assert len(outcomes) > 100, line
    assert not [o for o in outcomes if o.status is not None and o.status >= 500 and o.status != 503], line
    assert all(o.status == 503 and o.error and not o.error.startswith("not JSON") for o in bad), line
    assert any(o.status == 503 for o in outcomes), "the load saw the database down: " + line
    assert recovery <= 5, line
    assert ready(fleet.port)
