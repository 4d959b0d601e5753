"""Local receivers for the outbox tests and benchmark: a real SMTP server (aiosmtpd) and
an HTTP webhook receiver, both deduplicating on the message's idempotency key, as real
receivers do, and counting the raw repeats they dropped.

The webhook receiver checks signatures with its own HMAC code (not kithkin's), so a test
that passes proves the documented algorithm, not just agreement with itself.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What a receiver saw: raw deliveries per key, and the accepted (first) ones."""

    raw: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, key: str, item: dict[str, Any]) -> None:
        with self.lock:
            self.raw[key] += 1
            self.accepted.setdefault(key, item)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.raw.values())


class SmtpHandler:
    """Accepts every message except to addresses starting with ``bounce`` (550)."""

    def __init__(self, inbox: Inbox, delay: float = 0.0) -> None:
        self.inbox, self.delay = inbox, delay

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        key = str(parsed["Message-ID"])
        self.inbox.record(key, {"to": envelope.rcpt_tos, "subject": str(parsed["Subject"]),
                                "message": parsed})
        if self.delay:
            # A slow answer after the message is kept: a sender killed now never learns
            # it was accepted, the window the idempotency key exists for.
            time.sleep(self.delay)
        return "250 OK"


@contextmanager
def smtp_server(delay: float = 0.0) -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(SmtpHandler(inbox, delay), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def signature_ok(secret: str, body: bytes, header: str, tolerance: float = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@contextmanager
def webhook_server(secret: str, delay: float = 0.0) -> Iterator[tuple[str, Inbox]]:
    """Answers 400 for recipients starting with ``reject``, 503 for ``flaky``, 401 for
    a bad signature, else 200 (a repeat too: it was already handled)."""
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not signature_ok(secret, body, self.headers.get("Kithkin-Signature", "")):
                with inbox.lock:
                    inbox.bad_signatures += 1
                return self._answer(401)
            payload = json.loads(body)
            recipient = payload.get("recipient") or ""
            if recipient.startswith("reject"):
                return self._answer(400, b"unknown recipient")
            if recipient.startswith("flaky"):
                return self._answer(503, b"try later")
            key = self.headers["Idempotency-Key"]
            assert key == payload["idempotency_key"]
            inbox.record(key, payload)
            if delay:
                time.sleep(delay)  # kept, answered late (see SmtpHandler.handle_DATA)
            self._answer(200)

        def _answer(self, code: int, text: bytes = b"") -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender was killed mid-request: the crash test does that

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", inbox
    finally:
        server.shutdown()
        server.server_close()
