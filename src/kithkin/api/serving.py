"""Run the app under uvicorn, with TCP_NODELAY on every worker's connections.

With ``workers > 1`` uvicorn binds the listening socket itself and leaves its ``proto``
at 0; accepted sockets inherit it, asyncio sets TCP_NODELAY only on ``IPPROTO_TCP``
sockets, and every keep-alive response then waits for the client's delayed ACK (~40 ms
on Linux; uvicorn issue #3149). :class:`NoDelayConfig` binds it as TCP.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


class NoDelayConfig(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP,
                                 fileno=sock.detach())
        return sock


def run(app: str, *, workers: int = 1, reload: bool = False, **options: Any) -> None:
    """``uvicorn.run`` for an app-factory import string (``module:function``).

    Uvicorn's proxy-header handling is off: it would believe X-Forwarded-For from
    127.0.0.1; the app trusts only ``settings.trusted_proxies`` (kithkin.api.proxies).
    """
    options.setdefault("proxy_headers", False)
    if workers <= 1 or reload:
        uvicorn.run(app, factory=True, workers=workers, reload=reload, **options)
        return
    config = NoDelayConfig(app, factory=True, workers=workers, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
