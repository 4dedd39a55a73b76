"""/v1/batches through the official `openai` SDK against the edge of the session's local-cpu mesh: a batch's answers
are the endpoint's own, bad lines fail the batch naming them, a cancelled batch stops its engine work, and a batch
is its creator's alone."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import openai
import pytest

from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama_mesh.launcher import LocalMesh
from services.openai_edge.settings import EdgeSettings
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, PAST_METADATA_CAPS

ENDED = ("completed", "failed", "cancelled", "expired")


def _jsonl(lines: list[Any]) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)


def _chat_line(custom_id: str, question: str, model: str = CHAT_MODEL, max_tokens: int = 8) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": question}], "temperature": 0}
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": body | {"max_tokens": max_tokens},
    }


def _upload(client: openai.OpenAI, data: bytes, purpose: str = "batch") -> str:
    return client.files.create(file=("requests.jsonl", io.BytesIO(data)), purpose=purpose).id  # type: ignore[arg-type]


def _ended(client: openai.OpenAI, batch_id: str, timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    while (batch := client.batches.retrieve(batch_id)).status not in ENDED:
        assert time.monotonic() < deadline, f"batch still {batch.status} after {timeout} s"
        time.sleep(0.2)
    return batch


def _lines(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    entries = [json.loads(line) for line in client.files.content(file_id).text.splitlines()]
    return {entry["custom_id"]: entry for entry in entries}


@pytest.fixture(scope="module")
def other_client(edge_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=edge_url, api_key="another-caller", max_retries=0, timeout=600) as sdk:
        yield sdk


def test_a_chat_batch_answers_each_request_as_the_endpoint_does(client: openai.OpenAI) -> None:
    questions = {"paris": "What is the capital of France?", "two": "What is one plus one?"}
    lines = [_chat_line(key, text) for key, text in questions.items()] + [_chat_line("nobody", "Hi", "no-such-model")]
    batch = client.batches.create(
        input_file_id=_upload(client, _jsonl(lines)),
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"purpose": "test"},
    )
    assert (batch.object, batch.endpoint, batch.model, batch.metadata) == (
        "batch",
        "/v1/chat/completions",
        None,  # two models named
        {"purpose": "test"},
    )
    batch = _ended(client, batch.id)
    assert batch.status == "completed" and batch.completed_at is not None
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (3, 2, 1)
    assert batch.usage is not None and batch.usage.input_tokens > 0 and 0 < batch.usage.output_tokens <= 16

    answers = _lines(client, batch.output_file_id)
    assert set(answers) == set(questions)
    for key, text in questions.items():
        direct = client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": text}], temperature=0, max_tokens=8
        )
        response = answers[key]["response"]
        assert response["status_code"] == 200 and answers[key]["error"] is None
        assert response["body"]["object"] == "chat.completion"
        assert response["body"]["choices"][0]["message"]["content"] == direct.choices[0].message.content

    failures = _lines(client, batch.error_file_id)
    assert set(failures) == {"nobody"}
    refused = failures["nobody"]["response"]
    assert refused["status_code"] == 404 and "no-such-model" in refused["body"]["error"]["message"]
    kept = client.files.retrieve(batch.output_file_id or "")
    assert kept.purpose == "batch_output"


def test_an_embeddings_batch_refuses_a_bad_body_alone(client: openai.OpenAI) -> None:
    good = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": EMBEDDING_MODEL, "input": "hi"},
    }
    bad = {"custom_id": "b", "method": "POST", "url": "/v1/embeddings", "body": {"model": EMBEDDING_MODEL}}
    batch = client.batches.create(
        input_file_id=_upload(client, _jsonl([good, bad])), endpoint="/v1/embeddings", completion_window="24h"
    )
    batch = _ended(client, batch.id)
    assert batch.status == "completed" and batch.model == EMBEDDING_MODEL
    vector = _lines(client, batch.output_file_id)["a"]["response"]["body"]["data"][0]["embedding"]
    direct = client.embeddings.create(model=EMBEDDING_MODEL, input="hi", encoding_format="float").data[0].embedding
    assert vector == pytest.approx(direct, abs=1e-6)
    refused = _lines(client, batch.error_file_id)["b"]["response"]
    assert refused["status_code"] == 400 and refused["body"]["error"]["param"] == "input"


def test_an_input_file_with_bad_lines_fails_the_batch_naming_each(client: openai.OpenAI) -> None:
    lines = [
        _chat_line("ok", "Hi"),
        b"{not json",
        _chat_line("ok", "Hi again"),  # the same custom_id
        {**_chat_line("wrong-url", "Hi"), "url": "/v1/embeddings"},
        {**_chat_line("streamed", "Hi"), "body": {**_chat_line("s", "Hi")["body"], "stream": True}},
        "a string",
    ]
    batch = client.batches.create(
        input_file_id=_upload(client, _jsonl(lines)), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "failed" and batch.errors is not None and batch.errors.data is not None
    found = [(error.line, error.code) for error in batch.errors.data]
    assert found == [
        (2, "invalid_json"),
        (3, "duplicate_custom_id"),
        (4, "mismatched_url"),
        (5, "invalid_request"),
        (6, "invalid_request"),
    ]
    assert client.batches.retrieve(batch.id).status == "failed"


def test_a_bad_create_request_is_a_400_naming_its_parameter(client: openai.OpenAI) -> None:
    requests = _upload(client, _jsonl([_chat_line("a", "Hi")]))
    cases = [
        ({"input_file_id": requests, "endpoint": "/v1/images/generations"}, "endpoint", openai.BadRequestError),
        ({"input_file_id": _upload(client, b"{}\n", "assistants")}, "input_file_id", openai.BadRequestError),
        ({"input_file_id": "file-none"}, "input_file_id", openai.NotFoundError),
        ({"input_file_id": requests, "completion_window": "1h"}, "completion_window", openai.BadRequestError),
        *(
            ({"input_file_id": requests, "metadata": metadata}, "metadata", openai.BadRequestError)
            for metadata in PAST_METADATA_CAPS.values()
        ),
    ]
    for arguments, param, kind in cases:
        request = {"endpoint": "/v1/chat/completions", "completion_window": "24h"} | arguments
        with pytest.raises(kind) as caught:
            client.batches.create(**request)  # type: ignore[arg-type]
        assert caught.value.body is not None and caught.value.body["param"] == param, request  # type: ignore[index]
    assert requests not in {batch.input_file_id for batch in client.batches.list()}


def _engine_running(gateway: grpc.Channel) -> int:
    engine = inference_pb2_grpc.InferenceServiceStub(gateway)
    reply = engine.GetEngineStatus(inference_pb2.GetEngineStatusRequest(model_id=CHAT_MODEL), timeout=30)
    return reply.running_requests


def test_a_cancelled_batch_stops_its_engine_work_and_keeps_what_it_answered(
    client: openai.OpenAI, gateway: grpc.Channel
) -> None:
    # Each request would generate for minutes: the batch ends within the waits below only if cancelling it cancels
    # the requests it has in flight.
    question = "Count from {} to 100000, one number per line."
    lines = [_chat_line(f"q{i}", question.format(i), max_tokens=4096) for i in range(50)]
    batch = client.batches.create(
        input_file_id=_upload(client, _jsonl(lines)), endpoint="/v1/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 60
    while not _engine_running(gateway):  # the batch's first requests are generating
        assert time.monotonic() < deadline, "the batch never started"
        time.sleep(0.05)
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelling" and cancelled.cancelling_at is not None
    batch = _ended(client, batch.id, timeout=30)
    assert batch.status == "cancelled" and batch.cancelled_at is not None and batch.request_counts is not None
    counts = batch.request_counts
    assert (counts.total, counts.completed, counts.failed) == (50, 0, 50)
    assert batch.output_file_id is None
    failed = _lines(client, batch.error_file_id)
    assert set(failed) == {f"q{i}" for i in range(50)}
    assert {entry["error"]["code"] for entry in failed.values()} == {"batch_cancelled"}
    deadline = time.monotonic() + 15
    while _engine_running(gateway):
        assert time.monotonic() < deadline, "the engine still generates for a cancelled batch"
        time.sleep(0.05)
    with pytest.raises(openai.ConflictError) as caught:
        client.batches.cancel(batch.id)
    assert "cancelled" in caught.value.message


def test_a_batch_is_its_creators_alone(client: openai.OpenAI, other_client: openai.OpenAI) -> None:
    batch = client.batches.create(
        input_file_id=_upload(client, _jsonl([_chat_line("a", "Hi", max_tokens=2)])),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    with pytest.raises(openai.NotFoundError):
        other_client.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        other_client.batches.cancel(batch.id)
    assert batch.id not in {listed.id for listed in other_client.batches.list()}
    with pytest.raises(openai.NotFoundError):  # nor can another token run a batch on this token's file
        other_client.batches.create(
            input_file_id=batch.input_file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    batch = _ended(client, batch.id)
    assert batch.status == "completed"
    with pytest.raises(openai.NotFoundError):
        other_client.files.content(batch.output_file_id or "")
    assert [item.id for item in client.batches.list(limit=1).data] == [batch.id]  # the newest first


def test_an_edge_runs_at_most_max_running_batches(client: openai.OpenAI, local_mesh: LocalMesh) -> None:
    assert local_mesh.config.openai_edge is not None
    most = EdgeSettings.model_validate(local_mesh.config.openai_edge.config).max_running_batches
    long_request = _upload(client, _jsonl([_chat_line("a", "Count from 1 to 100000.", max_tokens=4096)]))
    running = [
        client.batches.create(input_file_id=long_request, endpoint="/v1/chat/completions", completion_window="24h")
        for _ in range(most)
    ]
    try:
        with pytest.raises(openai.RateLimitError) as caught:
            client.batches.create(input_file_id=long_request, endpoint="/v1/chat/completions", completion_window="24h")
        assert "max_running_batches" in caught.value.message
    finally:
        for batch in running:
            client.batches.cancel(batch.id)
    assert {_ended(client, batch.id, timeout=60).status for batch in running} == {"cancelled"}
    # once they ended, a new batch is taken again
    again = client.batches.create(input_file_id=long_request, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(again.id).status == "cancelling"
    assert _ended(client, again.id, timeout=60).status == "cancelled"
