"""The orphan sweep's rules (llama_mesh/orphan_sweep.py): it runs only where the services' view of the registry is
complete, waits for the gateway while it is UNAVAILABLE, gives up on any other error, and drops only the candidates of
a provider that no registered resource of that provider uses."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
import pytest

from llama.common.v1 import resources_pb2 as res
from llama_mesh import orphan_sweep
from llama_mesh.orphan_sweep import OrphanSweep, registry_view_complete
from llama_mesh.runtime.config import AuthConfig, TokenConfig
from llama_mesh.runtime.errors import RemoteError


def _auth(service_resources: object) -> AuthConfig:
    return AuthConfig(
        service_token="services",
        tokens=[
            TokenConfig(name="services", token="s", resources=service_resources),  # type: ignore[arg-type]
            TokenConfig(name="alice", token="a", resources={"datasets": ["alice-*"]}),
        ],
    )


def _failure(code: grpc.StatusCode) -> RemoteError:
    return RemoteError(grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata()))


class Storage:
    def __init__(self, answers: list[object]) -> None:
        self.answers = answers
        self.dropped: list[tuple[str, str]] = []

    async def list_registered(self) -> Sequence[res.Dataset]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    async def drop(self, provider_id: str, name: str) -> None:
        self.dropped.append((provider_id, name))

    def sweep(self, auth: AuthConfig) -> OrphanSweep:
        return OrphanSweep(auth, "datasetio", "rows", self.list_registered, lambda d: d.identifier, self.drop, delay=0)


def test_the_view_is_complete_without_auth_or_with_a_services_token_for_all_resources() -> None:
    assert registry_view_complete(AuthConfig())
    assert registry_view_complete(_auth("all"))
    assert not registry_view_complete(_auth({"datasets": ["*"]}))  # patterns may leave ids out


async def test_candidates_no_registered_resource_of_their_provider_uses_are_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(orphan_sweep, "RETRY_S", (0.01, 0.01))
    registered = [
        res.Dataset(identifier="kept", provider_id="a"),
        res.Dataset(identifier="elsewhere", provider_id="b"),
    ]
    storage = Storage([_failure(grpc.StatusCode.UNAVAILABLE), registered])
    dropped = await storage.sweep(_auth("all")).run({"a": ["kept", "elsewhere", "gone"], "b": ["elsewhere"]})
    assert dropped == ["elsewhere", "gone"] and storage.answers == []
    assert storage.dropped == [("a", "elsewhere"), ("a", "gone")]


async def test_a_registry_that_refuses_drops_nothing() -> None:
    storage = Storage([_failure(grpc.StatusCode.PERMISSION_DENIED)])
    assert await storage.sweep(AuthConfig()).run({"a": ["x"]}) == []
    assert storage.dropped == []


async def test_a_services_token_limited_to_some_resources_sweeps_nothing(caplog: pytest.LogCaptureFixture) -> None:
    storage = Storage([[]])
    sweep = storage.sweep(_auth({"datasets": ["*"]}))
    with caplog.at_level(logging.WARNING, logger="llama_mesh.orphan_sweep"):
        sweep.start({"a": ["x"]})
    await sweep.stop()
    assert "no orphan sweep" in caplog.text and storage.answers == [[]] and storage.dropped == []
