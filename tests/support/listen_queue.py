"""What the kernel holds for a TCP port on 127.0.0.1, from /proc/net/tcp: whether something listens on it,
how many connections it has completed that no process has accepted yet, and whether a given connection
has been accepted. No connection is opened to find out, so looking changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


@dataclass(frozen=True)
class TcpSocket:
    local_port: int
    remote_port: int
    state: str
    #: Of a listening socket: the connections in its accept queue (completed, not accepted yet).
    rx_queue: int
    #: 0 while no process holds the socket: a connection still in the listen queue.
    inode: int


def tcp_sockets(port: int) -> list[TcpSocket]:
    """The IPv4 sockets whose local port is *port*, in this network namespace."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port != port:
            continue
        found.append(
            TcpSocket(
                local_port=local_port,
                remote_port=int(fields[2].rsplit(":", 1)[1], 16),
                state=fields[3],
                rx_queue=int(fields[4].split(":")[1], 16),
                inode=int(fields[9]),
            )
        )
    return found


def accept_queue(port: int) -> int | None:
    """How many connections wait in *port*'s listen queue; None when nothing listens on *port*."""
    for sock in tcp_sockets(port):
        if sock.state == LISTEN:
            return sock.rx_queue
    return None


def accepted(port: int, client_port: int) -> bool:
    """Whether a process has accept()ed the connection from *client_port* to *port*."""
    return any(
        sock.remote_port == client_port and sock.state != LISTEN and sock.inode != 0
        for sock in tcp_sockets(port)
    )
