"""compose.yaml, run unchanged by Debian's docker-compose (1.29) against ``podman system service``.

Podman runs no healthcheck on its own without systemd timers, so ``HealthDriver`` does what the timer
would: ``podman healthcheck run`` on each running container of the project that has a healthcheck, at its
interval; ``depends_on: condition: service_healthy`` then works as with Docker. Docker's embedded DNS
knows a container's name once it runs; aardvark-dns (podman's) may learn it a moment later, so before a
container's first healthcheck the driver waits, bounded, until its service name resolves inside it
(``podman.address``): no dependent service starts before the names it connects to resolve.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import podman

COMPOSE_FILE = podman.REPO / "compose.yaml"


class ComposeError(RuntimeError):
    """docker-compose failed; the message has its output's last lines."""


class Project:
    """One compose project (its own networks and volumes), driven through ``service`` (an ApiService)."""

    def __init__(self, name: str, service: podman.ApiService, variables: Mapping[str, str]) -> None:
        self.name = name
        self.service = service
        self.variables = dict(variables)
        self._empty_env = podman.VAR / f"{name}.env"

    def command(self, *args: str) -> list[str]:
        program = shutil.which("docker-compose")
        if program is None:
            raise ComposeError("docker-compose is not installed (bin/system-packages docker-compose)")
        # An empty --env-file: a developer's .env never changes what the check runs.
        return [
            program,
            "--project-name",
            self.name,
            "--file",
            str(COMPOSE_FILE),
            "--env-file",
            str(self._empty_env),
            *args,
        ]

    def env(self) -> dict[str, str]:
        return podman.env(
            {"DOCKER_HOST": self.service.docker_host, "COMPOSE_HTTP_TIMEOUT": "300", **self.variables}
        )

    def run(self, *args: str, timeout: float = 600) -> str:
        """``docker-compose ARGS`` to completion; its combined output, or ComposeError."""
        self._empty_env.parent.mkdir(parents=True, exist_ok=True)
        self._empty_env.write_text("")
        try:
            done = subprocess.run(  # noqa: S603 (docker-compose, arguments from the harness)
                self.command(*args),
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=podman.REPO,
            )
        except subprocess.TimeoutExpired as exc:
            raise ComposeError(f"docker-compose {' '.join(args)}: not done after {timeout:g} s") from exc
        output = done.stdout + done.stderr
        if done.returncode != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ComposeError(f"docker-compose {' '.join(args)}: exit {done.returncode}:\n{tail}")
        return output

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        """``podman inspect`` of the project's containers (of one service), by container number."""
        ids = podman.podman(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={self.name}"
        ).stdout.split()
        if not ids:
            return []
        found = json.loads(podman.podman("inspect", *ids).stdout)
        if service is not None:
            found = [c for c in found if c["Config"]["Labels"].get("com.docker.compose.service") == service]
        return sorted(
            found, key=lambda c: int(c["Config"]["Labels"].get("com.docker.compose.container-number", 0))
        )

    def container(self, service: str, number: int = 1) -> str:
        for found in self.containers(service):
            if found["Config"]["Labels"].get("com.docker.compose.container-number") == str(number):
                return str(found["Name"])
        raise ComposeError(f"{self.name}: no container {number} of service {service}")

    def volume_dir(self, volume: str) -> Path:
        mountpoint = podman.podman(
            "volume", "inspect", "--format", "{{.Mountpoint}}", f"{self.name}_{volume}"
        )
        return Path(mountpoint.stdout.strip())

    def remove(self) -> None:
        """``down --volumes``, then whatever podman still holds of the project (a failed ``up``)."""
        with contextlib.suppress(ComposeError):
            self.run("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300)
        label = f"label=com.docker.compose.project={self.name}"
        ids = podman.podman("ps", "--all", "--quiet", "--filter", label, check=False).stdout.split()
        if ids:
            podman.podman("rm", "--force", "--time", "5", *ids, check=False)
        for kind in ("volume", "network"):
            names = podman.podman(kind, "ls", "--quiet", "--filter", label, check=False).stdout.split()
            if names:
                podman.podman(kind, "rm", "--force", *names, check=False)
        self._empty_env.unlink(missing_ok=True)


class HealthDriver:
    """Runs the healthchecks of a project's running containers on their own schedule, as Docker's (or
    systemd's) timer would: the first ``Interval`` after the container started, then every ``Interval``
    (a thread polling every ``poll`` seconds). Faster would spend a check's ``Retries`` sooner than
    Docker does, and a slow start would turn unhealthy here and not there."""

    def __init__(self, project: Project, poll: float = 1, dns_timeout: float = 30) -> None:
        self.project = project
        self.poll = poll
        self.dns_timeout = dns_timeout
        self.runs = 0
        #: Seconds the driver waited, at its first look at a started container, until the container's
        #: service name resolved inside it (0 when it did at once), by container.
        self.dns_waits: dict[str, float] = {}
        #: Containers whose service name did not resolve within ``dns_timeout``: ``podman.dns_report``.
        self.dns_failures: dict[str, str] = {}
        self._last: dict[str, float] = {}
        self._resolved: set[tuple[str, str]] = set()
        self._first_look: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="healthchecks", daemon=True)

    def _checked(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.project.containers()
            if c["State"]["Status"] == "running" and c["Config"].get("Healthcheck")
        ]

    def _names_resolve(self, container: dict[str, Any]) -> bool:
        """Whether the container's service name resolves inside it yet (one look per poll, so that one
        container never holds up the others' healthchecks). Until it does, the container gets no
        healthcheck run; after ``dns_timeout`` seconds ``dns_failures`` has ``podman.dns_report``."""
        name = container["Name"]
        start = (container["Id"], container["State"]["StartedAt"])  # a restart gets a new address
        if start in self._resolved:
            return True
        service = container["Config"]["Labels"].get("com.docker.compose.service")
        if not service:
            return True
        first = self._first_look.setdefault(start, time.monotonic())
        if podman.resolve(name, service) is None:
            waited = time.monotonic() - first
            if waited > self.dns_timeout and name not in self.dns_failures:
                report = podman.dns_report(name, service)
                self.dns_failures[name] = f"{service} did not resolve within {waited:.0f} s: {report}"
            return False
        self.dns_failures.pop(name, None)
        self.dns_waits[name] = time.monotonic() - first
        self._resolved.add(start)
        return True

    def failures(self) -> str:
        """What kept containers from their healthchecks (unresolved names), for an error message."""
        return "; ".join(f"{name}: {why}" for name, why in sorted(self.dns_failures.items()))

    def _run(self, container: dict[str, Any]) -> str:
        name = container["Name"]
        if not self._names_resolve(container):
            return "starting (its name does not resolve)"
        podman.podman("healthcheck", "run", name, check=False, timeout=60)
        self.runs += 1
        state = podman.podman("inspect", "--format", "{{.State.Health.Status}}", name, check=False)
        return state.stdout.strip() or "gone"

    def run_once(self) -> dict[str, str]:
        """Run every healthcheck now (``podman healthcheck run``); ``{container: status}`` afterwards."""
        return {c["Name"]: self._run(c) for c in self._checked()}

    def run_due(self) -> None:
        now = time.time()
        for container in self._checked():
            # At once, not at the first interval: dns_waits says how long the name took to resolve.
            if not self._names_resolve(container):
                continue
            interval = (container["Config"]["Healthcheck"].get("Interval") or 30_000_000_000) / 1e9
            started = timestamp(container["State"]["StartedAt"])
            last = self._last.get(container["Id"], 0.0)
            if now >= max(started, last) + interval:
                self._last[container["Id"]] = now
                self._run(container)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(podman.PodmanError):
                self.run_due()
            self._stop.wait(self.poll)

    def __enter__(self) -> HealthDriver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def timestamp(stamp: str) -> float:
    """podman's RFC 3339 time with nanoseconds (``2026-12-05T20:58:18.598132713Z``) in seconds."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp.strip())
    if match is None:
        raise ValueError(f"not a timestamp: {stamp!r}")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + zone).timestamp() + float("0" + (match.group(2) or ".0"))
