"""Datasets: take in a file (hashed, counted and validated as it is written to storage), list,
preview, stream back, rename and delete them."""

import hashlib
import posixpath
import unicodedata
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.core.database import Database, transaction
from colloquy.core.pagination import PageParams
from colloquy.core.settings import Settings
from colloquy.datasets import repository
from colloquy.datasets.errors import (
    DatasetFileMissing,
    DatasetInvalid,
    DatasetNotFound,
    DatasetTooLarge,
)
from colloquy.datasets.models import Dataset
from colloquy.datasets.schemas import DatasetUpdate, Example, ExampleMessage
from colloquy.datasets.storage import Storage, StorageWriter, content_key
from colloquy.datasets.validation import DatasetStats, JsonlValidator, parse_line

DEFAULT_FILENAME = "dataset.jsonl"
MAX_FILENAME_CHARS = 255
# Chunks larger than this are hashed and validated in a worker thread (token counting is CPU).
OFF_LOOP_BYTES = 16 * 1024

DeleteCheck = Callable[[AsyncSession, Dataset], Awaitable[None]]
_delete_checks: list[DeleteCheck] = []


def register_delete_check(check: DeleteCheck) -> None:
    """Let another domain veto deleting a dataset it still needs by raising (DatasetInUse)."""
    if check not in _delete_checks:
        _delete_checks.append(check)


def clean_filename(raw: str | None) -> str:
    """A display name from a client's file name: no folders, no control or format characters."""
    if not raw:
        return DEFAULT_FILENAME
    name = posixpath.basename(unicodedata.normalize("NFC", raw).replace("\\", "/"))
    name = "".join(
        char for char in name if unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    )
    name = " ".join(name.split()).strip(". ")
    if not name:
        return DEFAULT_FILENAME
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) < 16:
            name = stem[: MAX_FILENAME_CHARS - len(suffix) - 1] + dot + suffix
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


@dataclass(frozen=True, slots=True)
class Ingested:
    sha256: str
    bytes: int
    stats: DatasetStats


class Ingestion:
    """A file on its way into storage: hashed, counted and validated as each chunk is written."""

    def __init__(self, writer: StorageWriter, settings: Settings) -> None:
        self._writer = writer
        self._max_bytes = settings.dataset_max_bytes
        self._hash = hashlib.sha256()
        self._validator = JsonlValidator(
            max_line_bytes=settings.dataset_max_line_bytes,
            min_examples=settings.dataset_min_examples,
        )
        self.size = 0
        self.result: Ingested | None = None

    def _digest(self, data: bytes) -> None:
        self._hash.update(data)
        self._validator.feed(data)

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self._max_bytes:
            raise DatasetTooLarge(f"The dataset is larger than {self._max_bytes} bytes.")
        if len(data) > OFF_LOOP_BYTES:
            await anyio.to_thread.run_sync(self._digest, data)
        else:
            self._digest(data)
        await self._writer.write(data)

    async def finish(self) -> Ingested:
        """The file's digest and counts; DatasetInvalid (422) names the lines at fault."""
        stats = self._validator.finish()
        if not self._validator.is_valid:
            raise DatasetInvalid(
                errors=[error.as_dict() for error in self._validator.errors],
                error_count=self._validator.error_count,
            )
        self.result = Ingested(sha256=self._hash.hexdigest(), bytes=self.size, stats=stats)
        return self.result

    async def commit(self, key: str) -> bool:
        return await self._writer.commit(key)

    async def abort(self) -> None:
        await self._writer.abort()


@asynccontextmanager
async def ingest(storage: Storage, settings: Settings) -> AsyncIterator[Ingestion]:
    """An ingestion whose written bytes are dropped unless a dataset was made of them."""
    ingestion = Ingestion(await storage.open_writer(), settings)
    try:
        yield ingestion
    finally:
        await ingestion.abort()


async def create_dataset(
    session: AsyncSession,
    *,
    storage: Storage,
    owner_id: uuid.UUID,
    name: str,
    description: str,
    filename: str | None,
    ingestion: Ingestion,
) -> Dataset:
    """Publish a finished ingestion as a dataset; identical content shares one stored object."""
    ingested = ingestion.result or await ingestion.finish()
    key = content_key(ingested.sha256)
    await repository.lock_content(session, storage_key=key)
    created = await ingestion.commit(key)
    dataset = Dataset(
        owner_id=owner_id,
        name=name,
        description=description,
        filename=clean_filename(filename),
        storage_key=key,
        bytes=ingested.bytes,
        sha256=ingested.sha256,
        n_examples=ingested.stats.n_examples,
        n_messages=ingested.stats.n_messages,
        total_tokens=ingested.stats.total_tokens,
        max_example_tokens=ingested.stats.max_example_tokens,
    )
    session.add(dataset)
    try:
        await session.flush()
    except BaseException:
        if created:
            await storage.delete(key)
        raise
    return dataset


async def save_upload(
    database: Database,
    *,
    storage: Storage,
    owner_id: uuid.UUID,
    name: str,
    description: str,
    filename: str | None,
    ingestion: Ingestion,
) -> Dataset:
    """`create_dataset` in a short transaction of its own: an upload holds no connection while
    the file arrives."""
    async with transaction(database) as session:
        return await create_dataset(
            session,
            storage=storage,
            owner_id=owner_id,
            name=name,
            description=description,
            filename=filename,
            ingestion=ingestion,
        )


async def get_dataset(session: AsyncSession, *, owner: User, dataset_id: uuid.UUID) -> Dataset:
    """The caller's dataset; another user's, or none, is DatasetNotFound (404)."""
    dataset = await repository.get_dataset(session, dataset_id=dataset_id, owner_id=owner.id)
    if dataset is None:
        raise DatasetNotFound
    return dataset


async def list_datasets(
    session: AsyncSession, *, owner: User, page: PageParams
) -> tuple[Sequence[Dataset], int]:
    return await repository.list_datasets(session, owner_id=owner.id, page=page)


async def list_datasets_after(
    session: AsyncSession,
    *,
    owner: User,
    after_id: uuid.UUID | None,
    limit: int,
    newest_first: bool = True,
) -> tuple[list[Dataset], bool]:
    """Up to `limit` of the caller's datasets past the dataset `after_id`, and whether more
    follow; a cursor that is not the caller's dataset is DatasetNotFound."""
    after = None
    if after_id is not None:
        after = await get_dataset(session, owner=owner, dataset_id=after_id)
    return await repository.list_datasets_after(
        session, owner_id=owner.id, after=after, limit=limit, newest_first=newest_first
    )


async def update_dataset(
    session: AsyncSession, *, dataset: Dataset, data: DatasetUpdate
) -> Dataset:
    for field, value in data.changes().items():
        setattr(dataset, field, value)
    await session.flush()
    return dataset


async def delete_dataset(session: AsyncSession, *, storage: Storage, dataset: Dataset) -> None:
    """Remove the dataset, and its stored file when no other dataset shares the content."""
    for check in _delete_checks:
        await check(session, dataset)
    key = dataset.storage_key
    await repository.lock_content(session, storage_key=key)
    await session.delete(dataset)
    await session.flush()
    if await repository.count_sharing(session, storage_key=key) == 0:
        await storage.delete(key)


async def _lines(
    chunks: AsyncGenerator[bytes, None],
) -> AsyncGenerator[tuple[int, bytes], None]:
    number = 1
    pending = b""
    async with aclosing(chunks):
        async for chunk in chunks:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield number, line
                number += 1
    if pending:
        yield number, pending


async def open_content(storage: Storage, *, dataset: Dataset) -> AsyncGenerator[bytes, None]:
    """The stored file in chunks; a missing file fails here, before any byte is answered."""
    if not await storage.exists(dataset.storage_key):
        raise DatasetFileMissing
    return storage.read(dataset.storage_key)


async def preview_dataset(storage: Storage, *, dataset: Dataset, limit: int) -> list[Example]:
    """The first `limit` examples, reading no further into the file than they go."""
    examples: list[Example] = []
    lines = _lines(await open_content(storage, dataset=dataset))
    async with aclosing(lines):
        async for number, line in lines:
            messages = parse_line(line, first=number == 1)
            if messages is None:
                continue
            examples.append(
                Example(line=number, messages=[ExampleMessage(**message) for message in messages])
            )
            if len(examples) >= limit:
                break
    return examples
