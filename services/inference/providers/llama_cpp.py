"""Text engine over llama-cpp-python: GGUF models on the CPU.

llama.cpp is not thread-safe, so every call that touches the model's context (loading, decoding, freeing) runs on one
dedicated worker thread, one request after the other. Tokens travel from that thread to the event loop through a
per-request asyncio queue; the async side merges whatever is ready into one `GenerationChunk`.

Generation drives `Llama.generate` (the token-level generator that `create_completion` itself runs on) rather than
`create_completion(stream=True)`: the streaming completion API hands out text without token ids or counts, holds text
back in ways the caller cannot see, and only returns logprobs when the model was loaded with `logits_all=True`, which
stores n_ctx x n_vocab floats (about 800 MB for a 49k vocabulary at n_ctx 4096) and computes logits for every prompt
token. Working per token gives exact token counts, a cancel check per token, and logprobs read from the logits llama.cpp
already computes for the sampled position.

Prefix reuse: the KV cache keeps the last request's prompt, and a new prompt that shares a prefix with it evaluates only
the rest. llama.cpp's CPU kernels do not give a token decoded alone (a one-token batch) exactly the numbers the same
token gets inside a multi-token batch (up to ~0.5 apart in the logits of SmolLM2), and greedy decoding turns the first
near-tie that difference meets into different text. llama-cpp-python's own prefix matching replays just the last
prompt token alone, and reuses generated tokens (each decoded alone) as if they were prompt, so its answers differed
from a fresh evaluation's after an early stop. Here every prompt token is evaluated in a batch of two or more (the
prompt is cut so that no piece has one token), only prompt tokens are ever reused, and at least the last two prompt
tokens are evaluated again: every cached or evaluated position gets exactly the numbers a fresh evaluation gives it.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import json
import random
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import llama_cpp
import numpy as np
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llama_cpp.llama_grammar import json_schema_to_gbnf

from services.inference.provider import (
    EngineStats,
    FinishReason,
    GenerationChunk,
    GenerationRequest,
    InvalidConstraint,
    ModelLoadError,
    OutputConstraint,
    SamplingParams,
    TextEngine,
    TokenLogprob,
)


@dataclass(frozen=True)
class _TokenStep:
    """What one sampled token added to the visible output (empty while text is held back)."""

    text: str
    logprob: TokenLogprob | None


@dataclass(frozen=True)
class _Finished:
    text: str  # held-back text released at the end
    finish_reason: FinishReason


_Event = _TokenStep | _Finished | BaseException


@dataclass(eq=False)
class _Job:
    """One request as the worker thread sees it."""

    request: GenerationRequest
    prompt_tokens: list[int]
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[_Event] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def emit(self, event: _Event) -> None:
        """Hand an event to the event loop (called from the worker thread)."""
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


class _StopStringFilter:
    """Finds stop strings across token boundaries, holding back text that may be the start of one."""

    def __init__(self, stop_strings: tuple[str, ...]) -> None:
        self._stop_strings = tuple(s for s in stop_strings if s)
        self._held = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Add new text; return the text that is safe to show and whether a stop string was reached."""
        self._held += text
        matches = [index for s in self._stop_strings if (index := self._held.find(s)) >= 0]
        if matches:
            shown, self._held = self._held[: min(matches)], ""
            return shown, True
        keep = max((self._partial_match_length(s) for s in self._stop_strings), default=0)
        cut = len(self._held) - keep
        shown, self._held = self._held[:cut], self._held[cut:]
        return shown, False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _partial_match_length(self, stop_string: str) -> int:
        """Length of the longest end of the held text that begins `stop_string`."""
        for length in range(min(len(stop_string) - 1, len(self._held)), 0, -1):
            if self._held.endswith(stop_string[:length]):
                return length
        return 0


def _sampler_arguments(sampling: SamplingParams) -> dict[str, Any]:
    """Keyword arguments of `Llama.generate` for these sampling settings."""
    common = {"repeat_penalty": sampling.repetition_penalty, "min_p": 0.0, "typical_p": 1.0}
    if sampling.strategy == "greedy":
        return {**common, "temp": 0.0, "top_k": 1, "top_p": 1.0}
    # Llama Stack's top-k strategy carries no temperature; sampling at temperature 0 would be greedy anyway.
    temperature = sampling.temperature if sampling.temperature > 0 else 1.0
    return {**common, "temp": temperature, "top_k": sampling.top_k, "top_p": sampling.top_p}


def _prefill_pieces(start: int, end: int, n_batch: int) -> list[tuple[int, int]]:
    """Cut [start, end) into batches of at most `n_batch` tokens, none of one token unless the whole range is one."""
    pieces = []
    while start < end:
        size = min(n_batch, end - start)
        if end - start - size == 1:
            size -= 1  # leave two tokens for the last piece
        pieces.append((start, start + size))
        start += size
    return pieces


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(logits.max())
    return shifted - np.log(np.exp(shifted).sum())


def _render_json(value: Any, indent: int | None = None, ensure_ascii: bool = False, **kwargs: Any) -> str:
    """The `tojson` filter as Hugging Face chat templates expect it (no HTML escaping, unicode kept)."""
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, **kwargs)


class _SkipGenerationTag(jinja2.ext.Extension):
    """Hugging Face templates may wrap assistant turns in `{% generation %}...{% endgeneration %}`: render the body."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _compile_chat_template(source: str) -> jinja2.Template:
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols, _SkipGenerationTag],
    )
    environment.filters["tojson"] = _render_json
    return environment.from_string(source)


def _raise_template_error(message: str) -> None:
    raise ValueError(f"chat template: {message}")


class LlamaCppEngine(TextEngine):
    """A GGUF model served by llama.cpp, one request at a time."""

    def __init__(
        self,
        model_path: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        prefix_cache: bool = True,
    ) -> None:
        if n_batch < 3:
            raise ValueError("n_batch must be at least 3")
        self._model_path = model_path
        self._prefix_cache = prefix_cache
        self._cached_prompt: list[int] = []  # prompt tokens whose KV cells are in the cache (worker thread only)
        self._reused_tokens = 0
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._n_batch = n_batch
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
        self._llm: llama_cpp.Llama | None = None
        self._vocab: Any = None  # llama_vocab pointer, for the low-level calls
        self._chat_template: jinja2.Template | None = None
        self._chat_template_source: str | None = None
        self._bos_text = ""
        self._eos_text = ""
        self._bos_id = -1
        self._closed = False
        self._jobs: set[_Job] = set()
        self._counts_lock = threading.Lock()
        self._running = 0
        self._waiting = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self._n_ctx

    async def start(self) -> None:
        await asyncio.wrap_future(self._worker.submit(self._load))

    def _load(self) -> None:
        path = Path(self._model_path)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                n_threads_batch=self._n_threads,  # None: llama.cpp's default (all cores for the prompt)
                n_batch=self._n_batch,
                verbose=False,
            )
        except Exception as exc:  # llama-cpp-python raises ValueError("Failed to load model from file: ...")
            raise ModelLoadError(f"cannot load {path} with llama.cpp: {exc}") from exc
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._bos_id = llm.token_bos()
        self._bos_text = self._special_token_text(llm, self._bos_id)
        self._eos_text = self._special_token_text(llm, llm.token_eos())
        template_source = llm.metadata.get("tokenizer.chat_template")
        if template_source:
            try:
                self._chat_template = _compile_chat_template(template_source)
                self._chat_template_source = template_source
            except jinja2.TemplateError as exc:
                llm.close()
                raise ModelLoadError(f"{path}: the chat template does not compile: {exc}") from exc
        self._llm = llm

    @staticmethod
    def _special_token_text(llm: llama_cpp.Llama, token: int) -> str:
        if token < 0:
            return ""
        return llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for job in self._jobs:
            job.cancelled.set()  # running and queued requests end with finish_reason "abort"
        # Freed on the worker thread, after every queued job has seen its cancel flag.
        await asyncio.wrap_future(self._worker.submit(self._release_model))
        self._worker.shutdown(wait=False)

    def _release_model(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

    @property
    def reused_prompt_tokens(self) -> int:
        """Prompt tokens taken from the KV cache instead of evaluated, over the engine's life."""
        return self._reused_tokens

    def stats(self) -> EngineStats:
        with self._counts_lock:
            return EngineStats(running_requests=self._running, waiting_requests=self._waiting)

    # -- prompts ---------------------------------------------------------------------------------------------------

    @property
    def chat_template_source(self) -> str | None:
        return self._chat_template_source

    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        self._require_model()
        if self._chat_template is None:
            raise ValueError(f"{self._model_path} has no chat template (GGUF key tokenizer.chat_template)")
        return self._chat_template.render(
            messages=messages,
            tools=tools or None,
            bos_token=self._bos_text,
            eos_token=self._eos_text,
            add_generation_prompt=True,
            raise_exception=_raise_template_error,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
        )

    def count_tokens(self, text: str) -> int:
        return len(self._prompt_tokens(text))

    def _prompt_tokens(self, text: str) -> list[int]:
        """The tokens generation feeds for `text`: special tokens parsed, BOS added when the model wants one,
        but not a second time when the rendered template already starts with it."""
        llm = self._require_model()
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        if self._bos_id >= 0 and tokens[:2] == [self._bos_id, self._bos_id]:
            tokens = tokens[1:]
        return tokens

    def _require_model(self) -> llama_cpp.Llama:
        if self._closed:
            raise RuntimeError("the engine is closed")
        if self._llm is None:
            raise RuntimeError("the engine is not started")
        return self._llm

    # -- generation: event-loop side -------------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        prompt_tokens = self._prompt_tokens(request.prompt)
        if not prompt_tokens:
            if self._bos_id < 0:
                raise ValueError("empty prompt and the model has no BOS token to start from")
            prompt_tokens = [self._bos_id]
        if len(prompt_tokens) >= self._n_ctx:
            raise ValueError(f"prompt has {len(prompt_tokens)} tokens; the context window is {self._n_ctx}")

        job = _Job(request=request, prompt_tokens=prompt_tokens, loop=asyncio.get_running_loop())
        with self._counts_lock:
            self._waiting += 1
        self._jobs.add(job)
        future = self._worker.submit(self._run_job, job)
        completion_tokens = 0
        token_count = 0  # tokens not yet reported in a chunk
        logprobs: list[TokenLogprob] = []
        finished = False
        try:
            while not finished:
                events = [await job.events.get()]
                while not job.events.empty():
                    events.append(job.events.get_nowait())
                texts: list[str] = []
                finish_reason: FinishReason | None = None
                for event in events:
                    if isinstance(event, BaseException):
                        finished = True
                        raise event
                    if isinstance(event, _TokenStep):
                        texts.append(event.text)
                        token_count += 1
                        if event.logprob is not None:
                            logprobs.append(event.logprob)
                    else:
                        texts.append(event.text)
                        finish_reason = event.finish_reason
                        finished = True
                text = "".join(texts)
                if not text and not finished:
                    continue  # only held-back tokens so far: report them with the next text
                completion_tokens += token_count
                yield GenerationChunk(
                    text=text,
                    token_count=token_count,
                    prompt_tokens=len(prompt_tokens),
                    completion_tokens=completion_tokens,
                    logprobs=logprobs,
                    finish_reason=finish_reason,
                )
                token_count, logprobs = 0, []
        finally:
            self._jobs.discard(job)
            if not finished:
                job.cancelled.set()
                if future.cancel():  # never started: it leaves the queue
                    with self._counts_lock:
                        self._waiting -= 1
                else:  # the worker notices the flag at its next token; wait so the engine is free on return
                    await asyncio.wrap_future(future)

    # -- generation: worker-thread side ----------------------------------------------------------------------------

    def _run_job(self, job: _Job) -> None:
        with self._counts_lock:
            self._waiting -= 1
            self._running += 1
        outcome: _Event
        try:
            outcome = _Finished("", "abort") if job.cancelled.is_set() else self._generate_blocking(job)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the consumer
            outcome = exc
        with self._counts_lock:  # before the last event, so a consumer that saw the end also sees the engine free
            self._running -= 1
        job.emit(outcome)

    def _generate_blocking(self, job: _Job) -> _Finished:
        llm = self._require_model()
        request = job.request
        sampling = request.sampling
        grammar = self._grammar_for(request.constraint) if request.constraint else None
        room_left = self._n_ctx - len(job.prompt_tokens)
        budget = min(sampling.max_tokens, room_left) if sampling.max_tokens > 0 else room_left
        llm.set_seed(sampling.seed if sampling.seed is not None else random.getrandbits(32))

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stop_filter = _StopStringFilter(sampling.stop)
        generated = 0
        finish_reason: FinishReason = "length"
        self._prefill(llm, job.prompt_tokens)
        # The prompt is in the cache and its last logits are current: generate samples first, then decodes one by one.
        tokens = llm.generate([], reset=False, grammar=grammar, **_sampler_arguments(sampling))
        try:
            for token in tokens:
                if job.cancelled.is_set():
                    return _Finished("", "abort")
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish_reason = "stop"
                    break
                generated += 1
                logprob = self._token_logprob(llm, token, request.logprobs) if request.logprobs > 0 else None
                shown, stopped = stop_filter.push(decoder.decode(llm.detokenize([token])))
                job.emit(_TokenStep(shown, logprob))
                if stopped:
                    return _Finished("", "stop")
                if generated >= budget:
                    break
        finally:
            tokens.close()
        shown, stopped = stop_filter.push(decoder.decode(b"", final=True))
        return _Finished(shown if stopped else shown + stop_filter.flush(), "stop" if stopped else finish_reason)

    def _prefill(self, llm: llama_cpp.Llama, prompt: list[int]) -> None:
        """Evaluate `prompt`, reusing the cached prompt's shared prefix (see the module docstring for the rules)."""
        keep = 0
        if self._prefix_cache:
            limit = min(len(self._cached_prompt), len(prompt) - 2)
            while keep < limit and self._cached_prompt[keep] == prompt[keep]:
                keep += 1
        self._cached_prompt = []  # until the evaluation below completes
        self._reused_tokens += keep
        llm.n_tokens = keep  # eval() first drops every cell from this position on
        for start, end in _prefill_pieces(keep, len(prompt), self._n_batch):
            llm.eval(prompt[start:end])
        self._cached_prompt = list(prompt)

    def _grammar_for(self, constraint: OutputConstraint) -> llama_cpp.LlamaGrammar:
        if constraint.json_schema is not None:
            try:
                gbnf = json_schema_to_gbnf(json.dumps(constraint.json_schema))
            except Exception as exc:  # the converter raises assorted errors for schemas it cannot express
                raise InvalidConstraint(f"cannot turn the JSON schema into a grammar: {exc}") from exc
        elif constraint.grammar is not None:
            gbnf = constraint.grammar
        else:
            raise InvalidConstraint("output constraint sets neither json_schema nor grammar")
        # llama.cpp parses the grammar only when the sampler chain is built, and a parse failure there puts a null
        # sampler into the chain (a crash at the first token). Parse it once here so a bad grammar is an error instead.
        probe = llama_cpp.llama_sampler_init_grammar(self._vocab, gbnf.encode(), b"root")
        if not probe:
            raise InvalidConstraint("the grammar does not parse (GBNF expected, start rule 'root')")
        llama_cpp.llama_sampler_free(probe)
        return llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)

    def _token_logprob(self, llm: llama_cpp.Llama, token: int, top_n: int) -> TokenLogprob:
        """Log-probabilities of the model's own distribution at this step (before penalties, grammar, temperature)."""
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        logprobs = _log_softmax(logits)
        top_n = min(top_n, logprobs.size)
        top_ids = np.argpartition(logprobs, -top_n)[-top_n:]
        top_ids = top_ids[np.argsort(logprobs[top_ids])[::-1]]
        return TokenLogprob(
            token=self._token_text(llm, token),
            logprob=float(logprobs[token]),
            top=tuple((self._token_text(llm, int(i)), float(logprobs[i])) for i in top_ids),
        )

    @staticmethod
    def _token_text(llm: llama_cpp.Llama, token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", errors="replace")
