"""A TCP proxy on 127.0.0.1 that a test can stop and restart, to cut a service off and back on."""

import asyncio
import contextlib


class TcpProxy:
    """Forwards connections to `target_host:target_port` while started; stopping cuts them all."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every forwarded connection, as if the service went down."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._writers.clear()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client)
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client.close()
            self._writers.discard(client)
            return
        self._writers.add(upstream)
        pipes = [
            asyncio.create_task(self._pipe(client_reader, upstream)),
            asyncio.create_task(self._pipe(upstream_reader, client)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._tasks.difference_update(pipes)
            for writer in (client, upstream):
                writer.close()
                self._writers.discard(writer)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError):
            if writer.can_write_eof():
                writer.write_eof()
