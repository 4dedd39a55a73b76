"""The OpenAI edge with gateway auth on (real gateway and edge processes, the official SDK): the HTTP bearer token is
the token the gateway checks, so a request without one is a 401, one outside its token's resources a 403, and the
edge never lends its callers the services' token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from llama_mesh.launcher import LocalMesh, isolated_env
from tests.gateway.distribution_variant import distribution_variant
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL

ALICE = "alice-edge-5Tq1-token"
SERVICE = "service-edge-8Hw3-token"


def _with_auth(raw: dict[str, Any]) -> None:
    raw["telemetry"] = {"exporter": "none"}
    raw["gateway"]["auth"] = {
        "service_token": "mesh-services",
        "tokens": [
            {"name": "mesh-services", "token": SERVICE, "resources": "all"},
            {"name": "alice", "token": ALICE, "resources": {"models": [EMBEDDING_MODEL]}},
        ],
    }


@pytest.fixture(scope="module")
def edge_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("edge-auth")
    variant = distribution_variant(root, _with_auth)
    mesh = LocalMesh(str(variant), env=isolated_env(root / "data"), log_dir=root / "logs")
    mesh.start(only={"gateway", "openai_edge"})
    assert mesh.config.openai_edge is not None
    yield f"http://{mesh.config.openai_edge.address}/v1"
    mesh.stop()


def _client(edge_url: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=edge_url, api_key=token, max_retries=0, timeout=60)


def test_without_a_valid_token_the_edge_answers_401(edge_url: str) -> None:
    reply = httpx.get(f"{edge_url}/models", timeout=60)  # no authorization header (the SDK always sends one)
    assert reply.status_code == 401 and reply.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(edge_url, "not-a-token").models.list()
    assert caught.value.status_code == 401 and caught.value.type == "authentication_error"


def test_a_token_sees_and_uses_only_its_resources(edge_url: str) -> None:
    alice = _client(edge_url, ALICE)
    assert [model.id for model in alice.models.list()] == [EMBEDDING_MODEL]
    with pytest.raises(openai.PermissionDeniedError) as caught:
        alice.models.retrieve(CHAT_MODEL)
    assert caught.value.status_code == 403
    with pytest.raises(openai.PermissionDeniedError):
        alice.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "Hi"}])
    everything = {model.id for model in _client(edge_url, SERVICE).models.list()}
    assert {CHAT_MODEL, EMBEDDING_MODEL} <= everything


def test_files_and_vector_stores_need_a_valid_token(edge_url: str) -> None:
    """The edge keeps files and vector-store records itself: a token the gateway does not know may not store, list or
    read them either (the storage quota is shared by every caller)."""
    stranger = _client(edge_url, "not-a-token")
    with pytest.raises(openai.AuthenticationError):
        stranger.files.create(file=("notes.txt", b"some notes"), purpose="assistants")
    with pytest.raises(openai.AuthenticationError):
        stranger.files.list()
    with pytest.raises(openai.AuthenticationError):
        stranger.vector_stores.list()
    with pytest.raises(openai.AuthenticationError):
        stranger.vector_stores.update("vs_none", name="theirs")
    with pytest.raises(openai.AuthenticationError):
        stranger.vector_stores.file_batches.create(vector_store_id="vs_none", file_ids=["file-none"])
    with pytest.raises(openai.AuthenticationError):
        stranger.vector_stores.file_batches.retrieve("vsfb_none", vector_store_id="vs_none")
    uploaded = _client(edge_url, ALICE).files.create(file=("notes.txt", b"some notes"), purpose="assistants")
    assert [item.id for item in _client(edge_url, ALICE).files.list()] == [uploaded.id]
    with pytest.raises(openai.AuthenticationError):
        stranger.files.retrieve(uploaded.id)
    other = _client(edge_url, SERVICE)  # a token the gateway knows, not the uploader's
    with pytest.raises(openai.NotFoundError):
        other.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        other.files.content(uploaded.id)
    assert uploaded.id not in [item.id for item in other.files.list()]
    assert _client(edge_url, ALICE).files.content(uploaded.id).content == b"some notes"
