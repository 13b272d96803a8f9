"""A TCP proxy on loopback that a test can cut and restore: a database outage on demand."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

CHUNK = 65536


class CuttableProxy:
    """Forward 127.0.0.1:<port> to a server; `cut()` drops every connection and refuses new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cuts = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._listen_port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = True

    @property
    def listen_port(self) -> int:
        """Return the port clients connect to."""
        return self._listen_port

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._listen_port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as a database gone away would."""
        self.cuts += 1
        self._open = False
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        """Let connections through again."""
        self._open = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
