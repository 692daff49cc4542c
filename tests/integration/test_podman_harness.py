"""harness/podman.py against the real podman: the project's containers.conf is what podman uses, cached
Debian images keep their recipe, a test network resolves container names and is removed, ports are
published on 127.0.0.1 only, and the Docker-compatible API service starts and stops by PID."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from harness import kube, podman, standins
from tests.support.skips import require_or_skip

pytestmark = pytest.mark.slow

BASE = standins.BASE
# A one-line TCP server in the minbase root (perl-base is part of it): answers "hello" to each connection.
PERL_SERVER = (
    "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 8000, Listen => 5, ReuseAddr => 1)"
    ' or die $!; while (my $c = $s->accept) { print $c "hello\\n"; close $c }'
)


@pytest.fixture(scope="module")
def base_image() -> str:
    reason = podman.missing()
    if reason:
        require_or_skip(reason)
    standins.base()
    return BASE


def test_podman_runs_with_the_projects_configuration(base_image: str) -> None:
    info = podman.podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.NetworkBackend}}")
    assert info.stdout.split() == ["runc", "netavark"]
    limits = podman.podman("run", "--rm", base_image, "bash", "-c", "ulimit -n; ulimit -u").stdout.split()
    assert limits == ["8192", "4096"]  # harness/containers.conf's default_ulimits


def test_debian_image_is_rebuilt_only_when_its_recipe_changes(
    base_image: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = podman.podman("image", "inspect", "--format", "{{.Id}}", base_image).stdout
    monkeypatch.setattr(podman, "VAR", tmp_path)  # a fresh checkout: no root under var/
    recipe = standins.base()
    assert not (tmp_path / "roots").exists()  # the current image needed no debootstrap
    assert podman.image_recipe(base_image) == recipe
    assert podman.podman("image", "inspect", "--format", "{{.Id}}", base_image).stdout == before
    assert podman.recipe_hash("a", "b") != podman.recipe_hash("ab")
    ca = podman.podman("run", "--rm", base_image, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    assert ca == podman.HOST_CA_BUNDLE.read_text()


def test_network_names_resolve_and_ports_publish_on_loopback_only(base_image: str) -> None:
    with podman.network("conduit-harness") as net:
        podman.podman(
            "run", "--detach", "--name", f"{net}-server", "--network", net,
            "--publish", podman.publish(8000), base_image, "perl", "-e", PERL_SERVER,
        )  # fmt: skip
        port = podman.published_port(f"{net}-server", 8000)
        answer = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not answer:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                    answer = conn.recv(100)
            except OSError:
                time.sleep(0.2)
        assert answer == b"hello\n"
        bindings = json.loads(podman.podman("inspect", f"{net}-server").stdout)[0]
        hosts = {b["HostIp"] for b in bindings["NetworkSettings"]["Ports"]["8000/tcp"]}
        assert hosts == {"127.0.0.1"}
        peer = podman.podman(
            "run", "--rm", "--network", net, base_image, "getent", "hosts", f"{net}-server"
        ).stdout
        address, name = peer.split()[:2]
        assert name.split(".")[0] == f"{net}-server"  # aardvark-dns answers NAME.dns.podman
        assert address == bindings["NetworkSettings"]["Networks"][net]["IPAddress"]
        # address(): the bounded wait for a name; an unknown name fails with the report of what was seen.
        assert podman.address(f"{net}-server", f"{net}-server") == address
        with pytest.raises(podman.PodmanError) as failed:
            podman.address(f"{net}-server", f"{net}-nobody", timeout=1)
        report = str(failed.value)
        assert f"{net}-nobody did not resolve within 1 s" in report
        assert f"getent hosts {net}-nobody in {net}-server: exit 2" in report
        assert f"network {net} (dns_enabled true): {address}" in report
        assert "aardvark-dns running on the host" in report
    assert podman.podman("network", "exists", net, check=False).returncode == 1
    assert podman.podman("container", "exists", f"{net}-server", check=False).returncode == 1


def test_api_service_answers_docker_clients_and_stops_by_pid(base_image: str) -> None:
    with podman.ApiService("harness-test") as service:
        assert service.process is not None
        pid = service.process.pid
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(service.socket))
            conn.sendall(b"GET /v1.40/version HTTP/1.0\r\nHost: podman\r\n\r\n")
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        version = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert version["Components"][0]["Name"] == "Podman Engine"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not service.socket.exists()


def test_kube_play_gets_every_container_port_on_loopback_and_a_free_port() -> None:
    # podman 4.3's kube play publishes a containerPort without hostPort on all interfaces, same number.
    try:
        docs = kube.render()
    except kube.KubeError as exc:
        require_or_skip(str(exc))
    free = iter(range(40001, 40100))
    app_docs, migrate = kube.playable(docs, "localhost/conduit:test", "t1", host_ports=lambda: next(free))
    ports = [p for c in app_docs[1]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
    assert ports, "the Deployment names no containerPort"
    assert all(p["hostIP"] == "127.0.0.1" and p["hostPort"] >= 40001 for p in ports)
    assert len({p["hostPort"] for p in ports}) == len(ports)
    assert app_docs[1]["metadata"]["name"].endswith("-t1")
    assert all(c["image"] == "localhost/conduit:test" for c in migrate["spec"]["containers"])
