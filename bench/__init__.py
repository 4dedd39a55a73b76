"""Benchmarks for llama-mesh: gateway forwarding overhead and mesh vs in-process engines (`python -m bench.run_all`)."""
