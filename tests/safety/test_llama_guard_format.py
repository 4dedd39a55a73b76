"""The Llama Guard 3 prompt and the parsing of its verdict."""

from __future__ import annotations

import pytest

from services.safety.llama_guard_format import CATEGORIES, GuardReplyError, build_prompt, parse_reply
from services.safety.provider import Turn

CONVERSATION = [
    Turn("system", "You are a helpful assistant."),
    Turn("user", "How do I bake bread?"),
    Turn("assistant", "Mix flour, water, yeast and salt."),
    Turn("user", "And how long should it rise?"),
]


def test_prompt_lists_every_category_and_the_conversation() -> None:
    prompt = build_prompt(CONVERSATION)
    for code, name in CATEGORIES.items():
        assert f"{code}: {name}." in prompt
    assert "User: How do I bake bread?" in prompt
    assert "Agent: Mix flour, water, yeast and salt." in prompt
    assert prompt.index("How do I bake bread?") < prompt.index("how long should it rise?")
    assert "You are a helpful assistant." not in prompt
    assert "ONLY THE LAST User message" in prompt
    assert "'safe' or 'unsafe'" in prompt


def test_prompt_leaves_out_excluded_categories() -> None:
    prompt = build_prompt(CONVERSATION, excluded={"S6", "S13"})
    assert "S6: Specialized Advice." not in prompt
    assert "S13: Elections." not in prompt
    assert "S1: Violent Crimes." in prompt and "S14: Code Interpreter Abuse." in prompt


def test_prompt_judges_the_agent_when_it_spoke_last() -> None:
    prompt = build_prompt([Turn("user", "Hi"), Turn("assistant", "Hello!")])
    assert "ONLY THE LAST Agent message" in prompt
    assert "'Agent' messages" in prompt


def test_safe_reply() -> None:
    verdict = parse_reply("safe")
    assert verdict.safe and verdict.categories == ()
    assert parse_reply("\n Safe \n").safe


def test_unsafe_reply_with_categories() -> None:
    verdict = parse_reply("unsafe\nS1,S10")
    assert not verdict.safe
    assert verdict.categories == ("S1", "S10")
    assert parse_reply("unsafe\n s2 , S2 ").categories == ("S2",)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I think this conversation is fine.",
        "unsafe",
        "unsafe\nS99",
        "unsafe\nviolence",
        "safe\nbut not really",
        "Sure! Here is a recipe for bread.",
    ],
)
def test_anything_else_is_refused(reply: str) -> None:
    with pytest.raises(GuardReplyError):
        parse_reply(reply)
