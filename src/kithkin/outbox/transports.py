"""How a message leaves: SMTP for e-mail, a signed HTTPS POST for webhooks and SMS.

A transport either returns (the receiver accepted the message), raises
:class:`TransientFailure` (try again later: a timeout, a 4xx SMTP reply, a 5xx or 429
HTTP answer) or :class:`PermanentFailure` (retrying cannot help: an SMTP 5xx bounce, a
webhook 4xx). Both carry the receiver's words, which the message keeps as its last error.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import NoReturn, Protocol

from kithkin.config import Settings
from kithkin.errors import ConfigurationError, KithkinError
from kithkin.outbox import signing
from kithkin.outbox.models import Message


class DeliveryFailure(KithkinError):
    pass


class TransientFailure(DeliveryFailure):
    pass


class PermanentFailure(DeliveryFailure):
    pass


class Transport(Protocol):
    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


def message_id(message: Message, settings: Settings) -> str:
    """The e-mail's Message-ID: the idempotency key, the same on every attempt."""
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "kithkin.invalid"
    return f"<{message.idempotency_key}@{domain}>"


class SmtpTransport:
    """One SMTP connection per delivery run, opened on first use and reopened after a
    failure (a broken connection must not fail the rest of the batch)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ConfigurationError("no SMTP server: set KITHKIN_SMTP_HOST")
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds,
                                    context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_tls == "starttls":
                smtp.starttls(context=context)
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            smtp.login(s.smtp_username, password)
        return smtp

    def build(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.smtp_from
        email["To"] = message.recipient or ""
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = message_id(message, self.settings)
        email["Idempotency-Key"] = message.idempotency_key
        email.set_content(message.body or "")
        if message.body_html:
            email.add_alternative(message.body_html, subtype="html")
        return email

    def send(self, message: Message) -> None:
        email = self.build(message)
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                # Not the message's fault (server down, TLS or sign-in refused): retried,
                # never a bounce.
                self.close()
                raise TransientFailure(f"SMTP connection to {self.settings.smtp_host}: "
                                       f"{type(exc).__name__}: {exc}") from exc
        try:
            refused = self._smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            self._fail(exc.recipients)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            self.close()
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"bounce: {exc.smtp_code} {text}") from exc
            raise TransientFailure(f"SMTP {exc.smtp_code} {text}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientFailure(f"SMTP: {type(exc).__name__}: {exc}") from exc
        if refused:
            self._fail(refused)

    @staticmethod
    def _fail(refused: dict[str, tuple[int, bytes]]) -> NoReturn:
        address, (code, text) = next(iter(refused.items()))
        reason = f"{code} {text.decode(errors='replace')} ({address})"
        if 500 <= code < 600:
            raise PermanentFailure(f"bounce: {reason}")
        raise TransientFailure(f"SMTP recipient refused: {reason}")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def webhook_secret(settings: Settings) -> str:
    """The signing secret, or ConfigurationError: an unsigned or weakly signed webhook is
    one anybody could forge, so none is sent."""
    if not settings.webhook_url:
        raise ConfigurationError("no webhook receiver: set KITHKIN_WEBHOOK_URL")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if len(secret) < signing.MIN_SECRET_CHARS:
        raise ConfigurationError(
            "webhooks are not delivered without a signing secret of at least "
            f"{signing.MIN_SECRET_CHARS} characters: set KITHKIN_WEBHOOK_SECRET")
    return secret


def webhook_body(message: Message) -> bytes:
    return json.dumps({
        "id": message.id, "idempotency_key": message.idempotency_key,
        "channel": message.channel, "purpose": message.purpose,
        "template": message.template, "reason": message.reason,
        "customer_id": message.customer_id, "recipient": message.recipient,
        "subject": message.subject, "text": message.body, "html": message.body_html,
    }, separators=(",", ":")).encode()


class WebhookTransport:
    def __init__(self, settings: Settings) -> None:
        self.secret = webhook_secret(settings)
        assert settings.webhook_url is not None
        self.url = settings.webhook_url
        self.timeout = settings.webhook_timeout_seconds

    def send(self, message: Message) -> None:
        body = webhook_body(message)
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            signing.HEADER: signing.sign(secret=self.secret, body=body,
                                         timestamp=int(time.time())),
            "User-Agent": "kithkin-outbox"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode(errors="replace").strip()
            reason = f"webhook {exc.code}: {detail or exc.reason}"
            if 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429):
                raise PermanentFailure(reason) from exc
            raise TransientFailure(reason) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise TransientFailure(f"webhook: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        return None
