"""The requests the safety, tool_runtime, vector_io and telemetry wrappers build from plain Python values."""

from __future__ import annotations

import pytest

from llama.common.v1 import messages_pb2, retrieval_pb2
from llama.telemetry.v1 import telemetry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2
from llama_mesh.client.safety import run_shield_request
from llama_mesh.client.telemetry import query_traces_request, span_tree_request, to_condition
from llama_mesh.client.tool_runtime import insert_documents_request, query_knowledge_request, to_document
from llama_mesh.client.vector_io import delete_chunks_request, query_chunks_request, to_chunk


def test_shield_request_takes_a_string_or_a_conversation() -> None:
    request = run_shield_request("code-scanner", "os.system(cmd)", {"threshold": 0.5})
    assert request.messages[0].role == messages_pb2.ROLE_USER and request.messages[0].content.text == "os.system(cmd)"
    assert request.params["threshold"] == 0.5
    conversation = run_shield_request(
        "s", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], None
    )
    assert [m.role for m in conversation.messages] == [messages_pb2.ROLE_USER, messages_pb2.ROLE_ASSISTANT]
    assert not conversation.HasField("params")


def test_chunks_from_strings_dicts_and_protos() -> None:
    chunk = to_chunk({"content": "a", "metadata": {"document_id": "d"}, "chunk_id": "c1"})
    assert chunk.content.text == "a" and chunk.metadata["document_id"] == "d" and chunk.chunk_id == "c1"
    assert to_chunk("b").content.text == "b" and to_chunk(chunk) == chunk
    with pytest.raises(ValueError, match="needs 'content'"):
        to_chunk({"text": "a"})


def test_query_and_delete_requests() -> None:
    request = query_chunks_request("db", "q", 3, 0.25, "hybrid", {"lang": "en"})
    assert request.params.max_chunks == 3 and request.params.mode == retrieval_pb2.SEARCH_MODE_HYBRID
    assert request.params.HasField("score_threshold") and request.params.metadata_filter["lang"] == "en"
    plain = query_chunks_request("db", "q", 0, None, None, None)
    assert not plain.params.HasField("score_threshold") and not plain.params.HasField("metadata_filter")
    with pytest.raises(ValueError, match="keyword"):
        query_chunks_request("db", "q", 0, None, "fuzzy", None)
    by_vector = query_chunks_request("db", None, 0, None, None, None, query_vector=(0.5, -1, 2))
    assert list(by_vector.query_vector) == [0.5, -1.0, 2.0] and not by_vector.HasField("query")
    with pytest.raises(ValueError, match="query_vector"):
        query_chunks_request("db", None, 0, None, None, None)
    assert list(delete_chunks_request("db", ["a"], None).chunk_ids) == ["a"]
    assert delete_chunks_request("db", (), {"document_id": "x"}).metadata_filter["document_id"] == "x"


def test_documents_need_one_source() -> None:
    document = to_document({"document_id": "d", "uri": "file:///tmp/d.md", "mime_type": "text/markdown"})
    assert document.uri == "file:///tmp/d.md" and document.WhichOneof("source") == "uri"
    for bad in ({"document_id": "d"}, {"document_id": "d", "uri": "u", "content": "c"}, {"id": "d", "content": "c"}):
        with pytest.raises(ValueError, match="one of 'content' and 'uri'"):
            to_document(bad)
    request = insert_documents_request("db", [{"document_id": "d", "content": "c"}], 64, 8)
    assert request.chunk_size_in_tokens == 64 and request.chunk_overlap_in_tokens == 8
    assert not insert_documents_request("db", [document], 0, None).HasField("chunk_overlap_in_tokens")


def test_query_knowledge_overrides_the_given_config() -> None:
    config = tool_runtime_pb2.RAGQueryConfig(max_chunks=9, chunk_template="{chunk.content}")
    request = query_knowledge_request(["db"], "q", 2, "keyword", config)
    assert request.query_config.max_chunks == 2 and request.query_config.mode == retrieval_pb2.SEARCH_MODE_KEYWORD
    assert request.query_config.chunk_template == "{chunk.content}" and config.max_chunks == 9
    assert query_knowledge_request(["db"], "q", 0, None, config).query_config.max_chunks == 9


def test_trace_conditions_and_requests() -> None:
    condition = to_condition(("prompt_tokens", "gt", 3))
    assert condition.op == telemetry_pb2.QUERY_CONDITION_OP_GT and condition.value.number_value == 3
    assert to_condition(("model_id", "ne", "m")).value.string_value == "m"
    with pytest.raises(ValueError, match="QueryConditionOp"):
        to_condition(("k", "like", "v"))
    request = query_traces_request([("ok", "eq", True)], "start_time", 5)
    assert request.attribute_filters[0].value.bool_value is True and request.page_size == 5
    assert not span_tree_request("s", (), None).HasField("max_depth")
    assert span_tree_request("s", ["name"], 0).HasField("max_depth")
