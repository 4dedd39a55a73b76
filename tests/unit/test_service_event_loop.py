"""Every service process serves on uvloop's event loop (llama_mesh/runtime/entrypoint.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import pytest
import uvloop

from llama_mesh.runtime import entrypoint
from llama_mesh.runtime.config import RunConfig


class _NoSecurity:
    def peer_metadata_for(self, address: str) -> None:
        return None


@pytest.mark.parametrize("service", ["gateway", "inference", "openai_edge"])
def test_a_service_serves_on_uvloop(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    monkeypatch.setattr(sys, "argv", ["llama-mesh", "--distribution", "local-cpu", "--service", service])
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

    entrypoint.run_main("test", service, serve)
    assert seen["service"] == service
    assert isinstance(seen["loop"], uvloop.Loop)
