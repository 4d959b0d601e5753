"""Believe ``X-Forwarded-For`` and ``X-Forwarded-Proto`` only from configured proxies.

Anyone can send those headers. Uvicorn's own handling trusts 127.0.0.1 by default, so
any process on the host (or a proxy that appends rather than overwrites) could name
itself any client address and slip past the per-address login limit; ``kithkin serve``
turns it off (:mod:`kithkin.api.serving`) and the app applies ``settings.trusted_proxies``
instead, under whatever server runs it. The client address becomes the right-most
``X-Forwarded-For`` entry that is not itself a trusted proxy; with no proxies configured
(the default) it is the peer address of the connection.
"""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kithkin.config import Settings


def install_trusted_proxies(app: FastAPI, settings: Settings) -> None:
    """Add the middleware when proxies are configured; add it last (outermost), so
    everything inside sees the real client."""
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
