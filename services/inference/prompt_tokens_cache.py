"""The tokens of the prompts an engine tokenized last.

A request's prompt is tokenized twice: once to fit it to the context window (`TextEngine.count_tokens`, which also
caps max_tokens), then when it is generated. The second time reads it here. Tokenizing costs ~2.4 µs per token on
this project's CPUs (a 3,600-token agent conversation: ~8.5 ms of a core), so an engine keeps the last few prompts'
tokens, keyed by the prompt itself (text, or a chat's pieces), which only its own model's tokenizer turns into them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from services.inference.provider import Prompt

# Enough for the requests between a prompt's count and its generation on a busy engine (each at most a context
# window of token ids).
CACHED_PROMPTS = 32


class PromptTokensCache:
    """A small LRU map from prompt to token ids, safe to use from several threads."""

    def __init__(self, size: int = CACHED_PROMPTS) -> None:
        self._size = size
        self._entries: OrderedDict[Prompt, tuple[int, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def tokens(self, prompt: Prompt, tokenize: Callable[[Prompt], list[int]]) -> list[int]:
        """The tokens of `prompt`: the ones kept, else `tokenize(prompt)`'s (then kept). A new list each time."""
        with self._lock:
            kept = self._entries.get(prompt)
            if kept is not None:
                self._entries.move_to_end(prompt)
                return list(kept)
        tokens = tokenize(prompt)  # outside the lock: other threads tokenize meanwhile
        with self._lock:
            self._entries[prompt] = tuple(tokens)
            self._entries.move_to_end(prompt)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return tokens
