"""Every service process serves on uvloop's event loop (llama_mesh/runtime/entrypoint.py)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys

import pytest
import uvloop

from llama_mesh.runtime import entrypoint
from llama_mesh.runtime.config import RunConfig

# each process's own `python -m` module: a service that started its loop some other way would fail here
PROCESSES = {
    "gateway": "gateway.__main__",
    **{
        api: f"services.{api}.__main__"
        for api in (
            "agents",
            "datasetio",
            "eval",
            "inference",
            "openai_edge",
            "post_training",
            "safety",
            "scoring",
            "synthetic_data_generation",
            "telemetry",
            "tool_runtime",
            "vector_io",
        )
    },
}


class _NoSecurity:
    def peer_metadata_for(self, address: str) -> None:
        return None


@pytest.mark.parametrize("service", sorted(PROCESSES))
def test_a_service_serves_on_uvloop(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    module = importlib.import_module(PROCESSES[service])
    monkeypatch.setattr(sys, "argv", ["llama-mesh", "--distribution", "local-cpu"])
    monkeypatch.setattr(os, "environ", os.environ.copy())  # a main may set variables for its process
    # the process-wide set-up is other tests' subject (and global state): only the loop is looked at here
    monkeypatch.setattr(entrypoint.transport_security, "configure", lambda config, service: None)
    monkeypatch.setattr(entrypoint.transport_security, "process_security", lambda: _NoSecurity())
    monkeypatch.setattr(entrypoint.transport_security, "mesh_channel_credentials", lambda config, service: None)
    monkeypatch.setattr(entrypoint, "setup_tracing", lambda *args: None)
    monkeypatch.setattr(entrypoint, "setup_metrics", lambda *args: None)
    seen: dict[str, object] = {}

    async def serve(config: RunConfig, args: argparse.Namespace) -> None:
        seen["loop"] = asyncio.get_running_loop()
        seen["service"] = args.service

    monkeypatch.setattr(module, "serve", serve)
    policy = asyncio.get_event_loop_policy()
    try:
        module.main()
    finally:  # a main that set a loop policy of its own must not decide the next case's loop
        asyncio.set_event_loop_policy(policy)
    assert seen["service"] == service
    assert isinstance(seen["loop"], uvloop.Loop)
