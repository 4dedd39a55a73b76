"""The interface every inference engine provider implements.

The servicer turns protobuf requests into these plain objects, renders chat prompts through the engine's own chat
template, and reads back a stream of `GenerationChunk`s. It never knows which engine it talks to.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "abort"]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings, already validated by the servicer."""

    strategy: Literal["greedy", "top_p", "top_k"] = "greedy"
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 0  # 0: until the context window ends
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class OutputConstraint:
    """Constrains generation: exactly one of the two is set."""

    json_schema: dict[str, Any] | None = None
    grammar: str | None = None  # GBNF (llama.cpp) / EBNF (xgrammar) text


@dataclass(frozen=True)
class ChatPrompt:
    """A chat rendered through the model's template, in pieces: the template's own text, which an engine tokenizes
    with special tokens parsed, and stretches of a caller's text, which it tokenizes as plain text (a caller's
    "<|im_end|>" is those characters, never the control token; see `control_text_guard`)."""

    pieces: tuple[tuple[str, bool], ...]  # (text, whether it is a caller's text)

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.pieces)


# A rendered chat, or a raw completion prompt: that is all the caller's own, special tokens included (as llama.cpp's
# server and vLLM read a text prompt).
Prompt = str | ChatPrompt


def prompt_pieces(prompt: Prompt) -> tuple[tuple[str, bool], ...]:
    """The pieces to tokenize, each with whether it is plain text (a raw prompt is one piece, special tokens parsed)."""
    if isinstance(prompt, ChatPrompt):
        return prompt.pieces
    return ((prompt, False),) if prompt else ()


def prompt_text(prompt: Prompt) -> str:
    return prompt.text if isinstance(prompt, ChatPrompt) else prompt


@dataclass(frozen=True)
class GenerationRequest:
    request_id: str
    prompt: Prompt
    sampling: SamplingParams = SamplingParams()
    constraint: OutputConstraint | None = None
    logprobs: int = 0  # how many top alternatives per token; 0 = no logprobs


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass
class GenerationChunk:
    """New output since the previous chunk; the last chunk has `finish_reason` set."""

    text: str
    token_count: int
    prompt_tokens: int
    completion_tokens: int  # total so far
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    # prompt tokens whose KV came from the engine's prefix cache (engines that report it; 0 otherwise)
    cached_prompt_tokens: int = 0


@dataclass(frozen=True)
class EngineStats:
    running_requests: int
    waiting_requests: int


class ModelLoadError(Exception):
    """The model cannot be loaded (missing file, unsupported format...). `setting`: the provider setting to change
    when the cause is one (the model does not fit the GPUs or memory it was given, a context window the model lacks)."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


# The most UTF-8 bytes of one token's text assumed of an engine that does not read its vocabulary: a reply with
# logprobs is sized by it (reply_limits.py), and ends early where longer tokens come. SmolLM2's longest are 32.
ASSUMED_MAX_TOKEN_TEXT_BYTES = 128


class TextEngine(abc.ABC):
    """A loaded text-generation model."""

    @property
    @abc.abstractmethod
    def context_length(self) -> int: ...

    @property
    def max_token_text_bytes(self) -> int:
        """The most UTF-8 bytes one token's text takes, as logprobs show it."""
        return ASSUMED_MAX_TOKEN_TEXT_BYTES

    @abc.abstractmethod
    async def start(self) -> None:
        """Load the model; called once before any other method."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @property
    def chat_template_source(self) -> str | None:
        """The model's chat template (Jinja text), if the engine knows it; decides how tools are presented."""
        return None

    @abc.abstractmethod
    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> ChatPrompt:
        """Render messages (HF chat format) with the model's chat template, ending with the assistant prompt; the
        caller's strings in them stay plain text (`control_text_guard`)."""

    @abc.abstractmethod
    def count_tokens(self, prompt: Prompt) -> int:
        """The tokens of `prompt`; past `context_length` the engine may answer a lower bound (still past it)
        without tokenizing the whole text."""

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Stream the generation. Cancelling the iteration (or closing it) must abort the request in the engine."""

    @abc.abstractmethod
    def stats(self) -> EngineStats: ...


class Embedder(abc.ABC):
    """A loaded embedding model."""

    @property
    @abc.abstractmethod
    def dimension(self) -> int: ...

    @property
    @abc.abstractmethod
    def context_length(self) -> int: ...

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def embed(self, texts: list[str], truncation: str = "end", task: str = "") -> list[list[float]]:
        """One L2-normalised vector per text, in order. A text longer than the model reads is cut at its end
        (`truncation` "end"), at its start ("start": the end of the text is kept) or refused ("none":
        INVALID_ARGUMENT naming the text). `task` ("query" or "document") selects the model's prompt for that task
        where the model defines one."""


@dataclass(frozen=True)
class ChatGenerationRequest:
    """A chat for an engine that applies the chat template itself (a remote OpenAI-compatible server)."""

    request_id: str
    messages: list[dict[str, Any]]  # HF / OpenAI chat format
    sampling: SamplingParams = SamplingParams()
    tools: list[dict[str, Any]] = field(default_factory=list)  # {"name", "description", "parameters"}
    tool_choice: str = "auto"  # "auto" | "required" | "none" | a tool name
    constraint: OutputConstraint | None = None
    logprobs: int = 0


@dataclass(frozen=True)
class RemoteToolCall:
    call_id: str
    tool_name: str
    arguments: str  # JSON object text


@dataclass
class ChatGenerationChunk(GenerationChunk):
    """A GenerationChunk that may carry the tool calls the server parsed (on the last chunk)."""

    tool_calls: list[RemoteToolCall] = field(default_factory=list)


class ChatEngine(abc.ABC):
    """An engine that takes chat messages, not prompts: the server renders its own template and parses tool calls."""

    @property
    @abc.abstractmethod
    def context_length(self) -> int: ...

    @property
    def max_token_text_bytes(self) -> int:
        """As TextEngine's; a server's vocabulary is its own, so assumed."""
        return ASSUMED_MAX_TOKEN_TEXT_BYTES

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def chat(self, request: ChatGenerationRequest) -> AsyncIterator[ChatGenerationChunk]:
        """Stream a chat reply; closing the iteration cancels the remote request."""

    @abc.abstractmethod
    def complete(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Stream a plain completion of `request.prompt`."""

    @abc.abstractmethod
    def stats(self) -> EngineStats: ...


class InvalidConstraint(ValueError):
    """The engine cannot compile the requested JSON schema or grammar (the caller's input is at fault)."""
