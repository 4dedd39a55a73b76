"""Derived model files (a converted, re-encoded or exported model), built once into a cache directory.

Each result is a directory `<cache_dir>/<name>`, where the name carries a hash of everything the result depends on.
It is built in a temporary directory beside it and renamed into place at the end, so the final directory exists only
when complete: an interrupted build leaves no half model (at most a `.tmp-` directory, removed by a later build of the
same name once it is an hour old). Two processes building the same result at once both build; the first rename wins.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

STALE_WORK_DIR_S = 3600


class ModelConversionError(Exception):
    pass


def model_cache_dir(cache_dir: str) -> str:
    """Where a distribution's derived models live: `models` under its `cache_dir`."""
    return str(Path(cache_dir).expanduser() / "models")


def cached_build(
    cache_dir: str | Path, name: str, build: Callable[[Path], None], is_complete: Callable[[Path], bool]
) -> Path:
    """`<cache_dir>/<name>`, made by `build(work_dir)` unless it is there and complete already. Blocking."""
    cache = Path(cache_dir).expanduser()
    target = cache / name
    if is_complete(target):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale_work_dirs(cache, name)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache))
    try:
        build(work)
        os.chmod(work, 0o755)  # mkdtemp makes it private
        if not is_complete(work):
            raise ModelConversionError(f"building {name} did not produce a complete result")
        try:
            os.rename(work, target)
        except OSError:
            if not is_complete(target):  # an incomplete leftover (never made by this module): replace it
                shutil.rmtree(target, ignore_errors=True)
                os.rename(work, target)
            # else: another process finished the same build first; keep its copy
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def content_key(files: Iterable[Path], salt: str) -> str:
    """A short hash of the files' bytes (in the order given) and of `salt` (what else the result depends on)."""
    digest = hashlib.sha256(salt.encode())
    for path in files:
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


def _remove_stale_work_dirs(cache: Path, name: str) -> None:
    """Remove what interrupted builds left; a recent one may be another process building right now."""
    for leftover in cache.glob(f".{name}.tmp-*"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_WORK_DIR_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass
