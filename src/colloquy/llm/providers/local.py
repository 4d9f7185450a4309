"""Hugging Face checkpoints on local disk (fine-tuned models), generated in-process.

Needs the `local` extra (PyTorch and transformers), imported only when a checkpoint is used.
Nothing is downloaded: checkpoints load from their directory only. Generation runs in a
worker thread and hands text to the event loop as it is produced.
"""

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from colloquy.llm.providers.base import (
    ChatMessage,
    Chunk,
    Finish,
    GenerationRequest,
    ProviderError,
    ProviderInfo,
    TextDelta,
    Usage,
)

INSTALL_HINT = "local checkpoints need PyTorch and transformers: install colloquy[local]"
DEFAULT_MAX_OUTPUT_TOKENS = 256
CACHE_SIZE = 2
# A cancelled generation stops after its current step; this bounds the wait for that step.
STOP_WAIT_SECONDS = 30.0
# Threads that wait for generated text, apart from the shared pool (password hashing, ...).
READER_THREADS = 64


def resolve_checkpoint(model: str | Path, model_dirs: Sequence[str | Path]) -> Path | None:
    """The real path of the checkpoint `model` names, or None unless it lies inside a model dir.

    Relative names are tried against the working directory, then inside each model dir.
    Symbolic links are followed before the check, so neither they nor `..` lead outside.
    """
    roots = [Path(root).resolve() for root in model_dirs]
    path = Path(model)
    candidates = [path] if path.is_absolute() else [path, *(root / path for root in roots)]
    allowed = [
        resolved
        for resolved in (candidate.resolve() for candidate in candidates)
        if any(resolved != root and resolved.is_relative_to(root) for root in roots)
    ]
    existing = [resolved for resolved in allowed if resolved.is_dir()]
    return next(iter(existing or allowed), None)


def checkpoint_allowed(model: str | Path, model_dirs: Sequence[str | Path]) -> bool:
    """Whether `model` names a path inside one of the model dirs (it need not exist yet)."""
    return resolve_checkpoint(model, model_dirs) is not None


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    tokenizer: Any
    model: Any
    has_template: bool
    context_window: int | None
    eos_ids: frozenset[int]


@dataclass(slots=True)
class _Generation:
    """One generate() call in its own thread, stoppable between steps."""

    checkpoint: _Checkpoint
    prompt_ids: list[int]
    options: dict[str, Any]
    max_new_tokens: int
    streamer: Any = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    new_ids: list[int] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        transformers, _ = _backend()
        self.streamer = transformers.TextIteratorStreamer(
            self.checkpoint.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        self.thread = threading.Thread(target=self._run, name="colloquy-generate", daemon=True)
        self.thread.start()

    def next_text(self) -> str | None:
        """The next piece of text, waiting for it; None once generation has ended."""
        piece: str | None = next(self.streamer, None)
        return piece

    def stop(self) -> None:
        """Ask generation to stop after its current step, and wait for that (bounded)."""
        self.cancelled.set()
        if self.thread is not None:
            self.thread.join(STOP_WAIT_SECONDS)

    def finish_reason(self) -> str:
        if self.new_ids and self.new_ids[-1] in self.checkpoint.eos_ids:
            return "stop"
        return "length" if len(self.new_ids) >= self.max_new_tokens else "stop"

    def _run(self) -> None:
        _, torch = _backend()
        model = self.checkpoint.model
        input_ids = torch.tensor([self.prompt_ids], dtype=torch.long, device=model.device)
        try:
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    streamer=self.streamer,
                    stopping_criteria=_cancel_criteria(self.cancelled),
                    max_new_tokens=self.max_new_tokens,
                    **self.options,
                )
            self.new_ids = output[0, len(self.prompt_ids) :].tolist()
        except BaseException as exc:  # handed to the event loop, which raises it there
            self.error = exc
        finally:
            # Wakes the reader even when generate() failed before ending the stream.
            self.streamer.text_queue.put(self.streamer.stop_signal)


class LocalProvider:
    """Generates with transformers from checkpoint directories under `model_dirs`."""

    kind = "local"

    def __init__(
        self,
        model_dirs: Sequence[str | Path],
        *,
        name: str = "local",
        cache_size: int = CACHE_SIZE,
        default_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
    ) -> None:
        self.name = name
        self.model_dirs = tuple(Path(directory) for directory in model_dirs)
        self.cache_size = cache_size
        self.default_max_output_tokens = default_max_output_tokens
        self._cache: OrderedDict[tuple[Path, int], _Checkpoint] = OrderedDict()
        self._loading = threading.Lock()
        self._readers = anyio.CapacityLimiter(READER_THREADS)

    def info(self) -> ProviderInfo:
        return ProviderInfo(name=self.name, kind=self.kind)

    def checkpoint_allowed(self, model: str | Path) -> bool:
        return checkpoint_allowed(model, self.model_dirs)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        checkpoint = await anyio.to_thread.run_sync(self._checkpoint, request.model)
        generation = await anyio.to_thread.run_sync(self._prepare, checkpoint, request)
        generation.start()
        try:
            while (piece := await self._next_text(generation)) is not None:
                if piece:
                    yield TextDelta(piece)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(generation.stop)
        if generation.error is not None:
            raise ProviderError(
                f"generation failed: {generation.error}", provider=self.name
            ) from generation.error
        yield Usage(input_tokens=len(generation.prompt_ids), output_tokens=len(generation.new_ids))
        yield Finish(generation.finish_reason())

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._forget)

    async def _next_text(self, generation: _Generation) -> str | None:
        # Abandoned on cancel: the finally block then stops generation, which wakes the thread.
        return await anyio.to_thread.run_sync(
            generation.next_text, abandon_on_cancel=True, limiter=self._readers
        )

    def _forget(self) -> None:
        with self._loading:
            self._cache.clear()

    def _checkpoint(self, model: str) -> _Checkpoint:
        path = resolve_checkpoint(model, self.model_dirs)
        if path is None:
            raise ProviderError(
                "the checkpoint must be a directory inside the configured model directories",
                provider=self.name,
            )
        if not (path / "config.json").is_file():
            raise ProviderError(f"no checkpoint at {model}", provider=self.name)
        key = (path, _fingerprint(path))
        with self._loading:
            loaded = self._cache.get(key)
            if loaded is None:
                loaded = self._load(path)
                self._cache[key] = loaded
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
        return loaded

    def _load(self, path: Path) -> _Checkpoint:
        transformers, torch = _backend(self.name)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                path, local_files_only=True, trust_remote_code=False
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, trust_remote_code=False, use_safetensors=True
            )
            model.to("cuda" if torch.cuda.is_available() else "cpu")
            model.eval()
        except Exception as exc:  # transformers raises many types for a bad checkpoint
            raise ProviderError(
                f"cannot load the checkpoint {path.name}: {exc}", provider=self.name
            ) from exc
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        return _Checkpoint(
            tokenizer=tokenizer,
            model=model,
            has_template=bool(getattr(tokenizer, "chat_template", None)),
            context_window=getattr(model.config, "max_position_embeddings", None),
            eos_ids=frozenset(eos_ids),
        )

    def _prepare(self, checkpoint: _Checkpoint, request: GenerationRequest) -> _Generation:
        try:
            prompt_ids = _encode_prompt(checkpoint, request.messages)
        except Exception as exc:  # a chat template may refuse a conversation (jinja errors)
            raise ProviderError(f"cannot build the prompt: {exc}", provider=self.name) from exc
        requested = request.max_output_tokens
        max_new = max(1, self.default_max_output_tokens if requested is None else requested)
        if checkpoint.context_window is not None:
            room = checkpoint.context_window - len(prompt_ids)
            if room <= 0:
                raise ProviderError(
                    f"the conversation ({len(prompt_ids)} tokens) does not fit the model's "
                    f"context window of {checkpoint.context_window} tokens",
                    provider=self.name,
                )
            max_new = min(max_new, room)
        return _Generation(
            checkpoint=checkpoint,
            prompt_ids=prompt_ids,
            options=_sampling_options(checkpoint, request),
            max_new_tokens=max_new,
        )


def _fingerprint(path: Path) -> int:
    """Changes when the checkpoint is rewritten in place (a fine-tune run again)."""
    stamps = [0]
    for entry in path.iterdir():
        with contextlib.suppress(OSError):
            stamps.append(entry.stat().st_mtime_ns)
    return max(stamps)


def _encode_prompt(checkpoint: _Checkpoint, messages: Sequence[ChatMessage]) -> list[int]:
    tokenizer = checkpoint.tokenizer
    if checkpoint.has_template:
        conversation = [{"role": m.role, "content": m.content} for m in messages]
        text = tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )
    else:
        text = "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"
    # A chat template writes its own special tokens; a plain transcript gets the usual ones.
    encoded = tokenizer(text, add_special_tokens=not checkpoint.has_template)
    return list(encoded["input_ids"])


def _sampling_options(checkpoint: _Checkpoint, request: GenerationRequest) -> dict[str, Any]:
    config = checkpoint.model.generation_config
    temperature = request.temperature
    sample = temperature > 0 if temperature is not None else bool(config.do_sample)
    options: dict[str, Any] = {"do_sample": sample}
    if sample:
        if temperature is not None:
            options["temperature"] = temperature
        if request.top_p is not None:
            options["top_p"] = request.top_p
    if config.pad_token_id is None:
        pad = checkpoint.tokenizer.pad_token_id
        options["pad_token_id"] = pad if pad is not None else min(checkpoint.eos_ids, default=None)
    if request.stop:
        options["stop_strings"] = list(request.stop)
        options["tokenizer"] = checkpoint.tokenizer
    return options


def _backend(provider: str = "local") -> tuple[Any, Any]:
    """transformers and torch, imported on first use; only local files are ever read."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ProviderError(INSTALL_HINT, provider=provider) from exc
    library: Any = transformers
    library.utils.logging.disable_progress_bar()
    return library, torch


def _cancel_criteria(event: threading.Event) -> Any:
    """Stopping criteria that end every sequence once `event` is set."""
    transformers, _ = _backend()
    return transformers.StoppingCriteriaList([_cancel_criterion_class()(event)])


@cache
def _cancel_criterion_class() -> Any:
    transformers, torch = _backend()
    base: Any = transformers.StoppingCriteria

    class CancelRequested(base):  # type: ignore[misc]
        def __init__(self, event: threading.Event) -> None:
            self.event = event

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full(
                (input_ids.shape[0],),
                self.event.is_set(),
                dtype=torch.bool,
                device=input_ids.device,
            )

    return CancelRequested
