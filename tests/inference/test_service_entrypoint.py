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


def test_llama_cpp_threads_spin_only_briefly_while_they_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    environment = environment_at_start(monkeypatch)
    assert environment["GOMP_SPINCOUNT"] == entrypoint.OPENMP_SPIN_COUNT
    assert "OMP_WAIT_POLICY" not in environment  # it would override the spin count


@pytest.mark.parametrize("name, value", [("OMP_WAIT_POLICY", "active"), ("GOMP_SPINCOUNT", "infinite")])
def test_an_operators_own_wait_setting_is_kept(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv(name, value)
    environment = environment_at_start(monkeypatch)
    assert environment[name] == value
    other = "GOMP_SPINCOUNT" if name == "OMP_WAIT_POLICY" else "OMP_WAIT_POLICY"
    assert other not in environment  # nothing of ours beside the operator's choice
