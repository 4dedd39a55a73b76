"""`client.synthetic_data`: candidates written by a model, scored and filtered, as rows ready for fine-tuning; sync
and async.

    reply = client.synthetic_data.synthesize(
        ["Name a fruit.", {"messages": [{"role": "user", "content": "2+2?"}], "expected_answer": "4"}],
        model="smollm2-135m-instruct", num_candidates=4, filtering_function="top_k", k=2, seed=7, max_tokens=32)
    for row in reply.synthetic_data: ...          # dialog rows of the kept candidates
    for event in client.synthetic_data.stream([...], ...):   # progress messages, then the result
        ...

A dialog is a string (one user message), a list of messages (dicts or protos, see `conversions.to_message`), a dict
{"messages": [...], "expected_answer": "..."} (one JSONL line of `llama-mesh sdg generate --dialogs`), or a Dialog.
Scorer: `scoring_function=` (with optional `scoring_params=`), or `judge_model=` / `judge_prompt=` for the
judge-logprobs scorer; neither: the service's default.
"""

# ruff: noqa: ASYNC109 - `timeout` is the gRPC deadline handed to the call, named as grpc.aio names it.

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from google.protobuf import json_format

from llama.common.v1 import resources_pb2 as res
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2 as pb
from llama.synthetic_data_generation.v1 import synthetic_data_generation_pb2_grpc
from llama_mesh.client.conversions import copied, enum_value, sampling_params, to_messages
from llama_mesh.client.transport import AsyncTransport, Transport

DialogLike = str | pb.Dialog | Mapping[str, Any] | Iterable[Any]
_SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "top_k", "stop", "repetition_penalty")


def to_dialog(dialog: DialogLike) -> pb.Dialog:
    if isinstance(dialog, pb.Dialog):
        return copied(dialog)
    if isinstance(dialog, Mapping):
        unknown = set(dialog) - {"messages", "expected_answer"}
        if unknown or "messages" not in dialog:
            raise ValueError(
                f"a dialog object holds 'messages' and optionally 'expected_answer'; got {', '.join(sorted(dialog))}"
            )
        return pb.Dialog(
            messages=to_messages(dialog["messages"]), expected_answer=str(dialog.get("expected_answer") or "")
        )
    return pb.Dialog(messages=to_messages(dialog))


def _scorer(options: dict[str, Any]) -> pb.Scorer | None:
    function = options.pop("scoring_function", None)
    params = options.pop("scoring_params", None)
    judge_model = options.pop("judge_model", None)
    judge_prompt = options.pop("judge_prompt", None)
    if function and (judge_model or judge_prompt):
        raise ValueError("give scoring_function or judge_model / judge_prompt, not both")
    if function:
        scorer = pb.Scorer(scoring_function=pb.ScoringFunctionScorer(scoring_function_id=function))
        if params is not None:
            parsed = (
                params
                if isinstance(params, res.ScoringFunctionParams)
                else json_format.ParseDict(dict(params), res.ScoringFunctionParams())
            )
            scorer.scoring_function.params.CopyFrom(parsed)
        return scorer
    if judge_model or judge_prompt:
        return pb.Scorer(
            judge_logprobs=pb.JudgeLogprobsScorer(judge_model=judge_model or "", prompt_template=judge_prompt or "")
        )
    return None


def synthesize_request(dialogs: Iterable[DialogLike], **options: Any) -> pb.SynthesizeDataRequest:
    """The request from dialogs and keyword options: model, filtering_function (a name such as "top_k" or a
    number), k, p, threshold, num_candidates, seed, the sampling keywords of `conversions.sampling_params`
    (max_tokens, temperature, top_p, top_k, stop, repetition_penalty), the scorer (see the module), append_to
    (a dataset id) and append_format ("dialog" or "preference_pairs")."""
    options = dict(options)
    items = [dialogs] if isinstance(dialogs, str) else list(dialogs)
    request = pb.SynthesizeDataRequest(
        dialogs=[to_dialog(dialog) for dialog in items], model=options.pop("model", None) or ""
    )
    function = options.pop("filtering_function", None)
    if function is not None:
        request.filtering_function = enum_value(pb.FilteringFunction, function, "FILTERING_FUNCTION_")
    for name in ("k", "p", "threshold", "num_candidates", "seed"):
        value = options.pop(name, None)
        if value is not None:
            setattr(request, name, value)
    sampling = {key: options.pop(key) for key in _SAMPLING_KEYS if options.get(key) is not None}
    if sampling:
        request.sampling_params.CopyFrom(sampling_params(**sampling))
    scorer = _scorer(options)
    if scorer is not None:
        request.scorer.CopyFrom(scorer)
    append_to = options.pop("append_to", None)
    if append_to:
        request.append_to_dataset_id = append_to
    append_format = options.pop("append_format", None)
    if append_format is not None:
        request.append_format = enum_value(pb.OutputFormat, append_format, "OUTPUT_FORMAT_")
    leftover = {key for key, value in options.items() if value is not None}
    if leftover:
        raise TypeError(f"unknown options: {', '.join(sorted(leftover))}")
    return request


class SyntheticData:
    """SyntheticDataGenerationService calls through the gateway (blocking)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._stub = synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub(transport.channel)

    def synthesize(
        self, dialogs: Iterable[DialogLike], *, timeout: float | None = None, **options: Any
    ) -> pb.SynthesizeDataResponse:
        """Generate, score and filter within the call; see `synthesize_request` for the options."""
        return self._transport.unary(self._stub.SynthesizeData, synthesize_request(dialogs, **options), timeout)

    def stream(
        self, dialogs: Iterable[DialogLike], *, timeout: float | None = None, **options: Any
    ) -> Iterator[pb.StreamSynthesizeDataResponse]:
        """The same, as progress messages and then one `result`; stopping early cancels the work."""
        return self._transport.stream(self._stub.StreamSynthesizeData, synthesize_request(dialogs, **options), timeout)


class AsyncSyntheticData:
    """The async flavour of `SyntheticData`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport
        self._stub = synthetic_data_generation_pb2_grpc.SyntheticDataGenerationServiceStub(transport.channel)

    async def synthesize(
        self, dialogs: Iterable[DialogLike], *, timeout: float | None = None, **options: Any
    ) -> pb.SynthesizeDataResponse:
        return await self._transport.unary(self._stub.SynthesizeData, synthesize_request(dialogs, **options), timeout)

    def stream(
        self, dialogs: Iterable[DialogLike], *, timeout: float | None = None, **options: Any
    ) -> AsyncIterator[pb.StreamSynthesizeDataResponse]:
        return self._transport.stream(self._stub.StreamSynthesizeData, synthesize_request(dialogs, **options), timeout)
