"""Typed settings, read once from the environment (prefix ``KITHKIN_``) and ``.env``.

Entry points (the CLI, ``create_app``) read settings through :func:`get_settings`, so
tests override them by setting environment variables and calling
``get_settings.cache_clear()``. Domain services never read the global: they receive the
settings (or the values they need) as parameters, and a web app hands over its own
(:func:`settings_of`), so two apps built with different settings stay apart.
"""

from __future__ import annotations

import ipaddress
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AnalyticsEngine = Literal["duckdb", "postgres", "pyspark"]
# The one margin assumption: where no cost is known, value figures assume this ratio
# (a typical retail gross margin); set KITHKIN_DEFAULT_MARGIN to the firm's own.
DEFAULT_MARGIN = 0.25


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KITHKIN_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".kithkin"), description="Workspace folder.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the workspace."
    )
    analytics_engine: AnalyticsEngine = "duckdb"
    analytics_url: str | None = Field(
        default=None, description="Engine connection (PostgreSQL URL or Spark master)."
    )
    import_batch_size: int = Field(default=50_000, ge=100)
    default_margin: float = Field(
        default=DEFAULT_MARGIN, ge=0, le=1, description="Margin ratio assumed where the "
        "data has no cost (CLV, value tiers, segment levels); shown as 'assumed' wherever "
        "it is used (docs/analytics.md, \"Margin\").")
    secret_key: SecretStr | None = Field(
        default=None, description="Signs session cookies and keys API-key digests (at "
        "least 32 characters); default: the workspace's generated secret_key file.")
    dev_mode: bool = Field(
        default=False, description="Development only: accept a short or public secret_key.")
    session_lifetime_hours: float = Field(
        default=12, gt=0, description="A sign-in ends this long after it started.")
    session_idle_minutes: float = Field(
        default=120, gt=0, description="A sign-in ends after this long without a request.")
    # Import validation (kithkin.imports.ingest; docs/ingestion.md "Validation").
    ingest_earliest_date: date = Field(
        default=date(1900, 1, 1), description="No imported date or date-time before this.")
    ingest_latest_date: date = Field(
        default=date(2100, 12, 31), description="No scheduled date (a membership's start or "
        "end) after this.")
    ingest_future_days: int = Field(
        default=1, ge=0, le=1_000_000, description="Event times (ordered_at, occurred_at...) "
        "later than now plus this many days are rejected (a large value: up to "
        "ingest_latest_date).")
    ingest_earliest_birth_date: date = Field(
        default=date(1900, 1, 1), description="Oldest accepted date_of_birth (latest: today).")
    ingest_max_field_chars: int = Field(
        default=65_536, ge=256, description="Longest accepted cell of an imported row.")
    refresh_interval_hours: float | None = Field(
        default=None, gt=0, description="`kithkin serve` refreshes metrics and stages this "
        "often (None: only when `kithkin refresh` is run).")
    require_services: bool = Field(
        default=False, description="Tests fail instead of skipping when a service is missing."
    )
    # Web security (docs/security.md).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Reverse proxies (addresses or CIDR networks, "
        "comma-separated) whose X-Forwarded-For/-Proto are believed; none by default.")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        """Each entry must be an IP address or network: a typo must not trust nobody
        (or everybody) silently."""
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError as exc:
                    raise ValueError(f"trusted_proxies: {entry!r} is not an IP address "
                                     "or network") from exc
        return value

    # Who is leaving (kithkin.atrisk; docs/retention.md "Who is leaving").
    at_risk_threshold: float = Field(
        default=0.8, gt=0, lt=1, description="At-risk score (P(no purchase in the next "
        "period)) from which an active customer is marked at risk.")
    at_risk_silence_multiple: float = Field(
        default=2.0, gt=0, description="Silence beyond this many of the customer's own "
        "inter-purchase times marks them at risk.")
    defected_silence_multiple: float = Field(
        default=4.0, gt=0, description="Silence beyond this many of the customer's own "
        "inter-purchase times marks them defected (on the day it was crossed).")
    min_pace_days: float = Field(
        default=30.0, gt=0, description="Floor of a customer's inter-purchase time in the "
        "silence rules (two orders on consecutive days do not make a day's silence news).")
    exit_interview_min_value: float = Field(
        default=100.0, ge=0, description="A newly defected customer whose revenue to date "
        "is at least this gets one exit-interview task.")
    # Identity resolution (kithkin.identity; docs/identity.md).
    identity_threshold_merge: float = Field(default=0.99, ge=0, le=1)
    identity_threshold_review: float = Field(default=0.8, ge=0, le=1)
    identity_auto_merge: bool = Field(
        default=True, description="Merge pairs above the merge threshold without review."
    )
    identity_source_priority: list[str] = Field(
        default_factory=list, description="Sources whose values win survivorship, best first."
    )
    identity_email_provider_rules: dict[str, tuple[bool, bool]] | None = Field(
        default=None, description="Email domain -> (strip dots, strip plus-tag); None: defaults."
    )
    identity_phone_region: str = Field(default="US", description="Region of national numbers.")
    identity_survivorship: dict[str, str] = Field(
        default_factory=dict, description="Field group -> rule (recent, complete, source)."
    )
    # Request limits and uploads (kithkin.api.limits, kithkin.imports.uploads;
    # docs/security.md "Request limits and uploads"). Bodies over a limit get 413.
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="Any JSON or form body not listed below.")
    max_events_batch_bytes: int = Field(
        default=16 << 20, ge=1024, description="POST /api/v1/events/batch.")
    max_login_body_bytes: int = Field(
        default=16 << 10, ge=1024, description="Login and logout (the only bodies "
        "accepted without credentials).")
    max_upload_bytes: int = Field(
        default=2 << 30, ge=1024, description="File uploads (API and dashboard imports).")
    upload_retention_hours: float = Field(
        default=72, gt=0, description="Uploaded files of jobs no longer running are "
        "deleted after this long (at `kithkin serve` start, then hourly).")

    # The outbox (kithkin.outbox; docs/outbox.md). Nothing is sent until a transport is
    # configured: no SMTP host, no e-mail; no webhook URL and secret, no webhook or SMS.
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = Field(default="kithkin@localhost", description="From address.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="STARTTLS, implicit TLS (ssl) or none (local "
        "relays and tests only).")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    webhook_url: str | None = Field(
        default=None, description="Receiver of webhook and SMS messages (signed POSTs).")
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 signing secret for webhooks (at least 32 "
        "characters); without one no webhook is delivered.")
    webhook_timeout_seconds: float = Field(default=15, gt=0)
    outbox_firm_name: str = Field(default="The team", description="Signs messages.")
    outbox_cap_messages: int = Field(
        default=3, ge=0, description="At most this many marketing messages per customer "
        "per cap window (0: no cap).")
    outbox_cap_days: float = Field(default=7, gt=0)
    outbox_quiet_start: time | None = Field(
        default=None, description="Quiet hours start (e.g. 21:00): nothing is sent "
        "between start and end, in outbox_timezone.")
    outbox_quiet_end: time | None = None
    outbox_timezone: str = Field(default="UTC", description="IANA zone of quiet hours.")
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_backoff_seconds: float = Field(
        default=60, gt=0, description="First retry delay; doubled per attempt, with "
        "jitter.")
    outbox_backoff_max_seconds: float = Field(default=6 * 3600, gt=0)
    outbox_lease_seconds: float = Field(
        default=300, gt=0, description="A message claimed (sending) this long ago by a "
        "process that died is claimed again and re-sent with the same idempotency key.")
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    outbox_deliver_interval_seconds: float | None = Field(
        default=60, gt=0, description="`kithkin serve` delivers due messages this often "
        "(None: only `kithkin deliver`).")

    @field_validator("outbox_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"outbox_timezone: unknown time zone {value!r}") from exc
        return value
    # Backups and the retention policy (docs/backup.md, docs/audit.md).
    backup_dir: Path | None = Field(
        default=None, description="Where backups go (default: backups/ in the workspace).")
    backup_interval_hours: float | None = Field(
        default=None, gt=0, description="`kithkin serve` backs up this often (None: never).")
    backup_keep: int = Field(
        default=7, ge=1, description="Scheduled backups keep only this many archives.")
    policy_prospect_months: int | None = Field(
        default=None, ge=1, description="Prospects never converted, created this many "
        "months ago or more, are anonymised or deleted (None: kept).")
    policy_prospect_action: Literal["anonymise", "delete"] = "anonymise"
    policy_interaction_text_years: int | None = Field(
        default=None, ge=1, description="Interactions' free text (subject, text) older "
        "than this many years is removed (None: kept).")
    policy_upload_days: int | None = Field(
        default=None, ge=1, description="Uploaded import files and reject files older than "
        "this many days are deleted (None: only the upload clean-up applies).")
    policy_interval_hours: float = Field(
        default=24, gt=0, description="`kithkin serve` applies the policy this often when "
        "any rule is set.")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'kithkin.db').resolve()}"

    @property
    def snapshot_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def templates_dir(self) -> Path:
        """Workspace message templates: a file here overrides the built-in of its name."""
        return self.home / "templates"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_of(state: object) -> Settings:
    """The settings an application was built with (``create_app(settings=...)`` keeps
    them on ``app.state``), else the process's own: request-level code reads settings
    through this, never through the global."""
    settings = getattr(state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()
