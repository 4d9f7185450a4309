"""LoRA training of the tiny checkpoint on CPU: events, determinism, cancel, resume, the model."""

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from colloquy.fine_tuning.trainer import (
    TrainingCancelled,
    TrainingFailed,
    TrainingResult,
    TrainingSpec,
    train,
)
from colloquy.llm.providers import collect
from colloquy.llm.providers.base import ChatMessage, GenerationRequest
from colloquy.llm.providers.local import LocalProvider
from tests.fine_tuning.conftest import ANSWER, FAST, write_jsonl

pytestmark = pytest.mark.training

Events = list[tuple[str, dict[str, Any]]]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Training a model this small gains nothing from threads, and loses much on a busy CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(
    spec: TrainingSpec, stop: Callable[[Events], bool] = lambda events: False
) -> tuple[Events, TrainingResult]:
    events: Events = []
    result = train(
        spec,
        report=lambda kind, data: events.append((kind, data)),
        should_stop=lambda: stop(events),
    )
    return events, result


def of_kind(events: Events, kind: str) -> list[dict[str, Any]]:
    return [data for name, data in events if name == kind]


@pytest.fixture(scope="module")
def trained(
    model_root: Path, dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainingSpec, Events, TrainingResult]:
    """One run with a validation file, shared by the tests that only look at it."""
    work = tmp_path_factory.mktemp("trained")
    validation = write_jsonl(
        work / "validation.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "hello there"},
                    {"role": "assistant", "content": ANSWER},
                ]
            }
        ]
        * 3,
    )
    spec = TrainingSpec(
        base_model=model_root / "tiny-chat",
        train_file=dataset,
        validation_file=validation,
        output_dir=model_root / "trained-chat",
        work_dir=work / "work",
        hyperparameters=dataclasses.replace(FAST, n_epochs=4),
        metrics_every=2,
    )
    events, result = run(spec)
    return spec, events, result


def test_reports_events_in_order(trained: tuple[TrainingSpec, Events, TrainingResult]) -> None:
    _, events, result = trained

    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started"
    # 20 examples in batches of 4: 5 steps an epoch, metrics every 2 steps and at each epoch's end.
    assert kinds[1:] == ["metrics", "metrics", "metrics", "checkpoint", "epoch"] * 4
    assert events[0][1] == {
        "total_steps": 20,
        "n_examples": 20,
        "n_validation_examples": 3,
        "device": "cpu",
        "resumed_from_step": 0,
    }
    assert [m["step"] for m in of_kind(events, "metrics")][:3] == [2, 4, 5]
    assert [c["step"] for c in of_kind(events, "checkpoint")] == [5, 10, 15, 20]
    assert [e["epoch"] for e in of_kind(events, "epoch")] == [1, 2, 3, 4]
    assert result.steps == 20


def test_loss_decreases(trained: tuple[TrainingSpec, Events, TrainingResult]) -> None:
    _, events, result = trained

    epochs = of_kind(events, "epoch")
    train_losses = [e["train_loss"] for e in epochs]
    valid_losses = [e["valid_loss"] for e in epochs]
    assert train_losses == sorted(train_losses, reverse=True)
    assert valid_losses == sorted(valid_losses, reverse=True)
    assert valid_losses[-1] < valid_losses[0] / 2
    assert result.train_loss == train_losses[-1]
    assert result.valid_loss == valid_losses[-1]


def test_checkpoints_carry_metrics(trained: tuple[TrainingSpec, Events, TrainingResult]) -> None:
    spec, events, _ = trained

    checkpoints = of_kind(events, "checkpoint")
    assert all(0 <= c["token_accuracy"] <= 1 for c in checkpoints)
    assert (
        checkpoints[-1]["token_accuracy"] > checkpoints[0]["token_accuracy"]
        or checkpoints[0]["token_accuracy"] == 1
    )
    assert all(c["valid_loss"] is not None for c in checkpoints)
    assert all(Path(c["path"]).is_relative_to(spec.work_dir) for c in checkpoints)
    assert all((Path(c["path"]) / "adapter_model.safetensors").is_file() for c in checkpoints)


def test_counts_every_token_of_every_epoch(
    trained: tuple[TrainingSpec, Events, TrainingResult],
) -> None:
    spec, _, result = trained
    from transformers import AutoTokenizer

    from colloquy.fine_tuning.examples import encode_file

    tokenizer = AutoTokenizer.from_pretrained(spec.base_model, local_files_only=True)
    per_epoch = sum(len(e.input_ids) for e in encode_file(tokenizer, spec.train_file, 128))

    assert result.trained_tokens == 4 * per_epoch


def test_writes_a_plain_checkpoint_with_its_record(
    trained: tuple[TrainingSpec, Events, TrainingResult],
) -> None:
    spec, _, result = trained

    files = {path.name for path in spec.output_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "colloquy_training.json"} <= files
    assert not any(name.startswith("adapter") for name in files)
    record = json.loads((spec.output_dir / "colloquy_training.json").read_text())
    assert record["trained_tokens"] == result.trained_tokens
    assert record["hyperparameters"]["n_epochs"] == 4
    assert record["base_model"] == str(spec.base_model)
    assert record["valid_loss"] == result.valid_loss


async def test_the_trained_model_answers_through_the_local_provider(
    trained: tuple[TrainingSpec, Events, TrainingResult], model_root: Path
) -> None:
    spec, _, _ = trained
    provider = LocalProvider([model_root])
    try:
        request = GenerationRequest(
            model=spec.output_dir.name,
            messages=[ChatMessage("user", "greet me")],
            max_output_tokens=12,
            temperature=0,
        )
        trained_reply = await collect(provider, request)
        base_reply = await collect(provider, dataclasses.replace(request, model="tiny-chat"))
    finally:
        await provider.aclose()

    assert trained_reply.text.startswith(ANSWER)
    assert not base_reply.text.startswith(ANSWER)


async def test_without_a_chat_template_trains_on_the_transcript(
    spec: TrainingSpec, model_root: Path
) -> None:
    plain = dataclasses.replace(spec, base_model=model_root / "tiny")

    _, result = run(plain)

    provider = LocalProvider([model_root])
    try:
        request = GenerationRequest(
            model=plain.output_dir.name,
            messages=[ChatMessage("user", "greet me")],
            max_output_tokens=12,
            temperature=0,
        )
        reply = await collect(provider, request)
    finally:
        await provider.aclose()
    # The transcript puts a space between "assistant:" and the reply; the model learnt it too.
    assert reply.text == f" {ANSWER}"
    assert reply.finish_reason == "stop"
    assert result.valid_loss is None


def test_the_same_seed_gives_the_same_losses(spec: TrainingSpec, tmp_path: Path) -> None:
    first_events, first = run(spec)
    again = dataclasses.replace(
        spec, work_dir=tmp_path / "again", output_dir=tmp_path / "again-model"
    )
    second_events, second = run(again)
    other = dataclasses.replace(
        spec,
        work_dir=tmp_path / "other",
        output_dir=tmp_path / "other-model",
        hyperparameters=dataclasses.replace(spec.hyperparameters, seed=7),
    )
    third_events, _ = run(other)

    losses = [
        [m["train_loss"] for m in of_kind(events, "metrics")]
        for events in (first_events, second_events, third_events)
    ]
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]
    assert first == dataclasses.replace(second, output_dir=first.output_dir)


def test_stops_within_a_step_when_asked(spec: TrainingSpec) -> None:
    steps: list[int] = []

    def stop(events: Events) -> bool:
        steps.append(len(events))
        return len(of_kind(events, "metrics")) >= 2

    started = time.monotonic()
    with pytest.raises(TrainingCancelled):
        run(spec, stop)

    assert time.monotonic() - started < 30
    # Asked before every step; the fourth step was never taken.
    assert len(steps) == 5
    assert not spec.output_dir.exists()


def test_resumes_from_the_last_checkpoint(spec: TrainingSpec, tmp_path: Path) -> None:
    _, uninterrupted = run(
        dataclasses.replace(spec, work_dir=tmp_path / "whole", output_dir=tmp_path / "whole-model")
    )
    with pytest.raises(TrainingCancelled):
        run(spec, lambda events: len(of_kind(events, "metrics")) >= 4)  # two steps into epoch 2

    events, resumed = run(dataclasses.replace(spec, resume=True))

    started = of_kind(events, "started")[0]
    assert started["resumed_from_step"] == 5
    assert [c["step"] for c in of_kind(events, "checkpoint")] == [10, 15]
    assert [e["epoch"] for e in of_kind(events, "epoch")] == [2, 3]
    assert resumed.steps == 15
    assert resumed.trained_tokens == uninterrupted.trained_tokens
    assert resumed.train_loss == pytest.approx(uninterrupted.train_loss, rel=1e-5)


def test_without_resume_starts_over(spec: TrainingSpec) -> None:
    with pytest.raises(TrainingCancelled):
        run(spec, lambda events: bool(of_kind(events, "epoch")))

    events, _ = run(spec)

    assert of_kind(events, "started")[0]["resumed_from_step"] == 0


def test_a_dataset_with_nothing_to_train_fails_clearly(spec: TrainingSpec, tmp_path: Path) -> None:
    silent = write_jsonl(
        tmp_path / "silent.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "no", "weight": 0},
                ]
            }
        ],
    )

    with pytest.raises(TrainingFailed, match="no training example"):
        run(dataclasses.replace(spec, train_file=silent))


def test_a_broken_dataset_fails_naming_the_line(spec: TrainingSpec, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n')

    with pytest.raises(TrainingFailed, match=r"^line 2 of broken\.jsonl is not a chat example$"):
        run(dataclasses.replace(spec, train_file=broken))


def test_a_missing_checkpoint_fails_clearly(spec: TrainingSpec, tmp_path: Path) -> None:
    with pytest.raises(TrainingFailed, match="no checkpoint at nowhere"):
        run(dataclasses.replace(spec, base_model=tmp_path / "nowhere"))
