"""`llama-mesh rag insert|query` and `llama-mesh safety check` against the real default mesh."""

from __future__ import annotations

import json

from llama.common.v1 import content_pb2, messages_pb2
from llama.safety.v1 import safety_pb2, safety_pb2_grpc
from llama.tool_runtime.v1 import tool_runtime_pb2 as rag
from llama.tool_runtime.v1 import tool_runtime_pb2_grpc
from llama_mesh.client import LlamaMeshClient
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import EMBEDDING_MODEL, run_cli


def test_rag_round_trip_from_the_cli(local_mesh: LocalMesh) -> None:
    registered = run_cli(
        local_mesh, "vector-dbs", "register", "cli-notes", "--fields", json.dumps({"embedding_model": EMBEDDING_MODEL})
    )
    assert registered.returncode == 0, registered.stderr
    inserted = run_cli(
        local_mesh,
        "rag",
        "insert",
        "--vector-db",
        "cli-notes",
        "--text",
        "The lighthouse keeper feeds three grey cats every morning.",
        "--text",
        "Quarterly revenue grew by eight percent.",
    )
    assert inserted.returncode == 0, inserted.stderr
    assert "inserted" in inserted.stdout and "2 document(s)" in inserted.stdout

    found = run_cli(local_mesh, "rag", "query", "--vector-db", "cli-notes", "--max-chunks", "1", "Who feeds the cats?")
    assert found.returncode == 0, found.stderr
    assert "lighthouse keeper" in found.stdout
    assert "revenue" not in found.stdout

    missing = run_cli(local_mesh, "rag", "query", "--vector-db", "no-such-db", "anything")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr and "Traceback" not in missing.stderr


def test_readme_python_rag_and_shield_example(local_mesh: LocalMesh) -> None:
    with LlamaMeshClient(local_mesh.gateway_address, timeout=120) as client:
        client.vector_dbs.register("py-notes", embedding_model=EMBEDDING_MODEL)
        tools = tool_runtime_pb2_grpc.ToolRuntimeServiceStub(client.channel)
        tools.InsertDocuments(
            rag.InsertDocumentsRequest(
                vector_db_id="py-notes",
                chunk_size_in_tokens=256,
                documents=[
                    rag.RAGDocument(document_id="cats", content=content_pb2.Content(text="The keeper feeds the cats."))
                ],
            )
        )
        context = tools.QueryKnowledge(
            rag.QueryKnowledgeRequest(
                vector_db_ids=["py-notes"], content=content_pb2.Content(text="Who feeds the cats?")
            )
        )
        assert "keeper feeds the cats" in context.content.text and "cats" in context.document_ids
        shields = safety_pb2_grpc.SafetyServiceStub(client.channel)
        verdict = shields.RunShield(
            safety_pb2.RunShieldRequest(
                shield_id="code-scanner",
                messages=[
                    messages_pb2.Message(
                        role=messages_pb2.ROLE_USER, content=content_pb2.Content(text="os.system(cmd)")
                    )
                ],
            )
        )
        assert verdict.HasField("violation")


def test_safety_check_from_the_cli(local_mesh: LocalMesh) -> None:
    flagged = run_cli(
        local_mesh,
        "safety",
        "check",
        "code-scanner",
        "```python\nimport subprocess\nsubprocess.run(cmd, shell=True)\n```",
    )
    assert flagged.returncode == 1, flagged.stderr
    assert "error" in flagged.stdout
    clean = run_cli(local_mesh, "safety", "check", "code-scanner", "```python\nprint('hello')\n```")
    assert clean.returncode == 0, clean.stderr
    assert "passed" in clean.stdout
