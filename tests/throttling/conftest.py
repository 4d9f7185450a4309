"""Fixtures: a clock held still in the middle of a minute, so no window rolls over mid-test, and
the live servers of the WebSocket tests."""

import time

import pytest

from colloquy.usage import limits
from tests.ws.conftest import serve

__all__ = ["serve", "steady_clock"]


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """The limits engine's clock, pinned 30 s into the current minute (every reset is 30 s)."""
    pinned = limits.current_window(time.time()) + 30.0
    monkeypatch.setattr(limits, "now", lambda: pinned)
    return pinned
