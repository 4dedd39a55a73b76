"""Whole inference request protos from a model id, the input and keyword parameters (shared by sync and async).

Keyword parameters of the chat requests:
  sampling: max_tokens, temperature, top_p, top_k, stop, seed, repetition_penalty (see `conversions.sampling_params`),
            or sampling_params=<SamplingParams proto or dict of those keywords> instead of them;
  tools=[{"name", "description", "parameters"}...], tool_choice="auto"|"required"|"none"|<tool name>,
  tool_prompt_format="json"|"function_tag"|"python_list" (not for batches),
  response_format={"json_schema": {...}} or {"grammar": "..."}, logprobs=<alternatives per token, 0..20>.
Completion requests take the sampling keywords, response_format and logprobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llama.common.v1 import sampling_pb2
from llama.inference.v1 import inference_pb2
from llama_mesh.client import conversions as conv

_CHAT_KEYS = frozenset({"sampling_params", "tools", "tool_choice", "tool_prompt_format", "response_format", "logprobs"})
_COMPLETION_KEYS = frozenset({"sampling_params", "response_format", "logprobs"})
_BATCH_KEYS = _CHAT_KEYS - {"tool_prompt_format"}


def _check_keys(params: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(params) - allowed - conv.SAMPLING_KEYS
    if unknown:
        expected = ", ".join(sorted(allowed | conv.SAMPLING_KEYS))
        raise TypeError(f"{what} got unexpected parameters: {', '.join(sorted(unknown))}; expected: {expected}")


def _sampling(params: Mapping[str, Any]) -> sampling_pb2.SamplingParams | None:
    """The request's SamplingParams from the sampling keywords or an explicit sampling_params; None if neither."""
    keywords = {key: params[key] for key in conv.SAMPLING_KEYS if params.get(key) is not None}
    explicit = params.get("sampling_params")
    if explicit is not None and keywords:
        raise TypeError(f"give sampling_params or the keywords {', '.join(sorted(keywords))}, not both")
    if isinstance(explicit, sampling_pb2.SamplingParams):
        return conv.copied(explicit)
    if isinstance(explicit, Mapping):
        return conv.sampling_params(**explicit)
    if explicit is not None:
        raise TypeError(f"sampling_params must be a SamplingParams or a dict, got {type(explicit).__name__}")
    return conv.sampling_params(**keywords) if keywords else None


def _common_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields that every inference request but embeddings shares."""
    fields: dict[str, Any] = {}
    sampling = _sampling(params)
    if sampling is not None:
        fields["sampling_params"] = sampling
    if params.get("response_format") is not None:
        fields["response_format"] = conv.to_response_format(params["response_format"])
    logprobs = conv.to_logprobs(params.get("logprobs"))
    if logprobs is not None:
        fields["logprobs"] = logprobs
    return fields


def _tool_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    tools = conv.to_tools(params.get("tools"))
    if tools:
        fields["tools"] = tools
    if params.get("tool_choice") is not None:
        fields["tool_choice"] = conv.to_tool_choice(params["tool_choice"], [tool.name for tool in tools])
    if params.get("tool_prompt_format") is not None:
        fields["tool_prompt_format"] = conv.to_tool_prompt_format(params["tool_prompt_format"])
    return fields


def chat_fields(model_id: str, messages: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a (Stream)ChatCompletionRequest, checked, as keyword arguments for the proto's constructor."""
    _check_keys(params, _CHAT_KEYS, "chat_completion()")
    return {
        "model_id": model_id,
        "messages": conv.to_messages(messages),
        **_common_fields(params),
        **_tool_fields(params),
    }


def chat_completion_request(model_id: str, messages: Any, **params: Any) -> inference_pb2.ChatCompletionRequest:
    """A ChatCompletionRequest; `messages` as in `conversions.to_messages`, `params` as in this module's doc."""
    return inference_pb2.ChatCompletionRequest(**chat_fields(model_id, messages, params))


def stream_chat_completion_request(
    model_id: str, messages: Any, **params: Any
) -> inference_pb2.StreamChatCompletionRequest:
    """A StreamChatCompletionRequest (the same fields as `chat_completion_request`)."""
    return inference_pb2.StreamChatCompletionRequest(**chat_fields(model_id, messages, params))


def completion_fields(model_id: str, content: conv.ContentLike, params: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(params, _COMPLETION_KEYS, "completion()")
    return {"model_id": model_id, "content": conv.to_content(content), **_common_fields(params)}


def completion_request(model_id: str, content: conv.ContentLike, **params: Any) -> inference_pb2.CompletionRequest:
    """A CompletionRequest for raw text (or interleaved content) to continue."""
    return inference_pb2.CompletionRequest(**completion_fields(model_id, content, params))


def stream_completion_request(
    model_id: str, content: conv.ContentLike, **params: Any
) -> inference_pb2.StreamCompletionRequest:
    return inference_pb2.StreamCompletionRequest(**completion_fields(model_id, content, params))


def batch_chat_completion_request(
    model_id: str, conversations: Iterable[Any], **params: Any
) -> inference_pb2.BatchChatCompletionRequest:
    """A BatchChatCompletionRequest: each conversation as `messages` of `chat_completion_request`."""
    _check_keys(params, _BATCH_KEYS, "batch_chat_completion()")
    converted = [inference_pb2.ChatConversation(messages=conv.to_messages(messages)) for messages in conversations]
    if not converted:
        raise ValueError("a batch needs at least one conversation")
    return inference_pb2.BatchChatCompletionRequest(
        model_id=model_id, conversations=converted, **_common_fields(params), **_tool_fields(params)
    )


def embeddings_request(
    model_id: str,
    contents: str | Sequence[str],
    *,
    output_dimension: int | None = None,
    task_type: str | int | None = None,
    text_truncation: str | int | None = None,
) -> inference_pb2.EmbeddingsRequest:
    """An EmbeddingsRequest; `contents` one text or several; task_type "query"|"document";
    text_truncation "none"|"end"|"start"."""
    texts = [contents] if isinstance(contents, str) else list(contents)
    if not texts:
        raise ValueError("embeddings need at least one text")
    if not all(isinstance(text, str) for text in texts):
        raise TypeError("embedding contents must be strings")
    request = inference_pb2.EmbeddingsRequest(model_id=model_id, contents=texts)
    if output_dimension is not None:
        request.output_dimension = output_dimension
    if task_type is not None:
        request.task_type = conv.enum_value(inference_pb2.EmbeddingTaskType, task_type, "EMBEDDING_TASK_TYPE_")
    if text_truncation is not None:
        request.text_truncation = conv.enum_value(inference_pb2.TextTruncation, text_truncation, "TEXT_TRUNCATION_")
    return request
