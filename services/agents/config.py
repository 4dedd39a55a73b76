"""The agents service's settings: the `config` of its provider entry in the distribution."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AgentsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # SQLite file of agents, persistent sessions, turns and batch jobs; relative paths are under the data dir.
    store: str = "agents/agents.db"
    # Documents attached to turns of agents with builtin::rag go to a vector DB per session, embedded with this model.
    document_embedding_model: str = "all-MiniLM-L6-v2"
    document_chunk_tokens: int = Field(default=256, ge=16)
    # Turns a batch job runs at once when the request does not say.
    batch_max_concurrency: int = Field(default=8, ge=1, le=256)
    # Time allowed for one turn of a batch job (its model calls and tools).
    batch_turn_timeout_seconds: float = Field(default=600.0, gt=0)
    # Responses and conversations (the Responses API): their SQLite file, relative paths under the data dir.
    responses_store: str = "agents/responses.db"
    # Shields run over every response's input and over its answers (registered shield ids).
    response_input_shields: list[str] = Field(default_factory=list)
    response_output_shields: list[str] = Field(default_factory=list)
    # The tool runtime provider that serves MCP servers a response names by URL (registered as tool groups).
    mcp_provider_id: str = "model-context-protocol"
    # The tool group that serves the web_search tool of responses; unregistered: web_search is refused.
    web_search_tool_group: str = "builtin::websearch"
