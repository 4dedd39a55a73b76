"""The CI skip guard: a skip for a missing package fails the run under LLAMA_MESH_CI=1, other skips do not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SUITE = """
import pytest

def test_runs():
    pass

def test_compose_only():
    pytest.skip("needs the compose mesh (make test-compose)")

def test_missing_package():
    pytest.importorskip("no_such_package_for_the_ci_guard")
"""


def _run(tmp_path: Path, ci: str, keep: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LLAMA_MESH_CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.ci_skips", "-k", keep, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("ci", "keep", "returncode"),
    [
        ("1", "runs or compose_only or missing_package", 1),
        ("1", "runs or compose_only", 0),
        ("", "runs or compose_only or missing_package", 0),
    ],
)
def test_forbidden_skips_fail_only_in_ci(tmp_path: Path, ci: str, keep: str, returncode: int) -> None:
    result = _run(tmp_path, ci, keep)
    assert result.returncode == returncode, result.stdout + result.stderr
    assert "SKIPPED" in result.stdout  # -rs lists every skip
    if returncode:
        assert "no_such_package_for_the_ci_guard" in result.stdout
