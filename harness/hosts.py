"""Test hosts for the Ansible playbook: Debian 12 containers that boot systemd and answer SSH, like VMs.

Built on ``harness.podman`` (its configuration, cached debootstrap roots, test networks). What is
specific to a host that Ansible provisions lives here:

- ``host_image()``: the image (systemd, openssh-server, python3, sudo), rebuilt only when its recipe
  changes (the label ``harness.podman`` gives it).
- ``Fleet``: hosts on a network of the caller's own, each with a fixed address (as VMs on a private
  network have), SSH published on 127.0.0.1 with a key generated for the run, and nothing else
  reachable from the host but the ports the caller publishes, on 127.0.0.1 too. Hosts can be restarted
  (stop, start), cut off the network and put back.
- ``write_inventory()``, ``ansible_playbook()``: an inventory for those hosts and a playbook run with
  the project's ansible (``.venv/bin``), its PLAY RECAP parsed.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import podman

REPO = Path(__file__).resolve().parents[1]
IMAGE = "localhost/conduit-test/host:bookworm"
#: What a minimal Debian 12 cloud image has that Ansible needs: systemd as PID 1, sshd, python3, sudo (for
#: become_user), iproute2 (the address facts), and CA certificates.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "sudo",
    "iproute2",
    "ca-certificates",
)
#: systemd stops on SIGRTMIN+3 (podman --systemd=always sets it too; the image says so for plain runs).
IMAGE_CHANGES = ('CMD ["/sbin/init"]', "STOPSIGNAL SIGRTMIN+3")
#: dpkg without an fsync per unpacked file, as in Debian's own container images (their
#: /etc/dpkg/dpkg.cfg.d/docker-apt-speedup): mounted into each host at its start, not part of the image.
#: Only a crash of the host could lose what dpkg wrote; a host restart here is a clean shutdown.
DPKG_UNSAFE_IO = ("/etc/dpkg/dpkg.cfg.d/conduit-test-unsafe-io", "force-unsafe-io\n")
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def host_image() -> str:
    """The host image, built from a cached debootstrap root when its recipe changed; returns its name.

    Under a file lock: ``make check-provisioning`` runs its two scenarios in two processes at once, and
    the one that comes second waits for the first one's build instead of making the same root."""
    podman.VAR.mkdir(parents=True, exist_ok=True)
    with (podman.VAR / "host-image.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        podman.debian_image(IMAGE, include=PACKAGES, changes=IMAGE_CHANGES)
    return IMAGE


@dataclass
class Host:
    name: str  # the inventory name; the container is "<fleet>-<name>"
    container: str
    address: str  # on the fleet's network
    ssh_port: int = 0
    mac: str = ""  # fixed, like a VM's NIC: a restarted host is not a new neighbour to the others
    published: dict[int, int] = field(default_factory=dict)  # container port -> 127.0.0.1 port

    def port(self, container_port: int) -> int:
        return self.published[container_port]


class Fleet:
    """Hosts on a podman network of their own; ``with Fleet.started(...) as fleet`` removes everything."""

    def __init__(self, network: str, workdir: Path) -> None:
        self.network = network
        self.workdir = workdir
        self.key = workdir / "id_ed25519"
        self.dpkg_config = workdir / "dpkg-unsafe-io.cfg"
        self.hosts: dict[str, Host] = {}
        subnet = podman.podman(
            "network", "inspect", network, "--format", "{{range .Subnets}}{{.Subnet}} {{end}}"
        ).stdout.split()[0]
        self._addresses = iter(ipaddress.IPv4Network(subnet).hosts())
        self.gateway = str(next(self._addresses))  # the host itself, as the containers see it
        for _ in range(8):  # leave the first few addresses to podman
            next(self._addresses)

    @classmethod
    @contextmanager
    def started(cls, workdir: Path, prefix: str = "conduit-hosts") -> Iterator[Fleet]:
        workdir.mkdir(parents=True, exist_ok=True)
        with podman.network(prefix) as network:
            fleet = cls(network, workdir)
            fleet.dpkg_config.write_text(DPKG_UNSAFE_IO[1])
            subprocess.run(  # noqa: S603
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", network, "-f", str(fleet.key)],  # noqa: S607
                check=True,
                capture_output=True,
            )
            try:
                yield fleet
            finally:
                for host in fleet.hosts.values():
                    podman.podman("rm", "--force", "--time", "5", host.container, check=False, timeout=120)

    def add(self, name: str, publish: tuple[int, ...] = ()) -> Host:
        """Start a host from the image: systemd as PID 1, this fleet's key for root, SSH on 127.0.0.1."""
        address = next(self._addresses)
        mac = "02:" + ":".join(f"{byte:02x}" for byte in address.packed) + ":01"
        host = Host(name, f"{self.network}-{name}", str(address), mac=mac)
        args = [
            "run",
            "--detach",
            "--name",
            host.container,
            "--hostname",
            name,
            "--systemd=always",
            "--network",
            self.network,
            "--ip",
            host.address,
            "--mac-address",
            host.mac,
            # nftables in the host's own network namespace, as on a VM (the firewall role loads rules).
            "--cap-add",
            "NET_ADMIN",
            "--volume",
            f"{self.key}.pub:/root/.ssh/authorized_keys:ro",
            "--volume",
            f"{self.dpkg_config}:{DPKG_UNSAFE_IO[0]}:ro",
            "--publish",
            podman.publish(22),
        ]
        for port in publish:
            args += ["--publish", podman.publish(port)]
        podman.podman(*args, IMAGE, "/sbin/init")
        host.ssh_port = podman.published_port(host.container, 22)
        host.published = {port: podman.published_port(host.container, port) for port in publish}
        self.hosts[name] = host
        return host

    def wait_ssh(self, timeout: float = 90) -> None:
        """Until every host's sshd greets on its 127.0.0.1 port."""
        deadline = time.monotonic() + timeout
        for host in self.hosts.values():
            while not ssh_greets(host.ssh_port):
                if time.monotonic() > deadline:
                    state = podman.podman("logs", "--tail", "20", host.container, check=False)
                    tail = state.stdout[-800:]
                    raise podman.PodmanError(f"{host.name}: no SSH after {timeout:g} s: {tail}")
                time.sleep(0.5)

    def run(self, name: str, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command on a host (``podman exec``), for checks the test makes beside Ansible's."""
        return podman.podman("exec", self.hosts[name].container, *command, check=False, timeout=timeout)

    def restart(self, name: str) -> None:
        """Stop the host (systemd shuts down in order) and start it again: a reboot."""
        host = self.hosts[name]
        podman.podman("stop", "--time", "60", host.container, timeout=120)
        podman.podman("start", host.container, timeout=120)

    def stop(self, name: str) -> None:
        podman.podman("stop", "--time", "60", self.hosts[name].container, timeout=120)

    def start(self, name: str) -> None:
        podman.podman("start", self.hosts[name].container, timeout=120)

    def disconnect(self, name: str) -> None:
        podman.podman("network", "disconnect", self.network, self.hosts[name].container)

    def connect(self, name: str) -> None:
        host = self.hosts[name]
        podman.podman(
            "network",
            "connect",
            "--ip",
            host.address,
            "--mac-address",
            host.mac,
            self.network,
            host.container,
        )


def ssh_greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.settimeout(2)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def write_inventory(
    path: Path,
    fleet: Fleet,
    groups: Mapping[str, list[str]],
    variables: Mapping[str, object],
    group_variables: Mapping[str, Mapping[str, object]] | None = None,
) -> Path:
    """A YAML inventory (written as JSON, which YAML reads; values keep their types): each host by its
    127.0.0.1 SSH port and its private address, the groups, then the variables."""
    connection = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(fleet.key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    }
    children: dict[str, object] = {}
    for group, names in groups.items():
        hosts = {
            name: {
                "ansible_host": "127.0.0.1",
                "ansible_port": fleet.hosts[name].ssh_port,
                "conduit_private_address": fleet.hosts[name].address,
            }
            for name in names
        }
        children[group] = {"hosts": hosts, "vars": dict((group_variables or {}).get(group, {}))}
    document = {"all": {"vars": {**connection, **variables}, "children": children}}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


@dataclass
class PlaybookRun:
    returncode: int
    seconds: float
    recap: dict[str, dict[str, int]]
    log: Path

    def total(self, counter: str) -> int:
        return sum(counts.get(counter, 0) for counts in self.recap.values())

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def ansible_playbook(
    inventory: Path,
    playbook: str,
    log: Path,
    *,
    extra: Mapping[str, str] | None = None,
    timeout: float = 1500,
) -> PlaybookRun:
    """``ansible-playbook -i INVENTORY deploy/ansible/PLAYBOOK``; its output goes to ``log``."""
    env = dict(
        os.environ,
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_PIPELINING="True",
        # ssh's defaults less -C: compressing on the loopback costs CPU and saves nothing
        ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s",
        ANSIBLE_FORKS="10",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        # ssh's control sockets under the run's folder: short paths, nothing shared with other runs
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(inventory.parent / "cp"),
        ANSIBLE_LOCAL_TEMP=str(inventory.parent / "tmp"),
        # the same output with a time stamp on each line: where the time goes
        ANSIBLE_LOG_PATH=str(log.with_suffix(".timed.log")),
    )
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(REPO / "deploy" / "ansible" / playbook)]
    for key, value in (extra or {}).items():
        command += ["-e", f"{key}={value}"]
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(  # noqa: S603 (the project's ansible-playbook)
            command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False
        )
    seconds = time.monotonic() - started
    recap: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap, recap = True, {}
            continue
        match = RECAP.match(line.strip()) if in_recap else None
        if match:
            counts = dict(item.split("=") for item in match.group("counts").split())
            recap[match.group("host")] = {key: int(value) for key, value in counts.items()}
    return PlaybookRun(done.returncode, seconds, recap, log)
