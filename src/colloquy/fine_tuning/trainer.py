"""LoRA fine-tuning of a local checkpoint with PyTorch, transformers and peft.

Needs the `train` extra, imported only when training runs (never when this module is). The
loss covers the replies `examples` marks. Checkpoints go under `work_dir/checkpoints/step-N`
at the end of each epoch: the adapter, the optimizer, scheduler and random states and the step,
so a run continues where it stopped. The final model is the base with the adapter merged in,
saved as a plain checkpoint the `local` provider loads.
"""

import contextlib
import json
import math
import os
import random
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from colloquy.fine_tuning.examples import IGNORE_INDEX, EncodedExample, ExampleError, encode_file

INSTALL_HINT = "fine-tuning needs PyTorch, transformers and peft: install colloquy[train]"
CHECKPOINTS = "checkpoints"
CHECKPOINT_INFO = "checkpoint.json"
TRAINER_STATE = "trainer_state.pt"
TRAINING_INFO = "colloquy_training.json"
MAX_GRAD_NORM = 1.0
LORA_DROPOUT = 0.05

Report = Callable[[str, dict[str, Any]], None]


class TrainingCancelled(Exception):
    """Training stopped because it was asked to."""


class TrainingFailed(Exception):
    """Training could not run or finish; the message is fit to show the job's owner."""


@dataclass(frozen=True, slots=True)
class Hyperparameters:
    """What a job may choose; the ranges are sanity limits, the API may hold tighter ones."""

    n_epochs: int = 3
    batch_size: int = 4
    learning_rate: float = 2e-4
    lora_rank: int = 8
    lora_alpha: int = 16
    max_seq_length: int = 1024
    seed: int = 42

    def __post_init__(self) -> None:
        checks = [
            ("n_epochs", 1 <= self.n_epochs <= 100),
            ("batch_size", 1 <= self.batch_size <= 256),
            ("learning_rate", 0 < self.learning_rate <= 1),
            ("lora_rank", 1 <= self.lora_rank <= 1024),
            ("lora_alpha", 1 <= self.lora_alpha <= 4096),
            ("max_seq_length", 16 <= self.max_seq_length <= 131072),
            ("seed", 0 <= self.seed < 2**32),
        ]
        for name, valid in checks:
            if not valid:
                raise ValueError(f"{name} is out of range: {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """One training run: the final model goes to `output_dir`, checkpoints under `work_dir`.

    With `resume`, a run continues from the latest checkpoint in `work_dir` made by a run of
    the same hyperparameters and data; without it, earlier checkpoints there are removed.
    """

    base_model: Path
    train_file: Path
    output_dir: Path
    work_dir: Path
    validation_file: Path | None = None
    hyperparameters: Hyperparameters = Hyperparameters()
    metrics_every: int = 10
    resume: bool = False

    def __post_init__(self) -> None:
        if self.metrics_every < 1:
            raise ValueError(f"metrics_every must be at least 1: {self.metrics_every!r}")


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """`trained_tokens` counts every token of every example, once per epoch."""

    trained_tokens: int
    steps: int
    train_loss: float | None
    valid_loss: float | None
    output_dir: Path


def _backend() -> tuple[Any, Any, Any]:
    """torch, transformers and peft; only local files are ever read."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise TrainingFailed(INSTALL_HINT) from exc
    library: Any = transformers
    library.utils.logging.disable_progress_bar()
    return torch, transformers, peft


class TrainingRun:
    """One call of `train`: loads, trains epoch by epoch, checkpoints and saves the model."""

    def __init__(
        self, spec: TrainingSpec, *, report: Report, should_stop: Callable[[], bool]
    ) -> None:
        self.torch, self.transformers, self.peft = _backend()
        self.spec = spec
        self.hp = spec.hyperparameters
        self.report = report
        self.should_stop = should_stop
        self.device = "cuda" if self.torch.cuda.is_available() else "cpu"
        self.step = 0
        self.trained_tokens = 0
        self.last_lr = self.hp.learning_rate
        self.metrics: dict[str, float | None] = {}

    def run(self) -> TrainingResult:
        random.seed(self.hp.seed)
        self.torch.manual_seed(self.hp.seed)
        self.tokenizer = self.transformers.AutoTokenizer.from_pretrained(
            self.spec.base_model, local_files_only=True, trust_remote_code=False
        )
        self._load_examples()
        checkpoint = self._latest_checkpoint() if self.spec.resume else None
        if checkpoint is None:
            shutil.rmtree(self.spec.work_dir / CHECKPOINTS, ignore_errors=True)
        self.model = self._load_model(checkpoint)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = self.torch.optim.AdamW(params, lr=self.hp.learning_rate, weight_decay=0.0)
        self.scheduler = self.torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda done: max(0.0, 1.0 - done / self.total_steps)
        )
        if checkpoint is not None:
            self._restore(checkpoint)
        self.report(
            "started",
            {
                "total_steps": self.total_steps,
                "n_examples": len(self.examples),
                "n_validation_examples": len(self.validation),
                "device": self.device,
                "resumed_from_step": self.step,
            },
        )
        for epoch in range(self.step // self.steps_per_epoch, self.hp.n_epochs):
            self._epoch(epoch)
        if self.should_stop():
            raise TrainingCancelled
        self._save_model()
        return TrainingResult(
            trained_tokens=self.trained_tokens,
            steps=self.step,
            train_loss=self.metrics.get("train_loss"),
            valid_loss=self.metrics.get("valid_loss"),
            output_dir=self.spec.output_dir,
        )

    def _load_examples(self) -> None:
        config = self.transformers.AutoConfig.from_pretrained(
            self.spec.base_model, local_files_only=True, trust_remote_code=False
        )
        window = getattr(config, "max_position_embeddings", None) or self.hp.max_seq_length
        max_length = min(self.hp.max_seq_length, window)
        validation_file = self.spec.validation_file
        try:
            self.examples = encode_file(self.tokenizer, self.spec.train_file, max_length)
            self.validation = (
                []
                if validation_file is None
                else encode_file(self.tokenizer, validation_file, max_length)
            )
        except ExampleError as exc:
            raise TrainingFailed(str(exc)) from exc
        if not self.examples:
            raise TrainingFailed("no training example has an assistant reply to train on")
        self.steps_per_epoch = math.ceil(len(self.examples) / self.hp.batch_size)
        self.total_steps = self.steps_per_epoch * self.hp.n_epochs

    def _load_model(self, checkpoint: Path | None) -> Any:
        base = self.transformers.AutoModelForCausalLM.from_pretrained(
            self.spec.base_model,
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=True,
        )
        self.base_dtype = base.dtype
        base.to(device=self.device, dtype=self.torch.float32)
        if checkpoint is not None:
            model = self.peft.PeftModel.from_pretrained(base, checkpoint, is_trainable=True)
        else:
            conv1d = self.transformers.pytorch_utils.Conv1D
            config = self.peft.LoraConfig(
                task_type="CAUSAL_LM",
                r=self.hp.lora_rank,
                lora_alpha=self.hp.lora_alpha,
                lora_dropout=LORA_DROPOUT,
                target_modules="all-linear",
                # GPT-2 style models keep their weights transposed in Conv1D layers.
                fan_in_fan_out=any(isinstance(m, conv1d) for m in base.modules()),
            )
            model = self.peft.get_peft_model(base, config)
        model.to(self.device)
        model.train()
        return model

    def _epoch(self, epoch: int) -> None:
        order = self._order(epoch)
        size = self.hp.batch_size
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        window: list[float] = []
        losses: list[float] = []
        batch: list[EncodedExample] = []
        for index in range(self.step - epoch * self.steps_per_epoch, len(batches)):
            if self.should_stop():
                raise TrainingCancelled
            batch = [self.examples[i] for i in batches[index]]
            loss = self._train_step(batch)
            window.append(loss)
            losses.append(loss)
            if self.step % self.spec.metrics_every == 0 and index < len(batches) - 1:
                self._report_metrics(epoch, window)
                window = []
        self._end_epoch(epoch, window, losses, last_batch=batch)

    def _order(self, epoch: int) -> list[int]:
        """The epoch's example order: the same for a seed and epoch, so a resume can skip."""
        generator = self.torch.Generator().manual_seed(self.hp.seed + epoch)
        order: list[int] = self.torch.randperm(len(self.examples), generator=generator).tolist()
        return order

    def _train_step(self, batch: Sequence[EncodedExample]) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss_sum, count, _ = self._forward(batch)
        loss = loss_sum / count
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(
            [p for p in self.model.parameters() if p.requires_grad], MAX_GRAD_NORM
        )
        self.last_lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.trained_tokens += sum(len(example.input_ids) for example in batch)
        return float(loss.item())

    def _forward(self, batch: Sequence[EncodedExample]) -> tuple[Any, Any, Any]:
        """Summed loss, number of target tokens and number predicted right, for one batch."""
        torch = self.torch
        width = max(len(example.input_ids) for example in batch)
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)

        def padded(rows: list[list[int]], fill: int) -> Any:
            full = [row + [fill] * (width - len(row)) for row in rows]
            return torch.tensor(full, dtype=torch.long, device=self.device)

        input_ids = padded([e.input_ids for e in batch], pad)
        mask = padded([[1] * len(e.input_ids) for e in batch], 0)
        labels = padded([e.labels for e in batch], IGNORE_INDEX)
        logits = self.model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
        targets = labels[:, 1:]
        loss_sum = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            targets.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        trained = targets != IGNORE_INDEX
        correct = ((logits.argmax(dim=-1) == targets) & trained).sum()
        return loss_sum, trained.sum(), correct

    def _evaluate(self, examples: Sequence[EncodedExample]) -> tuple[float, float]:
        """Loss per target token and the share of target tokens predicted right."""
        total = count = correct = 0.0
        self.model.eval()
        with self.torch.no_grad(), self._autocast():
            for start in range(0, len(examples), self.hp.batch_size):
                batch = examples[start : start + self.hp.batch_size]
                loss_sum, tokens, right = self._forward(batch)
                total, count = total + loss_sum.item(), count + tokens.item()
                correct += right.item()
        self.model.train()
        return total / count, correct / count

    def _autocast(self) -> Any:
        torch = self.torch
        if self.device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _report_metrics(
        self, epoch: int, window: Sequence[float], valid_loss: float | None = None
    ) -> None:
        data: dict[str, Any] = {
            "step": self.step,
            "total_steps": self.total_steps,
            "epoch": epoch + 1,
            "train_loss": sum(window) / len(window) if window else None,
            "learning_rate": self.last_lr,
        }
        if self.validation:
            data["valid_loss"] = valid_loss
        self.report("metrics", data)

    def _end_epoch(
        self,
        epoch: int,
        window: Sequence[float],
        losses: Sequence[float],
        *,
        last_batch: Sequence[EncodedExample],
    ) -> None:
        if self.validation:
            valid_loss, accuracy = self._evaluate(self.validation)
        else:
            valid_loss, (_, accuracy) = None, self._evaluate(last_batch)
        train_loss = sum(losses) / len(losses) if losses else None
        self.metrics = {
            "train_loss": train_loss,
            "valid_loss": valid_loss,
            "token_accuracy": accuracy,
        }
        self._report_metrics(epoch, window, valid_loss)
        path = self._save_checkpoint(epoch)
        self.report(
            "checkpoint", {"step": self.step, "epoch": epoch + 1, **self.metrics, "path": str(path)}
        )
        self.report(
            "epoch", {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": valid_loss}
        )

    def _save_checkpoint(self, epoch: int) -> Path:
        torch = self.torch
        path = self.spec.work_dir / CHECKPOINTS / f"step-{self.step:08d}"
        partial = path.with_name(f".{path.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        self.model.save_pretrained(partial)
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device == "cuda" else [],
            "python_rng": random.getstate(),
        }
        torch.save(state, partial / TRAINER_STATE)
        info = {
            "step": self.step,
            "epoch": epoch + 1,
            "trained_tokens": self.trained_tokens,
            "run": self._fingerprint(),
            **self.metrics,
        }
        (partial / CHECKPOINT_INFO).write_text(json.dumps(info), encoding="utf-8")
        shutil.rmtree(path, ignore_errors=True)
        partial.rename(path)
        return path

    def _fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must share with a run to be resumed by it."""
        return {
            "hyperparameters": asdict(self.hp),
            "n_examples": len(self.examples),
            "total_steps": self.total_steps,
        }

    def _latest_checkpoint(self) -> Path | None:
        found = []
        for path in (self.spec.work_dir / CHECKPOINTS).glob("step-*"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                info = json.loads((path / CHECKPOINT_INFO).read_text(encoding="utf-8"))
                if info["run"] == self._fingerprint():
                    found.append((int(info["step"]), path))
        return max(found)[1] if found else None

    def _restore(self, checkpoint: Path) -> None:
        torch = self.torch
        info = json.loads((checkpoint / CHECKPOINT_INFO).read_text(encoding="utf-8"))
        state = torch.load(checkpoint / TRAINER_STATE, map_location=self.device, weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] and self.device == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        random.setstate(state["python_rng"])
        self.step = int(info["step"])
        self.trained_tokens = int(info["trained_tokens"])
        self.metrics = {k: info.get(k) for k in ("train_loss", "valid_loss", "token_accuracy")}

    def _save_model(self) -> None:
        output = self.spec.output_dir
        partial = output.with_name(f".{output.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        merged = self.model.merge_and_unload()
        merged.to(dtype=self.base_dtype)
        merged.save_pretrained(partial)
        self.tokenizer.save_pretrained(partial)
        info = {
            "base_model": str(self.spec.base_model),
            "hyperparameters": asdict(self.hp),
            "n_examples": len(self.examples),
            "n_validation_examples": len(self.validation),
            "steps": self.step,
            "trained_tokens": self.trained_tokens,
            **self.metrics,
        }
        (partial / TRAINING_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
        shutil.rmtree(output, ignore_errors=True)
        partial.rename(output)


def train(spec: TrainingSpec, *, report: Report, should_stop: Callable[[], bool]) -> TrainingResult:
    """Fine-tune `spec.base_model` with LoRA and save the merged model to `spec.output_dir`.

    Reports "started", "metrics", "checkpoint" and "epoch" events; checks `should_stop`
    before every step and raises TrainingCancelled when it answers true.
    """
    if not (spec.base_model / "config.json").is_file():
        raise TrainingFailed(f"no checkpoint at {spec.base_model.name}")
    with warnings.catch_warnings():
        # The libraries' notices about their own future versions are not the job owner's.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return TrainingRun(spec, report=report, should_stop=should_stop).run()
