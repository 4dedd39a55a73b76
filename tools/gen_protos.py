"""Generate the Python stubs (messages, services, .pyi) from protos/ into one package tree.

    python tools/gen_protos.py [OUT_DIR]    (default: gen/python)

The output is committed and never hand-edited; tests/test_generated_stubs.py proves it matches protos/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DEFAULT_OUT = ROOT / "gen" / "python"


def generate(out_dir: Path) -> None:
    """Write the generated tree for every .proto under protos/ into out_dir (replacing its `llama` package)."""
    proto_files = sorted(str(path.relative_to(PROTOS)) for path in PROTOS.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{Path(protoc.__file__).parent / '_proto'}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--pyi_out={tmp}",
            *proto_files,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        for package_dir in [Path(tmp), *Path(tmp).rglob("*")]:
            if package_dir.is_dir() and package_dir != Path(tmp):
                (package_dir / "__init__.py").touch()
        target = out_dir / "llama"
        if target.exists():
            shutil.rmtree(target)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(tmp) / "llama", target)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
