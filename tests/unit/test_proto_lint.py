"""The contracts pass `buf lint` (buf.yaml: buf's STANDARD rules, AIP-style responses) and `buf breaking` against the
committed baseline image (tools/proto-baseline.binpb), as `make lint` runs them; and the breaking check does catch a
change that breaks the wire."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUF = Path(sys.executable).parent / "buf"
BASELINE = ROOT / "tools" / "proto-baseline.binpb"


def _buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_buf_lint_passes() -> None:
    result = _buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_the_baseline() -> None:
    result = _buf("breaking", "--against", str(BASELINE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaking_check_catches_a_renumbered_field(tmp_path: Path) -> None:
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    proto = tmp_path / "protos" / "llama" / "common" / "v1" / "stream_error.proto"
    text = proto.read_text()
    assert "int32 code = 1;" in text
    proto.write_text(text.replace("int32 code = 1;", "int32 code = 4;"))
    result = _buf("breaking", "--against", str(BASELINE), cwd=tmp_path)
    assert result.returncode != 0 and "StreamError" in result.stdout
