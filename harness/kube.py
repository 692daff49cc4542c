"""The Kubernetes production overlay, as far as ``podman kube play`` (podman 4.3) goes.

What is played: the rendered overlay's ConfigMap and Deployment (the app's pod: its image, envFrom of the
ConfigMap and of the Secret ``conduit-secrets``, security context, emptyDir volumes, probes), and the
migrate Job's pod template as a Pod of its own (kube play has no Job), to completion, before the
Deployment. The Secret is a podman secret of that name holding what deploy/kubernetes/secret.example.yaml
lists, with values for the stand-in PostgreSQL and Redis. The image is the one this run built, in place
of the overlay's registry name.

What is not (docs/deployment.md): Service routing, Ingress, HorizontalPodAutoscaler, PodDisruptionBudget
(still validated offline by bin/check-deploy), preStop hooks, rolling updates, resource limits as a
scheduler sees them. kube play turns an httpGet livenessProbe into a ``curl`` healthcheck, and the image has
no curl: so the probes are run here as the kubelet would, an HTTP GET of each probe's path and port from
inside the pod, with the probe's period and failure threshold.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import yaml

from harness import podman
from harness.net import free_port, http_status

OVERLAY = podman.REPO / "deploy/kubernetes/overlays/production"
SECRET_EXAMPLE = podman.REPO / "deploy/kubernetes/secret.example.yaml"
SECRET_NAME = "conduit-secrets"  # noqa: S105 (the name the manifests reference)
#: A GET from inside the pod: prints the status (what the kubelet's httpGet probe looks at).
_GET = (
    "import sys, urllib.request, urllib.error\n"
    "try:\n"
    "    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))\n"
    "    print(r.status, r.read().decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print(e.code, e.read().decode())\n"
    "except OSError as e:\n"
    "    print(0, e)\n"
)

Check = Callable[[str], AbstractContextManager[list[str]]]


class KubeError(RuntimeError):
    """The overlay could not be rendered or played; the message says why."""


def renderer() -> list[str]:
    """The kustomize command bin/check-deploy uses: $KUSTOMIZE, kustomize, or kubectl kustomize."""
    if os.environ.get("KUSTOMIZE"):
        return [os.environ["KUSTOMIZE"], "build"]
    for program, args in (("kustomize", ["build"]), ("kubectl", ["kustomize"])):
        path = shutil.which(program)
        if path:
            return [path, *args]
    raise KubeError("no kustomize renderer: set KUSTOMIZE, or install kustomize >= 4.1 or kubectl >= 1.21")


def render(folder: Path = OVERLAY) -> list[dict[str, Any]]:
    done = subprocess.run(  # noqa: S603 (kustomize, a folder of the repository)
        [*renderer(), str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise KubeError(f"kustomize {folder}: {done.stderr.strip()[-500:]}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    if len(found) != 1:
        raise KubeError(f"the overlay has {len(found)} {kind} objects, not one")
    return found[0]


def playable(
    docs: list[dict[str, Any]], image: str, suffix: str, host_ports: Callable[[], int] = free_port
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(ConfigMap + Deployment, the migrate Job as a Pod), with ``image`` and names ending in ``suffix``.

    podman 4.3's ``kube play`` publishes every ``containerPort`` on the host, on all interfaces and on
    the same port number when the manifest names no ``hostPort``: each gets ``hostIP: 127.0.0.1`` and a
    free ``hostPort`` (``host_ports()``) here, as the kubelet never publishes them at all."""
    config = only(docs, "ConfigMap")
    deployment = json.loads(json.dumps(only(docs, "Deployment")))
    job = only(docs, "Job")
    deployment["metadata"]["name"] += f"-{suffix}"
    for template in (deployment["spec"]["template"], job["spec"]["template"]):
        for container in template["spec"]["containers"]:
            container["image"] = image
            for port in container.get("ports", []):
                port["hostIP"] = "127.0.0.1"
                port["hostPort"] = host_ports()
    migrate = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job['metadata']['name']}-{suffix}",
            "labels": job["spec"]["template"]["metadata"]["labels"],
        },
        "spec": job["spec"]["template"]["spec"],
    }
    return [config, deployment], migrate


def secret_keys() -> list[str]:
    example = yaml.safe_load(SECRET_EXAMPLE.read_text())
    return sorted(example["stringData"])


def create_secret(values: dict[str, str]) -> None:
    """The podman secret envFrom secretRef reads in podman 4.3: JSON of key -> base64 of the value."""
    data = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    podman.podman("secret", "rm", SECRET_NAME, check=False)
    podman.podman("secret", "create", SECRET_NAME, "-", stdin=json.dumps(data))


def get_in(container: str, url: str, timeout: float = 2) -> tuple[int, str]:
    out = podman.podman("exec", container, "python", "-c", _GET, url, str(timeout), check=False, timeout=60)
    status, _, body = out.stdout.strip().partition(" ")
    return (int(status) if status.isdigit() else 0), body


def probe(container: str, spec: dict[str, Any], ports: dict[str, int]) -> tuple[int, int, str]:
    """Run an httpGet probe as the kubelet does until it succeeds or fails ``failureThreshold`` times in
    a row: (attempts, last status, last body)."""
    get = spec["httpGet"]
    port = ports.get(str(get["port"]), get["port"])
    url = f"http://127.0.0.1:{port}{get['path']}"
    period = float(spec.get("periodSeconds", 10))
    timeout = float(spec.get("timeoutSeconds", 1))
    threshold = int(spec.get("failureThreshold", 3))
    status, body = 0, ""
    for attempt in range(1, threshold + 1):
        status, body = get_in(container, url, timeout)
        if 200 <= status < 400:
            return attempt, status, body
        time.sleep(period)
    return threshold, status, body


def _yaml_file(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _wait_exit(container: str, timeout: float) -> int:
    done = podman.podman("wait", container, timeout=timeout)
    return int(done.stdout.strip().splitlines()[-1])


def _standins(net: str, images: dict[str, str], password: str) -> tuple[str, str]:
    """Stand-in PostgreSQL and Redis on ``net``, answering; their container names (their host names)."""
    db, redis = f"{net}-db", f"{net}-redis"
    podman.podman(
        "run",
        "--detach",
        "--name",
        db,
        "--network",
        net,
        "--env",
        "POSTGRES_USER=conduit",
        "--env",
        f"POSTGRES_PASSWORD={password}",
        "--env",
        "POSTGRES_DB=conduit",
        images["postgres"],
    )
    podman.podman("run", "--detach", "--name", redis, "--network", net, images["redis"], "redis-server")
    # The pods connect by these names: aardvark-dns must answer them first (bounded, with a report).
    podman.address(db, redis)
    podman.address(redis, db)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pg = podman.podman("exec", db, "pg_isready", "--username=conduit", "--dbname=conduit", check=False)
        ping = podman.podman("exec", redis, "redis-cli", "ping", check=False)
        if pg.returncode == 0 and ping.stdout.strip() == "PONG":
            return db, redis
        time.sleep(1)
    raise KubeError("the stand-in PostgreSQL and Redis did not answer within 120 s")


def _published(pod: str) -> dict[str, tuple[str, int]]:
    """A pod's published ports: ``{"8000/tcp": (host address, host port)}`` (one binding each)."""
    inspected = json.loads(podman.podman("pod", "inspect", pod).stdout)
    info = inspected[0] if isinstance(inspected, list) else inspected
    bindings = (info.get("InfraConfig") or {}).get("PortBindings") or {}
    published: dict[str, tuple[str, int]] = {}
    for port, hosts in bindings.items():
        if len(hosts) != 1:
            raise KubeError(f"{pod}: {port} published {len(hosts)} times: {hosts}")
        published[port] = (hosts[0]["HostIp"], int(hosts[0]["HostPort"]))
    return published


def _unix_ns(container: str, field: str) -> int:
    done = podman.podman("inspect", "--format", f"{{{{.State.{field}.UnixNano}}}}", container)
    return int(done.stdout.strip())


def checks(check: Check, image: str, images: dict[str, str]) -> None:
    """The overlay's migrate pod, then its Deployment's pod, against stand-in PostgreSQL and Redis."""
    suffix = secrets.token_hex(3)
    work = podman.VAR / f"kube-{suffix}"
    work.mkdir(parents=True, exist_ok=True)
    played: list[Path] = []
    try:
        with podman.network("conduit-kube") as net:
            with check("kube: render the production overlay; stand-in PostgreSQL and Redis") as figures:
                docs = render()
                app_docs, migrate = playable(docs, image, suffix)
                kinds = sorted(doc["kind"] for doc in docs)
                password = secrets.token_urlsafe(16)
                db, redis = _standins(net, images, password)
                values = {
                    "SECRET_KEY": secrets.token_urlsafe(48),
                    "DATABASE_URL": f"postgresql://conduit:{password}@{db}:5432/conduit",
                    "REDIS_URL": f"redis://{redis}:6379/0",
                }
                if sorted(values) != secret_keys():
                    raise KubeError(
                        f"secret.example.yaml lists {secret_keys()}, the check fills {sorted(values)}"
                    )
                create_secret(values)
                figures.append(
                    f"{' '.join(renderer()[-1:])}: {len(docs)} objects ({', '.join(kinds)}); "
                    f"secret {SECRET_NAME} with {', '.join(sorted(values))}"
                )

            with check("kube: the migrate Job's command runs to completion first") as figures:
                path = _yaml_file(work / "migrate.yaml", [app_docs[0], migrate])  # its ConfigMap too
                played.append(path)
                podman.podman("kube", "play", "--network", net, str(path), timeout=300)
                container = f"{migrate['metadata']['name']}-migrate"
                code = _wait_exit(container, 300)
                log = podman.podman("logs", container)
                output = log.stdout + log.stderr
                if code != 0 or "migrated the database from empty to" not in output:
                    raise KubeError(f"migrate pod: exit {code}: {output[-800:]}")
                migrate_finished = _unix_ns(container, "FinishedAt")
                command = migrate["spec"]["containers"][0]["args"]
                line = next(x for x in output.splitlines() if "migrated the database" in x)
                figures.append(f"{' '.join(command)}: exit 0, '{line.strip()}'")

            with check(
                "kube: the Deployment's pod starts with the Secret and ConfigMap and passes its probes"
            ) as figures:
                path = _yaml_file(work / "deployment.yaml", app_docs)
                played.append(path)
                podman.podman("kube", "play", "--network", net, str(path), timeout=300)
                deployment = app_docs[1]
                pod_spec = deployment["spec"]["template"]["spec"]
                spec = pod_spec["containers"][0]
                container = f"{deployment['metadata']['name']}-pod-0-{spec['name']}"
                ports = {p["name"]: p["containerPort"] for p in spec.get("ports", [])}
                results = []
                for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                    attempts, status, body = probe(container, spec[kind], ports)
                    if not 200 <= status < 400:
                        log = podman.podman("logs", container, check=False)
                        raise KubeError(
                            f"{kind} {spec[kind]['httpGet']['path']}: {status} {body[:300]} "
                            f"after {attempts} attempts; logs: {(log.stdout + log.stderr)[-800:]}"
                        )
                    results.append(f"{kind} {spec[kind]['httpGet']['path']} {status} (attempt {attempts})")
                ready = json.loads(get_in(container, f"http://127.0.0.1:{ports['http']}/readyz")[1])
                if ready["checks"] != {"database": "ok", "schema": "ok", "redis": "ok"}:
                    raise KubeError(f"/readyz: {ready}")
                env = dict(
                    line.split("=", 1)
                    for line in podman.podman("exec", container, "env").stdout.splitlines()
                    if "=" in line
                )
                config = app_docs[0]["data"]
                wrong = [k for k, v in config.items() if env.get(k) != v]
                wrong += [k for k, v in values.items() if env.get(k) != v]
                if wrong:
                    raise KubeError(f"not wired from the ConfigMap or Secret: {wrong}")
                proc = podman.podman("exec", container, "cat", "/proc/1/status").stdout
                uid = next(line.split()[1] for line in proc.splitlines() if line.startswith("Uid:"))
                touch = podman.podman("exec", container, "touch", "/app/probe", check=False)
                if uid != "10001" or touch.returncode == 0:
                    raise KubeError(f"uid {uid}; touch /app exit {touch.returncode}")
                published = _published(f"{deployment['metadata']['name']}-pod-0")
                wanted = {f"{p['containerPort']}/tcp": ("127.0.0.1", p["hostPort"]) for p in spec["ports"]}
                if published != wanted:
                    raise KubeError(f"the pod publishes {published}, not {wanted}")
                host_port = wanted[f"{ports['http']}/tcp"][1]
                from_host = http_status(f"http://127.0.0.1:{host_port}/readyz", timeout=5)
                if from_host != 200:
                    raise KubeError(f"GET 127.0.0.1:{host_port}/readyz from the host: {from_host}")
                shown = ", ".join(f"{k} on {h}:{n}" for k, (h, n) in sorted(published.items()))
                lead = (_unix_ns(container, "StartedAt") - migrate_finished) / 1e9
                if lead < 0:
                    raise KubeError(f"the app's pod started {-lead:.1f} s before the migrate pod finished")
                figures.append(
                    f"{'; '.join(results)}; /readyz checks {ready['checks']}; {len(config)} ConfigMap "
                    f"keys and {len(values)} Secret keys in its environment; PID 1 uid {uid}, root "
                    f"filesystem read-only; started {lead:.1f} s after the migrate pod finished; "
                    f"published only {shown} (/readyz 200 on {host_port})"
                )
    finally:
        for path in reversed(played):
            podman.podman("kube", "down", str(path), check=False, timeout=300)
        podman.podman("secret", "rm", SECRET_NAME, check=False)
        shutil.rmtree(work, ignore_errors=True)
