"""Typed settings, read once from the environment (prefix ``KITHKIN_``) and ``.env``.

Entry points (the CLI, ``create_app``) read settings through :func:`get_settings`, so
tests override them by setting environment variables and calling
``get_settings.cache_clear()``. Domain services never read the global: they receive the
settings (or the values they need) as parameters, and a web app hands over its own
(:func:`settings_of`), so two apps built with different settings stay apart.
"""

from __future__ import annotations

import ipaddress
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

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


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_of(state: object) -> Settings:
    """The settings an application was built with (``create_app(settings=...)`` keeps
    them on ``app.state``), else the process's own: request-level code reads settings
    through this, never through the global."""
    settings = getattr(state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()
