"""The edge's Responses and Conversations conversions, without a mesh: bad requests are 400s naming the parameter
(before any gateway call); and the events of a turn, as the agents service turns them into response events and the
edge names them, are what the official `openai` SDK parses and accumulates into the final response."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.conversations import Conversation
from openai.types.responses import Response, ResponseItemList, ResponseStreamEvent
from pydantic import TypeAdapter

from llama.agents.v1 import agents_pb2
from llama.agents.v1 import responses_pb2 as pb
from llama.common.v1 import content_pb2, messages_pb2, sampling_pb2, tools_pb2
from llama_mesh.runtime.gateway_client import GatewayClient
from services.agents.response_items import ResponseEvents
from services.openai_edge import response_objects as objects
from services.openai_edge.app import create_app
from services.openai_edge.listing import list_object
from services.openai_edge.routes.responses import CreateResponse, EventNames, create_request
from services.openai_edge.settings import EdgeSettings

EVENTS = TypeAdapter(ResponseStreamEvent)


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(GatewayClient("127.0.0.1:1"), EdgeSettings(), tmp_path, traced=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"type": "bogus"}]}, "input[0]"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": "x", "temperature": 3}, "temperature"),
        ({"input": "x", "max_output_tokens": 1}, "max_output_tokens"),
        ({"input": "x", "background": True}, "background"),
        ({"input": "x", "include": ["everything"]}, "include"),
        ({"input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"}, "conversation"),
        ({"input": "x", "tools": [{"type": "mcp", "server_label": "s", "headers": {"a": "b"}}]}, "tools[0].headers"),
        ({"input": "x", "tools": [{"type": "file_search", "vector_store_ids": []}]}, "tools[0].vector_store_ids"),
        ({"input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}, "text.format"),
        ({"input": "x", "frequency_penalty": 1}, "frequency_penalty"),
    ],
)
def test_bad_responses_are_400s_naming_the_parameter(client: TestClient, body: dict, param: str) -> None:
    reply = client.post("/v1/responses", json={"model": "m", **body})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_bad_list_and_conversation_requests(client: TestClient) -> None:
    assert client.get("/v1/responses/resp_1/input_items?limit=0").json()["error"]["param"] == "limit"
    reply = client.post("/v1/conversations/conv_1/items", json={"items": []})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "items"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/responses/resp_1"),
        ("GET", "/v1/responses/resp_1/input_items"),
        ("GET", "/v1/conversations/conv_1/items"),
        ("GET", "/v1/conversations/conv_1/items/msg_1"),
        ("POST", "/v1/conversations/conv_1/items"),
    ],
)
def test_include_of_a_read_is_held_to_the_create_caps_before_any_call(
    client: TestClient, method: str, path: str
) -> None:
    """`include` on the routes that read responses and items took any number of any strings; a create's caps hold
    there too, checked before the mesh is called (the gateway here answers nothing: a call would be a 5xx)."""
    body = {"items": [{"role": "user", "content": "hi"}]} if method == "POST" else None
    for query, says in (
        ("include=everything", "'everything' is not one of"),
        ("&".join(["include=file_search_call.results"] * 17), "at most 16 entries, got 17"),
    ):
        reply = client.request(method, f"{path}?{query}", json=body)
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["param"] == "include" and says in error["message"], error
    reply = client.request(method, f"{path}?include=file_search_call.results", json=body)
    assert reply.status_code >= 500, reply.text  # a known value passes the check, on to the (missing) mesh


def test_input_forms_become_items_one_for_one() -> None:
    body = CreateResponse.model_validate(
        {
            "model": "m",
            "input": [
                {"role": "developer", "content": "Be terse."},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
            ],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
            "conversation": {"id": "conv_1"},
            "temperature": 0,
        }
    )
    request = create_request(body)
    assert [item.WhichOneof("item") for item in request.input] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert request.input[0].message.role == pb.MESSAGE_ROLE_DEVELOPER
    assert request.input[1].message.content[0].input_text == "Hi"
    assert request.tool_choice.function_name == "f" and request.conversation_id == "conv_1"
    assert request.text_format.type == pb.TEXT_FORMAT_TYPE_JSON_SCHEMA and request.HasField("temperature")
    plain = create_request(CreateResponse.model_validate({"model": "m", "input": "Hello"}))
    assert plain.input[0].message.content[0].input_text == "Hello" and not plain.HasField("temperature")


def _turn_events() -> list[agents_pb2.CreateTurnResponse]:
    """A turn that searched files, then answered: the events the agent loop sends."""
    call = tools_pb2.ToolCall(call_id="c1", tool_name="file_search", arguments=json.dumps({"query": "lanterns"}))
    usage = sampling_pb2.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    first = agents_pb2.Step(
        inference=agents_pb2.InferenceStep(
            model_response=messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, tool_calls=[call]), usage=usage
        )
    )
    found = agents_pb2.ToolResponse(call_id="c1", tool_name="file_search", content=content_pb2.Content(text="..."))
    found.metadata.update({"results": [{"file_id": "f1", "filename": "a.txt", "score": 0.5, "text": "forty-two"}]})
    second = agents_pb2.Step(tool_execution=agents_pb2.ToolExecutionStep(tool_calls=[call], tool_responses=[found]))
    answer = messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, content=content_pb2.Content(text="Forty-two."))
    third = agents_pb2.Step(inference=agents_pb2.InferenceStep(model_response=answer, usage=usage))
    turn = agents_pb2.Turn(output_message=answer, end_reason=agents_pb2.TURN_END_REASON_END_OF_TURN)
    return [
        agents_pb2.CreateTurnResponse(step_complete=agents_pb2.StepCompleteEvent(step=step))
        for step in (first, second, third)
    ] + [agents_pb2.CreateTurnResponse(turn_complete=agents_pb2.TurnCompleteEvent(turn=turn))]


def test_the_sdk_accumulates_the_streamed_events_into_the_final_response() -> None:
    started = pb.Response(id="resp_1", model="m", status=pb.RESPONSE_STATUS_IN_PROGRESS, store=True)
    started.create_time.GetCurrentTime()
    started.tools.add().file_search.vector_store_ids.append("vs_1")
    service = ResponseEvents({"file_search": "file_search"}, stream_text=False)
    produced = [pb.StreamResponseResponse(created=started)]
    for event in _turn_events():
        produced.extend(service.on_turn_event(event))
    final = pb.Response()
    final.CopyFrom(started)
    final.status = pb.RESPONSE_STATUS_COMPLETED
    final.output.extend(service.output)
    produced.append(pb.StreamResponseResponse(completed=final))

    names = EventNames(frozenset({objects.RESULTS_INCLUDE}))
    rendered = [event for proto in produced for _, event in names.render(proto)]
    assert [event["sequence_number"] for event in rendered] == list(range(len(rendered)))
    assert [event["type"] for event in rendered] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    state: ResponseStreamState = ResponseStreamState(input_tools=omit, text_format=omit)
    for event in rendered:
        state.handle_event(EVENTS.validate_python(event))
    done = state._completed_response
    assert done is not None and done.output_text == "Forty-two."
    assert done.output[0].type == "file_search_call" and done.output[0].results[0].text == "forty-two"
    Response.model_validate(rendered[-1]["response"])


def test_function_and_mcp_calls_stream_as_the_sdk_expects() -> None:
    calls = [
        tools_pb2.ToolCall(call_id="c1", tool_name="get_weather", arguments='{"city": "Paris"}'),
        tools_pb2.ToolCall(call_id="c2", tool_name="add", arguments='{"a": 1, "b": 2}'),
    ]
    asked = messages_pb2.Message(role=messages_pb2.ROLE_ASSISTANT, tool_calls=calls)
    step = agents_pb2.Step(inference=agents_pb2.InferenceStep(model_response=asked))
    added = agents_pb2.ToolResponse(call_id="c2", tool_name="add", content=content_pb2.Content(text="3"))
    ran = agents_pb2.Step(tool_execution=agents_pb2.ToolExecutionStep(tool_calls=calls[1:], tool_responses=[added]))
    waiting = agents_pb2.Turn(output_message=asked, end_reason=agents_pb2.TURN_END_REASON_CLIENT_TOOL_CALL)
    service = ResponseEvents({"get_weather": "function", "add": ("mcp", "calc")}, stream_text=False)
    started = pb.Response(id="resp_2", model="m", status=pb.RESPONSE_STATUS_IN_PROGRESS)
    produced = [pb.StreamResponseResponse(created=started)]
    produced.extend(service.listed_tools("calc", [pb.McpListedTool(name="add")]))
    for event in (
        agents_pb2.CreateTurnResponse(step_complete=agents_pb2.StepCompleteEvent(step=step)),
        agents_pb2.CreateTurnResponse(step_complete=agents_pb2.StepCompleteEvent(step=ran)),
        agents_pb2.CreateTurnResponse(turn_awaiting_input=agents_pb2.TurnAwaitingInputEvent(turn=waiting)),
    ):
        produced.extend(service.on_turn_event(event))
    final = pb.Response()
    final.CopyFrom(started)
    final.status = pb.RESPONSE_STATUS_COMPLETED
    final.output.extend(service.output)
    produced.append(pb.StreamResponseResponse(completed=final))
    names = EventNames(frozenset())
    rendered = [event for proto in produced for _, event in names.render(proto)]
    types = [event["type"] for event in rendered]
    assert types[2:6] == [
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
    ]
    assert types[6:10] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert types[10:16] == [
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    state: ResponseStreamState = ResponseStreamState(input_tools=omit, text_format=omit)
    for event in rendered:
        state.handle_event(EVENTS.validate_python(event))
    done = state._completed_response
    assert done is not None and [item.type for item in done.output] == ["mcp_list_tools", "function_call", "mcp_call"]
    assert done.output[1].arguments == '{"city": "Paris"}' and done.output[2].output == "3"


def test_items_and_conversations_parse_as_the_sdks_types() -> None:
    items = [
        pb.ResponseItem(id="mcpl_1", mcp_list_tools=pb.McpListToolsItem(server_label="s", tools=[{"name": "add"}])),
        pb.ResponseItem(
            id="mcp_1", mcp_call=pb.McpCallItem(server_label="s", name="add", arguments="{}", output="3"), status=3
        ),
        pb.ResponseItem(id="ws_1", web_search_call=pb.WebSearchCallItem(query="q"), status=3),
        pb.ResponseItem(id="fc_1", function_call=pb.FunctionCallItem(call_id="c", name="f", arguments="{}"), status=3),
        pb.ResponseItem(id="fco_1", function_call_output=pb.FunctionCallOutputItem(call_id="c", output="x"), status=3),
    ]
    listed = list_object([objects.item_json(item) for item in items], False)
    parsed = ResponseItemList.model_validate(listed)
    assert [item.type for item in parsed.data] == [
        "mcp_list_tools",
        "mcp_call",
        "web_search_call",
        "function_call",
        "function_call_output",
    ]
    conversation = pb.Conversation(id="conv_1", metadata={"a": "b"})
    assert Conversation.model_validate(objects.conversation_json(conversation)).metadata == {"a": "b"}
