"""Request building from plain Python values: messages, sampling, tools, tool choice, formats, resources."""

from __future__ import annotations

import json

import pytest

from llama.common.v1 import content_pb2, messages_pb2, resources_pb2, sampling_pb2, stream_error_pb2, tools_pb2
from llama.inference.v1 import inference_pb2
from llama.inspect.v1 import inspect_pb2
from llama_mesh.client import conversions as conv
from llama_mesh.client import request_builders as build
from llama_mesh.client.errors import (
    GatewayUnreachableError,
    InternalError,
    LlamaMeshError,
    NotFoundError,
    from_stream_error,
    is_transport_failure,
    make_error,
    raise_for_stream_error,
)
from llama_mesh.client.resource_requests import ResourceRequests
from llama_mesh.resources import KIND_BY_NAME

# --- messages and content -------------------------------------------------------------------------------------------


def test_dict_messages_become_protos() -> None:
    messages = conv.to_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    assert [m.role for m in messages] == [messages_pb2.ROLE_SYSTEM, messages_pb2.ROLE_USER]
    assert [m.content.text for m in messages] == ["be brief", "hi"]


def test_a_string_is_one_user_message() -> None:
    (message,) = conv.to_messages("hello")
    assert message.role == messages_pb2.ROLE_USER
    assert message.content.text == "hello"


def test_proto_messages_are_copied_not_shared() -> None:
    original = messages_pb2.Message(role=messages_pb2.ROLE_USER, content=content_pb2.Content(text="x"))
    (converted,) = conv.to_messages([original])
    assert converted == original
    converted.content.text = "changed"
    assert original.content.text == "x"


def test_roles_accept_short_full_and_numeric_names() -> None:
    for role in ("assistant", "ASSISTANT", "ROLE_ASSISTANT", messages_pb2.ROLE_ASSISTANT):
        assert conv.to_message({"role": role, "content": ""}).role == messages_pb2.ROLE_ASSISTANT


@pytest.mark.parametrize("role", ["wizard", "unspecified", 99])
def test_bad_roles_are_refused(role: object) -> None:
    with pytest.raises(ValueError):
        conv.to_message({"role": role, "content": "x"})


def test_message_needs_a_role_and_known_keys() -> None:
    with pytest.raises(ValueError, match="role"):
        conv.to_message({"content": "x"})
    with pytest.raises(ValueError, match="colour"):
        conv.to_message({"role": "user", "content": "x", "colour": "red"})
    with pytest.raises(ValueError):
        conv.to_messages([])


def test_interleaved_content_with_images() -> None:
    message = conv.to_message(
        {
            "role": "user",
            "content": [
                "look:",
                {"type": "image", "url": "https://x/cat.png"},
                {"image": {"data": b"\x89PNG", "mime_type": "image/png"}},
                {"type": "text", "text": "what is it?"},
            ],
        }
    )
    items = message.content.items.items
    assert [item.WhichOneof("item") for item in items] == ["text", "image", "image", "text"]
    assert items[1].image.url == "https://x/cat.png"
    assert items[2].image.data == b"\x89PNG" and items[2].image.mime_type == "image/png"
    assert conv.content_text(message.content) == "look:what is it?"


def test_bad_content_items_are_refused() -> None:
    with pytest.raises(ValueError):
        conv.to_content([{"type": "audio", "url": "x"}])
    with pytest.raises(TypeError):
        conv.to_content([42])


def test_assistant_tool_calls_and_tool_results() -> None:
    call = {"call_id": "c1", "tool_name": "weather", "arguments": {"city": "Oslo"}}
    assistant = conv.to_message(
        {"role": "assistant", "content": "", "stop_reason": "end_of_message", "tool_calls": [call]}
    )
    assert assistant.stop_reason == messages_pb2.STOP_REASON_END_OF_MESSAGE
    assert assistant.tool_calls[0].tool_name == "weather"
    assert json.loads(assistant.tool_calls[0].arguments) == {"city": "Oslo"}
    result = conv.to_message({"role": "tool", "content": "12C", "call_id": "c1", "tool_name": "weather"})
    assert (result.role, result.call_id, result.tool_name) == (messages_pb2.ROLE_TOOL, "c1", "weather")


# --- sampling ---------------------------------------------------------------------------------------------------------


def test_no_sampling_keywords_means_greedy() -> None:
    params = conv.sampling_params()
    assert not params.HasField("strategy")
    assert params == sampling_pb2.SamplingParams()
    assert not conv.sampling_params(temperature=0).HasField("strategy")


def test_temperature_and_top_p_choose_nucleus_sampling() -> None:
    params = conv.sampling_params(temperature=0.7, top_p=0.9)
    assert params.strategy.WhichOneof("strategy") == "top_p"
    assert params.strategy.top_p.temperature == pytest.approx(0.7)
    assert params.strategy.top_p.top_p == pytest.approx(0.9)
    only_top_p = conv.sampling_params(top_p=0.5).strategy.top_p
    assert only_top_p.HasField("top_p") and not only_top_p.HasField("temperature")


def test_top_k_chooses_top_k_sampling() -> None:
    params = conv.sampling_params(top_k=40, temperature=0.8)
    assert params.strategy.WhichOneof("strategy") == "top_k"
    assert params.strategy.top_k.top_k == 40
    assert params.strategy.top_k.temperature == pytest.approx(0.8)


def test_limits_stop_seed_and_penalty() -> None:
    params = conv.sampling_params(max_tokens=64, stop="\n\n", seed=7, repetition_penalty=1.1)
    assert params.max_tokens == 64 and params.seed == 7
    assert list(params.stop) == ["\n\n"]
    assert params.repetition_penalty == pytest.approx(1.1)
    assert list(conv.sampling_params(stop=["a", "b"]).stop) == ["a", "b"]
    assert conv.sampling_params(max_tokens=0).HasField("max_tokens")
    assert not conv.sampling_params().HasField("seed")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"top_k": 5, "top_p": 0.9},
        {"temperature": 0, "top_k": 3},
        {"temperature": -1.0},
        {"max_tokens": -1},
    ],
)
def test_contradictory_or_invalid_sampling_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        conv.sampling_params(**kwargs)  # type: ignore[arg-type]


# --- tools, tool choice, response format, logprobs --------------------------------------------------------------------

WEATHER = {
    "name": "weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_tool_dicts_become_definitions() -> None:
    tool = conv.to_tool(WEATHER)
    assert (tool.name, tool.description) == ("weather", "Current weather")
    assert tool.parameters["properties"]["city"]["type"] == "string"
    assert list(tool.parameters["required"]) == ["city"]
    assert conv.to_tool({"type": "function", "function": WEATHER}) == tool
    assert conv.to_tool(tool) == tool


def test_a_tool_needs_a_name() -> None:
    with pytest.raises(ValueError):
        conv.to_tool({"description": "nameless"})


@pytest.mark.parametrize(
    ("choice", "mode"),
    [
        ("auto", tools_pb2.TOOL_CHOICE_MODE_AUTO),
        ("required", tools_pb2.TOOL_CHOICE_MODE_REQUIRED),
        ("none", tools_pb2.TOOL_CHOICE_MODE_NONE),
        ("AUTO", tools_pb2.TOOL_CHOICE_MODE_AUTO),
    ],
)
def test_tool_choice_modes(choice: str, mode: int) -> None:
    assert conv.to_tool_choice(choice).mode == mode


def test_tool_choice_by_name_must_name_a_tool() -> None:
    assert conv.to_tool_choice("weather", ["weather"]).tool_name == "weather"
    with pytest.raises(ValueError, match="weather"):
        conv.to_tool_choice("stocks", ["weather"])
    with pytest.raises(TypeError):
        conv.to_tool_choice("")


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    fmt = conv.to_response_format({"json_schema": schema})
    assert fmt.WhichOneof("format") == "json_schema"
    assert fmt.json_schema["properties"]["answer"]["type"] == "integer"
    assert conv.to_response_format({"grammar": 'root ::= "yes" | "no"'}).grammar == 'root ::= "yes" | "no"'


@pytest.mark.parametrize("value", [{}, {"json_schema": {}, "grammar": "x"}, {"regex": "a+"}, {"grammar": ""}])
def test_bad_response_formats_are_refused(value: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        conv.to_response_format(value)


def test_logprobs() -> None:
    assert conv.to_logprobs(None) is None
    assert conv.to_logprobs(False) is None
    assert conv.to_logprobs(5) == sampling_pb2.LogprobsConfig(top_k=5)
    zero = conv.to_logprobs(0)
    assert zero is not None and zero.top_k == 0
    with pytest.raises(ValueError):
        conv.to_logprobs(21)


# --- whole requests ---------------------------------------------------------------------------------------------------


def test_chat_request_carries_every_parameter() -> None:
    request = build.chat_completion_request(
        "smollm2-135m-instruct",
        [{"role": "user", "content": "weather in Oslo?"}],
        max_tokens=32,
        temperature=0.5,
        seed=1,
        tools=[WEATHER],
        tool_choice="weather",
        tool_prompt_format="json",
        response_format={"json_schema": {"type": "object"}},
        logprobs=2,
    )
    assert isinstance(request, inference_pb2.ChatCompletionRequest)
    assert request.model_id == "smollm2-135m-instruct"
    assert request.sampling_params.max_tokens == 32 and request.sampling_params.seed == 1
    assert request.tools[0].name == "weather" and request.tool_choice.tool_name == "weather"
    assert request.tool_prompt_format == tools_pb2.TOOL_PROMPT_FORMAT_JSON
    assert request.response_format.HasField("json_schema")
    assert request.logprobs.top_k == 2


def test_chat_request_leaves_unset_parameters_unset() -> None:
    request = build.stream_chat_completion_request("m", "hi")
    assert isinstance(request, inference_pb2.StreamChatCompletionRequest)
    for field in ("sampling_params", "tool_choice", "response_format", "logprobs"):
        assert not request.HasField(field), field
    assert not request.tools


def test_unknown_parameters_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="temprature"):
        build.chat_completion_request("m", "hi", temprature=0.5)
    with pytest.raises(TypeError, match="tools"):
        build.completion_request("m", "x", tools=[WEATHER])
    with pytest.raises(TypeError, match="tool_prompt_format"):
        build.batch_chat_completion_request("m", ["a"], tool_prompt_format="json")


def test_explicit_sampling_params_or_keywords_not_both() -> None:
    explicit = sampling_pb2.SamplingParams(max_tokens=3)
    assert build.chat_completion_request("m", "hi", sampling_params=explicit).sampling_params == explicit
    from_dict = build.chat_completion_request("m", "hi", sampling_params={"top_k": 2}).sampling_params
    assert from_dict.strategy.top_k.top_k == 2
    with pytest.raises(TypeError):
        build.chat_completion_request("m", "hi", sampling_params=explicit, max_tokens=4)


def test_completion_and_batch_requests() -> None:
    completion = build.stream_completion_request("m", "Once upon", max_tokens=8, logprobs=0)
    assert completion.content.text == "Once upon" and completion.sampling_params.max_tokens == 8
    assert completion.HasField("logprobs")
    batch = build.batch_chat_completion_request(
        "m", ["first", [{"role": "user", "content": "second"}]], tools=[WEATHER], tool_choice="auto"
    )
    assert [c.messages[0].content.text for c in batch.conversations] == ["first", "second"]
    assert batch.tool_choice.mode == tools_pb2.TOOL_CHOICE_MODE_AUTO
    with pytest.raises(ValueError):
        build.batch_chat_completion_request("m", [])


def test_embeddings_request() -> None:
    request = build.embeddings_request(
        "all-MiniLM-L6-v2", ["a", "b"], output_dimension=128, task_type="query", text_truncation="end"
    )
    assert list(request.contents) == ["a", "b"] and request.output_dimension == 128
    assert request.task_type == inference_pb2.EMBEDDING_TASK_TYPE_QUERY
    assert request.text_truncation == inference_pb2.TEXT_TRUNCATION_END
    single = build.embeddings_request("m", "one")
    assert list(single.contents) == ["one"] and not single.HasField("output_dimension")
    with pytest.raises(ValueError):
        build.embeddings_request("m", [])


# --- registry requests ------------------------------------------------------------------------------------------------


def test_model_resource_from_keywords() -> None:
    requests = ResourceRequests(KIND_BY_NAME["model"])
    model = requests.resource(
        "mini",
        "sentence-transformers",
        "all-MiniLM-L6-v2",
        model_type="embedding",
        metadata={"embedding_dimension": 384},
    )
    assert model == resources_pb2.Model(
        identifier="mini",
        provider_id="sentence-transformers",
        provider_resource_id="all-MiniLM-L6-v2",
        model_type=resources_pb2.MODEL_TYPE_EMBEDDING,
        metadata=model.metadata,
    )
    assert model.metadata["embedding_dimension"] == 384
    register = requests.register(model)
    assert register.model == model
    assert requests.get("mini").model_id == "mini"
    assert requests.unregister("mini").model_id == "mini"
    assert (requests.register_rpc, requests.list_rpc) == ("RegisterModel", "ListModels")


def test_every_kind_knows_its_rpcs_and_fields() -> None:
    vector_dbs = ResourceRequests(KIND_BY_NAME["vector_db"])
    assert (vector_dbs.get_rpc, vector_dbs.list_rpc, vector_dbs.id_field) == (
        "GetVectorDB",
        "ListVectorDBs",
        "vector_db_id",
    )
    db = vector_dbs.resource("docs", embedding_model="all-MiniLM-L6-v2", embedding_dimension=384)
    assert vector_dbs.register(db).vector_db.embedding_dimension == 384
    page = vector_dbs.list(10, "tok")
    assert (page.page_size, page.page_token) == (10, "tok")


def test_nested_and_enum_fields_by_short_name() -> None:
    datasets = ResourceRequests(KIND_BY_NAME["dataset"])
    dataset = datasets.resource("qa", purpose="eval_question_answer", source={"uri": "file:///tmp/qa.jsonl"})
    assert dataset.purpose == resources_pb2.DATASET_PURPOSE_EVAL_QUESTION_ANSWER
    assert dataset.source.uri == "file:///tmp/qa.jsonl"
    functions = ResourceRequests(KIND_BY_NAME["scoring_function"])
    function = functions.resource("judge", params={"type": "llm_as_judge", "aggregation_functions": ["average"]})
    assert function.params.type == resources_pb2.SCORING_FUNCTION_TYPE_LLM_AS_JUDGE
    assert list(function.params.aggregation_functions) == [resources_pb2.AGGREGATION_FUNCTION_AVERAGE]


def test_resource_protos_pass_through_and_bad_fields_are_refused() -> None:
    shields = ResourceRequests(KIND_BY_NAME["shield"])
    shield = resources_pb2.Shield(identifier="guard", provider_id="llama-guard")
    assert shields.resource(shield) == shield
    with pytest.raises(TypeError, match="colour"):
        shields.resource("guard", colour="red")
    with pytest.raises(TypeError):
        shields.resource(resources_pb2.Model(identifier="m"))
    with pytest.raises(ValueError):
        shields.resource("")
    with pytest.raises(ValueError, match="llm"):
        ResourceRequests(KIND_BY_NAME["model"]).resource("m", model_type="chat")


# --- enums and errors carried in messages -----------------------------------------------------------------------------


def test_enum_short_names() -> None:
    assert conv.enum_short_name(resources_pb2.ModelType, resources_pb2.MODEL_TYPE_LLM, "MODEL_TYPE_") == "llm"
    assert conv.enum_short_name(inspect_pb2.ServingStatus, 0, "SERVING_STATUS_") == ""


def test_stream_errors_become_typed_exceptions() -> None:
    event = inference_pb2.StreamChatCompletionResponse(
        error=stream_error_pb2.StreamError(code=13, reason="ENGINE_CRASHED", message="boom")
    )
    with pytest.raises(InternalError) as caught:
        raise_for_stream_error(event)
    assert caught.value.reason == "ENGINE_CRASHED" and caught.value.message == "boom"
    raise_for_stream_error(inference_pb2.StreamChatCompletionResponse(chunk=inference_pb2.ChatCompletionChunk()))
    error = from_stream_error(stream_error_pb2.StreamError(code=5, reason="MODEL_NOT_FOUND", message="no"))
    assert isinstance(error, NotFoundError) and isinstance(error, LlamaMeshError)
    assert str(error) == "NOT_FOUND: no [MODEL_NOT_FOUND]"


def test_transport_failures_are_told_apart_from_server_errors() -> None:
    import grpc

    assert is_transport_failure(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses", "")
    assert not is_transport_failure(grpc.StatusCode.UNAVAILABLE, "failed to connect", "SERVICE_UNAVAILABLE")
    assert not is_transport_failure(grpc.StatusCode.NOT_FOUND, "failed to connect", "")
    assert type(make_error(grpc.StatusCode.DATA_LOSS, "x")) is LlamaMeshError
    unreachable = GatewayUnreachableError(grpc.StatusCode.UNAVAILABLE, "down", address="h:1")
    assert unreachable.address == "h:1" and unreachable.code_name == "UNAVAILABLE"
