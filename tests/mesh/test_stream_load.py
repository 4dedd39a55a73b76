"""Load through the gateway (bench/stream_load.py, shortened): 64 chat streams at once all end without an error, and
the gateway holds no memory per call afterwards. One short stream each: the engine answers them one after another on
a small CPU, and what is tested is the gateway, not the engine's speed (`make bench`-style runs use --seconds)."""

from __future__ import annotations

from pathlib import Path

from bench._common import running_mesh
from bench.stream_load import load

STREAMS = 64
# Generous: the gateway's memory after the load compared with after a warm-up round; a leak per call over hundreds of
# streams would pass it, a few MiB of allocator noise would not fail it.
MAX_GROWTH_KIB = 48 * 1024


def test_64_concurrent_streams_end_without_errors_and_leave_the_gateway_flat(tmp_path: Path) -> None:
    with running_mesh("local-cpu", tmp_path) as mesh:
        result = load(mesh.gateway_address, mesh.processes["gateway"].pid, STREAMS, seconds=0, max_tokens=2)
    assert result.errors == []
    assert result.completed >= STREAMS and result.chunks >= result.completed
    assert result.gateway_rss_after_kib - result.gateway_rss_warm_kib < MAX_GROWTH_KIB
