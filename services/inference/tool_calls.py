"""Tool calling on top of plain text generation.

- `tool_system_prompt`: how the tools are described to a model whose chat template has no tool support.
- `forced_call_schema`: for tool_choice "required" or a named tool, a JSON schema the engine's structured output
  enforces, so the reply is always a valid call.
- `parse_tool_calls`: finds calls in a reply: a bare JSON call (or list of calls), Hermes-style
  <tool_call>...</tool_call>, Llama's <|python_tag|>, or <function=name>{...}</function>.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FUNCTION_TAG = re.compile(r"<function=([A-Za-z0-9_\-.]+)>\s*(\{.*?\})\s*</function>", re.DOTALL)
_PYTHON_TAG = "<|python_tag|>"


@dataclass(frozen=True)
class ParsedToolCall:
    call_id: str
    tool_name: str
    arguments: str  # JSON object text


def tool_system_prompt(tools: list[dict[str, Any]]) -> str:
    described = json.dumps(
        [{"name": t["name"], "description": t["description"], "parameters": t["parameters"]} for t in tools], indent=1
    )
    return (
        "You can call these tools:\n"
        f"{described}\n"
        "To call a tool, reply with only a JSON object of the form "
        '{"name": "<tool name>", "arguments": {<arguments>}} and nothing else. '
        "Otherwise, answer the user directly."
    )


def _call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"type": "string", "enum": [tool["name"]]}, "arguments": tool["parameters"]},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def forced_call_schema(tools: list[dict[str, Any]], tool_choice: str) -> dict[str, Any]:
    """Schema of one call of the named tool, or (tool_choice "required") of any of the tools."""
    if tool_choice == "required":
        if len(tools) == 1:
            return _call_schema(tools[0])
        return {"anyOf": [_call_schema(tool) for tool in tools]}
    return _call_schema(next(tool for tool in tools if tool["name"] == tool_choice))


def _as_calls(value: Any, names: set[str]) -> list[ParsedToolCall]:
    items = value if isinstance(value, list) else [value]
    calls: list[ParsedToolCall] = []
    for item in items:
        if not isinstance(item, dict):
            return []
        name = item.get("name")
        arguments = item.get("arguments", item.get("parameters", {}))
        if name not in names or not isinstance(arguments, dict):
            return []
        calls.append(ParsedToolCall(f"call_{uuid.uuid4().hex[:24]}", name, json.dumps(arguments)))
    return calls


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    # JSONDecodeError is a ValueError, and so is an integer of more digits than Python reads (4300); a reply nested
    # deeper than the JSON reader goes is a RecursionError: no call in any case
    except (ValueError, RecursionError):
        return None


def parse_tool_calls(text: str, tools: list[dict[str, Any]]) -> list[ParsedToolCall]:
    """The tool calls in a model reply (only of tools the request offered); empty when it is a plain answer."""
    names = {tool["name"] for tool in tools}
    if not names:
        return []
    stripped = text.strip()
    if stripped.startswith(_PYTHON_TAG):
        stripped = stripped[len(_PYTHON_TAG) :].strip()
    tagged = _TAGGED.findall(stripped)
    if tagged:
        calls = [call for body in tagged for call in _as_calls(_load_json(body), names)]
        if calls:
            return calls
    function_tags = _FUNCTION_TAG.findall(stripped)
    if function_tags:
        values = [{"name": name, "arguments": _load_json(body)} for name, body in function_tags]
        calls = _as_calls(values, names)
        if calls:
            return calls
    if stripped.startswith(("{", "[")):
        return _as_calls(_load_json(stripped), names)
    return []
