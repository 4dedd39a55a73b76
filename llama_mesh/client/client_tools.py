"""Client tools as decorated Python functions: the ToolDefinition comes from the function itself.

    @client_tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        \"\"\"The current weather in a city.

        Args:
            city: The city's name.
            unit: Degrees Celsius or Fahrenheit.
        \"\"\"
        return f"Sunny, 21 degrees {unit} in {city}"

    get_weather.definition   # ToolDefinition(name="get_weather", description="The current weather in a city.",
                             #                parameters=<JSON schema of {city, unit}>)
    get_weather("Paris")     # still the plain function

The name is the function's; the description is the docstring up to its parameter section; the JSON schema comes from
the type hints through pydantic (a missing hint is "any value"; parameters without a default are required), with
each parameter's description taken from a Google-style `Args:` section or reST `:param name:` lines. When the model
calls the tool, `run` validates the arguments against the same model, calls the function (awaiting it if it is
async) and turns the result into text: strings as they are, anything else as JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable
from typing import Any, overload

import pydantic
import pydantic_core

from llama.common.v1 import tools_pb2
from llama_mesh.client.conversions import to_struct

_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Example|Examples):\s*$")
_ARG_SECTIONS = frozenset({"Args", "Arguments", "Parameters"})
_REST_PARAM = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")
_GOOGLE_PARAM = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (the text before any section or :param line) and each parameter's description."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section = "summary"  # then "args" (Google style), "rest" (:param lines) or "other"
    current = ""
    arg_indent = 0
    for line in inspect.cleandoc(doc or "").splitlines():
        if rest := _REST_PARAM.match(line):
            section, current = "rest", rest.group(1)
            params[current] = rest.group(2).strip()
        elif head := _SECTION.match(line):
            section, current, arg_indent = ("args" if head.group(1) in _ARG_SECTIONS else "other"), "", 0
        elif line.lstrip().startswith(":"):  # :returns:, :raises: ...
            section, current = "other", ""
        elif section == "summary":
            summary.append(line)
        elif (
            section == "args" and (arg := _GOOGLE_PARAM.match(line)) and (not arg_indent or _indent(line) <= arg_indent)
        ):
            current, arg_indent = arg.group(1), _indent(line)
            params[current] = arg.group(2).strip()
        elif current and line.strip():
            params[current] = f"{params[current]} {line.strip()}".strip()
    return "\n".join(summary).strip(), params


def _arguments_model(function: Callable[..., Any], descriptions: dict[str, str]) -> type[pydantic.BaseModel]:
    """A pydantic model of the function's parameters (no *args / **kwargs)."""
    try:
        signature = inspect.signature(function, eval_str=True)  # string annotations (`from __future__ import ...`)
    except NameError as error:
        raise TypeError(
            f"client tool {function.__name__}: a type hint names something its module does not define ({error})"
        ) from None
    fields: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"client tool {function.__name__}: *{name} cannot be described as a JSON object")
        annotation = param.annotation if param.annotation is not param.empty else Any
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, pydantic.Field(default, description=descriptions.get(name)))
    return pydantic.create_model(f"{function.__name__}_arguments", **fields)


def _without_titles(schema: Any) -> Any:
    """The schema without pydantic's generated "title" keys (noise for a model; property names say it)."""
    if isinstance(schema, dict):
        return {
            key: _without_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_without_titles(value) for value in schema]
    return schema


def tool_result_text(value: Any) -> str:
    """What the model reads back: a string as it is, anything else (pydantic models, dataclasses...) as JSON."""
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value).decode()


class ClientTool:
    """A Python function the agent's model may call; calling the object calls the function."""

    def __init__(self, function: Callable[..., Any], name: str | None = None, description: str | None = None) -> None:
        self.function = function
        self.name = name or function.__name__
        if not _TOOL_NAME.fullmatch(self.name):
            raise ValueError(f"tool name {self.name!r} may only hold letters, digits, '_' and '-'")
        summary, params = parse_docstring(function.__doc__)
        self.description = description if description is not None else summary
        self.arguments = _arguments_model(function, params)
        schema = _without_titles(self.arguments.model_json_schema())
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": schema.get("properties", {}),
            "required": schema.get("required", []),
        }
        if "$defs" in schema:
            self.parameters["$defs"] = schema["$defs"]
        self.__doc__ = function.__doc__
        self.__name__ = getattr(function, "__name__", self.name)
        self.__wrapped__ = function

    @property
    def definition(self) -> tools_pb2.ToolDefinition:
        """The ToolDefinition sent in the agent's config."""
        return tools_pb2.ToolDefinition(
            name=self.name, description=self.description, parameters=to_struct(self.parameters)
        )

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def _keywords(self, arguments: str) -> dict[str, Any]:
        """The validated keyword arguments of a call (ValueError with the reason when they do not fit)."""
        try:
            values = json.loads(arguments or "{}")
        except json.JSONDecodeError as error:
            raise ValueError(f"the arguments are not JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError("the arguments must be a JSON object")
        try:
            validated = self.arguments.model_validate(values)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, problem['loc'])) or 'arguments'}: {problem['msg']}"
                for problem in error.errors(include_url=False)
            )
            raise ValueError(f"invalid arguments: {problems}") from None
        return {name: getattr(validated, name) for name in type(validated).model_fields}

    def run(self, arguments: str) -> str:
        """Call the function with a tool call's JSON arguments; its result as text, or "error: ..." when the arguments
        do not fit or the function raises (the model reads that as the tool's answer)."""
        try:
            result = self.function(**self._keywords(arguments))
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            return tool_result_text(result)
        except Exception as error:  # noqa: BLE001 - any failure is the tool's answer for the model to read
            return f"error: {self.name} failed: {error}"

    async def run_async(self, arguments: str) -> str:
        """`run` for async code: awaits async functions, runs plain ones in a worker thread."""
        try:
            keywords = self._keywords(arguments)
            if self.is_async:
                result = await self.function(**keywords)
            else:
                result = await asyncio.to_thread(self.function, **keywords)
            return tool_result_text(result)
        except Exception as error:  # noqa: BLE001 - any failure is the tool's answer for the model to read
            return f"error: {self.name} failed: {error}"

    def __repr__(self) -> str:
        return f"ClientTool({self.name!r})"


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


@overload
def client_tool(function: Callable[..., Any], /) -> ClientTool: ...


@overload
def client_tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], ClientTool]: ...


def client_tool(
    function: Callable[..., Any] | None = None, /, *, name: str | None = None, description: str | None = None
) -> ClientTool | Callable[[Callable[..., Any]], ClientTool]:
    """Make a typed function a client tool: `@client_tool` or `@client_tool(name=..., description=...)`."""
    if function is not None:
        return ClientTool(function, name, description)
    return lambda wrapped: ClientTool(wrapped, name, description)


def as_client_tool(tool: ClientTool | Callable[..., Any]) -> ClientTool:
    """A ClientTool, wrapping a plain function when needed."""
    return tool if isinstance(tool, ClientTool) else ClientTool(tool)
