"""@client_tool: the ToolDefinition built from a function (name, docstring, JSON schema from the type hints) and
running a model's call of it; the agent config built from tools and tool groups."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Literal

import pytest
from google.protobuf import json_format
from pydantic import BaseModel

from llama.common.v1 import agent_config_pb2
from llama_mesh.client import ClientTool, client_tool
from llama_mesh.client.agent import _split_tools
from llama_mesh.client.agent_requests import agent_config, to_document, to_tool_group
from llama_mesh.client.client_tools import parse_docstring


@client_tool
def book_table(restaurant: str, people: int, time: Literal["lunch", "dinner"] = "dinner", vegan: bool = False) -> str:
    """Book a table at a restaurant.

    The booking is confirmed at once.

    Args:
        restaurant: The restaurant's name.
        people: How many guests,
            the host included.
        time: Which service.

    Returns:
        The booking's reference.
    """
    return f"{restaurant}-{people}-{time}-{vegan}"


def parameters(tool: ClientTool) -> dict:
    return json_format.MessageToDict(tool.definition.parameters)


def test_the_definition_comes_from_the_name_docstring_and_type_hints() -> None:
    definition = book_table.definition
    assert definition.name == "book_table"
    assert definition.description == "Book a table at a restaurant.\n\nThe booking is confirmed at once."
    schema = parameters(book_table)
    assert schema["type"] == "object" and schema["required"] == ["restaurant", "people"]
    props = schema["properties"]
    assert props["restaurant"] == {"type": "string", "description": "The restaurant's name."}
    assert props["people"] == {"type": "integer", "description": "How many guests, the host included."}
    assert props["time"] == {
        "type": "string",
        "enum": ["lunch", "dinner"],
        "default": "dinner",
        "description": "Which service.",
    }
    assert props["vegan"] == {"type": "boolean", "default": False}
    assert "title" not in json.dumps(schema)  # pydantic's titles are left out


def test_the_decorated_function_is_still_callable() -> None:
    assert book_table("Chez Nous", 2) == "Chez Nous-2-dinner-False"
    assert book_table.__name__ == "book_table" and "Book a table" in (book_table.__doc__ or "")


def test_a_name_and_description_can_be_given_and_rest_docstrings_are_read() -> None:
    @client_tool(name="add-numbers", description="Adds.")
    def add(a: float, b: float = 1.0) -> float:
        """Sum of two numbers.

        :param a: The first number.
        :param float b: The second number.
        :returns: the sum
        """
        return a + b

    assert add.name == "add-numbers" and add.definition.description == "Adds."
    assert parameters(add)["properties"]["b"] == {"type": "number", "default": 1.0, "description": "The second number."}
    assert parse_docstring(add.__doc__) == (
        "Sum of two numbers.",
        {"a": "The first number.", "b": "The second number."},
    )


class Point(BaseModel):
    x: int
    y: int


def test_nested_models_and_untyped_parameters() -> None:
    @client_tool
    def move(to: Point, note=None) -> dict:
        """Move."""
        return {"at": [to.x, to.y], "note": note}

    schema = parameters(move)
    assert schema["properties"]["to"] == {"$ref": "#/$defs/Point"}
    assert schema["$defs"]["Point"]["required"] == ["x", "y"]
    assert schema["properties"]["note"] == {"default": None}  # any value
    assert json.loads(move.run('{"to": {"x": 1, "y": 2}}')) == {"at": [1, 2], "note": None}


def test_run_validates_the_model_arguments_and_returns_text() -> None:
    assert book_table.run('{"restaurant": "Roma", "people": "3", "time": "lunch"}') == "Roma-3-lunch-False"
    missing = book_table.run('{"restaurant": "Roma"}')
    assert missing.startswith("error: book_table failed: invalid arguments: people: Field required")
    assert book_table.run('{"restaurant": "Roma", "people": 2, "time": "breakfast"}').startswith("error: ")
    assert "not JSON" in book_table.run("{nope")
    assert "must be a JSON object" in book_table.run("[1, 2]")


@dataclasses.dataclass
class Forecast:
    city: str
    degrees: int


def test_results_that_are_not_text_are_sent_as_json_and_failures_as_errors() -> None:
    @client_tool
    def forecast(city: str) -> Forecast:
        """Forecast."""
        if city == "Atlantis":
            raise LookupError("no such city")
        return Forecast(city, 21)

    assert json.loads(forecast.run('{"city": "Oslo"}')) == {"city": "Oslo", "degrees": 21}
    assert forecast.run('{"city": "Atlantis"}') == "error: forecast failed: no such city"


def test_async_functions_run_in_both_flavours() -> None:
    @client_tool
    async def echo(text: str) -> str:
        """Echo."""
        await asyncio.sleep(0)
        return text.upper()

    assert echo.is_async and echo.run('{"text": "hi"}') == "HI"
    assert asyncio.run(echo.run_async('{"text": "yo"}')) == "YO"
    assert asyncio.run(book_table.run_async('{"restaurant": "A", "people": 1}')) == "A-1-dinner-False"


def test_functions_that_cannot_be_tools_are_refused() -> None:
    def spread(*values: int) -> int:
        return sum(values)

    with pytest.raises(TypeError, match=r"\*values"):
        client_tool(spread)
    with pytest.raises(ValueError, match="letters, digits"):
        client_tool(name="has space")(book_table.function)


def test_tools_split_into_client_functions_and_server_tool_groups() -> None:
    def lookup(word: str) -> str:
        """Look a word up."""
        return word

    functions, groups = _split_tools(
        [
            book_table,
            lookup,
            "builtin::websearch",
            {"name": "builtin::rag/knowledge_search", "args": {"vector_db_ids": ["docs"]}},
        ]
    )
    assert list(functions) == ["book_table", "lookup"] and isinstance(functions["lookup"], ClientTool)
    config = agent_config(
        "m",
        toolgroups=groups,
        client_tools=[f.definition for f in functions.values()],
        tool_choice="book_table",
        sampling={"max_tokens": 8},
        max_infer_iters=2,
    )
    assert [g.tool_group_id for g in config.toolgroups] == ["builtin::websearch", "builtin::rag"]
    assert list(config.toolgroups[1].tool_names) == ["knowledge_search"]
    assert json_format.MessageToDict(config.toolgroups[1].args) == {"vector_db_ids": ["docs"]}
    assert [t.name for t in config.client_tools] == ["book_table", "lookup"]
    assert config.tool_choice.tool_name == "book_table" and config.sampling_params.max_tokens == 8
    with pytest.raises(ValueError, match="two client tools"):
        _split_tools([book_table, book_table])
    with pytest.raises(TypeError):
        _split_tools([42])


def test_tool_groups_and_documents_from_plain_values() -> None:
    group = to_tool_group({"tool_group_id": "mcp::github", "tool_names": ["search"]})
    assert group == agent_config_pb2.AgentToolGroup(tool_group_id="mcp::github", tool_names=["search"])
    with pytest.raises(ValueError, match="unknown tool group keys"):
        to_tool_group({"name": "x", "arg": {}})
    with pytest.raises(ValueError, match="max_infer_iters"):
        agent_config("m", max_infer_iters=0)
    assert to_document("https://example.com/a.pdf").uri == "https://example.com/a.pdf"
    assert to_document("Plain notes.").content.text == "Plain notes."
    assert to_document({"uri": "file:///tmp/a.md", "mime_type": "text/markdown"}).mime_type == "text/markdown"
