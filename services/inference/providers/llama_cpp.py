"""Text engine over llama-cpp-python: GGUF models on the CPU, several sequences decoded together.

llama.cpp is not thread-safe, so one scheduler thread owns the model's context and makes every call that touches it
(decoding, sampling, freeing). The context holds `n_parallel` slots, one llama.cpp sequence each with its own KV cache
stream (`kv_unified` off). Between decode steps the scheduler admits queued requests into free slots, evaluates their
prompts, then decodes one token of every generating slot in a single `llama_decode` batch and samples each sequence with
its own sampler chain (greedy or seeded top-k/top-p, grammar, repetition penalty). Tokens travel from that thread to the
event loop through a per-request asyncio queue; the async side merges whatever is ready into one `GenerationChunk`.
A request whose consumer goes away (client disconnect, deadline) leaves its slot at the next step.

The engine works per token with llama.cpp's own API rather than `create_completion(stream=True)`: that API hands out
text without token ids or counts, holds text back in ways the caller cannot see, serves one sequence at a time, and
only returns logprobs when the model was loaded with `logits_all=True`. Working per token gives exact token counts, a
cancel check per step, and logprobs read from the logits llama.cpp already computes for the sampled position.

Identical numbers whatever else runs: llama.cpp's CPU kernels do not give a token decoded alone (a one-token piece of
its sequence) exactly the numbers the same token gets inside a multi-token piece of that sequence (up to ~0.5 apart in
the logits of SmolLM2), and greedy decoding turns the first near-tie that difference meets into different text. What
one sequence's numbers do not depend on is the other sequences in the batch, as long as each has its own KV stream:
a stream's cells hold only its own tokens, in position order, so attention sees exactly what it sees when the sequence
runs alone (a unified cache interleaves sequences' cells, and the attention sums then group differently). So a
sequence gives token for token, and to the last bit of every logprob, the same output alone or batched. Prompts are
evaluated one sequence per `llama_decode` call (a batch mixing a prompt with other sequences' tokens would be split by
llama.cpp into one-token pieces of that prompt) and cut so that no piece has one token.

Prefix reuse: each slot keeps its last prompt in its KV stream, a new request goes to the free slot sharing the longest
prefix with its prompt (or, when no slot saves many tokens, to one next to the busy slots: llama.cpp decodes a batch in
one pass only over a gap-free range of sequence ids), and only the rest is evaluated. Only prompt tokens are ever reused
(a generated token was decoded alone), and at least the last two prompt tokens are evaluated again: every cached or
evaluated position gets exactly the numbers a fresh evaluation gives it. (llama-cpp-python's own prefix matching replays
the last prompt token alone and reuses generated tokens as if they were prompt, so its answers differed from a fresh
evaluation's after an early stop.)
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import json
import logging
import multiprocessing
import random
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import llama_cpp
import llama_cpp._internals as llama_internals
import numpy as np
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llama_cpp.llama_grammar import json_schema_to_gbnf

from services.inference.control_text_guard import ControlTextGuard
from services.inference.grammar_limits import grammar_problem
from services.inference.prompt_tokens_cache import PromptTokensCache
from services.inference.provider import (
    ChatPrompt,
    EngineStats,
    FinishReason,
    GenerationChunk,
    GenerationRequest,
    InvalidConstraint,
    ModelLoadError,
    OutputConstraint,
    Prompt,
    SamplingParams,
    TextEngine,
    TokenLogprob,
    prompt_pieces,
    prompt_text,
)

DEFAULT_PARALLEL = 4  # sequences decoded together, each with a KV cache of n_ctx tokens
# Prompt tokens evaluated between two decode steps (in pieces of at most this many): the streams already running wait
# that long for their next token when a prompt comes in. On the CPU a prompt token costs about the same in a piece of
# 32 as in one of 512 (bench/README.md, llama_batching), so small pieces cost a long prompt nothing when it runs alone.
PREFILL_BATCH = 128
MAX_PARALLEL = 64


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
    """One request as the scheduler thread sees it."""

    request: GenerationRequest
    prompt_tokens: list[int]
    sampler: Any  # llama_sampler pointer (a chain built for this request); freed by `generate` once the job is done
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[_Event] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    released: asyncio.Future[None] = field(init=False)  # done once the job holds no slot and will emit nothing more

    def __post_init__(self) -> None:
        self.released = self.loop.create_future()

    def emit(self, event: _Event) -> None:
        """Hand an event to the event loop (called from the scheduler thread)."""
        self._call(self.events.put_nowait, event)

    def release(self) -> None:
        """Tell the event loop that the job is out of the engine (called from the scheduler thread)."""
        self._call(self._set_released)

    def _set_released(self) -> None:
        if not self.released.done():
            self.released.set_result(None)

    def _call(self, function: Any, *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


@dataclass(eq=False)
class _Slot:
    """One sequence of the context (its own KV stream) and the request it serves, if any (scheduler thread only,
    except `job`, which `stats` reads under the scheduler's lock)."""

    seq_id: int
    cached: list[int] = field(default_factory=list)  # prompt tokens whose KV cells are in the stream
    last_used: int = 0
    job: _Job | None = None
    # the request being served
    prompt: list[int] = field(default_factory=list)
    pieces: list[tuple[int, int]] = field(default_factory=list)  # prompt ranges still to evaluate
    budget: int = 0
    generated: int = 0
    next_token: int = -1  # sampled, not yet decoded: fed at position `len(prompt) + generated - 1`
    decoder: Any = None
    stop_filter: _StopStringFilter | None = None


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


# llama.cpp decodes the sequences of one batch together only while their ids run without a gap (each sequence has
# its own KV stream, and a compute pass covers a range of streams); a batch of 8 sequences with gaps between them cost
# as much as 8 batches of one (bench/README.md, llama_batching). A gap costs every decode step as long as it lasts,
# about as much over a 64-token answer as evaluating this many prompt tokens: a request takes a free slot next to a
# busy one unless another slot saves more prompt tokens than that.
_RUN_BREAK_TOKENS = 32

_PENALTY_LAST_N = 64  # tokens the repetition penalty looks back on (llama-cpp-python's default)

# The tokens llama.cpp looks for in a prompt's text when it parses special tokens (llama-vocab.cpp's special cache).
_SPECIAL_ATTRS = (
    llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
)
# The tokens llama.cpp reads in a text only when it parses special tokens: a caller's text never holds them.
_CONTROL_ATTRS = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
# A text counts as surely past the context window from this many times the tokens its size or its special tokens
# allow at the least (room for whitespace a special token strips, special texts inside one another).
_BOUND_SLACK = 2


# llama-cpp-python's schema converter lets a JSON string's unescaped characters be anything but `"` and `\`; JSON's
# exclude the control characters too (RFC 8259), which it takes only escaped. Sampled, the model wrote raw line breaks
# into strings: text no JSON reader takes.
_LOOSE_STRING_CHAR = r'char ::= [^"\\] |'
_JSON_STRING_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'


def _json_string_chars(gbnf: str) -> str:
    """The converter's grammar with a JSON string's characters as JSON has them."""
    return re.sub(rf"^{re.escape(_LOOSE_STRING_CHAR)}", lambda _: _JSON_STRING_CHAR, gbnf, flags=re.M)


def _sampler_chain(vocab: Any, n_vocab: int, sampling: SamplingParams, grammar: str | None) -> Any:
    """A llama.cpp sampler chain for these settings, in llama-cpp-python's order (penalties, grammar, then greedy or
    top-k, typical, top-p, min-p, temperature and a seeded draw). The caller frees it (`llama_sampler_free`)."""
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    samplers = [llama_cpp.llama_sampler_init_penalties(n_vocab, _PENALTY_LAST_N, sampling.repetition_penalty, 0.0, 0.0)]
    if grammar is not None:
        samplers.append(llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root"))
    if sampling.strategy == "greedy":
        samplers.append(llama_cpp.llama_sampler_init_greedy())
    else:
        # Llama Stack's top-k strategy carries no temperature; sampling at temperature 0 would be greedy anyway.
        temperature = sampling.temperature if sampling.temperature > 0 else 1.0
        seed = sampling.seed if sampling.seed is not None else random.getrandbits(32)
        samplers += [
            llama_cpp.llama_sampler_init_top_k(sampling.top_k),
            llama_cpp.llama_sampler_init_typical(1.0, 1),
            llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1),
            llama_cpp.llama_sampler_init_min_p(0.0, 1),
            llama_cpp.llama_sampler_init_temp(temperature),
            llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF),
        ]
    for sampler in samplers:
        llama_cpp.llama_sampler_chain_add(chain, sampler)  # the chain owns it from here
    return chain


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
    """A GGUF model served by llama.cpp, up to `n_parallel` requests decoded together."""

    def __init__(
        self,
        model_path: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = PREFILL_BATCH,
        prefix_cache: bool = True,
        n_parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        if n_batch < 3:
            raise ValueError("n_batch must be at least 3")
        if not 1 <= n_parallel <= MAX_PARALLEL:
            raise ValueError(f"n_parallel must be between 1 and {MAX_PARALLEL}")
        self._model_path = model_path
        self._prefix_cache = prefix_cache
        self._reused_tokens = 0
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._n_batch = n_batch
        self._n_parallel = n_parallel
        self._model: Any = None  # llama_cpp._internals.LlamaModel
        self._context: Any = None  # llama_cpp._internals.LlamaContext (scheduler thread only)
        self._memory: Any = None
        self._batch: Any = None
        self._vocab: Any = None  # llama_vocab pointer, for the low-level calls
        self._n_vocab = 0
        self._chat_template: jinja2.Template | None = None
        self._chat_template_source: str | None = None
        self._bos_text = ""
        self._eos_text = ""
        self._bos_id = -1
        self._special_texts: tuple[str, ...] = ()
        self._guard = ControlTextGuard(())
        self._token_cache = PromptTokensCache()
        self._max_token_bytes = 1
        self._closed = False
        self._tokenizer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-tokenize")
        self._slots = [_Slot(seq_id) for seq_id in range(n_parallel)]
        self._queue: collections.deque[_Job] = collections.deque()
        self._jobs: set[_Job] = set()
        self._lock = threading.Condition()  # guards _queue, _stopping and each slot's `job`
        self._stopping = False
        self._steps = 0
        self._peak_batch = 0
        self._scheduler: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self._n_ctx

    @property
    def max_token_text_bytes(self) -> int:
        return self._max_token_bytes

    @property
    def n_parallel(self) -> int:
        return self._n_parallel

    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        self._scheduler = threading.Thread(target=self._schedule, name="llama-cpp-scheduler", daemon=True)
        self._scheduler.start()

    def _load(self) -> None:
        path = Path(self._model_path)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        # llama.cpp logs through llama-cpp-python's logger: errors only, as `Llama(verbose=False)` sets it
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = 0
        try:
            model = llama_internals.LlamaModel(path_model=str(path), params=model_params, verbose=False)
        except Exception as exc:  # llama-cpp-python raises ValueError("Failed to load model from file: ...")
            raise ModelLoadError(f"cannot load {path} with llama.cpp: {exc}") from exc
        try:
            self._context = self._new_context(model)
        except Exception:
            model.close()
            raise
        self._memory = llama_cpp.llama_get_memory(self._context.ctx)
        self._batch = llama_cpp.llama_batch_init(max(self._n_batch, self._n_parallel), 0, 1)
        self._vocab = model.vocab
        self._n_vocab = model.n_vocab()
        self._bos_id = model.token_bos()
        self._special_texts, control_texts, self._max_token_bytes = self._token_texts(model)
        self._guard = ControlTextGuard(control_texts)
        self._bos_text = self._special_token_text(model, self._bos_id)
        self._eos_text = self._special_token_text(model, model.token_eos())
        template_source = model.metadata().get("tokenizer.chat_template")
        if template_source:
            try:
                self._chat_template = _compile_chat_template(template_source)
                self._chat_template_source = template_source
            except jinja2.TemplateError as exc:
                self._model = model
                self._release_model()
                raise ModelLoadError(f"{path}: the chat template does not compile: {exc}") from exc
        self._model = model

    def _new_context(self, model: Any) -> Any:
        """A context of `n_parallel` sequences with a KV stream of `n_ctx` cells each (see the module docstring)."""
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self._n_ctx * self._n_parallel
        params.n_seq_max = self._n_parallel
        params.kv_unified = False
        params.n_batch = params.n_ubatch = max(self._n_batch, self._n_parallel)
        threads = self._n_threads or max(multiprocessing.cpu_count() // 2, 1)
        params.n_threads = threads
        params.n_threads_batch = self._n_threads or multiprocessing.cpu_count()  # all cores for prompts by default
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        try:
            context = llama_internals.LlamaContext(model=model, params=params, verbose=False)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot create a llama.cpp context of {self._n_parallel} x {self._n_ctx} tokens: {exc}"
            ) from exc
        per_sequence = llama_cpp.llama_n_ctx_seq(context.ctx)
        if per_sequence < self._n_ctx:
            context.close()
            raise ModelLoadError(f"llama.cpp gives each sequence {per_sequence} tokens of context, not {self._n_ctx}")
        return context

    @staticmethod
    def _token_texts(model: Any) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        """The texts that stand for special tokens in a prompt, those of them that only a template's text may hold
        (control tokens), and the most bytes of text one token stands for: in a prompt, or as its text in logprobs
        (`_token_text`: a byte that is no UTF-8 shows as U+FFFD, 3 bytes)."""
        specials: list[str] = []
        controls: list[str] = []
        longest = 1
        for token in range(model.n_vocab()):
            piece = model.detokenize([token], special=True)
            longest = max(longest, len(piece), len(piece.decode("utf-8", errors="replace").encode()))
            attributes = llama_cpp.llama_vocab_get_attr(model.vocab, token)
            if piece and attributes & _SPECIAL_ATTRS:
                specials.append(piece.decode("utf-8", errors="replace"))
            if piece and attributes & _CONTROL_ATTRS:
                controls.append(piece.decode("utf-8", errors="replace"))
        return tuple(specials), tuple(controls), longest

    @staticmethod
    def _special_token_text(model: Any, token: int) -> str:
        if token < 0:
            return ""
        return model.detokenize([token], special=True).decode("utf-8", errors="replace")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._stopping = True
            for job in self._jobs:
                job.cancelled.set()  # running and queued requests end with finish_reason "abort"
            self._lock.notify()
        # a tokenization still running reads the model: let it end before the model is freed; queued ones never run
        await asyncio.to_thread(self._tokenizer.shutdown, wait=True, cancel_futures=True)
        if self._scheduler is not None:
            await asyncio.to_thread(self._scheduler.join)  # it aborts every job, then frees the model
        else:
            self._release_model()

    def _release_model(self) -> None:
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        context, self._context = self._context, None
        if context is not None:
            context.close()
        model, self._model = self._model, None
        if model is not None:
            model.close()

    @property
    def reused_prompt_tokens(self) -> int:
        """Prompt tokens taken from the KV cache instead of evaluated, over the engine's life."""
        return self._reused_tokens

    @property
    def peak_batch_size(self) -> int:
        """The most sequences decoded together in one step, over the engine's life."""
        return self._peak_batch

    def stats(self) -> EngineStats:
        with self._lock:
            running = sum(1 for slot in self._slots if slot.job is not None)
            return EngineStats(running_requests=running, waiting_requests=len(self._queue))

    # -- prompts ---------------------------------------------------------------------------------------------------

    @property
    def chat_template_source(self) -> str | None:
        return self._chat_template_source

    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> ChatPrompt:
        self._require_model()
        template = self._chat_template
        if template is None:
            raise ValueError(f"{self._model_path} has no chat template (GGUF key tokenizer.chat_template)")
        return self._guard.render(
            lambda guarded_messages, guarded_tools: template.render(
                messages=guarded_messages,
                tools=guarded_tools,
                bos_token=self._bos_text,
                eos_token=self._eos_text,
                add_generation_prompt=True,
                raise_exception=_raise_template_error,
                strftime_now=lambda fmt: datetime.now().strftime(fmt),
            ),
            messages,
            tools,
        )

    def count_tokens(self, prompt: Prompt) -> int:
        """Exact up to the context window. Past it, a text may not be tokenized at all and its count be a lower bound
        (see `_tokens_at_least`)."""
        at_least = self._tokens_at_least(prompt_text(prompt))
        if at_least > self._n_ctx:
            return at_least
        return len(self._prompt_tokens(prompt))

    def _tokens_at_least(self, text: str) -> int:
        """Fewer tokens than `text` holds, read without tokenizing it: llama.cpp's search for special tokens takes
        time quadratic in how many there are (a prompt of 20,000 empty chat messages took 9 s, of 1.5 million hours),
        so a text surely past the context window is not handed to it."""
        by_size = len(text.encode()) // (self._max_token_bytes * _BOUND_SLACK)
        if by_size > self._n_ctx:
            return by_size
        return max(by_size, sum(text.count(special) for special in self._special_texts) // _BOUND_SLACK)

    def _prompt_tokens(self, prompt: Prompt) -> list[int]:
        """The tokens generation feeds for `prompt` (counted first, then generated: tokenized once, see
        prompt_tokens_cache.py)."""
        return self._token_cache.tokens(prompt, self._tokenize_prompt)

    def _tokenize_prompt(self, prompt: Prompt) -> list[int]:
        """Special tokens parsed except in a caller's text within a chat, BOS added when the model wants one, but not a
        second time when the rendered template already starts with it."""
        model = self._require_model()
        tokens: list[int] = []
        for index, (text, plain) in enumerate(prompt_pieces(prompt)):
            tokens += model.tokenize(text.encode("utf-8"), add_bos=index == 0, special=not plain)
        if self._bos_id >= 0 and tokens[:2] == [self._bos_id, self._bos_id]:
            tokens = tokens[1:]
        return tokens

    def _require_model(self) -> Any:
        if self._closed:
            raise RuntimeError("the engine is closed")
        if self._model is None:
            raise RuntimeError("the engine is not started")
        return self._model

    # -- generation: event-loop side -------------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        at_least = self._tokens_at_least(prompt_text(request.prompt))
        if at_least > self._n_ctx:
            raise ValueError(f"prompt has at least {at_least} tokens; the context window is {self._n_ctx}")
        # Off the event loop (milliseconds for a few thousand characters), on one thread: requests reach the queue in
        # the order they came, as the prefix cache and the tests of it expect.
        prompt_tokens = await asyncio.get_running_loop().run_in_executor(
            self._tokenizer, self._prompt_tokens, request.prompt
        )
        if not prompt_tokens:
            if self._bos_id < 0:
                raise ValueError("empty prompt and the model has no BOS token to start from")
            prompt_tokens = [self._bos_id]
        if len(prompt_tokens) >= self._n_ctx:
            raise ValueError(f"prompt has {len(prompt_tokens)} tokens; the context window is {self._n_ctx}")
        if request.constraint is not None:  # parsing a grammar takes a while: off the event loop
            sampler = await asyncio.to_thread(self._sampler_for, request)
        else:
            sampler = self._sampler_for(request)

        job = _Job(request=request, prompt_tokens=prompt_tokens, sampler=sampler, loop=asyncio.get_running_loop())
        with self._lock:
            if self._stopping:
                llama_cpp.llama_sampler_free(sampler)
                raise RuntimeError("the engine is closed")
            self._jobs.add(job)
            self._queue.append(job)
            self._lock.notify()
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
            job.cancelled.set()  # a no-op once the job has finished
            with self._lock:
                self._jobs.discard(job)
                queued = job in self._queue
                if queued:  # never started: it leaves the queue
                    self._queue.remove(job)
                self._lock.notify()
            if not queued:  # the scheduler frees its slot at the next step; wait so the engine is free on return
                await asyncio.shield(job.released)
            llama_cpp.llama_sampler_free(job.sampler)

    def _sampler_for(self, request: GenerationRequest) -> Any:
        grammar = self._grammar_for(request.constraint) if request.constraint is not None else None
        return _sampler_chain(self._vocab, self._n_vocab, request.sampling, grammar)

    def _grammar_for(self, constraint: OutputConstraint) -> str:
        """The constraint as a GBNF grammar that llama.cpp parses."""
        if constraint.json_schema is not None:
            try:
                gbnf = _json_string_chars(json_schema_to_gbnf(json.dumps(constraint.json_schema)))
            except Exception as exc:  # the converter raises assorted errors for schemas it cannot express
                raise InvalidConstraint(f"cannot turn the JSON schema into a grammar: {exc}") from exc
        elif constraint.grammar is not None:
            gbnf = constraint.grammar
        else:
            raise InvalidConstraint("output constraint sets neither json_schema nor grammar")
        problem = grammar_problem(gbnf)  # a schema can make a grammar past the caps too
        if problem is not None:
            origin = "the JSON schema's grammar" if constraint.json_schema is not None else "the grammar"
            raise InvalidConstraint(f"{origin} {problem}")
        # A grammar that does not parse gives a null sampler (a crash at the first token if chained): parse it alone
        # first so that a bad grammar is an error instead.
        probe = llama_cpp.llama_sampler_init_grammar(self._vocab, gbnf.encode(), b"root")
        if not probe:
            raise InvalidConstraint("the grammar does not parse (GBNF expected, start rule 'root')")
        llama_cpp.llama_sampler_free(probe)
        return gbnf

    # -- generation: scheduler thread ------------------------------------------------------------------------------

    def _schedule(self) -> None:
        """Admit, evaluate prompts, decode one step of every generating slot; again until the engine closes."""
        try:
            while True:
                with self._lock:
                    while not self._stopping and not self._queue and not any(s.job for s in self._slots):
                        self._lock.wait()
                    if self._stopping:
                        break
                    admitted = self._admit()
                for slot in admitted:
                    self._start(slot)
                self._drop_cancelled()
                self._prefill_step()
                self._drop_cancelled()
                self._decode_step()
        finally:
            with self._lock:
                self._stopping = True
                queued, self._queue = list(self._queue), collections.deque()
            for slot in self._slots:
                if slot.job is not None:
                    self._finish(slot, _Finished("", "abort"))
            for job in queued:
                job.emit(_Finished("", "abort"))
                job.release()
            self._release_model()

    def _admit(self) -> list[_Slot]:
        """Queued requests into free slots, each where its prompt shares the longest prefix, unless that prefix is
        too short to pay for a gap between busy slots (see `_RUN_BREAK_TOKENS`); least recently used on a tie
        (under the lock)."""
        admitted = []
        free = [slot for slot in self._slots if slot.job is None]
        while self._queue and free:
            job = self._queue.popleft()
            slot = max(free, key=lambda s: (self._admission_score(s, job.prompt_tokens), -s.last_used))
            free.remove(slot)
            slot.job = job
            admitted.append(slot)
        return admitted

    def _admission_score(self, slot: _Slot, prompt: list[int]) -> int:
        """Prompt tokens the slot saves minus the cost of the runs of adjacent busy slots it adds (-1, 0 or 1)."""
        neighbours = [self._slots[i] for i in (slot.seq_id - 1, slot.seq_id + 1) if 0 <= i < len(self._slots)]
        added_runs = 1 - sum(1 for n in neighbours if n.job is not None)
        return self._shared_prefix(slot.cached, prompt) - _RUN_BREAK_TOKENS * added_runs

    def _shared_prefix(self, cached: list[int], prompt: list[int]) -> int:
        """Cached prompt tokens reusable for `prompt`: never its last two (see the module docstring)."""
        if not self._prefix_cache:
            return 0
        keep, limit = 0, min(len(cached), len(prompt) - 2)
        while keep < limit and cached[keep] == prompt[keep]:
            keep += 1
        return keep

    def _start(self, slot: _Slot) -> None:
        job = slot.job
        assert job is not None
        self._steps += 1
        slot.last_used = self._steps
        slot.prompt = job.prompt_tokens
        keep = self._shared_prefix(slot.cached, slot.prompt)
        self._reused_tokens += keep
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, keep, -1)
        slot.cached = []  # until the evaluation completes
        slot.pieces = _prefill_pieces(keep, len(slot.prompt), self._n_batch)
        sampling = job.request.sampling
        room_left = self._n_ctx - len(slot.prompt)
        slot.budget = min(sampling.max_tokens, room_left) if sampling.max_tokens > 0 else room_left
        slot.generated = 0
        slot.next_token = -1
        slot.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        slot.stop_filter = _StopStringFilter(sampling.stop)

    def _drop_cancelled(self) -> None:
        for slot in self._slots:
            if slot.job is not None and slot.job.cancelled.is_set():
                self._finish(slot, _Finished("", "abort"))

    def _prefill_step(self) -> None:
        """Evaluate prompt pieces of admitted slots, about `n_batch` tokens in all (at least one piece), one
        sequence per `llama_decode`; a slot whose prompt is done samples its first token."""
        budget = self._n_batch
        for slot in self._slots:
            while slot.job is not None and slot.pieces and budget > 0:
                start, end = slot.pieces.pop(0)
                last = not slot.pieces
                items = [(slot.prompt[pos], pos, slot.seq_id, last and pos == end - 1) for pos in range(start, end)]
                budget -= end - start
                try:
                    self._decode(items)
                except Exception as exc:  # noqa: BLE001 - the request fails, the engine goes on
                    self._finish(slot, exc)
                    break
                if last:
                    slot.cached = list(slot.prompt)
                    self._sample_or_fail(slot, len(items) - 1)

    def _decode_step(self) -> None:
        """One token of every generating slot in one batch, then each samples its next token."""
        slots = [slot for slot in self._slots if slot.job is not None and slot.next_token >= 0]
        if not slots:
            return
        self._peak_batch = max(self._peak_batch, len(slots))
        items = [(slot.next_token, len(slot.prompt) + slot.generated - 1, slot.seq_id, True) for slot in slots]
        try:
            self._decode(items)
        except Exception as exc:  # noqa: BLE001
            for slot in slots:
                self._finish(slot, exc)
            return
        for index, slot in enumerate(slots):
            self._sample_or_fail(slot, index)

    def _sample_or_fail(self, slot: _Slot, index: int) -> None:
        try:
            self._sample(slot, index)
        except Exception as exc:  # noqa: BLE001 - the request fails, the engine goes on
            if slot.job is not None:
                self._finish(slot, exc)

    def _decode(self, items: list[tuple[int, int, int, bool]]) -> None:
        """`llama_decode` of (token, position, sequence, wants logits) items."""
        batch = self._batch
        batch.n_tokens = len(items)
        for index, (token, position, seq_id, logits) in enumerate(items):
            batch.token[index] = token
            batch.pos[index] = position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = seq_id
            batch.logits[index] = logits
        status = llama_cpp.llama_decode(self._context.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed (status {status})")

    def _sample(self, slot: _Slot, index: int) -> None:
        """Sample the slot's next token from the logits at batch `index`; emit it or finish the request."""
        job = slot.job
        assert job is not None and slot.decoder is not None and slot.stop_filter is not None
        token = llama_cpp.llama_sampler_sample(job.sampler, self._context.ctx, index)
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._finish(slot, self._final(slot, "stop"))
            return
        slot.generated += 1
        request = job.request
        logprob = self._token_logprob(index, token, request.logprobs) if request.logprobs > 0 else None
        shown, stopped = slot.stop_filter.push(slot.decoder.decode(self._model.detokenize([token])))
        job.emit(_TokenStep(shown, logprob))
        if stopped:
            self._finish(slot, _Finished("", "stop"))
        elif slot.generated >= slot.budget:
            self._finish(slot, self._final(slot, "length"))
        else:
            slot.next_token = token

    @staticmethod
    def _final(slot: _Slot, finish_reason: FinishReason) -> _Finished:
        """The end of the request: text held back by the decoder or the stop-string filter is released."""
        assert slot.decoder is not None and slot.stop_filter is not None
        shown, stopped = slot.stop_filter.push(slot.decoder.decode(b"", final=True))
        if stopped:
            return _Finished(shown, "stop")
        return _Finished(shown + slot.stop_filter.flush(), finish_reason)

    def _finish(self, slot: _Slot, outcome: _Event) -> None:
        """Free the slot (keeping its prompt's cells when the prompt was evaluated), then hand over the outcome."""
        job = slot.job
        assert job is not None
        if self._memory is not None:
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, len(slot.cached), -1)
        slot.pieces, slot.next_token = [], -1
        with self._lock:  # before the last event, so a consumer that saw the end also sees the engine free
            slot.job = None
        job.emit(outcome)
        job.release()

    def _token_logprob(self, index: int, token: int, top_n: int) -> TokenLogprob:
        """Log-probabilities of the model's own distribution at this step (before penalties, grammar, temperature)."""
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._context.ctx, index), shape=(self._n_vocab,))
        logprobs = _log_softmax(logits)
        top_n = min(top_n, logprobs.size)
        top_ids = np.argpartition(logprobs, -top_n)[-top_n:]
        top_ids = top_ids[np.argsort(logprobs[top_ids])[::-1]]
        return TokenLogprob(
            token=self._token_text(token),
            logprob=float(logprobs[token]),
            top=tuple((self._token_text(int(i)), float(logprobs[i])) for i in top_ids),
        )

    def _token_text(self, token: int) -> str:
        return self._model.detokenize([token], special=True).decode("utf-8", errors="replace")
