"""How tools reach the model: through its own chat template when it renders them, else as a system prompt."""

from __future__ import annotations

from typing import Any

import jinja2

from services.inference.generation import render_chat_prompt
from services.inference.provider import SamplingParams, TextEngine
from services.inference.request_parsing import ChatInput

TOOLS = [{"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}}]
PLAIN = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
WITH_TOOLS = "{% if tools %}<tools>{{ tools | map(attribute='function.name') | join(',') }}</tools>{% endif %}" + PLAIN


class TemplateOnly(TextEngine):
    """Renders a given Jinja chat template; these tests never generate."""

    def __init__(self, template: str) -> None:
        self._source = template
        self._template = jinja2.Template(template)

    @property
    def chat_template_source(self) -> str | None:
        return self._source

    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return self._template.render(messages=messages, tools=tools)

    context_length = 4096  # type: ignore[assignment]
    start = close = count_tokens = generate = stats = None  # type: ignore[assignment]


def _chat(tool_choice: str = "auto") -> ChatInput:
    return ChatInput([{"role": "user", "content": "hi"}], SamplingParams(), TOOLS, tool_choice)


def test_a_template_with_tool_support_renders_the_tools_itself() -> None:
    prompt = render_chat_prompt(TemplateOnly(WITH_TOOLS), _chat())
    assert prompt == "<tools>get_weather</tools><user>hi<assistant>"


def test_a_template_without_tool_support_gets_a_system_prompt() -> None:
    prompt = render_chat_prompt(TemplateOnly(PLAIN), _chat())
    assert prompt.startswith("<system>You can call these tools:")
    assert '"get_weather"' in prompt and prompt.endswith("<user>hi<assistant>")


def test_tool_choice_none_hides_the_tools() -> None:
    assert render_chat_prompt(TemplateOnly(WITH_TOOLS), _chat("none")) == "<user>hi<assistant>"
