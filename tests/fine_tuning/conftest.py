"""Fixtures for training: tiny trainable checkpoints and a small chat dataset, built offline."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from colloquy.fine_tuning.trainer import Hyperparameters, TrainingSpec
from tests.llm.checkpoints import CHAT_TEMPLATE, build_tiny_checkpoint

ANSWER = "hello there, how are you today?"
QUESTIONS = [
    "say hello",
    "how are you?",
    "the quick brown fox",
    "jumps over the lazy dog",
    "hello hello",
    "say hello to the model",
    "what do you say?",
    "greet me",
    "are you there?",
    "hello model",
]
# Big steps, so a few of them visibly teach the tiny model.
FAST = Hyperparameters(n_epochs=3, batch_size=4, learning_rate=1e-2, max_seq_length=128)


def make_examples() -> list[dict[str, Any]]:
    """Twenty conversations that all end in ANSWER: single and multi-turn, some weighted 0."""
    examples: list[dict[str, Any]] = []
    for index, question in enumerate(QUESTIONS):
        examples.append(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": ANSWER},
                ]
            }
        )
        examples.append(
            {
                "messages": [
                    {"role": "system", "content": "Greet people."},
                    {"role": "user", "content": "hello"},
                    {"role": "assistant", "content": "say hello", "weight": index % 2},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": ANSWER},
                ]
            }
        )
    return examples


def write_jsonl(path: Path, examples: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(example) + "\n" for example in examples), encoding="utf-8")
    return path


def build_trainable_checkpoint(directory: Path, *, chat_template: str | None = None) -> None:
    """The providers' tiny checkpoint with a normal output head, so training can move it.

    That checkpoint zeroes its final layer norm to always answer " hello"; an adapter on the
    layers below could then never change a prediction.
    """
    import torch
    from transformers import AutoModelForCausalLM

    build_tiny_checkpoint(directory, chat_template=chat_template)
    model: Any = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    torch.manual_seed(1)
    with torch.no_grad():
        model.transformer.ln_f.weight.fill_(1.0)
        model.transformer.ln_f.bias.zero_()
        model.lm_head.weight.normal_(0.0, 0.5)
    model.save_pretrained(directory)


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding `tiny` (no chat template) and `tiny-chat` (with one)."""
    pytest.importorskip("peft", reason="training needs colloquy[train]")
    root = tmp_path_factory.mktemp("models")
    build_trainable_checkpoint(root / "tiny")
    build_trainable_checkpoint(root / "tiny-chat", chat_template=CHAT_TEMPLATE)
    return root


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "train.jsonl", make_examples())


@pytest.fixture
def spec(model_root: Path, dataset: Path, tmp_path: Path) -> TrainingSpec:
    """A training run of `tiny-chat` on the dataset, writing into this test's directories."""
    return TrainingSpec(
        base_model=model_root / "tiny-chat",
        train_file=dataset,
        output_dir=model_root / f"trained-{tmp_path.name}",
        work_dir=tmp_path / "work",
        hyperparameters=FAST,
        metrics_every=2,
    )
