"""The inference service's entry point sets up the process before any model loads."""

from __future__ import annotations

import os

import pytest

from services.inference import __main__ as entrypoint


def environment_at_start(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the service runs with (the test process's own is left as it was)."""
    monkeypatch.setattr(os, "environ", os.environ.copy())
    seen: dict[str, str] = {}
    monkeypatch.setattr(entrypoint, "run_main", lambda *args: seen.update(os.environ))
    entrypoint.main()
    return seen


def test_llama_cpp_threads_sleep_while_they_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert "OMP_WAIT_POLICY" not in os.environ
    assert environment_at_start(monkeypatch)["OMP_WAIT_POLICY"] == "passive"


def test_an_operators_wait_policy_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    assert environment_at_start(monkeypatch)["OMP_WAIT_POLICY"] == "active"
