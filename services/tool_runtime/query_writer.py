"""RAG's LLM query generator: a model rewrites the request's content into a search query (through the gateway)."""

from __future__ import annotations

from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2
from llama.inference.v1 import inference_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from llama_mesh.runtime.errors import FailedPrecondition, InvalidArgument
from llama_mesh.runtime.gateway_client import GatewayClient

FIELD = "query_config.query_generator_config.llm"
PLACEHOLDER = "{messages}"
DEFAULT_TEMPLATE = (
    "Write a short search query that would find passages answering the text below. Reply with the query only.\n\n"
    f"{PLACEHOLDER}"
)
MAX_QUERY_TOKENS = 64


class LLMQueryWriter:
    def __init__(self, gateway: GatewayClient) -> None:
        self._gateway = gateway  # the RAG provider's; closed with it

    async def write(self, generator: pb.LLMQueryGenerator, text: str, time_left: float | None) -> str:
        if not generator.model:
            raise InvalidArgument(f"{FIELD}.model", "is required: a registered LLM")
        template = generator.template or DEFAULT_TEMPLATE
        if PLACEHOLDER not in template:
            raise InvalidArgument(f"{FIELD}.template", f"must contain {PLACEHOLDER}, where the content goes")
        prompt = messages_pb2.Message(
            role=messages_pb2.ROLE_USER, content=content_pb2.Content(text=template.replace(PLACEHOLDER, text))
        )
        request = inference_pb2.ChatCompletionRequest(
            model_id=generator.model,
            messages=[prompt],
            sampling_params=sampling_pb2.SamplingParams(max_tokens=MAX_QUERY_TOKENS),
        )
        reply = await self._gateway.call(self._gateway.inference.ChatCompletion, request, time_left)
        query = reply.completion_message.content.text.strip().strip('"').strip()
        if not query:
            raise FailedPrecondition(
                f"model {generator.model!r} wrote an empty search query", reason="EMPTY_GENERATED_QUERY"
            )
        return query
