"""The server secret: signs the session cookie and keys the API-key digests.

There is no built-in default any more: a value everybody can read in the source would let
anyone sign a cookie. ``KITHKIN_SECRET_KEY`` wins when set (every server sharing one store
must use the same value); otherwise the workspace keeps a random secret in
``<home>/secret_key``, created owner-only (0600) on first use and kept across runs, so
sessions and API keys survive restarts. A weak explicit value is refused unless
``KITHKIN_DEV_MODE`` is on.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from pathlib import Path

from kithkin.config import Settings
from kithkin.errors import ConfigurationError

# The value older versions shipped as their default: public, so never a valid key.
PUBLIC_DEVELOPMENT_SECRET = "dev-insecure-change-me"
MIN_SECRET_LENGTH = 32
SECRET_FILE_NAME = "secret_key"
OWNER_ONLY = 0o600
_GENERATED_BYTES = 48

_cache: dict[tuple[str, str | None, bool], str] = {}
_lock = threading.Lock()


def secret_path(settings: Settings) -> Path:
    return settings.home / SECRET_FILE_NAME


def signing_secret(settings: Settings) -> str:
    """The secret to sign with; raises ConfigurationError when it is weak or unreadable.

    Cached per (workspace, explicit value, dev mode): every API-key request needs it.
    """
    explicit = None if settings.secret_key is None else settings.secret_key.get_secret_value()
    cache_key = (str(settings.home.resolve()), explicit, settings.dev_mode)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is None:
            cached = _resolve(settings, explicit)
            _cache[cache_key] = cached
        return cached


def _resolve(settings: Settings, explicit: str | None) -> str:
    if explicit is not None:
        problem = weakness(explicit)
        if problem and not settings.dev_mode:
            raise ConfigurationError(
                f"KITHKIN_SECRET_KEY {problem}; unset it to use the workspace's generated "
                f"secret, or set KITHKIN_DEV_MODE=1 on a development machine")
        return explicit
    return read_or_create_workspace_secret(secret_path(settings))


def weakness(value: str) -> str | None:
    """Why ``value`` cannot sign sessions, or None when it can."""
    if value.strip() == PUBLIC_DEVELOPMENT_SECRET:
        return "is the public development value"
    if not value.strip():
        return "is empty"
    if len(value.strip()) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def read_or_create_workspace_secret(path: Path) -> str:
    """The workspace secret, generated on first use; refuses a file others can read."""
    if not path.exists():
        _create(path)
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"{path} is readable by other users (mode {mode:04o}); "
                f"run `chmod 600 {path}`")
    value = path.read_text(encoding="utf-8").strip()
    problem = weakness(value)
    if problem:
        raise ConfigurationError(
            f"{path} {problem}; delete it to generate a new one (signs everyone out and "
            f"invalidates API keys)")
    return value


def _create(path: Path) -> None:
    """Write the new secret under a temporary name, then link it into place: a reader
    never sees a half-written file, and of two processes racing the first one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(_GENERATED_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
