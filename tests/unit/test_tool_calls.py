from __future__ import annotations

import json

import jsonschema

from services.inference.tool_calls import forced_call_schema, parse_tool_calls

TOOLS = [
    {
        "name": "get_weather",
        "description": "",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    {"name": "get_time", "description": "", "parameters": {"type": "object", "properties": {}}},
]


def test_bare_json_call() -> None:
    (call,) = parse_tool_calls('{"name": "get_weather", "arguments": {"city": "Paris"}}', TOOLS)
    assert call.tool_name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}


def test_llama_python_tag_with_parameters_key() -> None:
    (call,) = parse_tool_calls('<|python_tag|>{"name": "get_time", "parameters": {}}', TOOLS)
    assert call.tool_name == "get_time"


def test_hermes_tags_and_function_tags() -> None:
    calls = parse_tool_calls(
        '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>'
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
        TOOLS,
    )
    assert [c.tool_name for c in calls] == ["get_time", "get_weather"]
    (call,) = parse_tool_calls('<function=get_weather>{"city": "Rome"}</function>', TOOLS)
    assert json.loads(call.arguments) == {"city": "Rome"}


def test_plain_answers_and_unknown_tools_are_not_calls() -> None:
    assert parse_tool_calls("The weather is fine.", TOOLS) == []
    assert parse_tool_calls('{"name": "launch_rockets", "arguments": {}}', TOOLS) == []
    assert parse_tool_calls('{"answer": 42}', TOOLS) == []


def test_forced_schema_accepts_only_calls_of_the_chosen_tool() -> None:
    schema = forced_call_schema(TOOLS, "get_weather")
    jsonschema.validate({"name": "get_weather", "arguments": {"city": "Paris"}}, schema)
    assert not jsonschema.Draft202012Validator(schema).is_valid({"name": "get_time", "arguments": {}})
    any_schema = forced_call_schema(TOOLS, "required")
    jsonschema.validate({"name": "get_time", "arguments": {}}, any_schema)
