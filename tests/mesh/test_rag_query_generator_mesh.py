"""RAG's LLM query generator with the real model: the model writes the search query, the response says which query
was used, and bad generator settings get clear errors."""

from __future__ import annotations

import grpc
import pytest

from llama.common.v1 import content_pb2, resources_pb2
from llama.inference.v1 import inference_pb2, inference_pb2_grpc
from llama.registry.v1 import registry_pb2
from llama.tool_runtime.v1 import tool_runtime_pb2 as pb
from tests.mesh.helpers import CHAT_MODEL, EMBEDDING_MODEL, expect_error, greedy, reason_and_field, user

TEMPLATE = "Extract the search keywords from this question: {messages}\nKeywords:"
QUESTION = "I forgot when they finished building that iron tower in Paris, can you remind me?"


@pytest.fixture(scope="module")
def inference(gateway: grpc.Channel) -> inference_pb2_grpc.InferenceServiceStub:
    return inference_pb2_grpc.InferenceServiceStub(gateway)


@pytest.fixture(scope="module")
def towers_db(registry, tools) -> str:
    vector_db = resources_pb2.VectorDB(identifier="towers", embedding_model=EMBEDDING_MODEL)
    registry.RegisterVectorDB(registry_pb2.RegisterVectorDBRequest(vector_db=vector_db))
    tools.InsertDocuments(
        pb.InsertDocumentsRequest(
            vector_db_id="towers",
            documents=[
                pb.RAGDocument(
                    document_id="eiffel",
                    content=content_pb2.Content(text="The Eiffel Tower in Paris was completed in 1889."),
                ),
                pb.RAGDocument(document_id="pisa", content=content_pb2.Content(text="The tower of Pisa leans.")),
            ],
        ),
        timeout=120,
    )
    return "towers"


def query(tools, vector_db: str, generator: pb.QueryGeneratorConfig) -> pb.QueryKnowledgeResponse:
    return tools.QueryKnowledge(
        pb.QueryKnowledgeRequest(
            vector_db_ids=[vector_db],
            content=content_pb2.Content(text=QUESTION),
            query_config=pb.RAGQueryConfig(query_generator_config=generator, max_chunks=1),
        ),
        timeout=120,
    )


def test_the_model_writes_the_search_query(tools, inference, towers_db: str) -> None:
    simple = query(tools, towers_db, pb.QueryGeneratorConfig(simple=pb.SimpleQueryGenerator()))
    assert simple.metadata["query"] == QUESTION
    generator = pb.LLMQueryGenerator(model=CHAT_MODEL, template=TEMPLATE)
    written = query(tools, towers_db, pb.QueryGeneratorConfig(llm=generator))
    # The query used is what the model answers to the filled template (greedy, so the same as asking it directly).
    prompt = TEMPLATE.replace("{messages}", QUESTION)
    direct = inference.ChatCompletion(
        inference_pb2.ChatCompletionRequest(model_id=CHAT_MODEL, messages=[user(prompt)], sampling_params=greedy(64)),
        timeout=120,
    )
    expected = direct.completion_message.content.text.strip().strip('"').strip()
    assert written.metadata["query"] == expected and expected
    assert len(written.document_ids) == 1 and written.content.text


def test_bad_generator_settings_get_clear_errors(tools, towers_db: str) -> None:
    no_model = pb.QueryGeneratorConfig(llm=pb.LLMQueryGenerator())
    error = expect_error(lambda: query(tools, towers_db, no_model), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error)[1] == "query_config.query_generator_config.llm.model"
    no_slot = pb.QueryGeneratorConfig(llm=pb.LLMQueryGenerator(model=CHAT_MODEL, template="Write a query."))
    error = expect_error(lambda: query(tools, towers_db, no_slot), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason_and_field(error)[1] == "query_config.query_generator_config.llm.template"
    unknown = pb.QueryGeneratorConfig(llm=pb.LLMQueryGenerator(model="no-such-model"))
    error = expect_error(lambda: query(tools, towers_db, unknown), grpc.StatusCode.NOT_FOUND)
    assert "no-such-model" in error.details()
