"""A throwaway certificate authority for TLS tests: a CA, and certificates it signs for 127.0.0.1 / localhost, valid
for a day (llama_mesh/mesh_certs.py, what `make certs` uses, made at test time)."""

from __future__ import annotations

from pathlib import Path

from llama_mesh.mesh_certs import CertFiles, MeshCA

__all__ = ["CertFiles", "ThrowawayCA"]


class ThrowawayCA(MeshCA):
    """A CA that signs server-and-client certificates valid for 127.0.0.1 and localhost."""

    def __init__(self, directory: Path, name: str = "llama-mesh test CA") -> None:
        super().__init__(directory, name, days=1)

    def issue(self, common_name: str, identity: str = "") -> CertFiles:  # type: ignore[override]
        """A certificate for 127.0.0.1 / localhost; `identity`: a URI SAN to add (a mesh process's SPIFFE id)."""
        return super().issue(common_name, ["localhost", "127.0.0.1"], identity)
