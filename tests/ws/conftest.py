"""Each test serves the app with uvicorn, on the per-run database, with settings of its own."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import empty_tables, make_settings
from tests.ws.support import Live, live_server

Serve = Callable[..., AbstractAsyncContextManager[Live]]


@pytest.fixture
async def serve(database_url: str, tmp_path: Path) -> AsyncIterator[Serve]:
    """`async with serve(**settings) as live:`; several may run at once on the same database."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Live]:
        settings = make_settings(database_url, tmp_path / "var", **overrides)
        async with live_server(settings) as live:
            yield live

    try:
        yield start
    finally:
        await empty_tables(database_url)
