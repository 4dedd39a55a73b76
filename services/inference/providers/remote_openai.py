"""Chat engine over any OpenAI-compatible HTTP server: `vllm serve`, Ollama, llama.cpp's servers, a hosted API.

The server renders its own chat template and parses its own tool calls; this engine only maps our request objects to
the OpenAI wire format, streams the server-sent events back as chunks, and turns HTTP failures into `MeshError`s.

It speaks HTTP through `httpx` directly rather than the `openai` SDK: the wire format is a handful of JSON fields and
a line-oriented event stream, while the SDK would add its own retries (to be switched off), its own exception tree (to
be translated anyway), and `extra_body` plumbing for every field that is not OpenAI's own (top_k, grammars), and it
ties the engine to the SDK's release cadence. Under httpx the bytes travel on aiohttp (`httpx-aiohttp`'s transport, as
the SDK's own `DefaultAioHttpClient` does): its protocol-based reader with a C HTTP parser costs about half of httpx's
default anyio stack per network read, and a streamed answer is one read per token when the server is slower than us
(bench/README.md, serving CPU).

Fields outside OpenAI's API are sent only when a request needs them, so a plain greedy chat works on a hosted API too:

- top_k: `top_k` (vLLM, llama.cpp, Ollama).
- repetition penalty: both `repetition_penalty` (vLLM) and `repeat_penalty` (llama.cpp servers); each server ignores
  the other's name (vLLM accepts unknown fields with a warning, llama-cpp-python's request models ignore them).
- a grammar: both `structured_outputs: {"grammar": ...}` (vLLM >= 0.11; `guided_grammar` is gone) and `grammar`
  (llama.cpp's C++ server and llama-cpp-python), for the same reason; a server that knows neither (a hosted API)
  refuses the request, which is the right answer since it cannot honour it.
- a JSON schema: OpenAI's `response_format: {"type": "json_schema", ...}` (vLLM, Ollama, llama.cpp's C++ server, hosted
  APIs). llama-cpp-python's chat endpoint only knows `{"type": "json_object", "schema": ...}` and rejects the standard
  form; when a server rejects it, the engine retries once with that form and keeps using it for the server.
  `/completions` on llama-cpp-python ignores `response_format` altogether: that server cannot constrain a completion
  by schema, and nothing in its answer says so.

`timeout_s` bounds each wait on the server (connecting, the first byte, every next event), not a whole generation:
a long answer that keeps streaming never times out; the caller's gRPC deadline bounds the whole call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from llama_mesh.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    MeshError,
    ResourceExhausted,
    Unavailable,
)
from services.inference.coalescing import Chunk, merge_chunks
from services.inference.provider import (
    ChatEngine,
    ChatGenerationChunk,
    ChatGenerationRequest,
    EngineStats,
    FinishReason,
    GenerationChunk,
    GenerationRequest,
    InvalidConstraint,
    ModelLoadError,
    OutputConstraint,
    RemoteToolCall,
    SamplingParams,
    TokenLogprob,
    prompt_text,
)

log = logging.getLogger(__name__)

_MAX_ERROR_TEXT = 500
_CONSTRAINT_WORDS = ("response_format", "json_schema", "grammar", "structured", "schema")
# pydantic's refusal of a Literal field, listing what it accepts: "Input should be 'text' or 'json_object'".
_ALLOWED_VALUES = re.compile(r"should be ([^\"\n]*'json_object'[^\"\n]*)")
_SchemaStyle = Literal["json_schema", "json_object"]
# What a failed exchange with the server raises: httpx's errors, and aiohttp's that its transport leaves unmapped.
_TRANSPORT_ERRORS = (httpx.HTTPError, aiohttp.ClientError)


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int | None = None

    def update(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        if isinstance(usage.get("prompt_tokens"), int):
            self.prompt_tokens = usage["prompt_tokens"]
        if isinstance(usage.get("completion_tokens"), int):
            self.completion_tokens = usage["completion_tokens"]


@dataclass
class _ToolCallParts:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _StreamState:
    """What one streamed answer has delivered so far."""

    usage: _Usage = field(default_factory=_Usage)
    counted_tokens: int = 0  # counted from the deltas, for servers that report usage only at the end (or never)
    finish_reason: FinishReason | None = None
    held_text: list[str] = field(default_factory=list)  # text that arrived with the finish reason
    held_logprobs: list[TokenLogprob] = field(default_factory=list)
    emitted_tokens: int = 0  # the sum of the token_count of the chunks yielded so far
    tool_calls: dict[int, _ToolCallParts] = field(default_factory=dict)

    @property
    def completion_tokens(self) -> int:
        reported = self.usage.completion_tokens
        return max(self.counted_tokens, reported) if reported is not None else self.counted_tokens


class RemoteOpenAIEngine(ChatEngine):
    """One model served by an OpenAI-compatible server (`base_url` ends where `/models` hangs: usually `.../v1`)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        context_length: int = 4096,
        timeout_s: float = 600.0,
        max_concurrency: int = 64,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network transport (aiohttp's): a custom TLS setup, or a fake server in tests."""
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelLoadError(
                f"remote::openai base_url must be an http:// or https:// URL with a host, not {parts.scheme!r}://"
            )
        if parts.query or parts.fragment:
            raise ModelLoadError("remote::openai base_url must not have a query or fragment")
        if parts.username is not None or parts.password is not None:
            raise ModelLoadError("remote::openai base_url must not hold credentials: put the key in api_key")
        if not model:
            raise ModelLoadError("remote::openai needs the server's model name (the model entry's source)")
        if context_length < 1 or timeout_s <= 0 or max_concurrency < 1:
            raise ModelLoadError("remote::openai: context_length, timeout_s and max_concurrency must be positive")
        # named in the log only: messages to callers name no internal address
        self._base_url = base_url.strip().rstrip("/")
        self._model = model
        self._api_key = api_key or None
        self._context_length = context_length
        self._timeout_s = timeout_s
        self._max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self._transport = transport
        self._running = 0
        self._waiting = 0
        self._schema_style: _SchemaStyle = "json_schema"

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def model(self) -> str:
        return self._model

    async def start(self) -> None:
        try:
            response = await self._http().get("models")
        except _TRANSPORT_ERRORS as exc:
            await self._drop_client()
            log.warning("the remote server %s does not answer: %s", self._base_url, self._describe(exc))
            raise ModelLoadError(f"the remote server does not answer: {self._describe(exc)}") from exc
        if response.status_code != 200:
            await self._drop_client()
            if response.status_code in (401, 403):
                raise ModelLoadError("the remote server refused the API key")
            hint = " (does base_url end with /v1?)" if response.status_code == 404 else ""
            raise ModelLoadError(
                f"the remote server answered GET /models with HTTP {response.status_code}"
                f"{hint}: {self._error_text(response.text)}"
            )
        try:
            listed = response.json().get("data") or []
            models = {entry["id"]: entry for entry in listed if isinstance(entry, dict) and "id" in entry}
        except (ValueError, AttributeError) as exc:
            await self._drop_client()
            raise ModelLoadError("the remote server answered GET /models with no model list") from exc
        if self._model not in models:
            await self._drop_client()
            served = ", ".join(sorted(models)) or "none"
            raise ModelLoadError(f"the remote server does not serve model {self._model!r}; it serves: {served}")
        reported = models[self._model].get("max_model_len")
        if isinstance(reported, int) and reported > 0 and reported != self._context_length:
            log.info("remote model %s: the server reports a context of %d tokens", self._model, reported)
            self._context_length = reported

    async def close(self) -> None:
        self._closed = True
        await self._drop_client()

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made on first use (a failed `start` drops it, so a later call tries afresh)."""
        if self._closed:
            raise FailedPrecondition(f"the remote model {self._model!r} was closed", reason="ENGINE_CLOSED")
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def stats(self) -> EngineStats:
        return EngineStats(running_requests=self._running, waiting_requests=self._waiting)

    async def chat(self, request: ChatGenerationRequest) -> AsyncIterator[ChatGenerationChunk]:
        state = _StreamState()

        def read(choice: dict[str, Any]) -> tuple[str, list[TokenLogprob], bool]:
            delta = choice.get("delta") or {}
            tool_deltas = delta.get("tool_calls") or []
            for position, tool_delta in enumerate(tool_deltas):
                _add_tool_delta(state.tool_calls, position, tool_delta)
            text = delta.get("content") or ""
            return text, _chat_logprobs(choice.get("logprobs")), bool(text or tool_deltas)

        events = self._events("chat/completions", self._chat_body(request), "messages", request.constraint)
        async with aclosing(self._chunks(events, state, read, ChatGenerationChunk)) as chunks:  # closed with us
            async for chunk in chunks:
                yield chunk
        final = self._final_chunk(state)
        yield ChatGenerationChunk(**vars(final), tool_calls=_tool_calls(state.tool_calls))

    async def complete(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        state = _StreamState()

        def read(choice: dict[str, Any]) -> tuple[str, list[TokenLogprob], bool]:
            text = choice.get("text") or ""
            return text, _completion_logprobs(choice.get("logprobs")), bool(text)

        events = self._events("completions", self._completion_body(request), "content", request.constraint)
        async with aclosing(self._chunks(events, state, read, GenerationChunk)) as chunks:  # closed with us
            async for chunk in chunks:
                yield chunk
        yield self._final_chunk(state)

    async def _chunks(
        self,
        events: AsyncIterator[list[dict[str, Any]]],
        state: _StreamState,
        read: Callable[[dict[str, Any]], tuple[str, list[TokenLogprob], bool]],
        kind: type[Chunk],
    ) -> AsyncIterator[Chunk]:
        """One chunk per batch of events (those that came in one read from the network), from what `read` takes of
        each event's choice: its text, its tokens' logprobs, whether it produced output."""
        async with aclosing(events) as batches:
            async for batch in batches:
                chunks: list[Chunk] = []
                for event in batch:
                    state.usage.update(event.get("usage"))
                    choice = _first_choice(event)
                    if choice is None:
                        continue
                    text, logprobs, produced = read(choice)
                    chunk = self._step(state, text, logprobs, produced, choice.get("finish_reason"), kind)
                    if chunk is not None:
                        chunks.append(chunk)
                if chunks:
                    yield merge_chunks(chunks)

    # Request bodies

    def _chat_body(self, request: ChatGenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [_wire_message(message) for message in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update(_sampling_fields(request.sampling))
        if request.sampling.max_tokens > 0:
            body["max_tokens"] = request.sampling.max_tokens
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool["name"],
                        "description": tool.get("description") or "",
                        "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
                    },
                }
                for tool in request.tools
            ]
            if request.tool_choice in ("auto", "required", "none"):
                body["tool_choice"] = request.tool_choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
        body.update(self._constraint_fields(request.constraint))
        if request.logprobs > 0:
            body["logprobs"] = True
            body["top_logprobs"] = request.logprobs
        return body

    def _completion_body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "prompt": prompt_text(request.prompt),
            "stream": True,
            "stream_options": {"include_usage": True},
            # The legacy endpoint stops at 16 tokens unless told otherwise; null means "up to the context window".
            "max_tokens": request.sampling.max_tokens or None,
        }
        body.update(_sampling_fields(request.sampling))
        body.update(self._constraint_fields(request.constraint))
        if request.logprobs > 0:
            body["logprobs"] = request.logprobs
        return body

    def _constraint_fields(
        self, constraint: OutputConstraint | None, schema_style: _SchemaStyle | None = None
    ) -> dict[str, Any]:
        if constraint is None:
            return {}
        if constraint.grammar is not None:
            return {"structured_outputs": {"grammar": constraint.grammar}, "grammar": constraint.grammar}
        if constraint.json_schema is None:
            return {}
        if (schema_style or self._schema_style) == "json_object":
            return {"response_format": {"type": "json_object", "schema": constraint.json_schema}}
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": constraint.json_schema, "strict": True},
            }
        }

    # Streaming

    async def _events(
        self,
        path: str,
        body: dict[str, Any],
        input_field: str,
        constraint: OutputConstraint | None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The JSON events of one streamed answer, in lists of those that arrived together, holding a concurrency
        slot until the stream is closed."""
        client = self._http()
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        self._running += 1
        try:
            retried = False
            while True:
                async with client.stream("POST", path, json=body) as response:
                    if response.status_code >= 400:
                        text = await _read_text(response)
                        if not retried and self._rejects_json_schema_type(text, constraint):
                            # llama-cpp-python knows only the older {"type": "json_object", "schema": ...} form.
                            body = {**body, **self._constraint_fields(constraint, "json_object")}
                            retried = True
                            continue
                        blamed = self._constraint_error(response.status_code, text, constraint)
                        raise blamed or self._http_error(response.status_code, text, input_field)
                    if retried:
                        self._schema_style = "json_object"
                    async for data in _sse_data(response):
                        payloads = []
                        for event in data:
                            if event == b"[DONE]":
                                if payloads:
                                    yield payloads
                                return
                            payloads.append(self._payload(event, input_field))
                        if payloads:
                            yield payloads
                    return
        except _TRANSPORT_ERRORS as exc:
            raise self._transport_error(exc) from exc
        finally:
            self._running -= 1
            self._semaphore.release()

    def _payload(self, event: bytes, input_field: str) -> dict[str, Any]:
        try:
            payload = json.loads(event)
        except ValueError as exc:
            raise Internal(
                "the remote server sent an event that is not JSON",
                reason="REMOTE_PROTOCOL_ERROR",
            ) from exc
        if not isinstance(payload, dict):
            return {}
        if payload.get("error"):
            raise self._stream_error(payload["error"], input_field)
        return payload

    def _step(
        self,
        state: _StreamState,
        text: str,
        logprobs: list[TokenLogprob],
        produced: bool,
        finish_reason: Any,
        kind: type[Chunk],
    ) -> Chunk | None:
        """Account one delta; a chunk to yield now, or None while the end is near (held for the final chunk)."""
        new_tokens = len(logprobs) or (1 if produced else 0)
        state.counted_tokens += new_tokens
        if finish_reason:
            state.finish_reason = _finish_reason(finish_reason)
        if state.finish_reason is not None:
            state.held_text.append(text)
            state.held_logprobs.extend(logprobs)
            return None
        if not text and not logprobs:
            return None  # e.g. a tool-call delta: its tokens count in the next chunk
        token_count = state.counted_tokens - state.emitted_tokens
        state.emitted_tokens = state.counted_tokens
        return kind(
            text=text,
            token_count=token_count,
            prompt_tokens=state.usage.prompt_tokens,
            completion_tokens=state.completion_tokens,
            logprobs=logprobs,
        )

    def _final_chunk(self, state: _StreamState) -> GenerationChunk:
        if state.finish_reason is None:
            raise Unavailable(
                "the remote server ended the stream before the answer was finished (it failed mid-way: see its log)",
                reason="REMOTE_UNAVAILABLE",
            )
        return GenerationChunk(
            text="".join(state.held_text),
            token_count=max(state.completion_tokens - state.emitted_tokens, 0),
            prompt_tokens=state.usage.prompt_tokens,
            completion_tokens=state.completion_tokens,
            logprobs=state.held_logprobs,
            finish_reason=state.finish_reason,
        )

    # Errors

    def _new_client(self) -> httpx.AsyncClient:
        headers = {"User-Agent": "llama-mesh"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        limits = httpx.Limits(max_connections=self._max_concurrency + 2, max_keepalive_connections=16)
        return httpx.AsyncClient(
            base_url=self._base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 30.0)),
            follow_redirects=False,
            transport=self._transport or AiohttpTransport(limits=limits),
        )

    def _error_text(self, text: str) -> str:
        """The server's own message from an error body, trimmed, with the API key blanked out."""
        message = text.strip()
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            found = payload.get("error", payload.get("detail", payload.get("message")))
            if isinstance(found, dict):
                found = found.get("message", found)
            if found is not None:
                message = found if isinstance(found, str) else json.dumps(found)
        if len(message) > _MAX_ERROR_TEXT:
            message = message[:_MAX_ERROR_TEXT] + "..."
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message or "(no message)"

    def _http_error(self, status: int, text: str, input_field: str) -> MeshError:
        message = self._error_text(text)
        if status in (401, 403):
            return FailedPrecondition("the remote server refused the API key", reason="REMOTE_AUTH_FAILED")
        if status == 404:
            return FailedPrecondition(
                f"the remote server does not serve model {self._model!r}: {message}",
                reason="REMOTE_MODEL_NOT_FOUND",
            )
        if status == 408:
            return DeadlineExceeded(f"the remote server timed out: {message}", reason="REMOTE_TIMEOUT")
        if status == 429:
            return ResourceExhausted(f"the remote server is rate limiting: {message}", reason="REMOTE_RATE_LIMITED")
        if 400 <= status < 500:
            return InvalidArgument(input_field, f"the remote server refused the request: {message}")
        return Unavailable(
            f"the remote server failed (HTTP {status}): {message}",
            reason="REMOTE_UNAVAILABLE",
        )

    def _stream_error(self, error: Any, input_field: str) -> MeshError:
        """An error the server reported inside the event stream (vLLM does once streaming has begun)."""
        code = error.get("code") if isinstance(error, dict) else None
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
        return self._http_error(status, json.dumps({"error": error}), input_field)

    def _rejects_json_schema_type(self, text: str, constraint: OutputConstraint | None) -> bool:
        """The server refused `response_format` type "json_schema" and offers "json_object" (llama-cpp-python).

        Other refusals of a schema (vLLM naming a feature its grammar backend lacks) do not match, so a bad schema is
        never retried as the looser `json_object`, which vLLM would read as "any JSON".
        """
        if constraint is None or constraint.json_schema is None or self._schema_style != "json_schema":
            return False
        offered = _ALLOWED_VALUES.search(text)
        return "response_format" in text and offered is not None and "json_schema" not in offered.group(1)

    def _constraint_error(
        self, status: int, text: str, constraint: OutputConstraint | None
    ) -> InvalidConstraint | None:
        """A refusal that names the schema or grammar is the constraint's fault: the servicer reports it as such.

        llama-cpp-python answers a grammar it cannot parse with HTTP 500, so server errors count too.
        """
        if constraint is None or status in (401, 403, 404, 408, 429):
            return None
        message = self._error_text(text)
        if any(word in message.lower() for word in _CONSTRAINT_WORDS):
            return InvalidConstraint(f"the remote server refused the constraint: {message}")
        return None

    def _transport_error(self, failure: httpx.HTTPError | aiohttp.ClientError) -> MeshError:
        log.warning("the remote server %s: %s", self._base_url, self._describe(failure))
        exc = _httpx_kind(failure)
        if isinstance(exc, httpx.ConnectTimeout):
            return Unavailable("cannot connect to the remote server: timed out", reason="REMOTE_UNAVAILABLE")
        if isinstance(exc, httpx.TimeoutException):
            return DeadlineExceeded(f"the remote server sent nothing for {self._timeout_s:g}s", reason="REMOTE_TIMEOUT")
        if isinstance(exc, httpx.ConnectError):
            return Unavailable(
                f"cannot connect to the remote server: {self._describe(failure)}",
                reason="REMOTE_UNAVAILABLE",
            )
        return Unavailable(
            f"the connection to the remote server failed: {self._describe(failure)}",
            reason="REMOTE_UNAVAILABLE",
        )

    def _describe(self, exc: BaseException) -> str:
        cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) else exc
        if isinstance(cause, aiohttp.ClientConnectorError) and cause.os_error.errno:
            text = os.strerror(cause.os_error.errno)  # aiohttp's own text names the address, which callers never see
        elif isinstance(cause, aiohttp.ServerTimeoutError):
            text = "timed out"  # ditto
        else:
            text = str(exc) or type(exc).__name__
        return text.replace(self._api_key, "***") if self._api_key else text


def _httpx_kind(exc: httpx.HTTPError | aiohttp.ClientError) -> httpx.HTTPError:
    """httpx's own kind of a failure on aiohttp's transport, whose mapping makes every aiohttp connection error a
    ConnectTimeout (a refused connection, a server gone mid-stream) and leaves some unmapped."""
    cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) else exc
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc))
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, aiohttp.ServerTimeoutError):
        return httpx.ReadError(str(exc))
    return exc if isinstance(exc, httpx.HTTPError) else httpx.RemoteProtocolError(str(exc))


# Wire format helpers


def _sampling_fields(sampling: SamplingParams) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if sampling.strategy == "greedy":
        fields["temperature"] = 0.0
    else:
        fields["temperature"] = sampling.temperature
        fields["top_p"] = sampling.top_p
        if sampling.strategy == "top_k" and sampling.top_k > 0:
            fields["top_k"] = sampling.top_k
    if sampling.repetition_penalty != 1.0:
        fields["repetition_penalty"] = sampling.repetition_penalty
        fields["repeat_penalty"] = sampling.repetition_penalty
    if sampling.stop:
        fields["stop"] = list(sampling.stop)
    if sampling.seed is not None:
        fields["seed"] = sampling.seed
    return fields


def _wire_message(message: dict[str, Any]) -> dict[str, Any]:
    """An HF-format message as OpenAI wants it: tool-call arguments as JSON text, every call with an id."""
    calls = message.get("tool_calls")
    if not calls:
        return message
    wire_calls = []
    for index, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments", {})
        wire_calls.append(
            {
                "id": call.get("id") or f"call_{index}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
        )
    return {**message, "tool_calls": wire_calls}


async def _read_text(response: httpx.Response) -> str:
    body = await response.aread()
    return body.decode("utf-8", errors="replace")


async def _sse_data(response: httpx.Response) -> AsyncIterator[list[bytes]]:
    """The data of each server-sent event (multi-line data joined; comments and other fields skipped), in lists of
    those that came in one read from the network. Works on bytes: the JSON parser takes UTF-8 as it is."""
    buffer = b""
    async for raw in response.aiter_bytes():
        buffer += raw
        if b"\r" in buffer:  # CRLF or CR line ends; a CR last in the buffer may be half of a CRLF: it waits
            held = buffer.endswith(b"\r")
            buffer = buffer[:-1] if held else buffer
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if held else b"")
        *blocks, buffer = buffer.split(b"\n\n")
        data = [event for event in map(_event_data, blocks) if event is not None]
        if data:
            yield data
    last = _event_data(buffer.rstrip(b"\r\n"))
    if last is not None:
        yield [last]


def _event_data(block: bytes) -> bytes | None:
    """The data of one event's lines; None when it has no data field."""
    if block.startswith(b"data: ") and b"\n" not in block:  # the usual event: one data line
        return block[6:]
    data = [
        line[6:] if line.startswith(b"data: ") else line[5:] for line in block.split(b"\n") if line.startswith(b"data:")
    ]
    return b"\n".join(data) if data else None


def _first_choice(event: dict[str, Any]) -> dict[str, Any] | None:
    for choice in event.get("choices") or []:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return None


def _finish_reason(reason: Any) -> FinishReason:
    if reason == "length":
        return "length"
    if reason == "abort":
        return "abort"
    return "stop"  # "stop", "tool_calls", "function_call", "content_filter", "eos"...


def _logprob(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("-inf")


def _chat_logprobs(logprobs: Any) -> list[TokenLogprob]:
    if not isinstance(logprobs, dict):
        return []
    return [
        TokenLogprob(
            token=str(item.get("token", "")),
            logprob=_logprob(item.get("logprob")),
            top=tuple(
                (str(alt.get("token", "")), _logprob(alt.get("logprob")))
                for alt in item.get("top_logprobs") or []
                if isinstance(alt, dict)
            ),
        )
        for item in logprobs.get("content") or []
        if isinstance(item, dict)
    ]


def _completion_logprobs(logprobs: Any) -> list[TokenLogprob]:
    if not isinstance(logprobs, dict):
        return []
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or []
    result = []
    for index, token in enumerate(tokens):
        top = tops[index] if index < len(tops) and isinstance(tops[index], dict) else {}
        result.append(
            TokenLogprob(
                token=str(token),
                logprob=_logprob(values[index] if index < len(values) else None),
                top=tuple(sorted(((str(t), _logprob(v)) for t, v in top.items()), key=lambda pair: -pair[1])),
            )
        )
    return result


def _add_tool_delta(parts: dict[int, _ToolCallParts], position: int, delta: Any) -> None:
    if not isinstance(delta, dict):
        return
    index = delta.get("index")
    call = parts.setdefault(index if isinstance(index, int) else position, _ToolCallParts())
    if delta.get("id") and not call.call_id:
        call.call_id = delta["id"]
    function = delta.get("function") or {}
    if function.get("name") and not call.name:  # some servers repeat the name in every delta
        call.name = function["name"]
    if function.get("arguments"):
        call.arguments.append(function["arguments"])


def _tool_calls(parts: dict[int, _ToolCallParts]) -> list[RemoteToolCall]:
    return [
        RemoteToolCall(
            call_id=call.call_id or f"call_{uuid.uuid4().hex[:24]}",
            tool_name=call.name,
            arguments="".join(call.arguments).strip() or "{}",
        )
        for _, call in sorted(parts.items())
        if call.name
    ]
