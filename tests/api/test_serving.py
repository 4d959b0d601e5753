"""`kithkin serve --workers N`: connections accepted on the socket the supervisor binds
get TCP_NODELAY, like the single-worker ones (else each keep-alive response waits for
the client's delayed ACK)."""

from __future__ import annotations

import asyncio
import socket

from kithkin.api.serving import NoDelayConfig
from tests.conftest import run_async


async def _accepted_nodelay(listener: socket.socket) -> int:
    flag: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted: socket.socket = transport.get_extra_info("socket")
            flag.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        result = await asyncio.wait_for(flag, timeout=10)
        writer.close()
    return result


def test_the_multi_worker_listener_is_tcp_so_connections_get_nodelay() -> None:
    config = NoDelayConfig("kithkin.api.app:create_app", factory=True, host="127.0.0.1",
                           port=0, workers=2)
    listener = config.bind_socket()
    assert listener.proto == socket.IPPROTO_TCP
    assert run_async(_accepted_nodelay(listener)) != 0
