"""Load: many concurrent chat streams through the gateway for a bounded time. Every stream must end without an error,
and the gateway's resident memory after the load should be what it was after a warm-up round (nothing kept per call).

    python -m bench.stream_load [--streams 64] [--seconds 60] [--max-tokens 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc

from bench._common import chat_request, print_table, running_mesh, temp_root
from llama.inference.v1 import inference_pb2_grpc


@dataclass
class LoadResult:
    streams: int
    seconds: float
    completed: int = 0
    chunks: int = 0
    errors: list[str] = field(default_factory=list)
    gateway_rss_warm_kib: int = 0
    gateway_rss_after_kib: int = 0


def resident_kib(pid: int) -> int:
    """The resident memory of process `pid`, in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


STREAM_TIMEOUT_S = 3600.0  # a stream queued behind 63 others on a busy CPU waits long; it must not time out


async def _streams(address: str, streams: int, seconds: float, max_tokens: int, result: LoadResult) -> None:
    """`streams` tasks at once, each opening chat streams one after another until `seconds` have passed (just one
    each when `seconds` is 0)."""
    request = chat_request(prompt="Hi.", max_tokens=max_tokens)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        until = time.monotonic() + seconds

        async def one_stream_after_another() -> None:
            first = True
            while first or time.monotonic() < until:
                first = False
                try:
                    async for _ in stub.StreamChatCompletion(request, timeout=STREAM_TIMEOUT_S):
                        result.chunks += 1
                    result.completed += 1
                except grpc.aio.AioRpcError as error:
                    result.errors.append(f"{error.code().name}: {error.details()}")

        await asyncio.gather(*(one_stream_after_another() for _ in range(streams)))


def load(
    address: str, gateway_pid: int, streams: int, seconds: float, max_tokens: int, warmup_streams: int = 8
) -> LoadResult:
    """A warm-up round (`warmup_streams` at once), the gateway's memory, the load, the gateway's memory again."""
    warm = LoadResult(warmup_streams, 0)
    asyncio.run(_streams(address, warmup_streams, 0, max_tokens, warm))
    result = LoadResult(streams, seconds, errors=warm.errors)
    result.gateway_rss_warm_kib = resident_kib(gateway_pid)
    asyncio.run(_streams(address, streams, seconds, max_tokens, result))
    result.gateway_rss_after_kib = resident_kib(gateway_pid)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--warmup-streams", type=int, default=8)
    parser.add_argument("--distribution", default="local-cpu")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    with temp_root("stream-load") as root, running_mesh(args.distribution, root) as mesh:
        result = load(
            mesh.gateway_address,
            mesh.processes["gateway"].pid,
            args.streams,
            args.seconds,
            args.max_tokens,
            args.warmup_streams,
        )
    growth = result.gateway_rss_after_kib - result.gateway_rss_warm_kib
    print_table(
        f"{args.streams} concurrent chat streams through the gateway for {args.seconds:g}s",
        ["streams completed", "chunks", "errors", "gateway RSS warm (MiB)", "after (MiB)", "growth (MiB)"],
        [
            [
                result.completed,
                result.chunks,
                len(result.errors),
                f"{result.gateway_rss_warm_kib / 1024:.1f}",
                f"{result.gateway_rss_after_kib / 1024:.1f}",
                f"{growth / 1024:+.1f}",
            ]
        ],
    )
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(result), indent=2))
    if result.errors:
        raise SystemExit(f"{len(result.errors)} streams failed, e.g. {result.errors[0]}")


if __name__ == "__main__":
    main()
