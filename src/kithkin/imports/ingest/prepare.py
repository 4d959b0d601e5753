"""Turn one raw batch into staged rows and rejects: mapping, coercion, row rules, dedupe.

The column plan is fixed once from the header, so a missing required column fails
before anything is written; each batch then only runs the per-row work.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import String

from kithkin.database.base import Base
from kithkin.errors import IngestError
from kithkin.imports.ingest import coerce
from kithkin.imports.ingest.kinds import ONE_OF, SUMMED, FieldSpec, FieldType, Kind, KindSpec
from kithkin.imports.ingest.options import IngestOptions
from kithkin.imports.ingest.readers import RawBatch, python_safe
from kithkin.imports.ingest.suggest import same_field, suggest_mapping
from kithkin.imports.ingest.validate import (
    Limits,
    column_bound,
    control_in_name,
    date_errors,
    text_errors,
)
from kithkin.interactions.models import SCORE_RANGES
from kithkin.products.models import Money

ROW = "row_no"
SETTABLE = frozenset({"source", "customer_source", "currency", "channel", "kind",
                      "programme", "direction", "origin", "status"})
"""Fields a whole file often shares: the missing-column error suggests --set for them."""
GENERATED_PREFIX = "gen-"
MONEY_BOUND = 10.0 ** ((Money.precision or 18) - (Money.scale or 0))
"""Magnitude a Numeric(18, 2) money column holds (1e16)."""
SHOWN_CHARS = 200
"""A rejected value longer than this is shown cut (the reject file keeps the whole row)."""


@dataclass(frozen=True)
class Reject:
    row: int
    field: str
    value: str | None
    reason: str
    original: dict[str, Any]
    # True for a bad optional field whose row was imported anyway (the value kept as text).
    kept: bool = False


@dataclass(frozen=True)
class ColumnPlan:
    """Which input column feeds which field, and what is left over."""

    spec: KindSpec
    options: IngestOptions
    limits: Limits  # the date and size limits of the settings the import runs under
    sources: dict[str, str]  # field -> input column
    constants: dict[str, str]  # field -> default for a column the file does not have
    extras: list[str]  # input columns stored in attributes (customers)
    ignored: list[str]
    lengths: dict[str, int] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)  # target column -> magnitude
    keys: frozenset[str] = frozenset()  # id-like fields: no tab or line break either
    generate_order_id: bool = False  # transactions without an order id column
    combine: bool = False  # rows sharing an order id are one order (amounts add up)
    # unused column -> the field it looks like (`--map COLUMN=FIELD` would feed it)
    hints: dict[str, str] = field(default_factory=dict)
    # customer_external_id holds e-mails, to be swapped for the customer's own identifier
    customer_by_email: bool = False

    @property
    def present(self) -> list[FieldSpec]:
        return [f for f in self.spec.fields if f.name in self.sources or f.name in self.constants]


def plan_columns(spec: KindSpec, columns: list[str], options: IngestOptions,
                 *, file: str, limits: Limits) -> ColumnPlan:
    """Map input columns to fields; raise naming file and column if a required one is absent."""
    known = spec.field_by_name
    for target in options.columns.values():
        if target not in known and not (spec.extra_to_attributes and target.startswith("attr:")):
            raise IngestError(f"--map target {target!r} is not a {spec.kind} field "
                              f"({', '.join(known)})", file=file, field=target)
    for name in options.defaults:
        if name not in known:
            raise IngestError(f"default for unknown field {name!r}", file=file, field=name)
    for name in options.constants:
        if name not in known:
            raise IngestError(f"--set names unknown field {name!r} (a {spec.kind} field: "
                              f"{', '.join(known)})", file=file, field=name)
    sources: dict[str, str] = {}
    extras: list[str] = []
    ignored: list[str] = []
    targets = {column: options.columns.get(column, column) for column in columns}
    for column in columns:  # a field's own name in another case feeds it, after exact names
        if targets[column] not in known:
            same = same_field(kind=spec.kind, column=column)
            if same and same not in targets.values():
                targets[column] = same
    for column in columns:
        target = targets[column]
        if target in known and target not in sources and target not in options.constants:
            sources[target] = column
        elif spec.extra_to_attributes and target not in options.constants:
            extras.append(column)
        else:  # not a field, a field already fed by another column, or set by --set
            ignored.append(column)
    by_email = _customer_by_email(sources, ignored, options)
    unused = [c for c in [*extras, *ignored] if targets[c] not in known]
    hints = {column: name for column, name in suggest_mapping(
        kind=spec.kind, columns=unused).items()
        if name not in sources and name not in options.constants} if unused else {}
    constants = {k: v for k, v in options.defaults.items() if k not in sources}
    if by_email:  # filled per row with the customer's own source by by_email.resolve
        constants["customer_source"] = ""
    if "customer_source" in known and "customer_source" not in sources:
        constants.pop("customer_source", None)  # falls back to each row's own source
    constants.update(options.constants)
    generate = (spec.kind is Kind.TRANSACTIONS and "order_id" not in sources
                and "order_id" not in constants)
    missing = [n for n in spec.required if n not in sources and n not in constants
               and not (generate and n == "order_id")]
    if missing:
        name = missing[0]
        constant = (f" or give it for every row with --set {name}=VALUE"
                    if name in SETTABLE else "")
        free = [c for c in columns if c not in sources.values()]
        looks = {field: column for column, field in
                 suggest_mapping(kind=spec.kind, columns=free).items() if field in missing}
        hint = ("; " + ", ".join(f"column {column!r} looks like {field!r}: --map "
                                 f"{shlex.quote(f'{column}={field}')}"
                                 for field, column in looks.items())
                if looks else "")
        raise IngestError(
            f"missing required column {name!r} for {spec.kind} (columns found: "
            f"{', '.join(columns) or 'none'}; map one with --map COLUMN={name}{constant}"
            f"{hint})", file=file, field=name,
        )
    one_of = ONE_OF.get(spec.kind, ())
    if one_of and not any(n in sources or n in constants for n in one_of):
        wanted = [*one_of, "customer_email"]
        alike = [f"column {column!r} looks like {name!r}: --map "
                 f"{shlex.quote(f'{column}={name}')}" for column, name in hints.items()
                 if name in wanted]
        raise IngestError(f"needs one of the columns {', '.join(wanted)}"
                          + (f" ({'; '.join(alike)})" if alike else ""), file=file,
                          field=one_of[0])
    for column in [*sources.values(), *extras]:
        if control_in_name(column):
            raise IngestError(f"column name {column!r} contains a control character",
                              file=file)
    table = Base.metadata.tables[spec.table]
    lengths = {c.name: c.type.length for c in table.columns
               if isinstance(c.type, String) and c.type.length}
    bounds = {c.name: bound for c in table.columns if (bound := column_bound(c)) is not None}
    for spec_field in spec.fields:  # read-only money (refunded): a stored amount's range
        if spec_field.type is FieldType.MONEY and spec_field.target is None:
            bounds[spec_field.name] = MONEY_BOUND
    keys = frozenset([*spec.key, *(src for ref in spec.references for _, src in ref.on),
                      *(ref.trigger for ref in spec.references)])
    return ColumnPlan(spec, options, limits, sources, constants, extras, ignored, lengths,
                      bounds, keys, generate_order_id=generate,
                      combine=generate or (spec.kind is Kind.TRANSACTIONS
                                           and options.combine_rows), hints=hints,
                      customer_by_email=by_email)


def _customer_by_email(sources: dict[str, str], ignored: list[str],
                       options: IngestOptions) -> bool:
    """Whether the customer is named by e-mail only: then the e-mail column feeds
    customer_external_id until the batch is resolved; next to an id it is not used."""
    column = sources.pop("customer_email", None)
    if column is None:
        return False
    if "customer_external_id" in sources or "customer_external_id" in options.constants:
        ignored.append(column)
        return False
    sources["customer_external_id"] = column
    if "customer_source" in sources:  # the customer's own identifier says its source
        ignored.append(sources.pop("customer_source"))
    return True


@dataclass
class Prepared:
    table: pa.Table  # staged columns + row_no, valid rows only, one row per natural key
    rejects: list[Reject]
    duplicates: int
    extras: pa.Table | None = None  # customers: attributes columns aligned with table
    payload: Any = None  # the table encoded for the driver's bulk load (store.encode)
    skipped: int = 0  # rows left out on purpose (a status in skip_statuses)
    combined: int = 0  # rows added into another row's order
    doubtful: dict[str, int] = field(default_factory=dict)  # kept rows' not-a-sale statuses


def _is_set(values: np.ndarray[Any, np.dtype[np.object_]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.array([v is not None for v in values], dtype=bool)


class _Errors:
    """First error per row, kept as NumPy object arrays only once an error appears."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.field: np.ndarray[Any, np.dtype[np.object_]] | None = None
        self.reason: np.ndarray[Any, np.dtype[np.object_]] | None = None
        self.value: np.ndarray[Any, np.dtype[np.object_]] | None = None

    def add(self, name: str, errors: pa.Array, values: pa.Array | None) -> None:
        if errors.null_count == len(errors):
            return
        if self.field is None:
            self.field = np.full(self.n, None, dtype=object)
            self.reason = np.full(self.n, None, dtype=object)
            self.value = np.full(self.n, None, dtype=object)
        assert self.reason is not None and self.value is not None
        reasons = errors.to_numpy(zero_copy_only=False)
        new = np.flatnonzero(_is_set(reasons) & ~_is_set(self.field))
        if len(new) == 0:
            return
        self.field[new] = name
        self.reason[new] = reasons[new]
        if values is not None:
            shown = [_shown(v) for v in coerce.as_text(values).take(pa.array(new)).to_pylist()]
            self.value[new] = np.array([*shown, None], dtype=object)[:-1]

    def bad_indices(self) -> np.ndarray[Any, np.dtype[np.intp]]:
        if self.field is None:
            return np.empty(0, dtype=np.intp)
        return np.flatnonzero(_is_set(self.field))


def _shown(value: str | None) -> str | None:
    if value is None or len(value) <= SHOWN_CHARS:
        return value
    return f"{value[:SHOWN_CHARS]}... ({len(value):,} characters)"


def _coerce(spec_field: FieldSpec, raw: pa.Array, plan: ColumnPlan,
            out: dict[str, pa.Array]) -> pa.Array:
    """Store the coerced column(s) for one field in ``out``; return its errors."""
    name, kind, options = spec_field.name, spec_field.type, plan.options
    if kind is FieldType.EMAIL:
        text, normalized, errors = coerce.to_email(raw)
        out[name], out["email_normalized"] = text, normalized
        return errors
    if kind is FieldType.PHONE:
        text, e164, errors = coerce.to_phone(raw, options)
        out[name], out["phone_e164"] = text, e164
        return errors
    if kind is FieldType.DATETIME:
        values, errors = coerce.to_datetime(raw, options)
    elif kind is FieldType.DATE:
        values, errors = coerce.to_date(raw, options)
    elif kind in (FieldType.MONEY, FieldType.FLOAT, FieldType.INT):
        values, errors = coerce.to_number(raw, options, integer=kind is FieldType.INT,
                                          cents=kind is FieldType.MONEY,
                                          bound=plan.bounds.get(spec_field.target
                                                                or spec_field.name))
    elif kind is FieldType.ENUM:
        values, errors = coerce.to_enum(raw, spec_field.choices,
                                        synonyms=dict(spec_field.synonyms))
    elif kind is FieldType.CONSENT:
        values, errors = coerce.to_consent(raw, spec_field.choices)
    elif kind is FieldType.TAGS:
        values, errors = coerce.to_tags(raw)
    else:
        values, errors = coerce.to_text(raw, upper=kind is FieldType.CODE)
    out[name] = values
    if kind in (FieldType.DATETIME, FieldType.DATE):
        errors = pc.coalesce(errors, date_errors(values, spec_field.when, plan.limits))
    return errors


def _input(plan: ColumnPlan, batch: RawBatch, name: str) -> pa.Array:
    n = batch.table.num_rows
    spec_field = plan.spec.field_by_name[name]
    if name in plan.sources:
        if plan.sources[name] not in batch.table.column_names:  # JSON Lines: key absent
            return pa.nulls(n, pa.string())
        column = batch.table.column(plan.sources[name]).combine_chunks()
        default = plan.options.defaults.get(name, spec_field.default)
        if default is not None:
            column = pc.coalesce(coerce.as_text(column), pa.scalar(default))
        return column
    return pa.array([plan.constants[name]] * n, pa.string())


def prepare(plan: ColumnPlan, batch: RawBatch) -> Prepared:
    """Coerce and validate a batch; bad rows become rejects with their first error."""
    spec = plan.spec
    n = batch.table.num_rows
    out: dict[str, pa.Array] = {}
    errors = _Errors(n)
    inputs: dict[str, pa.Array] = {}
    max_chars = plan.limits.max_chars
    soft = _Errors(n)
    for spec_field in plan.present:
        raw = inputs[spec_field.name] = _input(plan, batch, spec_field.name)
        # First, so a 10 MB cell is reported as too long rather than as a bad number.
        errors.add(spec_field.name, text_errors(raw, key=spec_field.name in plan.keys,
                                                max_chars=max_chars), raw)
        field_errors = _coerce(spec_field, raw, plan, out)
        if spec_field.raw_column is None:
            errors.add(spec_field.name, field_errors, raw)
            continue
        soft.add(spec_field.name, field_errors, raw)
        if spec_field.raw_column != spec_field.name:
            bad = pc.is_valid(field_errors)
            out[spec_field.raw_column] = pc.if_else(bad, coerce.as_text(raw),
                                                    pa.scalar(None, pa.string()))
            parsed = out[spec_field.name]
            out[spec_field.name] = pc.if_else(bad, pa.scalar(None, parsed.type), parsed)
    for column in plan.extras:
        if column in batch.table.column_names:
            extra = batch.table.column(column).combine_chunks()
            errors.add(column, text_errors(extra, key=False, max_chars=max_chars), extra)
    if "customer_source" in out:  # absent: references join on the row's own source
        out["customer_source"] = pc.coalesce(out["customer_source"], out["source"])
    if plan.generate_order_id:
        out["order_id"] = generated_order_ids(out)
    for name in spec.required:
        if plan.combine and name == "amount":
            continue  # checked per order once its rows are added up
        errors.add(name, coerce.errors_where(pc.is_null(out[name]), "required value missing"),
                   None)
    _row_rules(spec.kind, out, errors, n)
    for name, values in out.items():
        target = spec.field_by_name[name].target if name in spec.field_by_name else name
        limit = plan.lengths.get(target or name)
        if limit and pa.types.is_string(values.type):
            too_long = pc.greater(pc.utf8_length(values), limit)
            errors.add(name, coerce.errors_where(too_long, f"longer than {limit} characters"),
                       inputs.get(name, values))
    table = pa.table({**out, ROW: pa.array(batch.rows)}) if out else pa.table(
        {ROW: pa.array(batch.rows)})
    present_extras = [c for c in plan.extras if c in batch.table.column_names]
    extras = python_safe(batch.table.select(present_extras)) if present_extras else None
    skip = _skipped(plan, out, n)
    bad = errors.bad_indices()
    if skip is not None:  # a row left out on purpose is not also a reject
        bad = bad[~skip[bad]]
    originals = python_safe(batch.table.take(pa.array(bad))).to_pylist()
    rejects = [Reject(int(batch.rows[i]), str(errors.field[i]),  # type: ignore[index]
                      errors.value[i], str(errors.reason[i]),  # type: ignore[index]
                      original)
               for i, original in zip(bad, originals, strict=True)]
    rejects.extend(Reject(m.row, "", m.text, m.reason, {}) for m in batch.malformed)
    left_out = bad if skip is None else np.union1d(bad, np.flatnonzero(skip))
    rejects.extend(_kept_notes(plan, batch, soft, exclude=left_out))
    skipped = int(skip.sum()) if skip is not None else 0
    doubtful = _doubtful(out, left_out) if spec.kind is Kind.TRANSACTIONS else {}
    if len(bad) or skipped:
        keep = np.ones(n, dtype=bool)
        keep[bad] = False
        if skip is not None:
            keep &= ~skip
        mask = pa.array(keep)
        table = table.filter(mask)
        extras = extras.filter(mask) if extras is not None else None
    combined = 0
    if plan.combine:
        table, combined = combine_orders(table, list(spec.key))
        table = _without_amount(table, batch, rejects)
    if "refunded" in table.column_names:
        table = _net_of_refunds(table)
    table, extras, duplicates = _last_wins(table, extras, list(spec.key))
    return Prepared(table, rejects, duplicates, extras, skipped=skipped, combined=combined,
                    doubtful=doubtful)


NOT_A_SALE = frozenset({"refunded", "cancelled", "canceled", "failed", "void", "voided",
                        "declined", "returned", "chargeback", "abandoned"})
"""Statuses that name something other than a sale: rows kept with one are reported, since
they count as revenue (a shop export's refunded orders seen counted as sales)."""


def _doubtful(out: dict[str, pa.Array], left_out: np.ndarray[Any, Any]) -> dict[str, int]:
    """How many rows, not left out, carry each status of NOT_A_SALE."""
    if "status" not in out:
        return {}
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(out["status"]))
    keep = np.ones(len(lowered), dtype=bool)
    keep[left_out] = False
    found = pc.filter(lowered, pc.and_(pa.array(keep), pc.fill_null(
        pc.is_in(lowered, value_set=pa.array(sorted(NOT_A_SALE))), False)))
    return {str(row["values"]): int(row["counts"])
            for row in pc.value_counts(found).to_pylist()}


def generated_order_ids(out: dict[str, pa.Array]) -> pa.Array:
    """One order id per (source, customer, ordered_at): ``gen-`` and 20 hex digits of the
    SHA-256 of those values (the time as UTC microseconds), so importing the same file
    again finds the same orders. Null where a part is missing (that row is rejected)."""
    stamp = pc.cast(out["ordered_at"], pa.timestamp("us", tz="UTC"))
    when = pc.cast(stamp.view(pa.timestamp("us")), pa.string())
    customer_source = out.get("customer_source", out["source"])
    keys = pc.binary_join_element_wise(out["source"], customer_source,
                                       out["customer_external_id"], when, "\x1f")
    return pa.array([None if key is None else
                     GENERATED_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:20]
                     for key in keys.to_pylist()], pa.string())


def _skipped(plan: ColumnPlan, out: dict[str, pa.Array], n: int
             ) -> np.ndarray[Any, np.dtype[np.bool_]] | None:
    """Rows whose status is one of ``skip_statuses``; when rows combine into orders, every
    row of such an order (a Shopify line row repeats no status)."""
    statuses = plan.options.skip_statuses
    if not statuses or "status" not in out:
        return None
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(out["status"]))
    skip = pc.fill_null(pc.is_in(lowered, value_set=pa.array(statuses, pa.string())), False)
    if plan.combine and "order_id" in out and pc.any(skip).as_py():
        keys = pc.binary_join_element_wise(out["source"], out["order_id"], "\x1f")
        skip = pc.fill_null(pc.is_in(keys, value_set=pc.filter(keys, skip)), False)
    mask: np.ndarray[Any, np.dtype[np.bool_]] = skip.to_numpy(zero_copy_only=False)
    return mask


def to_cents(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Round to the cent exactly: Arrow's ``round(x, 2)`` leaves 86.28999999999999 for a
    sum of 40.00 and 46.29; rounding the cents and dividing is correctly rounded."""
    return pc.divide(pc.round(pc.multiply(values, 100.0)), 100.0)


def combine_orders(table: pa.Table, key: list[str]) -> tuple[pa.Table, int]:
    """One row per order: amounts, discounts, quantities and refunds add up (empty cells
    do not count; empty when all are), a cost only when every row has one (a cost
    unknown for part of an order is unknown for the order), the earliest ``ordered_at``,
    the first non-empty value of other fields and the last row's number. Returns the
    table and how many rows were folded into another row's order."""
    if table.num_rows == 0:
        return table, 0
    aggregations: list[tuple[str, str]] = [(ROW, "max"), (ROW, "count")]
    for name in table.column_names:
        if name in key or name == ROW:
            continue
        if name in SUMMED:
            aggregations += [(name, "sum"), (name, "count")]
        else:
            aggregations.append((name, "min" if name == "ordered_at" else "first"))
    grouped = table.group_by(key, use_threads=False).aggregate(aggregations)
    rows = grouped[f"{ROW}_count"]
    columns: dict[str, pa.Array] = {}
    for name in table.column_names:
        if name == ROW:
            columns[name] = grouped[f"{ROW}_max"]
        elif name in key:
            columns[name] = grouped[name]
        elif name in SUMMED:
            total = grouped[f"{name}_sum"]
            if name != "quantity":
                total = to_cents(total)
            if name == "cost":
                total = pc.if_else(pc.equal(grouped["cost_count"], rows), total,
                                   pa.scalar(None, total.type))
            columns[name] = total
        else:
            columns[name] = grouped[f"{name}_{'min' if name == 'ordered_at' else 'first'}"]
    combined = pa.table(columns).cast(table.schema)
    combined = combined.sort_by(ROW)
    return combined, table.num_rows - combined.num_rows


def _without_amount(table: pa.Table, batch: RawBatch, rejects: list[Reject]) -> pa.Table:
    """Reject the orders none of whose rows has an amount (named by their last row)."""
    missing = pc.is_null(table["amount"])
    if not pc.any(missing).as_py():
        return table
    for row in pc.filter(table[ROW], missing).to_pylist():
        index = int(np.searchsorted(batch.rows, row))
        original = python_safe(batch.table.slice(index, 1)).to_pylist()[0]
        rejects.append(Reject(int(row), "amount", None,
                              "required value missing (no row of this order has one)",
                              original))
    return table.filter(pc.invert(missing))


def _net_of_refunds(table: pa.Table) -> pa.Table:
    """The amount net of what was refunded (a fully refunded order is kept at 0, so a
    re-import after a refund updates it); the refund itself is not stored."""
    refunded = pc.fill_null(table["refunded"], 0.0)
    net = to_cents(pc.subtract(table["amount"], refunded))
    index = table.column_names.index("amount")
    return table.set_column(index, "amount", net).drop_columns(["refunded"])


def _kept_notes(plan: ColumnPlan, batch: RawBatch, soft: _Errors,
                exclude: np.ndarray[Any, np.dtype[np.intp]]) -> list[Reject]:
    """Bad optional fields of rows that are imported: reported, the row kept."""
    kept = np.setdiff1d(soft.bad_indices(), exclude)
    if not len(kept) or soft.field is None or soft.reason is None or soft.value is None:
        return []
    originals = python_safe(batch.table.take(pa.array(kept))).to_pylist()
    notes = []
    for i, original in zip(kept, originals, strict=True):
        name = str(soft.field[i])
        raw_column = plan.spec.field_by_name[name].raw_column
        notes.append(Reject(int(batch.rows[i]), name, soft.value[i],
                            f"{soft.reason[i]}; row imported, value kept as text in "
                            f"{raw_column}", original, kept=True))
    return notes


def _row_rules(kind: Kind, out: dict[str, pa.Array], errors: _Errors, n: int) -> None:
    one_of = ONE_OF.get(kind, ())
    if one_of:
        present = [out[name] for name in one_of if name in out]
        none = pc.and_kleene(*[pc.is_null(v) for v in present]) if len(present) > 1 else (
            pc.is_null(present[0]))
        errors.add(one_of[0], coerce.errors_where(
            none, f"needs one of {', '.join(one_of)}"), None)
    if "score" in out:
        score = out["score"]
        scale = out.get("score_scale", pa.nulls(n, pa.string()))
        errors.add("score_scale", coerce.errors_where(
            pc.and_(pc.is_valid(score), pc.is_null(scale)),
            "a score needs its score_scale (nps or csat)"), None)
        for name, (low, high) in SCORE_RANGES.items():
            outside = pc.and_(pc.equal(scale, name),
                              pc.or_(pc.less(score, low), pc.greater(score, high)))
            errors.add("score", coerce.errors_where(
                outside, f"{name} score must be between {low:g} and {high:g}"), score)


def _last_wins(table: pa.Table, extras: pa.Table | None, key: list[str]
               ) -> tuple[pa.Table, pa.Table | None, int]:
    """Keep the last row of each natural key in the batch (later rows are newer)."""
    if table.num_rows < 2:
        return table, extras, 0
    last = table.group_by(key, use_threads=False).aggregate([(ROW, "max")])
    if last.num_rows == table.num_rows:
        return table, extras, 0
    mask = pc.is_in(table[ROW], value_set=last[f"{ROW}_max"])
    extras = extras.filter(mask) if extras is not None else None
    return table.filter(mask), extras, table.num_rows - last.num_rows
