"""A TCP proxy the crash tier controls: added latency, cuts and stalls between two of its processes.

The kernel here has no `netem`, so slow and broken links come from this proxy: the order
service talks to Redis, PostgreSQL or an owner through it. It runs its own event loop in a
thread, so a busy workload does not slow the link by accident.

- `latency(seconds)`: every chunk waits that long before it is passed on, both ways;
- `stall()`: nothing is passed on, connections stay open (a partition: clients time out);
- `cut()`: every open connection is reset and new ones are refused until `heal()`;
- `heal()`: back to a plain pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass, field

CHUNK = 64 * 1024


@dataclass
class _Link:
    """The proxy's state, read by every pipe on each chunk."""

    delay: float = 0.0
    stalled: asyncio.Event = field(default_factory=asyncio.Event)  # set: flowing
    refusing: bool = False
    writers: set[asyncio.StreamWriter] = field(default_factory=set)


class TcpProxy:
    """Listens on 127.0.0.1 (a free port) and pipes each connection to `target` (host, port)."""

    def __init__(self, name: str, target: tuple[str, int]) -> None:
        self.name = name
        self.target = target
        self._loop = asyncio.new_event_loop()
        self._link = _Link()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"proxy-{name}", daemon=True)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]

    def start(self) -> TcpProxy:
        """Start accepting (returns self)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)
        return self

    async def _open(self) -> None:
        self._link.stalled.set()
        self._server = await asyncio.start_server(self._serve, sock=self._listener)

    def address(self) -> str:
        """host:port where the proxy listens."""
        return f"127.0.0.1:{self.port}"

    def latency(self, seconds: float) -> None:
        """Delay every chunk by `seconds` (0: none)."""
        self._call(lambda: setattr(self._link, "delay", seconds))

    def stall(self) -> None:
        """Pass nothing on; connections stay open."""
        self._call(self._link.stalled.clear)

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until `heal`."""

        def cut() -> None:
            self._link.refusing = True
            for writer in list(self._link.writers):
                _reset(writer)

        self._call(cut)

    def heal(self) -> None:
        """A plain pipe again."""

        def heal() -> None:
            self._link.delay = 0.0
            self._link.refusing = False
            self._link.stalled.set()

        self._call(heal)

    def close(self) -> None:
        """Stop listening, reset every connection, stop the thread and close its loop."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._link.writers):
                _reset(writer)
            pipes = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()
        self._listener.close()

    def _call(self, change: object) -> None:
        async def run() -> None:
            change()  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        link = self._link
        if link.refusing:
            _reset(client_writer)
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_writer)
            return
        link.writers.update((client_writer, server_writer))
        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer),
                self._pipe(server_reader, client_writer),
                return_exceptions=True,
            )
        finally:
            for writer in (client_writer, server_writer):
                link.writers.discard(writer)
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = self._link
        try:
            while data := await reader.read(CHUNK):
                if link.delay:
                    await asyncio.sleep(link.delay)
                await link.stalled.wait()
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(OSError):
                writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a cut link looks to both ends."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()
