"""Static checks of the container and platform files: what a validator cannot know about our intent.

bin/check-deploy runs the validators (hadolint, docker-compose config, kustomize + kubernetes-validate,
ansible-lint); these tests check the properties issue #4 asks for, on the files as written.
"""

from __future__ import annotations

import json
import re
import runpy
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.skips import require_or_skip

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()
KUBERNETES = REPO / "deploy" / "kubernetes" / "base"


def stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]


def exec_form(instruction: str) -> list[str]:
    found = re.findall(rf"^{instruction} (\[.*\])$", DOCKERFILE, flags=re.MULTILINE)
    assert found, f"no exec-form {instruction}"
    value: list[str] = json.loads(found[-1])
    return value


def test_the_base_image_is_pinned_and_matches_the_python_version_pin() -> None:
    image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+\.\d+)-slim-bookworm$", DOCKERFILE, re.MULTILINE)
    assert image, "the base image must be python:X.Y.Z-slim-bookworm"
    assert all(stage.startswith("${PYTHON_IMAGE}") for stage in stages())
    assert image.group(1).startswith((REPO / ".python-version").read_text().strip() + ".")


def test_the_runtime_stage_installs_no_compiler_and_runs_as_a_numeric_non_root_user() -> None:
    build, runtime = stages()
    assert "--require-hashes" in build
    assert "requirements/main.lock" in build
    assert not re.search(r"apt-get|gcc|build-essential|\bcc\b", runtime)
    user = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user
    assert user[-1].split(":")[0].isdigit()
    assert user[-1].split(":")[0] != "0"


def test_the_healthcheck_asks_healthz_with_python() -> None:
    check = re.search(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert check
    command = json.loads(check.group(1))
    assert command[0] == "python"
    assert "/healthz" in command[-1]


def test_the_entrypoint_is_the_script_and_the_command_is_gunicorn_with_our_config() -> None:
    entrypoint = exec_form("ENTRYPOINT")
    assert entrypoint == ["/app/deploy/docker/entrypoint.sh"]
    script = REPO / "deploy" / "docker" / "entrypoint.sh"
    assert script.stat().st_mode & 0o111
    assert re.search(r'^exec "\$@"$', script.read_text(), re.MULTILINE)
    command = exec_form("CMD")
    assert command[0] == "gunicorn"
    assert "deploy/gunicorn.conf.py" in command


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    rules = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first (.env, .venv, var/ never reach the context)"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    sources = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.MULTILINE)
        for source in shlex.split(line)[:-1]
    ]
    assert sources
    for source in sources:
        assert any(source == a or source.startswith(a + "/") for a in allowed), f"{source} is ignored"


# --- compose.yaml ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return data


def test_only_nginx_publishes_a_port(compose: dict[str, Any]) -> None:
    assert [name for name, service in compose["services"].items() if "ports" in service] == ["nginx"]


def test_migrations_run_once_before_the_app(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["conduit", "deploy"]
    assert services["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "RUN_MIGRATIONS" not in services["app"]["environment"]
    assert services["app"]["deploy"]["replicas"] >= 2


def test_every_dependency_waits_for_a_condition(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), name
            if rule["condition"] == "service_healthy":
                target = compose["services"][dependency]
                assert "healthcheck" in target or dependency == "app", f"{dependency} has no healthcheck"


def test_images_are_pinned_and_postgres_keeps_its_data(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            assert re.search(r":v?\d+\.\d+", service["image"]), f"{name}: pin the image's version"
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    assert "pgdata" in compose["volumes"]


#: The oldest releases compose may pin: each is the latest security release of its branch known when
#: issue 14 was closed (redis 7.4.10: a stream RESTORE use-after-free, July 2026; 7.4.6 fixed the Lua
#: CVE-2025-49844. postgres 17.10, after 17.8's security release of February 2026). Raise them as newer
#: security releases come out; docs/security.md, "Dependencies".
SECURITY_FLOORS = {"db": (17, 10), "redis": (7, 4, 10)}


def test_database_and_redis_images_are_at_their_security_releases(compose: dict[str, Any]) -> None:
    for name, floor in SECURITY_FLOORS.items():
        image = compose["services"][name]["image"]
        match = re.search(r":(\d+(?:\.\d+)+)-", image)
        assert match, image
        version = tuple(int(part) for part in match.group(1).split("."))
        assert version[: len(floor) - 1] == floor[:-1], f"{name}: stay on the {floor[:-1]} branch ({image})"
        assert version >= floor, f"{name}: {image} is older than the security release {floor}"


def test_image_names_can_be_overridden_and_default_to_the_official_images(compose: dict[str, Any]) -> None:
    """make check-containers swaps in stand-ins through these variables; users get the official images."""
    official = {"nginx": "nginx", "db": "postgres", "redis": "redis", "prometheus": "prom/prometheus"}
    for name, repository in official.items():
        image = compose["services"][name]["image"]
        variable = "POSTGRES_IMAGE" if name == "db" else f"{name.upper()}_IMAGE"
        assert re.fullmatch(rf"\$\{{{variable}:-{re.escape(repository)}:v?\d+\.\d+[^}}]*\}}", image), image


def test_secrets_are_required_from_the_environment() -> None:
    text = (REPO / "compose.yaml").read_text()
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        assert f"${{{name}:?" in text
        assert f"# {name}=" in (REPO / ".env.example").read_text()


# --- Heroku ------------------------------------------------------------------------------------------


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_procfile_serves_on_port_and_migrates_on_release() -> None:
    processes = procfile()
    web = shlex.split(processes["web"])
    assert web[:2] == ["PYTHONPATH=src", "gunicorn"]
    assert web[web.index("--config") + 1] == "deploy/gunicorn.conf.py"
    assert web[web.index("--bind") + 1] == "0.0.0.0:$PORT"
    assert shlex.split(processes["release"]) == ["PYTHONPATH=src", "python", "-m", "conduit", "deploy"]
    assert (REPO / "requirements.txt").read_text().splitlines()[-1] == "-r requirements/main.lock"


def test_app_json_generates_the_secret_and_adds_postgres() -> None:
    app = json.loads((REPO / "app.json").read_text())
    assert app["env"]["SECRET_KEY"]["generator"] == "secret"
    assert app["env"]["CONDUIT_ENV"]["value"] == "production"
    assert any(addon["plan"].startswith("heroku-postgresql") for addon in app["addons"])


# --- Kubernetes --------------------------------------------------------------------------------------


def manifest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((KUBERNETES / name).read_text())
    return data


def test_the_deployment_probes_drains_and_runs_read_only() -> None:
    pod = manifest("deployment.yaml")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "startupProbe" in container
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"requests", "limits"} <= container["resources"].keys()
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert {"/tmp", env["PROMETHEUS_MULTIPROC_DIR"]} <= mounts
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = runpy.run_path(str(REPO / "deploy" / "gunicorn.conf.py"))["graceful_timeout"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > pause + graceful
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(ports["metrics"])


def test_service_pdb_and_hpa_point_at_the_deployment() -> None:
    deployment = manifest("deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert manifest("service.yaml")["spec"]["selector"].items() <= labels.items()
    assert manifest("pdb.yaml")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = manifest("hpa.yaml")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the HorizontalPodAutoscaler owns the replica count"


def test_the_migration_job_runs_conduit_deploy() -> None:
    (container,) = manifest("job-migrate.yaml")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["conduit", "deploy"]


def rendered(overlay: str) -> list[dict[str, Any]]:
    """The manifests kustomize builds (what is applied), by kubectl's built-in kustomize."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        require_or_skip("kubectl is missing: the kustomize build output cannot be checked")
    done = subprocess.run(
        [kubectl, "kustomize", str(REPO / "deploy" / "kubernetes" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
def test_metrics_and_the_api_are_on_separate_ports_and_only_the_api_is_exposed(overlay: str) -> None:
    """Issue 14, finding 8: the Ingress routed / (so /metrics) to the pods; now /metrics has a port of
    its own that neither the Service nor the Ingress exposes."""
    docs = rendered(overlay)
    (config,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    (service,) = [doc for doc in docs if doc["kind"] == "Service"]
    (ingress,) = [doc for doc in docs if doc["kind"] == "Ingress"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000, "metrics": int(config["data"]["METRICS_PORT"])}
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]
    backends = [
        path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    ]
    assert backends
    assert all(backend == {"name": "conduit", "port": {"name": "http"}} for backend in backends)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == config["data"]["METRICS_PORT"]


@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
def test_network_policies_let_only_the_ingress_controller_and_prometheus_in(overlay: str) -> None:
    """Issue 14, finding 8: with PROXY_TRUSTED_HOPS=1 and no NetworkPolicy any pod could send its own
    X-Forwarded-For; now only the ingress controller reaches the API port, only Prometheus the metrics."""
    docs = rendered(overlay)
    (config,) = [doc for doc in docs if doc["kind"] == "ConfigMap"]
    assert config["data"]["PROXY_TRUSTED_HOPS"] == "1"
    assert "*" not in config["data"]["FORWARDED_ALLOW_IPS"]
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in docs if doc["kind"] == "NetworkPolicy"}
    deny_all = [spec for spec in policies.values() if spec["podSelector"] == {} and "ingress" not in spec]
    assert deny_all
    assert deny_all[0]["policyTypes"] == ["Ingress"]
    allowed: dict[str, list[dict[str, Any]]] = {}
    for spec in policies.values():
        for rule in spec.get("ingress", []):
            for port in rule["ports"]:
                allowed.setdefault(port["port"], []).extend(rule["from"])
    assert set(allowed) == {"http", "metrics"}
    namespace = "kubernetes.io/metadata.name"
    assert [peer["namespaceSelector"]["matchLabels"][namespace] for peer in allowed["http"]] == [
        "ingress-nginx"
    ]
    assert [peer["namespaceSelector"]["matchLabels"][namespace] for peer in allowed["metrics"]] == [
        "monitoring"
    ]
    for peers in allowed.values():  # kustomize's common labels must not have narrowed a peer to our pods
        assert all("podSelector" not in peer and "ipBlock" not in peer for peer in peers)
