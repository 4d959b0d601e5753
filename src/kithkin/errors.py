"""One root exception and a small hierarchy.

Domain code raises these; only the API layer maps them to HTTP status codes, and the CLI
to exit codes, so the same failure reads the same everywhere.
"""

from __future__ import annotations


class KithkinError(Exception):
    """Root of every error kithkin raises on purpose."""


class ConfigurationError(KithkinError):
    """Settings or a workspace are missing or inconsistent."""


class ValidationError(KithkinError):
    """Input is malformed; the message names where and why."""


class CurrentPasswordError(ValidationError):
    """The current password given with a change is wrong: the sign-in limiter counts it
    as a failed sign-in."""


class IngestError(ValidationError):
    """A record of an imported file is bad: names the file, row, field and reason."""

    def __init__(self, reason: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.row, self.field, self.reason = file, row, field, reason
        where = ", ".join(
            part for part in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"field {field!r}" if field else "",
            ) if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)


class NotFoundError(KithkinError):
    """The requested record does not exist."""


class ConflictError(KithkinError):
    """The request clashes with what is stored (duplicate key, stale version)."""


class AuthenticationError(KithkinError):
    """Credentials are missing or wrong."""


class PermissionDeniedError(KithkinError):
    """The authenticated principal's role does not allow this."""


class ContentTooLargeError(KithkinError):
    """A request body or upload exceeds the size allowed for its route."""

    def __init__(self, message: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


class RateLimitedError(KithkinError):
    """Too many attempts in a time window (login guessing); retry after ``retry_after`` s."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ConvergenceError(KithkinError):
    """A statistical model's fit did not converge; the message says why."""


class ServiceUnavailableError(KithkinError):
    """An external service (database server, JVM) is not reachable."""


class StorageError(ServiceUnavailableError):
    """The store or the workspace cannot be written (read-only, disk full, no permission)."""
