"""The crash tier's TCP proxy: a plain pipe, added latency, a stall that holds bytes, a cut that resets."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from harness.chaos.proxy import TcpProxy


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = TcpProxy("echo", server.server_address).start()  # type: ignore[arg-type]
    try:
        yield proxy
    finally:
        proxy.close()
        server.shutdown()
        server.server_close()


def echo(proxy: TcpProxy, data: bytes = b"ping", timeout: float = 2.0) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as conn:
        began = time.monotonic()
        conn.sendall(data)
        return conn.recv(1024), time.monotonic() - began


def test_a_plain_pipe_passes_bytes_both_ways(proxy: TcpProxy) -> None:
    assert echo(proxy)[0] == b"ping"


def test_latency_delays_each_way(proxy: TcpProxy) -> None:
    proxy.latency(0.2)
    answer, took = echo(proxy)
    assert answer == b"ping"
    assert took >= 0.4  # 0.2 s there, 0.2 s back
    proxy.heal()
    assert echo(proxy)[1] < 0.2


def test_a_stall_holds_the_bytes_until_healed(proxy: TcpProxy) -> None:
    proxy.stall()
    with pytest.raises(TimeoutError):
        echo(proxy, timeout=0.3)
    proxy.heal()
    assert echo(proxy)[0] == b"ping"


def test_a_cut_resets_open_connections_and_refuses_new_ones_until_healed(proxy: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as conn:
        conn.sendall(b"one")
        assert conn.recv(1024) == b"one"
        proxy.cut()
        try:
            conn.sendall(b"two")
            got = conn.recv(1024)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
    assert got == b""  # a reset or the end of the stream, never the echo
    try:
        answer, _ = echo(proxy)
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
        answer = b""
    assert answer == b""
    proxy.heal()
    assert echo(proxy)[0] == b"ping"
