"""Run a command in a network namespace of its own, with nothing but a loopback interface.

Chromium aborts every request in flight with ``net::ERR_NETWORK_CHANGED`` when an interface or an
address of its network namespace changes: on a machine where other work creates and removes container
networks, that makes a browser test fail at random. In a namespace of its own the browser, and the
servers it talks to, see only their own ``lo``: nothing of the host's network can disturb them, and
nothing they do can leave the machine. Sockets in the file system (PostgreSQL's) still work across.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
MARKER = "CONDUIT_PRIVATE_NETNS"


def available() -> bool:
    """Root with ``unshare`` (util-linux): a new namespace needs CAP_SYS_ADMIN."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def inside() -> bool:
    return os.environ.get(MARKER) == "1"


def run_inside(command: list[str]) -> int:
    """Run *command* in a new network namespace (it must call :func:`loopback_up` first)."""
    env = {**os.environ, MARKER: "1"}
    unshare = shutil.which("unshare") or "unshare"
    return subprocess.run([unshare, "--net", "--", *command], env=env, check=False).returncode  # noqa: S603


def loopback_up() -> None:
    """A new namespace's ``lo`` starts down; bring it up (``ip link set lo up``, without iproute2)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))
