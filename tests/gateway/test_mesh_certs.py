"""`make certs` (python -m llama_mesh.mesh_certs) and the secret command of docs/security.md: a CA and one certificate
per process naming it by SPIFFE id and host names, keys only the owner can read, nothing replaced without --force."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509

from llama_mesh.launcher import REPO_ROOT


def _certs(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "llama_mesh.mesh_certs", "--out", str(out), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True)


def test_make_certs_writes_a_ca_and_a_certificate_per_process(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    assert "wrote a mesh CA" in _certs(out).stdout
    names = {path.stem for path in out.glob("*.crt")}
    assert names >= {"ca", "gateway", "inference", "vector_io", "telemetry", "agents", "eval", "openai_edge"}
    for key in out.glob("*.key"):
        assert key.stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate((out / "vector_io.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "spiffe://llama-mesh/vector_io" in sans.get_values_for_type(x509.UniformResourceIdentifier)
    assert {"vector_io", "vector-io", "localhost"} <= set(sans.get_values_for_type(x509.DNSName))

    before = (out / "ca.crt").read_bytes()
    assert "already holds a mesh CA" in _certs(out).stdout
    assert (out / "ca.crt").read_bytes() == before
    # a service added since gets its certificate from the same CA; the others are kept
    kept = (out / "gateway.crt").read_bytes()
    (out / "eval.crt").unlink()
    assert "wrote" in _certs(out).stdout
    assert (out / "eval.crt").exists() and (out / "gateway.crt").read_bytes() == kept
    assert (out / "ca.crt").read_bytes() == before
    _certs(out, "--force", "--days", "30")  # rotation: a new CA and new certificates
    assert (out / "ca.crt").read_bytes() != before


def test_the_documented_secret_command_makes_a_long_random_secret() -> None:
    command = [sys.executable, "-c", "import secrets; print(secrets.token_urlsafe(32))"]
    first, second = (subprocess.run(command, capture_output=True, text=True, check=True).stdout for _ in range(2))
    assert len(first.strip()) >= 43 and first != second
