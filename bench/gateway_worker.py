"""One of several gateway processes sharing one port (SO_REUSEPORT), for bench.gateway_ceiling only.

python -m bench.gateway_worker --distribution <run.yaml> --service gateway
"""

from __future__ import annotations

import functools

from gateway.__main__ import serve
from llama_mesh.runtime.entrypoint import run_main

if __name__ == "__main__":
    run_main("llama-mesh gateway worker (benchmark)", "gateway", functools.partial(serve, reuse_port=True))
