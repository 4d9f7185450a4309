"""Where dataset files live: a small object-store interface and its local-directory implementation.

Objects are named by the server (the content's SHA-256), written under a temporary name and
published whole, so a reader never sees half a file; an S3-compatible store fits the same shape
(a multipart upload completed on commit).
"""

import os
import re
import secrets
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio
import anyio.to_thread

from colloquy.core.settings import Settings

READ_CHUNK = 64 * 1024
_KEY = re.compile(r"^[0-9a-f]{64}$")


class StorageWriter(Protocol):
    """A new object being written; nothing is visible until `commit`."""

    async def write(self, data: bytes) -> None: ...

    async def commit(self, key: str) -> bool:
        """Publish the bytes as object `key`; False when it already existed (same content)."""
        ...

    async def abort(self) -> None:
        """Drop what was written; safe to call after commit or twice."""
        ...


class Storage(Protocol):
    async def open_writer(self) -> StorageWriter: ...

    def read(self, key: str, *, chunk_size: int = READ_CHUNK) -> AsyncGenerator[bytes, None]: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...


def content_key(sha256: str) -> str:
    """The storage key of content with this digest: identical uploads share one object."""
    if not _KEY.match(sha256):
        raise ValueError("not a hex SHA-256 digest")
    return sha256


class LocalWriter:
    def __init__(self, storage: "LocalStorage", temp: Path, file: BinaryIO) -> None:
        self._storage = storage
        self._temp = temp
        self._file: BinaryIO | None = file

    async def write(self, data: bytes) -> None:
        if self._file is None:
            raise RuntimeError("the writer is closed")
        await anyio.to_thread.run_sync(self._file.write, data)

    async def commit(self, key: str) -> bool:
        if self._file is None:
            raise RuntimeError("the writer is closed")
        file, self._file = self._file, None
        return await anyio.to_thread.run_sync(self._publish, file, self._storage.path(key))

    def _publish(self, file: BinaryIO, target: Path) -> bool:
        file.flush()
        os.fsync(file.fileno())
        file.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            self._temp.unlink(missing_ok=True)
            return False
        self._temp.replace(target)
        return True

    async def abort(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            await anyio.to_thread.run_sync(file.close)
        await anyio.to_thread.run_sync(lambda: self._temp.unlink(missing_ok=True))


class LocalStorage:
    """Objects as files in a directory: `<root>/<key[:2]>/<key>`, temporaries in `<root>/tmp`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        content_key(key)
        return self.root / key[:2] / key

    async def open_writer(self) -> LocalWriter:
        def open_temp() -> tuple[Path, BinaryIO]:
            folder = self.root / "tmp"
            folder.mkdir(parents=True, exist_ok=True)
            temp = folder / f"{secrets.token_hex(16)}.part"
            return temp, temp.open("xb")

        temp, file = await anyio.to_thread.run_sync(open_temp)
        return LocalWriter(self, temp, file)

    async def read(self, key: str, *, chunk_size: int = READ_CHUNK) -> AsyncGenerator[bytes, None]:
        async with await anyio.open_file(self.path(key), "rb") as file:
            while chunk := await file.read(chunk_size):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self.path(key)).is_file()


def storage_from_settings(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.dataset_dir or settings.var_dir / "datasets")
