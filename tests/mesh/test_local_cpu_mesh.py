"""The default distribution end to end: real gateway and inference processes, llama.cpp and sentence-transformers."""

from __future__ import annotations

import json
import math
import time

import grpc
import jsonschema
import pytest
from google.protobuf import struct_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from llama.common.v1 import messages_pb2, resources_pb2, sampling_pb2, tools_pb2
from llama.inference.v1 import inference_pb2 as pb
from llama.inference.v1 import inference_pb2_grpc
from llama.inspect.v1 import inspect_pb2, inspect_pb2_grpc
from llama.registry.v1 import registry_pb2
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, greedy, reason_and_field, system, user

EVERY_API_SERVICE = {
    "llama.inference.v1.InferenceService",
    "llama.safety.v1.SafetyService",
    "llama.agents.v1.AgentsService",
    "llama.agents.v1.ResponsesService",
    "llama.agents.v1.ConversationsService",
    "llama.vector_io.v1.VectorIOService",
    "llama.tool_runtime.v1.ToolRuntimeService",
    "llama.datasetio.v1.DatasetIOService",
    "llama.scoring.v1.ScoringService",
    "llama.eval.v1.EvalService",
    "llama.telemetry.v1.TelemetryService",
    "llama.post_training.v1.PostTrainingService",
    "llama.synthetic_data_generation.v1.SyntheticDataGenerationService",
    "llama.registry.v1.RegistryService",
    "llama.inspect.v1.InspectService",
}


@pytest.fixture(scope="module")
def inference(gateway: grpc.Channel) -> inference_pb2_grpc.InferenceServiceStub:
    return inference_pb2_grpc.InferenceServiceStub(gateway)


def test_reflection_lists_every_api(gateway: grpc.Channel) -> None:
    services = set(ProtoReflectionDescriptorDatabase(gateway).get_services())
    assert services >= EVERY_API_SERVICE


def test_unary_chat(inference) -> None:
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(
            model_id=CHAT_MODEL,
            messages=[user("What is the capital of France?")],
            sampling_params=greedy(24),
        )
    )
    message = reply.completion_message
    assert message.role == messages_pb2.ROLE_ASSISTANT
    assert message.content.text.strip()
    assert message.stop_reason in (messages_pb2.STOP_REASON_END_OF_TURN, messages_pb2.STOP_REASON_OUT_OF_TOKENS)
    assert 0 < reply.usage.completion_tokens <= 24
    assert reply.usage.prompt_tokens > 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streamed_chat_matches_its_complete_message(inference) -> None:
    events = list(
        inference.StreamChatCompletion(
            pb.StreamChatCompletionRequest(
                model_id=CHAT_MODEL,
                messages=[user("Write a sentence about the sea.")],
                sampling_params=greedy(32),
            )
        )
    )
    chunks = [event.chunk.text_delta for event in events if event.WhichOneof("event") == "chunk"]
    assert chunks and all(chunks)  # tokens that came together may share a chunk (docs/streaming.md)
    assert events[-1].WhichOneof("event") == "complete"
    complete = events[-1].complete
    assert "".join(chunks) == complete.completion_message.content.text
    assert complete.usage.completion_tokens >= len(chunks)


def test_greedy_chat_is_deterministic(inference) -> None:
    request = pb.ChatCompletionRequest(
        model_id=CHAT_MODEL, messages=[user("Name a color.")], sampling_params=greedy(12)
    )
    first = inference.ChatCompletion(request).completion_message.content.text
    assert inference.ChatCompletion(request).completion_message.content.text == first


def test_json_schema_output_validates(inference) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    schema_struct = struct_pb2.Struct()
    schema_struct.update(schema)
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(
            model_id=CHAT_MODEL,
            messages=[user("Invent a person. Reply in JSON with name and age.")],
            sampling_params=greedy(80),
            response_format=sampling_pb2.ResponseFormat(json_schema=schema_struct),
        )
    )
    jsonschema.validate(json.loads(reply.completion_message.content.text), schema)


WEATHER_TOOL = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def _tool(name: str, description: str, parameters: dict) -> tools_pb2.ToolDefinition:
    struct = struct_pb2.Struct()
    struct.update(parameters)
    return tools_pb2.ToolDefinition(name=name, description=description, parameters=struct)


def test_named_tool_choice_yields_a_parsed_call(inference) -> None:
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(
            model_id=CHAT_MODEL,
            messages=[user("What is the weather in Paris?")],
            sampling_params=greedy(60),
            tools=[
                _tool("get_weather", "Current weather of a city", WEATHER_TOOL),
                _tool("get_time", "Current time", {"type": "object", "properties": {}}),
            ],
            tool_choice=tools_pb2.ToolChoice(tool_name="get_weather"),
        )
    )
    message = reply.completion_message
    assert len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.tool_name == "get_weather"
    assert call.call_id
    jsonschema.validate(json.loads(call.arguments), WEATHER_TOOL)
    assert message.stop_reason == messages_pb2.STOP_REASON_END_OF_MESSAGE


def test_required_tool_choice_calls_one_of_the_tools(inference) -> None:
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(
            model_id=CHAT_MODEL,
            messages=[user("What time is it?")],
            sampling_params=greedy(60),
            tools=[
                _tool("get_weather", "Current weather of a city", WEATHER_TOOL),
                _tool("get_time", "Current time", {"type": "object", "properties": {}}),
            ],
            tool_choice=tools_pb2.ToolChoice(mode=tools_pb2.TOOL_CHOICE_MODE_REQUIRED),
        )
    )
    calls = reply.completion_message.tool_calls
    assert len(calls) == 1
    assert calls[0].tool_name in {"get_weather", "get_time"}
    assert isinstance(json.loads(calls[0].arguments), dict)


def test_completion_streams(inference) -> None:
    events = list(
        inference.StreamCompletion(
            pb.StreamCompletionRequest(
                model_id=CHAT_MODEL,
                content={"text": "Once upon a time"},
                sampling_params=greedy(16),
            )
        )
    )
    text = "".join(event.chunk.text_delta for event in events if event.WhichOneof("event") == "chunk")
    assert text and events[-1].complete.text == text
    assert events[-1].complete.stop_reason == messages_pb2.STOP_REASON_OUT_OF_TOKENS


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_embeddings_rank_a_paraphrase_above_an_unrelated_sentence(inference) -> None:
    reply = inference.Embeddings(
        pb.EmbeddingsRequest(
            model_id=EMBEDDING_MODEL,
            contents=[
                "The cat sits on the mat.",
                "A cat is sitting on a rug.",
                "Quarterly revenue grew by eight percent.",
            ],
        )
    )
    anchor, paraphrase, unrelated = (list(embedding.values) for embedding in reply.embeddings)
    assert len(anchor) == 384
    assert _cosine(anchor, paraphrase) > _cosine(anchor, unrelated) + 0.2


def test_embeddings_output_dimension_truncates_and_renormalises(inference) -> None:
    reply = inference.Embeddings(
        pb.EmbeddingsRequest(model_id=EMBEDDING_MODEL, contents=["hello"], output_dimension=64)
    )
    values = list(reply.embeddings[0].values)
    assert len(values) == 64
    assert math.isclose(sum(v * v for v in values), 1.0, rel_tol=1e-3)


def test_embeddings_text_truncation_is_honoured(inference) -> None:
    """NONE refuses a text longer than the model reads, naming it; START and END embed different ends of it."""
    long_text = " ".join(f"word{number}" for number in range(400)) + " volcanoes erupting"
    error = expect_error(
        lambda: inference.Embeddings(
            pb.EmbeddingsRequest(
                model_id=EMBEDDING_MODEL, contents=["ok", long_text], text_truncation=pb.TEXT_TRUNCATION_NONE
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error) == ("INPUT_TOO_LONG", "contents[1]")
    start, end = (
        list(
            inference.Embeddings(
                pb.EmbeddingsRequest(model_id=EMBEDDING_MODEL, contents=[long_text], text_truncation=truncation)
            )
            .embeddings[0]
            .values
        )
        for truncation in (pb.TEXT_TRUNCATION_START, pb.TEXT_TRUNCATION_END)
    )
    assert _cosine(start, end) < 0.99


def test_batch_chat_past_its_cap_is_refused(inference) -> None:
    conversations = [pb.ChatConversation(messages=[user("hi")])] * 257
    error = expect_error(
        lambda: inference.BatchChatCompletion(
            pb.BatchChatCompletionRequest(model_id=CHAT_MODEL, conversations=conversations)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert reason_and_field(error)[1] == "conversations"


def test_batch_chat_keeps_good_items_when_one_is_bad(inference) -> None:
    reply = inference.BatchChatCompletion(
        pb.BatchChatCompletionRequest(
            model_id=CHAT_MODEL,
            sampling_params=greedy(8),
            conversations=[
                pb.ChatConversation(messages=[user("Say hi.")]),
                pb.ChatConversation(messages=[]),
                pb.ChatConversation(messages=[user("Say bye.")]),
            ],
        )
    )
    kinds = [result.WhichOneof("result") for result in reply.results]
    assert kinds == ["response", "error", "response"]
    assert reply.results[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "conversations[1]" in reply.results[1].error.message


def test_register_list_and_unregister_a_model(inference, registry) -> None:
    alias = resources_pb2.Model(
        identifier="test/smollm-alias",
        provider_id="llama-cpp",
        provider_resource_id="SmolLM2-135M-Instruct",
        model_type=resources_pb2.MODEL_TYPE_LLM,
    )
    registered = registry.RegisterModel(registry_pb2.RegisterModelRequest(model=alias))
    assert registered.identifier == alias.identifier
    expect_error(
        lambda: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=alias)), grpc.StatusCode.ALREADY_EXISTS
    )

    seen, token = [], ""
    while True:
        page = registry.ListModels(registry_pb2.ListModelsRequest(page_size=1, page_token=token))
        assert len(page.models) <= 1
        seen += [model.identifier for model in page.models]
        token = page.next_page_token
        if not token:
            break
    assert {alias.identifier, CHAT_MODEL, EMBEDDING_MODEL} <= set(seen)
    assert len(seen) == len(set(seen))

    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(model_id=alias.identifier, messages=[user("Hi")], sampling_params=greedy(4))
    )
    assert reply.usage.completion_tokens > 0

    assert registry.UnregisterModel(registry_pb2.UnregisterModelRequest(model_id=alias.identifier)).identifier
    error = expect_error(
        lambda: inference.ChatCompletion(pb.ChatCompletionRequest(model_id=alias.identifier, messages=[user("Hi")])),
        grpc.StatusCode.NOT_FOUND,
    )
    assert alias.identifier in error.details()


def test_register_with_unknown_provider_is_not_found(registry) -> None:
    model = resources_pb2.Model(identifier="orphan", provider_id="no-such-provider")
    error = expect_error(
        lambda: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model)), grpc.StatusCode.NOT_FOUND
    )
    assert "no-such-provider" in error.details()
    expect_error(lambda: registry.GetModel(registry_pb2.GetModelRequest(model_id="orphan")), grpc.StatusCode.NOT_FOUND)


def test_registering_a_model_the_provider_lacks_stores_nothing(registry) -> None:
    model = resources_pb2.Model(identifier="ghost", provider_id="llama-cpp", provider_resource_id="NoSuchModel")
    error = expect_error(
        lambda: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model)), grpc.StatusCode.NOT_FOUND
    )
    assert "NoSuchModel" in error.details() and "SmolLM2-135M-Instruct" in error.details()
    assert reason_and_field(error)[0] == "PROVIDER_MODEL_NOT_FOUND"
    expect_error(lambda: registry.GetModel(registry_pb2.GetModelRequest(model_id="ghost")), grpc.StatusCode.NOT_FOUND)


def test_registering_a_model_with_the_wrong_type_is_refused(registry) -> None:
    model = resources_pb2.Model(
        identifier="minilm-as-llm",
        provider_id="sentence-transformers",
        provider_resource_id="all-MiniLM-L6-v2",
        model_type=resources_pb2.MODEL_TYPE_LLM,
    )
    error = expect_error(
        lambda: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason_and_field(error)[0] == "WRONG_MODEL_TYPE"


def test_registering_an_embedding_model_fills_in_its_dimension(registry) -> None:
    model = resources_pb2.Model(
        identifier="minilm-2",
        provider_id="sentence-transformers",
        provider_resource_id="all-MiniLM-L6-v2",
        model_type=resources_pb2.MODEL_TYPE_EMBEDDING,
    )
    registered = registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model))
    assert registered.metadata["embedding_dimension"] == 384
    assert registry.GetModel(registry_pb2.GetModelRequest(model_id="minilm-2")).metadata["embedding_dimension"] == 384
    registry.UnregisterModel(registry_pb2.UnregisterModelRequest(model_id="minilm-2"))

    model.metadata["embedding_dimension"] = 768
    error = expect_error(
        lambda: registry.RegisterModel(registry_pb2.RegisterModelRequest(model=model)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert reason_and_field(error)[1] == "model.metadata.embedding_dimension"


def test_unknown_model_is_not_found_naming_it(inference) -> None:
    error = expect_error(
        lambda: inference.ChatCompletion(pb.ChatCompletionRequest(model_id="no-such-model", messages=[user("Hi")])),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "no-such-model" in error.details()
    assert reason_and_field(error)[0] == "RESOURCE_NOT_FOUND"


def test_embedding_model_cannot_chat(inference) -> None:
    error = expect_error(
        lambda: inference.ChatCompletion(pb.ChatCompletionRequest(model_id=EMBEDDING_MODEL, messages=[user("Hi")])),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason_and_field(error)[0] == "WRONG_MODEL_TYPE"
    expect_error(
        lambda: inference.Embeddings(pb.EmbeddingsRequest(model_id=CHAT_MODEL, contents=["x"])),
        grpc.StatusCode.FAILED_PRECONDITION,
    )


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ChatCompletionRequest(model_id=CHAT_MODEL), "messages"),
        (
            pb.ChatCompletionRequest(
                model_id=CHAT_MODEL, messages=[messages_pb2.Message(role=7, content={"text": "x"})]
            ),
            "messages[0].role",
        ),
        (
            pb.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("x")], sampling_params=greedy(-5)),
            "sampling_params.max_tokens",
        ),
        (pb.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("word " * 6000)]), "messages"),
        (
            pb.ChatCompletionRequest(
                model_id=CHAT_MODEL, messages=[user("x")], tool_choice=tools_pb2.ToolChoice(tool_name="missing")
            ),
            "tool_choice.tool_name",
        ),
        (
            pb.ChatCompletionRequest(
                model_id=CHAT_MODEL, messages=[user("x")], logprobs=sampling_pb2.LogprobsConfig(top_k=99)
            ),
            "logprobs.top_k",
        ),
        # llama.cpp's grammar parser overflows its stack on these parentheses (the service died of SIGSEGV) ...
        (
            pb.ChatCompletionRequest(
                model_id=CHAT_MODEL,
                messages=[user("x")],
                response_format=sampling_pb2.ResponseFormat(grammar="root ::= " + "(" * 20000 + '"a"' + ")" * 20000),
            ),
            "response_format.grammar",
        ),
        # ... and grows these chained operators to tens of GiB
        (
            pb.ChatCompletionRequest(
                model_id=CHAT_MODEL,
                messages=[user("x")],
                response_format=sampling_pb2.ResponseFormat(grammar='root ::= "a"' + "+" * 60000),
            ),
            "response_format.grammar",
        ),
    ],
    ids=[
        "no-messages",
        "unknown-role",
        "negative-max-tokens",
        "oversized-prompt",
        "unknown-tool",
        "too-many-logprobs",
        "deeply-nested-grammar",
        "chained-repetition-grammar",
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(inference, request_, field) -> None:
    error = expect_error(lambda: inference.ChatCompletion(request_), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error)[1] == field
    assert field in error.details()
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("Still there?")], sampling_params=greedy(4))
    )
    assert reply.usage.completion_tokens > 0


def test_logprobs_come_back(inference) -> None:
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(
            model_id=CHAT_MODEL,
            messages=[user("Hi")],
            sampling_params=greedy(5),
            logprobs=sampling_pb2.LogprobsConfig(top_k=3),
        )
    )
    assert len(reply.logprobs) == reply.usage.completion_tokens
    assert all(item.logprob <= 0 for item in reply.logprobs)
    assert all(len(item.top_logprobs) >= 1 for item in reply.logprobs)


def test_a_streamed_chat_carries_every_token_and_logprob_of_the_unary_one(inference) -> None:
    """However the stream groups tokens into chunks, it carries exactly what the unary call returns (greedy)."""
    fields = {
        "model_id": CHAT_MODEL,
        "messages": [user("Write a sentence about the sea.")],
        "sampling_params": greedy(24),
        "logprobs": sampling_pb2.LogprobsConfig(top_k=2),
    }
    reply = inference.ChatCompletion(pb.ChatCompletionRequest(**fields))
    events = list(inference.StreamChatCompletion(pb.StreamChatCompletionRequest(**fields)))
    chunks = [event.chunk for event in events if event.WhichOneof("event") == "chunk"]
    complete = events[-1].complete
    assert "".join(chunk.text_delta for chunk in chunks) == reply.completion_message.content.text
    streamed = [item for chunk in chunks for item in chunk.logprobs]
    assert [item.token for item in streamed] == [item.token for item in reply.logprobs]
    assert all(math.isclose(a.logprob, b.logprob, abs_tol=1e-3) for a, b in zip(streamed, reply.logprobs, strict=True))
    assert complete.completion_message.stop_reason == reply.completion_message.stop_reason
    assert complete.usage.completion_tokens == reply.usage.completion_tokens == len(streamed)


def _engine_running(inference) -> int:
    return inference.GetEngineStatus(pb.GetEngineStatusRequest(model_id=CHAT_MODEL)).running_requests


def test_cancelled_stream_frees_the_engine(inference) -> None:
    stream = inference.StreamChatCompletion(
        pb.StreamChatCompletionRequest(
            model_id=CHAT_MODEL,
            messages=[system("You write very long stories."), user("Tell a long story.")],
            sampling_params=greedy(2000),
        )
    )
    received = 0
    for event in stream:
        received += event.WhichOneof("event") == "chunk"
        if received == 3:
            break
    assert _engine_running(inference) == 1
    stream.cancel()
    for _ in range(100):  # the engine notices the cancellation within a token or two
        if _engine_running(inference) == 0:
            break
        time.sleep(0.05)
    assert _engine_running(inference) == 0
    reply = inference.ChatCompletion(
        pb.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("Hi")], sampling_params=greedy(4))
    )
    assert reply.usage.completion_tokens > 0


def test_deadline_exceeded_reaches_the_caller(inference) -> None:
    request = pb.ChatCompletionRequest(
        model_id=CHAT_MODEL, messages=[user("Tell a long story.")], sampling_params=greedy(2000)
    )
    expect_error(lambda: inference.ChatCompletion(request, timeout=0.3), grpc.StatusCode.DEADLINE_EXCEEDED)
    for _ in range(100):
        if _engine_running(inference) == 0:
            break
        time.sleep(0.05)
    assert _engine_running(inference) == 0


def test_a_batch_past_its_deadline_leaves_no_conversation_generating(inference) -> None:
    request = pb.BatchChatCompletionRequest(
        model_id=CHAT_MODEL,
        conversations=[pb.ChatConversation(messages=[user(f"Tell a long story about {n}.")]) for n in range(3)],
        sampling_params=greedy(2000),
    )
    expect_error(lambda: inference.BatchChatCompletion(request, timeout=0.5), grpc.StatusCode.DEADLINE_EXCEEDED)
    for _ in range(100):
        if _engine_running(inference) == 0:
            break
        time.sleep(0.05)
    status = inference.GetEngineStatus(pb.GetEngineStatusRequest(model_id=CHAT_MODEL))
    assert (status.running_requests, status.waiting_requests) == (0, 0)


def test_inspect_reports_health_providers_and_version(gateway: grpc.Channel) -> None:
    inspect = inspect_pb2_grpc.InspectServiceStub(gateway)
    health = inspect.GetHealth(inspect_pb2.GetHealthRequest())
    assert health.status == inspect_pb2.SERVING_STATUS_SERVING
    assert {"inference", "safety"} <= {service.service for service in health.services}
    providers = {
        p.provider_id: p.provider_type for p in inspect.ListProviders(inspect_pb2.ListProvidersRequest()).providers
    }
    assert (
        providers.items()
        >= {
            "llama-cpp": "inline::llama-cpp",
            "sentence-transformers": "inline::sentence-transformers",
            "llama-guard": "inline::llama-guard",
            "code-scanner": "inline::code-scanner",
            "rag-runtime": "inline::rag-runtime",
            "model-context-protocol": "remote::model-context-protocol",
        }.items()
    )
    assert "tool_runtime" in {service.service for service in health.services}
    assert "vector_io" in {service.service for service in health.services}
    assert providers.get("qdrant") == "inline::qdrant"
    routes = inspect.ListRoutes(inspect_pb2.ListRoutesRequest(api="inference")).routes
    chat = next(route for route in routes if route.method.endswith("/ChatCompletion"))
    assert chat.routing_field == "model_id" and chat.resource_kind == "model"
    assert inspect.GetVersion(inspect_pb2.GetVersionRequest()).distribution == "local-cpu"


def test_stream_errors_keep_their_code_and_details_through_the_gateway(inference) -> None:
    request = pb.StreamChatCompletionRequest(model_id=CHAT_MODEL, messages=[user("x")], sampling_params=greedy(-1))
    error = expect_error(lambda: list(inference.StreamChatCompletion(request)), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error) == ("INVALID_ARGUMENT", "sampling_params.max_tokens")
