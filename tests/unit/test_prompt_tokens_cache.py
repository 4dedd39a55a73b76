"""PromptTokensCache: a prompt counted and then generated is tokenized once; the cache keeps the last few prompts
(chat pieces and raw text apart) and hands out copies."""

from __future__ import annotations

from services.inference.prompt_tokens_cache import PromptTokensCache
from services.inference.provider import ChatPrompt, Prompt


class CountingTokenizer:
    def __init__(self) -> None:
        self.calls: list[Prompt] = []

    def __call__(self, prompt: Prompt) -> list[int]:
        self.calls.append(prompt)
        text = prompt if isinstance(prompt, str) else prompt.text
        return [ord(character) for character in text]


def test_a_prompt_is_tokenized_once_and_each_caller_gets_its_own_list() -> None:
    cache, tokenize = PromptTokensCache(size=4), CountingTokenizer()
    counted = cache.tokens("hello", tokenize)
    counted.append(0)  # a caller's change stays its own
    assert cache.tokens("hello", tokenize) == [ord(c) for c in "hello"]
    assert tokenize.calls == ["hello"]


def test_chat_pieces_and_the_same_text_as_a_raw_prompt_are_different_prompts() -> None:
    cache, tokenize = PromptTokensCache(size=4), CountingTokenizer()
    chat = ChatPrompt((("<|a|>", False), ("<|a|>", True)))
    cache.tokens(chat, tokenize)
    cache.tokens("<|a|><|a|>", tokenize)
    cache.tokens(ChatPrompt((("<|a|>", False), ("<|a|>", True))), tokenize)  # equal pieces: the same prompt
    assert tokenize.calls == [chat, "<|a|><|a|>"]


def test_the_least_recently_used_prompt_goes_first() -> None:
    cache, tokenize = PromptTokensCache(size=2), CountingTokenizer()
    for prompt in ("a", "b", "a", "c", "a", "b"):  # "b" is dropped for "c"; "a" stays, being used
        cache.tokens(prompt, tokenize)
    assert tokenize.calls == ["a", "b", "c", "b"]
