"""Write the distributions the Kubernetes manifests carry, from distributions/local-cpu/run.yaml:

- deploy/k8s/base/run.yaml: local-cpu with vector_io on the Qdrant StatefulSet, directories at the pods' mounts;
- deploy/k8s/overlays/gpu/run.yaml: that, with vLLM on GPUs serving a model directory in place of llama.cpp (the
  vLLM provider block of distributions/gpu-vllm/run.yaml, settings and comments included).

`make k8s-distribution` runs this after local-cpu changes (`make validate-k8s` says when the services differ). The
edits are made on the text, so that local-cpu's comments and layout carry over; each fails loudly when the part of
local-cpu it rewrites has changed shape.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_CPU = REPO / "distributions" / "local-cpu" / "run.yaml"
BASE = REPO / "deploy" / "k8s" / "base" / "run.yaml"
GPU = REPO / "deploy" / "k8s" / "overlays" / "gpu" / "run.yaml"
GPU_VLLM = REPO / "distributions" / "gpu-vllm" / "run.yaml"

GENERATED = "# Written by deploy/k8s/distribution.py (make k8s-distribution) from distributions/local-cpu/run.yaml.\n"
CLUSTER_COMMENT = (
    "# local-cpu on Kubernetes (the ConfigMap llama-mesh-distribution): the same services and resources, with\n"
    "# vector_io on the Qdrant StatefulSet so that vector_io pods hold no state. Addresses: ConfigMap llama-mesh-env.\n"
)
CLUSTER_HEADER = (
    CLUSTER_COMMENT
    + """version: 1
distribution: local-cpu-k8s
data_dir: ${env.LLAMA_MESH_DATA_DIR:/data}
cache_dir: ${env.LLAMA_MESH_CACHE_DIR:/cache}
"""
)
QDRANT_SERVER = """        provider_type: inline::qdrant
        # The Qdrant server (deploy/k8s/base/qdrant.yaml), over gRPC.
        config:
          engine: server
          url: ${env.LLAMA_MESH_QDRANT_URL:http://qdrant:6333}
          prefer_grpc: true
"""
GPU_HEADER = (
    "# local-cpu on Kubernetes with vLLM on NVIDIA GPUs for chat (tensor parallel over a pod's GPUs) and embeddings\n"
    "# on the same GPUs; the chat model is a Hugging Face directory on the models volume (overlays/gpu).\n"
)
CPU_CHAT_MODEL = ("smollm2-135m-instruct", "llama-cpp", "SmolLM2-135M-Instruct")
GPU_CHAT_MODEL = ("meta-llama/Llama-3.1-8B-Instruct", "vllm", "Llama-3.1-8B-Instruct")


class ShapeChanged(Exception):
    """distributions/local-cpu/run.yaml no longer has a part this script rewrites."""


def replace_once(text: str, pattern: str, replacement: str, what: str) -> str:
    new, count = re.subn(pattern, lambda match: match.expand(replacement), text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise ShapeChanged(f"distributions/local-cpu/run.yaml: cannot find {what}; update deploy/k8s/distribution.py")
    return new


def cluster(local_cpu: str) -> str:
    text = replace_once(local_cpu, r"\A(#.*\n)*version: 1\n(.*\n)*?cache_dir: .*\n", CLUSTER_HEADER, "the header")
    text = replace_once(
        text, r"^        provider_type: inline::qdrant\n(        #.*\n)*        config:\n(          .*\n)*",
        QDRANT_SERVER, "the qdrant provider's config",
    )  # fmt: skip
    return GENERATED + text


def vllm_provider(gpu_vllm: str) -> str:
    """The vLLM provider block of distributions/gpu-vllm/run.yaml, as it is written there."""
    match = re.search(r"^      - provider_id: vllm\n(        .*\n)*", gpu_vllm, flags=re.MULTILINE)
    if match is None:
        raise ShapeChanged("distributions/gpu-vllm/run.yaml: no vllm provider; update deploy/k8s/distribution.py")
    return match.group(0)


def gpu(cluster_text: str, gpu_vllm: str) -> str:
    text = cluster_text.replace(CLUSTER_COMMENT, GPU_HEADER, 1).replace("local-cpu-k8s", "gpu-k8s", 1)
    provider = vllm_provider(gpu_vllm).replace("\\", "\\\\")  # a replacement template: backslashes stay
    text = replace_once(text, r"^      - provider_id: llama-cpp\n(        .*\n)*", provider, "the llama-cpp provider")
    text = replace_once(
        text, r"^(      - provider_id: sentence-transformers\n        provider_type: .*\n        config:\n)",
        r"\1          device: ${env.LLAMA_MESH_EMBEDDING_DEVICE:cuda}\n", "the sentence-transformers provider",
    )  # fmt: skip
    text = replace_once(
        text, r"^(          #.*\n)*          backend: onnx\n",
        "          # torch: the model on the GPU (ONNX Runtime runs it on the CPU only)\n          backend: torch\n",
        "the sentence-transformers backend",
    )  # fmt: skip
    cpu_model = "      provider_id: {1}\n      provider_resource_id: {2}\n".format(*CPU_CHAT_MODEL)
    gpu_model = "      provider_id: {1}\n      provider_resource_id: {2}\n".format(*GPU_CHAT_MODEL)
    text = replace_once(text, re.escape(cpu_model), gpu_model, "the chat model's registration")
    return text.replace(CPU_CHAT_MODEL[0], GPU_CHAT_MODEL[0])


def main() -> None:
    cluster_text = cluster(LOCAL_CPU.read_text())
    BASE.write_text(cluster_text)
    GPU.write_text(gpu(cluster_text, GPU_VLLM.read_text()))
    print(f"wrote {BASE.relative_to(REPO)} and {GPU.relative_to(REPO)}")


if __name__ == "__main__":
    main()
