"""Podman for the project's container checks, with the project's own configuration and cached images.

Every podman this module runs (``podman(...)``, ``ApiService``) gets ``CONTAINERS_CONF`` pointing at
``harness/containers.conf`` (runc, lowered rlimits, netavark), so nothing under /etc is changed.

- ``missing()``: why podman cannot be used here (``None`` when it can); tests skip or fail with it.
- ``podman(*args)``: run podman; a failure raises ``PodmanError`` with podman's stderr.
- ``debian_image(image, include=...)``: a Debian root made by ``debootstrap --variant=minbase`` (cached
  under ``var/podman/roots/``, keyed by a hash of its recipe), imported with ``podman import``. The image
  carries the hash in its ``org.conduit.recipe`` label and is rebuilt only when the recipe changes
  (``root_recipe``: that hash, computed without making the root).
- ``build_image(image, context, recipe=...)``: ``podman build``, skipped while the image's label matches.
- ``network(prefix)``: a podman network of the caller's own, removed (with its containers) on exit.
- ``publish(port)``, ``published_port(container, port)``: container ports published on 127.0.0.1 only.
- ``address(container, name)``: wait (bounded) until ``name`` resolves inside ``container`` (aardvark-dns
  can answer a new container's name a moment after it started); on timeout the error carries
  ``dns_report(container, name)``: what was asked, what answered, the container's networks and resolver.
- ``ApiService``: ``podman system service`` on a socket under ``var/podman/`` for Docker clients
  (``DOCKER_HOST``), started with the same configuration and stopped by its PID.

Images and containers live in podman's machine-wide store: they outlive a checkout, which is what makes
the recipe label worth having. Debian packages needed: ``PACKAGES`` (``bin/system-packages``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
#: Debootstrap roots, sockets and service logs (var/ is git-ignored).
VAR = REPO / "var" / "podman"
RECIPE_LABEL = "org.conduit.recipe"
#: Debian packages behind this module: podman with runc, netavark and aardvark-dns (container names in
#: DNS), iptables (published ports), debootstrap (base images), catatonit (the pause image of kube play).
PACKAGES = ("podman", "runc", "netavark", "aardvark-dns", "iptables", "debootstrap", "catatonit")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: The host's CA bundle goes into every Debian root: containers then trust what the host trusts (a
#: TLS-inspecting proxy on the way to PyPI, for one). The host's own CAs go to the root's
#: /usr/local/share/ca-certificates too, so that they survive an update-ca-certificates in an image.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")
#: Bump to rebuild every root (a change of how roots are made that the other inputs do not show).
_ROOT_RECIPE_VERSION = "1"


class PodmanError(RuntimeError):
    """podman (or debootstrap) failed; the message names the command and its stderr's last lines."""


def missing() -> str | None:
    """Why the container checks cannot run here, in one line; ``None`` when they can."""
    if shutil.which("podman") is None:
        return "podman is not installed (bin/system-packages " + " ".join(PACKAGES) + ")"
    try:
        podman("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60)
    except PodmanError as exc:
        return f"podman does not work here: {exc}"
    if os.geteuid() != 0:
        return "the container checks need root (rootful podman, debootstrap)"
    return None


def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the project's containers.conf, plus ``extra``."""
    result = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    result.update(extra or {})
    return result


def podman(
    *args: str, check: bool = True, timeout: float = 600, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS`` with the project's configuration; stdout and stderr are captured."""
    command = ["podman", *args]
    try:
        done = subprocess.run(  # noqa: S603 (fixed program, arguments from the harness)
            command, env=env(), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PodmanError(f"{' '.join(command)}: no answer after {timeout:g} s") from exc
    if check and done.returncode != 0:
        raise PodmanError(_failure(command, done.returncode, done.stderr))
    return done


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PodmanError(f"{name} is not installed")
    return path


def _failure(command: list[str], code: int, stderr: str) -> str:
    tail = " | ".join(line for line in stderr.strip().splitlines()[-5:])
    shown = " ".join(command)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return f"{shown}: exit {code}: {tail}"


def recipe_hash(*parts: str | bytes | Path) -> str:
    """A short hash of everything a recipe is made of: strings, bytes, files, folders (every file)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for file in files:
                digest.update(str(file.relative_to(part) if part.is_dir() else file.name).encode())
                digest.update(file.read_bytes())
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def image_recipe(image: str) -> str | None:
    """The recipe label of a local image, or ``None`` when there is no such image."""
    found = podman("image", "exists", image, check=False)
    if found.returncode != 0:
        return None
    label = podman("image", "inspect", "--format", f'{{{{ index .Labels "{RECIPE_LABEL}" }}}}', image)
    return label.stdout.strip() or None


def root_recipe(*, include: Iterable[str] = (), suite: str = "bookworm", mirror: str = DEBIAN_MIRROR) -> str:
    """The recipe hash of ``debian_root(include=..., suite=..., mirror=...)``, without making it."""
    ca = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.is_file() else b""
    local_cas = sorted(HOST_LOCAL_CAS.glob("*.crt")) if HOST_LOCAL_CAS.is_dir() else []
    packages = ",".join(sorted(set(include)))
    return recipe_hash(_ROOT_RECIPE_VERSION, "minbase", suite, mirror, packages, ca, *local_cas)


def debian_root(
    name: str,
    *,
    include: Iterable[str] = (),
    suite: str = "bookworm",
    mirror: str = DEBIAN_MIRROR,
    timeout: float = 1200,
) -> tuple[Path, str]:
    """A ``debootstrap --variant=minbase`` root with ``include`` installed and the host's CA bundle.

    Returns the root and its recipe hash. It is made once per recipe under ``var/podman/roots/NAME-HASH``;
    roots of older recipes of the same name are removed.
    """
    packages = sorted(set(include))
    ca = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.is_file() else b""
    local_cas = sorted(HOST_LOCAL_CAS.glob("*.crt")) if HOST_LOCAL_CAS.is_dir() else []
    recipe = root_recipe(include=packages, suite=suite, mirror=mirror)
    roots = VAR / "roots"
    root = roots / f"{name}-{recipe}"
    if (root / ".conduit-root-complete").is_file():
        return root, recipe
    if shutil.which("debootstrap") is None and not Path("/usr/sbin/debootstrap").exists():
        raise PodmanError("debootstrap is not installed (bin/system-packages debootstrap)")
    for old in roots.glob(f"{name}-*"):
        shutil.rmtree(old, ignore_errors=True)
    partial = roots / f".{name}-{recipe}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = ["debootstrap", "--variant=minbase"]
    if packages:
        command.append("--include=" + ",".join(packages))
    command += [suite, str(partial), mirror]
    try:
        done = subprocess.run(  # noqa: S603 (fixed program)
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise PodmanError(f"debootstrap {name}: not done after {timeout:g} s") from exc
    if done.returncode != 0:
        log = (partial / "debootstrap" / "debootstrap.log").read_text(errors="replace")[-2000:]
        shutil.rmtree(partial, ignore_errors=True)
        raise PodmanError(_failure(command, done.returncode, done.stderr + log))
    if ca:
        (partial / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
        (partial / "etc/ssl/certs/ca-certificates.crt").write_bytes(ca)
    for local_ca in local_cas:
        target = partial / "usr/local/share/ca-certificates" / local_ca.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(local_ca.read_bytes())
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (partial / cache).glob("*"):
            if item.is_file():
                item.unlink()
    (partial / ".conduit-root-complete").write_text(recipe + "\n")
    partial.rename(root)
    return root, recipe


def debian_image(
    image: str,
    *,
    include: Iterable[str] = (),
    suite: str = "bookworm",
    changes: Iterable[str] = (),
    mirror: str = DEBIAN_MIRROR,
) -> str:
    """A local image of ``debian_root`` (``podman import``), rebuilt only when its recipe changes.

    ``changes`` are ``podman import --change`` instructions (``CMD``, ``ENV``, ``ENTRYPOINT`` ...); they
    are part of the recipe. Returns the recipe hash, which the image carries as its label. While the
    image is current, no root is made (a fresh checkout with podman's store already filled).
    """
    changes = list(changes)
    include = sorted(set(include))
    recipe = recipe_hash(root_recipe(include=include, suite=suite, mirror=mirror), *changes)
    if image_recipe(image) == recipe:
        return recipe
    name = image.rsplit("/", 1)[-1].replace(":", "-")
    root, _ = debian_root(name, include=include, suite=suite, mirror=mirror)
    args = ["import", "--change", f"LABEL {RECIPE_LABEL}={recipe}"]
    for change in changes:
        args += ["--change", change]
    tar = subprocess.Popen(  # noqa: S603 (fixed program)
        [
            _program("tar"),
            "--numeric-owner",
            "--exclude=./.conduit-root-complete",
            "-C",
            str(root),
            "-c",
            ".",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        done = subprocess.run(  # noqa: S603 (fixed program)
            [_program("podman"), *args, "-", image],
            stdin=tar.stdout,
            env=env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait(timeout=60)
    if tar.returncode != 0:
        # podman imported what it got: an incomplete image must not pass for the recipe.
        podman("rmi", "--force", image, check=False)
        errors = tar.stderr.read().decode(errors="replace") if tar.stderr else ""
        raise PodmanError(_failure(["tar", "-C", str(root), "-c", "."], tar.returncode, errors))
    if done.returncode != 0:
        raise PodmanError(_failure(["podman", *args, "-", image], done.returncode, done.stderr))
    return recipe


def build_image(
    image: str,
    context: Path,
    *,
    recipe: str,
    file: Path | None = None,
    build_args: Mapping[str, str] | None = None,
    no_cache: bool = False,
    timeout: float = 1200,
) -> bool:
    """``podman build`` unless ``image`` already carries ``recipe`` in its label; True when it built.

    ``recipe`` must cover everything the build reads (``recipe_hash`` of the Containerfile, the context's
    files, the base image's recipe). ``no_cache`` builds every stage afresh (buildah 1.28 once reused a
    stale stage through ``RUN --mount=type=bind,from=...``).
    """
    if image_recipe(image) == recipe:
        return False
    # docker format: the OCI format has no HEALTHCHECK, and podman would drop the Dockerfile's.
    args = ["build", "--format=docker", "--tag", image, "--label", f"{RECIPE_LABEL}={recipe}"]
    if no_cache:
        args.append("--no-cache")
    if file is not None:
        args += ["--file", str(file)]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    podman(*args, str(context), timeout=timeout)
    return True


@contextlib.contextmanager
def network(prefix: str = "conduit-test") -> Iterator[str]:
    """A new podman network named ``PREFIX-RANDOM``; on exit it is removed with every container on it."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    podman("network", "create", name)
    try:
        yield name
    finally:
        podman("network", "rm", "--force", name, check=False, timeout=300)


def publish(container_port: int, host_port: int | None = None) -> str:
    """A ``--publish`` value that binds the host side to 127.0.0.1 only (any free port by default)."""
    return f"127.0.0.1:{host_port or ''}:{container_port}"


def published_port(container: str, container_port: int) -> int:
    """The 127.0.0.1 port the host reaches ``container_port`` of ``container`` on."""
    out = podman("port", container, f"{container_port}/tcp").stdout.split()
    for line in out:
        host, _, port = line.rpartition(":")
        if host == "127.0.0.1":
            return int(port)
    raise PodmanError(f"{container}: port {container_port} is not published on 127.0.0.1 ({out})")


def _resolve(container: str, name: str) -> subprocess.CompletedProcess[str]:
    """One ``getent hosts``; a lookup that hangs (aardvark-dns 1.4 drops queries while it reloads, and
    the resolver then waits out its retries) counts as not resolved yet, so callers look again."""
    try:
        return podman("exec", container, "getent", "hosts", name, check=False, timeout=10)
    except PodmanError as exc:
        return subprocess.CompletedProcess(["getent", "hosts", name], 2, "", str(exc))


def resolve(container: str, name: str) -> str | None:
    """One look: the address ``name`` resolves to inside ``container`` now, or ``None``."""
    done = _resolve(container, name)
    words = done.stdout.split()
    return words[0] if done.returncode == 0 and words else None


def address(container: str, name: str, timeout: float = 30, interval: float = 0.25) -> str:
    """The address ``name`` resolves to inside ``container`` (``getent hosts``, the container's own
    resolver: aardvark-dns on a podman network), once it resolves; PodmanError with ``dns_report``
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = resolve(container, name)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise PodmanError(f"{name} did not resolve within {timeout:g} s: {dns_report(container, name)}")
        time.sleep(interval)


def dns_report(container: str, name: str) -> str:
    """One paragraph on why ``name`` does (not) resolve inside ``container``: getent's answer, the
    container's state, networks (address, aliases, whether the network has DNS), its resolv.conf
    nameservers, and whether an aardvark-dns process runs on the host."""
    parts: list[str] = []
    done = _resolve(container, name)
    parts.append(f"getent hosts {name} in {container}: exit {done.returncode} {done.stdout.strip()!r}")
    inspected = podman("inspect", container, check=False)
    try:
        info = json.loads(inspected.stdout)[0]
    except (ValueError, IndexError):
        return "; ".join([*parts, f"podman inspect {container}: {inspected.stderr.strip()[-300:]}"])
    parts.append(f"state {info['State'].get('Status')}")
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    for net, settings in sorted(networks.items()):
        dns = podman("network", "inspect", "--format", "{{.DNSEnabled}}", net, check=False).stdout.strip()
        parts.append(
            f"network {net} (dns_enabled {dns or '?'}): {settings.get('IPAddress')} aliases "
            f"{settings.get('Aliases')}"
        )
    resolv = podman("exec", container, "cat", "/etc/resolv.conf", check=False).stdout
    servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver ")]
    parts.append(f"nameservers {servers}")
    parts.append(f"aardvark-dns {'running' if _aardvark_runs() else 'not running'} on the host")
    return "; ".join(parts)


def _aardvark_runs() -> bool:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "aardvark-dns":
                    return True
    return False


class ApiService:
    """``podman system service`` (the Docker-compatible API) on ``var/podman/NAME.sock``, ours by PID.

    ``docker_host`` is the value for ``DOCKER_HOST``. Use as a context manager, or ``start``/``stop``.
    """

    def __init__(self, name: str = "api") -> None:
        self.socket = VAR / f"{name}.sock"
        self.log = VAR / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        if len(str(self.socket)) > 100:
            raise PodmanError(f"socket path too long for a unix socket: {self.socket}")

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 60) -> None:
        VAR.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed program)
                [_program("podman"), "system", "service", "--time=0", self.docker_host],
                env=env(),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PodmanError(f"podman system service exited {self.process.returncode}: see {self.log}")
            if self.ping():
                return
            time.sleep(0.2)
        self.stop()
        raise PodmanError(f"podman system service did not answer on {self.socket} within {timeout:g} s")

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(5)
                conn.connect(str(self.socket))
                conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
                status = conn.recv(4096).split(b"\r\n", 1)[0]
        except OSError:
            return False
        return status.startswith(b"HTTP/1.") and b" 200 " in status + b" "

    def stop(self, timeout: float = 30) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        self.socket.unlink(missing_ok=True)

    def __enter__(self) -> ApiService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
