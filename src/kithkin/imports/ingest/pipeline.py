"""The import run: read -> prepare -> stage and upsert, one transaction per batch.

Each batch commits on its own with the job's progress counters, so a crash or Ctrl-C
leaves whole batches or none of them, and because every write is an upsert on a natural
key, running the same import again finishes the job without duplicating anything.
``strict`` runs the whole file in one transaction so the first bad row leaves nothing
behind; ``dry_run`` does all the work, reference checks included, then rolls back. Large
SQLite imports run in bulk mode (:mod:`kithkin.imports.ingest.bulk`): one transaction too, with the
secondary indexes rebuilt at the end.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from kithkin.config import Settings, get_settings
from kithkin.database import bulk as db_bulk
from kithkin.database.core import get_engine
from kithkin.database.manage import is_initialised
from kithkin.errors import ConfigurationError, IngestError
from kithkin.imports import lease
from kithkin.imports import service as import_service
from kithkin.imports.ingest import bulk as bulk_mode
from kithkin.imports.ingest import by_email
from kithkin.imports.ingest.customers import CustomerWriter, create_missing_customers
from kithkin.imports.ingest.failures import storage_error
from kithkin.imports.ingest.kinds import SPECS, Kind, KindSpec
from kithkin.imports.ingest.options import IngestOptions, load_mapping_file
from kithkin.imports.ingest.prefetch import prefetch
from kithkin.imports.ingest.prepare import ColumnPlan, Prepared, Reject, plan_columns, prepare
from kithkin.imports.ingest.readers import (
    FORMATS,
    FileSource,
    RawBatch,
    detect_format,
    python_safe,
    records_batch,
)
from kithkin.imports.ingest.rejects import RejectWriter
from kithkin.imports.ingest.store import (
    IMPORT_CACHE_KIB,
    BatchCounts,
    SetBasedWriter,
    end_transaction,
)
from kithkin.imports.ingest.validate import Limits
from kithkin.imports.models import ImportStatus
from kithkin.imports.schemas import ImportReport, RejectedRow

Progress = Callable[[int, int | None], None]
"""Called after each batch with (rows read so far, estimated total rows or None)."""


class _Writer(Protocol):
    def encode(self, prepared: Prepared) -> Prepared: ...

    def write(self, prepared: Prepared, original: Callable[[int], dict[str, Any]]
              ) -> tuple[BatchCounts, list[Reject]]: ...


def _spec_for(kind: str | Kind) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise IngestError(f"unknown kind {kind!r} ({', '.join(k.value for k in Kind)})"
                          ) from None


def _options(mapping: IngestOptions | Path | str | None) -> IngestOptions:
    if mapping is None:
        return IngestOptions()
    if isinstance(mapping, IngestOptions):
        return mapping
    return load_mapping_file(Path(mapping))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _ready_engine(engine: Engine | None) -> Engine:
    engine = engine or get_engine()
    if not is_initialised(engine):
        raise ConfigurationError(
            f"the store {engine.url.render_as_string(hide_password=True)} has no schema: "
            "run `kithkin init` first"
        )
    return engine


def _original(batch: RawBatch) -> Callable[[int], dict[str, Any]]:
    def lookup(row: int) -> dict[str, Any]:
        index = int(np.searchsorted(batch.rows, row))
        values: dict[str, Any] = python_safe(batch.table.slice(index, 1)).to_pylist()[0]
        return values

    return lookup


def ingest_file(
    *,
    kind: str | Kind,
    path: Path | str,
    mapping: IngestOptions | Path | str | None = None,
    file_format: str | None = None,
    strict: bool = False,
    dry_run: bool = False,
    engine: Engine | None = None,
    progress: Progress | None = None,
    batch_size: int | None = None,
    bulk: bool | None = None,
    encoding: str | None = None,
    label: str | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Import a CSV (or other delimited text), Parquet or JSON Lines file of ``kind``.

    ``mapping`` is an :class:`IngestOptions` or the path of a TOML mapping file; its
    ``delimiter``, ``header`` and ``names`` say how a text file is split (default:
    detected, see :mod:`kithkin.imports.ingest.sniff`). ``bulk`` forces SQLite's bulk-load mode
    on or off (None: on for files large next to the table, see
    :mod:`kithkin.imports.ingest.bulk`). ``encoding`` is the text encoding of a CSV or JSON Lines
    file (None or ``auto``: detected); ``label`` names the file in messages (default:
    the path as given, relative to the working directory when inside it). ``settings``
    (default: the process's, for scripts and the CLI) give the limits, batch size and
    rejects folder; the web app passes its own. Raises
    :class:`~kithkin.errors.IngestError` for a file that cannot be imported at all
    (unreadable, unknown format, missing required column) before anything is written,
    and in ``strict`` mode for the first bad row; :class:`~kithkin.errors.StorageError`
    when the store or the workspace cannot be written (read-only, disk full).

    Transactions without an order id column get generated ones and rows that share an
    order (generated, or ``combine_rows``) are added up; that needs the whole file in
    memory (see docs/ingestion.md).
    """
    path = Path(path)
    spec = SPECS[_spec_for(kind)]
    options = _options(mapping)
    settings = settings or get_settings()
    source, plan = open_source(spec=spec, path=path, options=options,
                               file_format=file_format, encoding=encoding, label=label,
                               batch_size=batch_size or settings.import_batch_size,
                               limits=Limits.current(settings))
    engine = _ready_engine(engine)
    size = path.stat().st_size
    estimate = _estimate_rows(source, size)
    run = _Run(engine=engine, plan=plan, label=str(path), strict=strict, dry_run=dry_run,
               progress=progress, estimate=estimate, bulk=bulk, display=source.label)
    run.report.layout = source.described
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    batches = source.batches()
    return run.execute(
        whole_file(batches) if plan.combine else batches,
        sha256=None if dry_run else _sha256(path),
        reject_path=lambda job: settings.rejects_dir
        / f"{path.stem}-{spec.kind.value}-{job or 'dry-run'}-{stamp}.csv",
        columns=source.columns,
    )


def open_source(*, spec: KindSpec, path: Path, options: IngestOptions,
                file_format: str | None, encoding: str | None, label: str | None,
                batch_size: int, limits: Limits) -> tuple[FileSource, ColumnPlan]:
    """Open the file (detecting what it does not say) and plan its columns; a file read
    as one column or without a header gets a hint on the missing-column error."""
    source = open_file(path=path, options=options, file_format=file_format,
                       encoding=encoding, label=label, batch_size=batch_size)
    try:
        plan = plan_columns(spec, source.columns, options, file=source.label, limits=limits)
    except IngestError as exc:
        hint = source.one_column_hint or _headerless_hint(source, options)
        if hint is None:
            raise
        raise IngestError(f"{exc.reason}; {hint}", file=exc.file, row=exc.row,
                          field=exc.field) from exc
    return source, plan


def open_file(*, path: Path, options: IngestOptions, file_format: str | None,
              encoding: str | None, label: str | None, batch_size: int) -> FileSource:
    """The file opened with its format, encoding, delimiter and header settled."""
    # A delimiter, header or column names only make sense for text: they say it is CSV-like
    # (a `.log` or `.txt` export with --delimiter whitespace needs no --format too).
    texty = options.delimiter is not None or options.header is not None or bool(options.names)
    known = file_format or ("csv" if texty and path.suffix.lower() not in FORMATS else None)
    return FileSource(path, fmt=detect_format(path, known), batch_size=batch_size,
                      encoding=encoding, label=label, delimiter=options.delimiter,
                      header=options.header, column_names=options.names)


def _headerless_hint(source: FileSource, options: IngestOptions) -> str | None:
    layout = source.layout
    if layout is None or layout.header or options.names:
        return None
    return ("the first row holds no column names, so the columns are named column_1.."
            f"column_{len(source.columns)}: map them (--map column_1=FIELD) or name them "
            "in order with --columns")


def whole_file(batches: Iterable[RawBatch]) -> Iterator[RawBatch]:
    """All batches as one, so rows of the same order meet wherever they are in the file."""
    parts = list(batches)
    if not parts:
        return
    table = pa.concat_tables([part.table for part in parts], promote_options="default")
    yield RawBatch(table, np.concatenate([part.rows for part in parts]),
                   [row for part in parts for row in part.malformed])


def _estimate_rows(source: FileSource, size: int) -> int | None:
    if source.fmt == "parquet":
        return int(pq.ParquetFile(source.path).metadata.num_rows)
    with source.path.open("rb") as handle:
        sample = handle.read(1 << 16)
    lines = sample.count(b"\n")
    return int(size / (len(sample) / lines)) - 1 if lines else None


def ingest_records(
    *,
    kind: str | Kind,
    records: list[dict[str, Any]],
    options: IngestOptions | None = None,
    strict: bool = False,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Import in-memory records (single events or batches from the REST API), under the
    limits of ``settings`` (default: the process's).

    Idempotent on the natural key / client event id like a file import. No job row and no
    reject file: the rejected records come back in ``report.rejects`` (row = position,
    1-based).
    """
    spec = SPECS[_spec_for(kind)]
    batch = records_batch(records)
    plan = plan_columns(spec, batch.table.column_names, options or IngestOptions(),
                        file="records", limits=Limits.current(settings or get_settings()))
    run = _Run(engine=_ready_engine(engine), plan=plan, label="records", strict=strict,
               dry_run=False, progress=None, estimate=len(records), track_job=False)
    return run.execute([batch], sha256=None, reject_path=None, columns=batch.table.column_names)


class _Run:
    def __init__(self, *, engine: Engine, plan: ColumnPlan, label: str, strict: bool,
                 dry_run: bool, progress: Progress | None, estimate: int | None,
                 track_job: bool = True, bulk: bool | None = False,
                 display: str | None = None) -> None:
        self.engine, self.plan, self.label = engine, plan, label
        self.display = display or label  # the file's name in messages
        self.strict, self.dry_run = strict, dry_run
        self.bulk_requested = bulk
        self.single = strict  # the whole file in one transaction (strict or bulk mode)
        self.progress, self.estimate = progress, estimate
        self.track_job = track_job and not dry_run
        self.report = ImportReport(job_id=None, kind=plan.spec.kind.value, file=label,
                                   status=ImportStatus.RUNNING, dry_run=dry_run,
                                   ignored_columns=plan.ignored,
                                   attribute_columns=plan.extras, column_hints=plan.hints)
        self.matched: Counter[str] = Counter()
        self.in_memory: list[RejectedRow] = []

    def _writer(self, connection: Connection) -> _Writer:
        if self.plan.spec.kind is Kind.CUSTOMERS:
            return CustomerWriter(connection, self.plan)
        return SetBasedWriter(connection, self.plan)

    def execute(self, batches: Iterable[RawBatch], *, sha256: str | None,
                reject_path: Callable[[int | None], Path] | None,
                columns: list[str]) -> ImportReport:
        started = time.perf_counter()
        with self.engine.connect() as connection:
            session = Session(bind=connection)
            # One handler for the whole run: a Ctrl-C from the job's creating commit to
            # its final status marks it, so it never stays `running` after its process.
            try:
                if self.track_job:
                    lease.reap_stale(connection)
                    with connection.begin():
                        self.report.job_id = import_service.create(
                            session=session, kind=self.plan.spec.kind.value,
                            filename=self.label, file_sha256=sha256, strict=self.strict,
                            ignored_columns=self.plan.ignored,
                        ).id
                        lease.acquire(connection, self.report.job_id)
                    session.expunge_all()
                return self._execute(connection, session, batches, reject_path, columns,
                                     started)
            except KeyboardInterrupt as interrupt:
                try:
                    self._finish(connection, ImportStatus.INTERRUPTED, "interrupted")
                except Exception as exc:
                    # Ctrl-C must still end the import as an interrupt (exit code 130);
                    # the job's lease dies with this process, so the next import marks it.
                    interrupt.add_note(f"the import job's status was not written: {exc}")
                raise
            except Exception as exc:
                error = storage_error(exc, self.display)
                self._finish_or_note(connection, error or exc)
                if error is None:
                    raise
                raise error from exc
            finally:
                if self.report.job_id is not None:
                    lease.release(connection, self.report.job_id)

    def _execute(self, connection: Connection, session: Session, batches: Iterable[RawBatch],
                 reject_path: Callable[[int | None], Path] | None, columns: list[str],
                 started: float) -> ImportReport:
        rejects = (RejectWriter(reject_path(self.report.job_id), columns)
                   if reject_path else None)
        writer = self._writer(connection)
        try:
            with connection.begin():
                bulk = bulk_mode.applies(connection, kind=self.plan.spec.kind,
                                         table=self.plan.spec.table,
                                         incoming=self.estimate,
                                         requested=self.bulk_requested)
            self.report.bulk = bulk
            self.single = self.strict or bulk
            with db_bulk.import_settings(connection, IMPORT_CACHE_KIB), \
                    bulk_mode.unchecked_foreign_keys(connection, bulk), \
                    self._transaction(connection, self.single), \
                    self._deferred_indexes(connection, bulk):
                # rows named by e-mail are encoded once resolved (_batch), not here too
                encode = ((lambda ready: ready) if self.plan.customer_by_email
                          else writer.encode)
                prepared = ((batch, encode(prepare(self.plan, batch))) for batch in batches)
                for batch, ready in prefetch(prepared):
                    self._batch(connection, session, writer, batch, ready, rejects)
        finally:
            if rejects:
                rejects.close()
        status = ImportStatus.SUCCEEDED
        self._finish(connection, status, None)
        self.report.elapsed_seconds = time.perf_counter() - started
        self.report.status = status
        self.report.matched = dict(self.matched)
        self.report.rejects = self.in_memory
        if rejects is not None:
            self.report.reject_path = rejects.written_path
        return self.report

    @contextmanager
    def _deferred_indexes(self, connection: Connection, active: bool) -> Iterator[None]:
        if not active:
            yield
            return
        with bulk_mode.deferred_indexes(connection, self.plan.spec.table,
                                        rebuild=not self.dry_run):
            yield

    @contextmanager
    def _transaction(self, connection: Connection, active: bool) -> Iterator[None]:
        """Commit on success (roll back in a dry run); roll back on any error."""
        if not active:
            yield
            return
        transaction = connection.begin()
        try:
            yield
            if self.dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        except BaseException:
            # Also when the commit itself was interrupted: see end_transaction.
            end_transaction(connection)
            raise

    def _batch(self, connection: Connection, session: Session, writer: _Writer,
               batch: RawBatch, prepared: Prepared, rejects: RejectWriter | None) -> None:
        report = self.report
        report.rows_read += batch.table.num_rows + len(batch.malformed)
        with self._transaction(connection, not self.single):
            if self.plan.customer_by_email:  # a read: inside the batch's transaction
                prepared = writer.encode(by_email.resolve(connection, prepared,
                                                          _original(batch)))
            rejected = [r for r in prepared.rejects if not r.kept]
            self._fail_fast(rejected)
            if self.plan.options.create_customers and not self.plan.customer_by_email:
                report.customers_created += create_missing_customers(
                    connection, prepared.table, label=self.display, limits=self.plan.limits)
            counts, missed = writer.write(prepared, _original(batch))
            self._fail_fast(missed)
            missed_rows = {r.row for r in missed}
            kept = [r for r in prepared.rejects if r.kept and r.row not in missed_rows]
            bad = rejected + missed
            report.rows_rejected += len(bad)
            report.fields_kept_as_text += len(kept)
            report.duplicates += prepared.duplicates
            report.skipped += prepared.skipped
            for status, count in prepared.doubtful.items():
                report.doubtful_statuses[status] = report.doubtful_statuses.get(
                    status, 0) + count
            report.combined += prepared.combined
            report.inserted += counts.inserted
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            report.rows_written += prepared.table.num_rows - len(missed)
            if self.track_job and report.job_id is not None:
                import_service.record_progress(
                    session=session, job_id=report.job_id, rows_read=report.rows_read,
                    rows_written=report.rows_written, rows_rejected=report.rows_rejected,
                    reject_path=str(rejects.path) if rejects and (
                        report.rows_rejected or report.fields_kept_as_text) else None,
                )
        self.matched.update(counts.matched or {})
        if rejects is not None:
            rejects.write(bad + kept)
        else:
            self.in_memory.extend(RejectedRow(row=r.row, field=r.field, value=r.value,
                                              reason=r.reason, kept=r.kept)
                                  for r in bad + kept)
        if self.progress:
            self.progress(report.rows_read, self.estimate)

    def _fail_fast(self, bad: list[Reject]) -> None:
        if self.strict and bad:
            first = min(bad, key=lambda r: r.row)
            value = f" (value {first.value!r})" if first.value is not None else ""
            raise IngestError(f"{first.reason}{value}; strict mode: nothing was written",
                              file=self.display, row=first.row, field=first.field or None)

    def _finish_or_note(self, connection: Connection, error: Exception) -> None:
        """Mark the job failed; when the store takes no write at all (read-only, full),
        say so on the error instead of burying it under a second traceback."""
        try:
            self._finish(connection, ImportStatus.FAILED, str(error))
        except Exception as exc:
            error.add_note(f"the import job's status was not written ({type(exc).__name__}); "
                           "the next import marks it interrupted")

    def _finish(self, connection: Connection, status: ImportStatus, error: str | None
                ) -> None:
        """Commit the job's final status from whatever state an error or Ctrl-C left the
        connection in (a fresh session: the batches' one may have been interrupted)."""
        end_transaction(connection)
        if self.track_job and self.report.job_id is not None:
            with connection.begin():
                import_service.finish(session=Session(bind=connection),
                                      job_id=self.report.job_id, status=status, error=error)
