"""`python -m services.<api>` and `python -m gateway`: parse the common flags, set up logging and tracing, serve.

Every process serves on uvloop's event loop: grpc.aio wakes the loop from its poller thread for every message sent or
received, and each wake-up and task switch costs less on uvloop than on asyncio's own loop (bench/README.md: ~10%
less serving CPU per streamed token with every token sent alone)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Awaitable, Callable

import uvloop

from llama_mesh.runtime import transport_security
from llama_mesh.runtime.config import ConfigError, RunConfig, distribution_path, load_run_config
from llama_mesh.runtime.metrics import setup_metrics
from llama_mesh.runtime.server import StartupError
from llama_mesh.runtime.tracing import setup_tracing

log = logging.getLogger(__name__)


def parse_args(description: str, default_service: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--distribution",
        "-d",
        default=os.environ.get("LLAMA_MESH_DISTRIBUTION", "local-cpu"),
        help="distribution name (distributions/<name>/run.yaml) or path to a run.yaml",
    )
    parser.add_argument("--service", default=default_service, help="which service entry of the run.yaml to serve")
    parser.add_argument("--log-level", default=os.environ.get("LLAMA_MESH_LOG_LEVEL", "INFO"))
    return parser.parse_args()


def run_main(
    description: str, default_service: str, serve: Callable[[RunConfig, argparse.Namespace], Awaitable[None]]
) -> None:
    """Load the distribution, then run `serve` until it returns; exit 2 with a one-line message on bad config."""
    args = parse_args(description, default_service)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {args.service} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_run_config(distribution_path(args.distribution))
        transport_security.configure(config, args.service)
        security = transport_security.process_security()
        setup_tracing(
            args.service,
            config.telemetry,
            transport_security.mesh_channel_credentials(config, args.service),
            security.peer_metadata_for(config.telemetry.otlp_endpoint),
        )
        setup_metrics(args.service, config)
        uvloop.run(serve(config, args))
    except (ConfigError, StartupError) as exc:
        log.error("%s", exc)
        raise SystemExit(2) from exc
    except KeyboardInterrupt:
        pass
