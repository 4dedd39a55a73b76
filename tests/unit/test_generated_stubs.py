"""The committed stubs in gen/python are exactly what tools/gen_protos.py makes from protos/."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _files(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts}


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_protos.py"), str(tmp_path)], check=True)
    committed, fresh = ROOT / "gen" / "python" / "llama", tmp_path / "llama"
    assert _files(committed) == _files(fresh), "run `make protos`: the set of generated files differs"
    stale = [str(path) for path in _files(fresh) if not filecmp.cmp(committed / path, fresh / path, shallow=False)]
    assert not stale, f"run `make protos`: these generated files are stale: {stale}"
