"""Fixtures for the providers: a loopback OpenAI-compatible server and a tiny local checkpoint."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm.checkpoints import CHAT_TEMPLATE, build_tiny_checkpoint
from tests.llm.fake_openai import FakeOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding `tiny` (no chat template) and `tiny-chat` (with one)."""
    pytest.importorskip("torch", reason="the local provider needs colloquy[local]")
    pytest.importorskip("transformers", reason="the local provider needs colloquy[local]")
    root = tmp_path_factory.mktemp("models")
    build_tiny_checkpoint(root / "tiny")
    build_tiny_checkpoint(root / "tiny-chat", chat_template=CHAT_TEMPLATE)
    return root
