"""Synthetic data through the mesh vs the same generations called on the inference service directly.

Starts gateway + inference + synthetic_data_generation of local-cpu on free loopback ports. Per round:
  - mesh: one SynthesizeData call (D dialogs x C candidates, filter NONE, the default judge-logprobs scorer) through
    the gateway; candidates/s over the whole call, and over its generation phase alone (statistics.seconds);
  - direct: the same D x C chat completions (same seeds, sampling and max_tokens, as many at once as the service's
    max_concurrency) sent straight to the inference service with the resolved model in metadata, as the gateway
    forwards them; candidates/s.
Rounds alternate mesh and direct. The judge calls (one token each) are the mesh side's extra work; the generation
phase is the like-for-like comparison.

    python -m bench.synthetic_data --dialogs 4 --candidates 4 --rounds 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf import json_format

from bench._common import MODEL_ID, interleaved, log, print_table, ratio, running_mesh, summarize, temp_root, write_json
from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2, registry_pb2_grpc
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2_grpc
from llama_mesh.resources import resource_metadata
from llama_mesh.runtime.mesh_identity import peer_metadata
from services.synthetic_data_generation.candidates import Candidate, plan_candidates, sampling_of
from services.synthetic_data_generation.config import SynthesisConfig

PROMPTS = [
    "Name a fruit and say why you like it.",
    "Give one tip for learning to cook.",
    "Describe the sea in one sentence.",
    "What is a good name for a cat?",
]


def run(dialogs: int, candidates: int, rounds: int, max_tokens: int) -> dict:
    config = SynthesisConfig()  # the service's defaults (local-cpu sets max_concurrency 2, its default too)
    request = pb.SynthesizeDataRequest(
        dialogs=[
            pb.Dialog(
                messages=[
                    messages_pb2.Message(
                        role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=PROMPTS[i % len(PROMPTS)])
                    )
                ]
            )
            for i in range(dialogs)
        ],
        model=MODEL_ID,
        num_candidates=candidates,
        seed=1,
        sampling_params=sampling_pb2.SamplingParams(max_tokens=max_tokens),
    )
    sampling = sampling_of(request, config)
    planned = plan_candidates(dialogs, candidates, request.seed)
    with temp_root("sdg") as root, running_mesh("local-cpu", root, also=("synthetic_data_generation",)) as mesh:
        inference_address = mesh.config.service("inference").address
        log(f"mesh up: gateway {mesh.gateway_address}, inference {inference_address}")
        with (
            grpc.insecure_channel(mesh.gateway_address) as gw,
            grpc.insecure_channel(inference_address) as direct,
            ThreadPoolExecutor(config.max_concurrency) as pool,
        ):
            sdg = synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub(gw)
            to_service = inference_pb2_grpc.InferenceServiceStub(direct)
            model = registry_pb2_grpc.RegistryServiceStub(gw).GetModel(
                registry_pb2.GetModelRequest(model_id=MODEL_ID), timeout=10
            )
            # the service serves only the gateway: speak for it with the mesh's secret, as bench/gateway_overhead does
            metadata = (resource_metadata(model), *peer_metadata("gateway", mesh.secret))

            def chat(candidate: Candidate) -> int:
                params = sampling_pb2.SamplingParams()
                params.CopyFrom(sampling)
                params.seed = candidate.seed
                chat_request = inference_pb2.ChatCompletionRequest(
                    model_id=MODEL_ID, messages=request.dialogs[candidate.dialog_index].messages, sampling_params=params
                )
                return to_service.ChatCompletion(chat_request, metadata=metadata, timeout=600).usage.completion_tokens

            log("warm-up")
            sdg.SynthesizeData(
                pb.SynthesizeDataRequest(
                    dialogs=request.dialogs[:1], model=MODEL_ID, sampling_params=request.sampling_params
                ),
                timeout=600,
            )
            total = dialogs * candidates
            mesh_cps: list[float] = []
            generation_cps: list[float] = []
            direct_cps: list[float] = []
            log(
                f"{rounds} rounds of {dialogs} dialogs x {candidates} candidates, max_tokens={max_tokens}, "
                f"{config.max_concurrency} at a time"
            )
            for side, _ in interleaved(2, rounds, 1):
                start = time.perf_counter()
                if side == 0:
                    reply = sdg.SynthesizeData(request, timeout=3600)
                    mesh_cps.append(total / (time.perf_counter() - start))
                    seconds = json_format.MessageToDict(reply.statistics)["seconds"]
                    generation_cps.append(total / max(seconds["generation"], 1e-9))
                else:
                    list(pool.map(chat, planned))
                    direct_cps.append(total / (time.perf_counter() - start))
    return {
        "benchmark": "synthetic_data",
        "distribution": "local-cpu",
        "params": {
            "dialogs": dialogs,
            "candidates": candidates,
            "rounds": rounds,
            "max_tokens": max_tokens,
            "concurrency": config.max_concurrency,
        },
        "candidates_per_s": {
            "mesh_whole_call": summarize(mesh_cps),
            "mesh_generation_phase": summarize(generation_cps),
            "direct_inference": summarize(direct_cps),
        },
    }


def report(results: dict) -> None:
    rates = results["candidates_per_s"]
    rows = [[name, s["n"], s["p50"], s["mean"]] for name, s in rates.items()]
    print_table("Candidates per second", ["measure", "n", "p50", "mean"], rows)
    generation, direct = rates["mesh_generation_phase"], rates["direct_inference"]
    print(
        f"  generation through the mesh / direct p50 x{ratio(generation['p50'], direct['p50']):.3f}; "
        f"whole call (with judge scoring) / direct x{ratio(rates['mesh_whole_call']['p50'], direct['p50']):.3f}"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogs", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="SynthesizeData calls (and as many direct rounds)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.dialogs, args.candidates, args.rounds, args.max_tokens)
    report(results)
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
