"""OpenAI's Responses and Conversations APIs end to end: the official `openai` SDK, unchanged, against the edge of a
real local-cpu mesh (the agents service runs each response as a turn of its loop; SmolLM2 answers greedily). Each
test checks what the SDK parsed, and the model's part only where a forced choice or grammar makes it certain;
metadata and attributes past OpenAI's caps are refused before anything is kept."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest

from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import CHAT_MODEL, PAST_ATTRIBUTE_CAPS, PAST_METADATA_CAPS, refused, run_doc_example
from tests.mesh.mcp_servers import mcp_add_server

FACT = "The lighthouse keeper of Port Quillon keeps exactly forty-two brass lanterns."
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WAIT_SECONDS = 300


def _create(client: openai.OpenAI, **params: object) -> openai.types.responses.Response:
    return client.responses.create(**{"model": CHAT_MODEL, "temperature": 0, "max_output_tokens": 32, **params})  # type: ignore[call-overload]


def test_a_plain_response_is_stored_with_its_input(client: openai.OpenAI) -> None:
    response = _create(client, input="What is the capital of France?", instructions="Answer in one sentence.")
    assert response.object == "response" and response.status in ("completed", "incomplete")
    assert response.id.startswith("resp_") and response.model == CHAT_MODEL
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant" and response.output_text
    assert response.usage is not None and 0 < response.usage.output_tokens <= 32
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    again = client.responses.retrieve(response.id)
    assert again.output_text == response.output_text and again.instructions == "Answer in one sentence."
    (item,) = client.responses.input_items.list(response.id).data
    assert item.type == "message" and item.content[0].text == "What is the capital of France?"


def test_streamed_events_come_in_order_with_one_id_per_item(client: openai.OpenAI) -> None:
    question = "Name three colours."
    with client.responses.stream(model=CHAT_MODEL, input=question, temperature=0, max_output_tokens=64) as stream:
        events = list(stream)
        final = events[-1].response  # type: ignore[union-attr]
        if final.status == "completed":  # the SDK's accumulated response (it gives none for an incomplete one)
            assert stream.get_final_response().output_text == final.output_text
    types = [event.type for event in events]
    assert types[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed" if final.status == "completed" else "response.incomplete",
    ]
    assert set(types[4:-4]) == {"response.output_text.delta"}
    assert [event.sequence_number for event in events] == list(range(len(events)))
    (item,) = final.output
    for event in events[2:-1]:  # every event of the message names it
        assert (event.item.id if hasattr(event, "item") else event.item_id) == item.id
    assert {event.response.id for event in (events[0], events[1], events[-1])} == {final.id}
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == final.output_text == events[-4].text
    unary = _create(client, input=question, max_output_tokens=64)
    assert unary.output_text == final.output_text


def test_text_format_json_schema_constrains_the_answer(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    response = _create(
        client,
        input="Give the largest city of Japan and its population as JSON.",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
        max_output_tokens=64,
    )
    assert response.text is not None and response.text.format.type == "json_schema"
    jsonschema.validate(json.loads(response.output_text), schema)


def test_a_forced_function_call_is_answered_with_previous_response_id(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model=CHAT_MODEL,
        input="What is the weather like in Paris?",
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
        temperature=0,
        max_output_tokens=64,
    ) as stream:
        types = [event.type for event in stream]
        first = stream.get_final_response()
    assert types[2:6] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert first.status == "completed"
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    assert isinstance(json.loads(call.arguments)["city"], str)
    second = _create(
        client,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 24 degrees."}],
        tools=[WEATHER],
        tool_choice="none",
    )
    assert second.previous_response_id == first.id and second.output[-1].type == "message" and second.output_text
    (answer,) = client.responses.input_items.list(second.id).data
    assert answer.type == "function_call_output" and answer.call_id == call.call_id


def test_file_search_returns_the_inserted_documents_text(client: openai.OpenAI, tmp_path: Path) -> None:
    notes = tmp_path / "lighthouse.txt"
    notes.write_text(FACT + "\n")
    uploaded = client.files.create(file=notes.open("rb"), purpose="assistants")
    store = client.vector_stores.create(name="responses-notes")
    added = client.vector_stores.files.create_and_poll(file_id=uploaded.id, vector_store_id=store.id)
    assert added.status == "completed"
    response = _create(
        client,
        input="How many brass lanterns does the lighthouse keeper keep?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id], "max_num_results": 3}],
        tool_choice={"type": "file_search"},
        include=["file_search_call.results"],
        max_output_tokens=48,
    )
    search = response.output[0]
    assert search.type == "file_search_call" and search.status == "completed" and search.queries
    assert search.results and search.results[0].text.strip() == FACT
    assert (search.results[0].file_id, search.results[0].filename) == (uploaded.id, "lighthouse.txt")
    without = client.responses.retrieve(response.id)
    assert without.output[0].results is None  # results only when include asks for them
    # Without previous_response_id: the earlier output items given back as input, as OpenAI's docs do it.
    echoed = [item.model_dump(exclude_none=True) for item in response.output]
    follow_up = _create(client, input=[*echoed, {"role": "user", "content": "Say that number again."}], store=False)
    assert follow_up.status in ("completed", "incomplete") and follow_up.output_text


def test_a_conversation_carries_over_three_responses(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(metadata={"topic": "tea"})
    asked = ["My name is Ada and I grow tea.", "Which drink do I grow?", "What is my name?"]
    responses = [_create(client, input=text, conversation=conversation.id, max_output_tokens=16) for text in asked]
    assert all(response.conversation is not None for response in responses)
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [item.type for item in items.data] == ["message"] * 6
    assert [item.role for item in items.data] == ["user", "assistant"] * 3
    assert items.data[0].content[0].text == asked[0]
    assert items.data[1].content[0].text == responses[0].output_text
    # The third model call read the first two exchanges: it took more input than the same question alone, by at
    # least the two answers it was shown.
    alone = _create(client, input=asked[2], max_output_tokens=16)
    assert responses[2].usage is not None and alone.usage is not None
    earlier = sum(response.usage.output_tokens for response in responses[:2] if response.usage is not None)
    assert responses[2].usage.input_tokens >= alone.usage.input_tokens + earlier
    item = client.conversations.items.retrieve(items.data[0].id, conversation_id=conversation.id)
    assert item.id == items.data[0].id
    client.conversations.items.delete(items.data[0].id, conversation_id=conversation.id)
    assert len(client.conversations.items.list(conversation.id).data) == 5
    assert client.conversations.update(conversation.id, metadata={"topic": "coffee"}).metadata == {"topic": "coffee"}
    assert client.conversations.delete(conversation.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


def test_metadata_and_attributes_past_openai_caps_are_400s_that_change_nothing(client: openai.OpenAI) -> None:
    hello = {"type": "message", "role": "user", "content": "Hi"}
    conversation = client.conversations.create(metadata={"topic": "tea"}, items=[hello])
    ask = {"model": CHAT_MODEL, "conversation": conversation.id, "max_output_tokens": 16}
    for metadata in PAST_METADATA_CAPS.values():
        refused("metadata", client.conversations.create, metadata=metadata)
        refused("metadata", client.conversations.update, conversation_id=conversation.id, metadata=metadata)
        refused("metadata", client.responses.create, **ask, input="Hi", metadata=metadata)
    for attributes in PAST_ATTRIBUTE_CAPS.values():
        # A file search call given back as input: its results' attributes are OpenAI's attributes too.
        result = {"file_id": "file-1", "filename": "notes.txt", "score": 0.5, "text": FACT, "attributes": attributes}
        found = {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["q"], "results": [result]}
        refused("items[0].results[0].attributes", client.conversations.create, items=[found])
        added = {"conversation_id": conversation.id, "items": [found]}
        refused("items[0].results[0].attributes", client.conversations.items.create, **added)
        refused("input[0].results[0].attributes", client.responses.create, **ask, input=[found, hello])
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "tea"}
    assert [item.type for item in client.conversations.items.list(conversation.id)] == ["message"]
    client.conversations.delete(conversation.id)


def test_an_mcp_tool_on_a_loopback_fastmcp_server(client: openai.OpenAI) -> None:
    with mcp_add_server() as endpoint:
        response = _create(
            client,
            input="Add 20 and 22.",
            tools=[{"type": "mcp", "server_label": "adder", "server_url": endpoint, "require_approval": "never"}],
            tool_choice={"type": "mcp", "server_label": "adder", "name": "add"},
            max_output_tokens=48,
        )
    listed, called = response.output[:2]
    assert listed.type == "mcp_list_tools" and [tool.name for tool in listed.tools] == ["add"]
    assert called.type == "mcp_call" and (called.server_label, called.name) == ("adder", "add")
    arguments = json.loads(called.arguments)
    assert called.error is None and called.output == str(arguments["a"] + arguments["b"])


def test_bad_input_gets_openai_shaped_errors(client: openai.OpenAI, edge_url: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve("resp_does_not_exist")
    assert caught.value.body["param"] == "response_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as caught:
        _create(client, input="Hi", previous_response_id="resp_does_not_exist")
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="Hi")
    with pytest.raises(openai.BadRequestError) as caught:
        _create(client, input="Hi", tools=[WEATHER], tool_choice={"type": "function", "name": "nope"})
    assert caught.value.body["param"] == "tool_choice.name"  # type: ignore[index]
    reply = httpx.post(f"{edge_url}/responses", json={"model": CHAT_MODEL, "input": "Hi", "temperature": 9})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "temperature"
    unstored = _create(client, input="Hi", store=False, max_output_tokens=16)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    client.responses.delete(_create(client, input="Bye", max_output_tokens=16).id)


def test_previous_response_id_survives_a_restart_of_the_agents_service(
    client: openai.OpenAI, local_mesh: LocalMesh
) -> None:
    first = _create(client, input="Remember the number seven.", max_output_tokens=16)
    process = local_mesh.processes["agents"]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    local_mesh.start(only={"agents"})
    deadline = time.monotonic() + WAIT_SECONDS
    while True:  # until the gateway reaches the new process
        try:
            kept = client.responses.retrieve(first.id)
            break
        except openai.APIStatusError as error:
            assert error.status_code == 503 and time.monotonic() < deadline, error.message
            time.sleep(0.2)
    assert kept.output_text == first.output_text
    second = _create(client, input="Which number?", previous_response_id=first.id, max_output_tokens=16)
    assert second.status in ("completed", "incomplete") and second.previous_response_id == first.id
    (item,) = client.responses.input_items.list(second.id).data
    assert item.content[0].text == "Which number?"


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("doc", ["docs/responses.md", "README.md"])
def test_the_docs_responses_example_runs(doc: str, edge_url: str, tmp_path: Path) -> None:
    text = (ROOT / doc).read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "forty-two brass lanterns" in run_doc_example(code, edge_url, tmp_path)
