"""Certificates for mesh mTLS: a CA of the mesh's own, and for each process (the gateway and every service) a key and
a certificate that the CA signs, naming the process by its SPIFFE id (`spiffe://llama-mesh/<process>`, what services
check, see llama_mesh/runtime/mesh_identity.py) and by the host names it is reached at.

    python -m llama_mesh.mesh_certs --out deploy/certs      (`make certs`; docker compose mounts deploy/certs)

Writes ca.crt, ca.key and <process>.crt / <process>.key (keys 0600) for the gateway and every service of the
distribution. Nothing is overwritten unless --force; rotate by running it again with --force and restarting the mesh
(new CA: every process trusts the new one at once). Keep ca.key off the machines that run the mesh.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from llama_mesh.runtime.mesh_identity import spiffe_id

DEFAULT_DAYS = 365


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _alternative_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


class MeshCA:
    """A CA (made anew, or read back from `directory`) that signs server-and-client certificates of the mesh."""

    def __init__(self, directory: Path, name: str = "llama-mesh CA", days: int = DEFAULT_DAYS) -> None:
        self.directory = directory
        self.days = days
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_file = directory / "ca.crt"
        key_file = directory / "ca.key"
        if self.cert_file.exists() and key_file.exists():
            self._cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
            loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            self._key = loaded
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = x509.KeyUsage(
            digital_signature=True,
            key_cert_sign=True,
            crl_sign=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
        )
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_file, self._key)

    def issue(self, common_name: str, hosts: list[str], identity: str = "") -> CertFiles:
        """<common_name>.crt / .key for `hosts` (DNS names or IP addresses), with `identity` as a URI SAN if given."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names = [_alternative_name(host) for host in hosts]
        if identity:
            names.append(x509.UniformResourceIdentifier(identity))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=self.days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        files = CertFiles(self.directory / f"{common_name}.crt", self.directory / f"{common_name}.key")
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(files.key, key)
        return files


def process_hosts(process: str) -> list[str]:
    """The names a process is reached at: its compose service name, its Kubernetes Service (underscores become
    dashes), and the loopback."""
    names = dict.fromkeys([process, process.replace("_", "-"), "localhost", "127.0.0.1"])
    extra = {"gateway": ["gateway-mesh"], "inference": ["inference-gpu"]}  # k8s' mesh Service; compose's gpu profile
    names.update(dict.fromkeys(extra.get(process, [])))
    return list(names)


def make_mesh_certs(
    directory: Path, processes: list[str], *, force: bool = False, days: int = DEFAULT_DAYS
) -> list[str]:
    """A CA and one certificate per process in `directory`. Where it already holds a CA (and `force` is not set),
    only processes without a certificate get one, from that CA (a service added since). Returns the processes whose
    certificates were written."""
    if force:
        for stale in (directory / "ca.crt", directory / "ca.key"):
            stale.unlink(missing_ok=True)
    elif (directory / "ca.crt").exists():
        processes = [process for process in processes if not (directory / f"{process}.crt").exists()]
        if not processes:
            return []
    ca = MeshCA(directory, days=days)
    for process in processes:
        ca.issue(process, process_hosts(process), spiffe_id(process))
    return processes


def main(argv: list[str] | None = None) -> int:
    from llama_mesh.runtime.config import distribution_path, load_run_config
    from llama_mesh.runtime.transport_security import OPENAI_EDGE_SERVICE

    parser = argparse.ArgumentParser(description="make the CA and the certificates of a llama-mesh mTLS mesh")
    parser.add_argument("--out", default="deploy/certs", help="directory to write them to (default: deploy/certs)")
    parser.add_argument("--distribution", "-d", default="local-cpu", help="whose services get certificates")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--force", action="store_true", help="replace an existing CA and certificates (rotation)")
    args = parser.parse_args(argv)
    config = load_run_config(distribution_path(args.distribution))
    processes = ["gateway", *(service.name for service in config.services)]
    if config.openai_edge is not None:  # a client of the mesh, whose spans reach telemetry over mTLS
        processes.append(OPENAI_EDGE_SERVICE)
    out = Path(args.out)
    written = make_mesh_certs(out, processes, force=args.force, days=args.days)
    if not written:
        print(f"{out} already holds a mesh CA and every certificate; --force replaces them all")
        return 0
    print(f"wrote a mesh CA and certificates for {', '.join(written)} to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
