"""Every service folder has the one shape services/README.md shows, so a newcomer finds an RPC's path in three files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
# The OpenAI-compatible HTTP edge is an ASGI app in front of the gateway (app.py, routes/), not a gRPC servicer.
HTTP_EDGE = "openai_edge"
FOLDERS = sorted(p for p in SERVICES.iterdir() if (p / "__main__.py").exists() and p.name != HTTP_EDGE)
WITHOUT_PROVIDERS = {"agents", "telemetry"}  # one built-in implementation each (services/README.md)


def test_every_api_has_a_folder() -> None:
    assert {p.name for p in FOLDERS} >= {
        "inference",
        "safety",
        "vector_io",
        "tool_runtime",
        "datasetio",
        "scoring",
        "eval",
        "agents",
        "telemetry",
    }


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_folder_shape(folder: Path) -> None:
    assert (folder / "servicer.py").exists()
    if folder.name in WITHOUT_PROVIDERS:
        assert not (folder / "providers").exists()
        return
    assert (folder / "provider.py").exists(), "the provider interface lives in provider.py"
    factories = ast.parse((folder / "providers" / "__init__.py").read_text())
    declared = [getattr(node.target, "id", "") for node in factories.body if isinstance(node, ast.AnnAssign)]
    assert "PROVIDER_TYPES" in declared, "providers/__init__.py declares PROVIDER_TYPES"
    assert [p for p in (folder / "providers").glob("*.py") if p.name != "__init__.py"], "at least one implementation"
    assert not (folder / "providers.py").exists()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_no_service_opens_its_own_gateway_channel(folder: Path) -> None:
    """Calls to other APIs go through llama_mesh.runtime.gateway_client.GatewayClient only."""
    for path in folder.rglob("*.py"):
        text = path.read_text()
        for banned in ("LazyChannel", "open_channel", "Stub(", "call_remote"):
            assert banned not in text, f"{path.relative_to(SERVICES)} uses {banned}"
