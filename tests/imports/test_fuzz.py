"""Fuzz the CSV, JSON Lines and Parquet readers and the event API.

Random bytes, numbers beyond 64 bits, infinities, year-0 dates, control characters, long
and deeply nested values: an import either refuses the file with an IngestError before
writing anything, or ends with every row read accounted for (written, rejected or
superseded) and exactly its inserted rows added. The event API never answers 5xx. After
each test every customer's API page still answers 200.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from kithkin.errors import IngestError
from kithkin.imports.ingest import ingest_file
from kithkin.imports.ingest.kinds import SPECS, Kind

from .helpers import Service, count

FUZZ = settings(max_examples=8, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
KINDS = (Kind.CUSTOMERS, Kind.TRANSACTIONS)
NASTY = [
    "", " ", "1e309", "-1e309", "1e999", "nan", "inf", "1e20", "-1e16", "12.50", "€ 1.234,50",
    str(2**64), str(-(2**63) - 1), "0000-01-01", "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-05:00", "2999-01-01", "99999999999", "20240301", "2024-02-30",
    "2024-01-01", "c1", "c2", "shop", "\x00", "a\x00b", "\x1b[31m", "line\nbreak", "tab\there",
    "x" * 70_000, "[" * 3_000, '{"a": ' * 500, "é" * 40, "\ufeff", "granted", "nps",
]
CELL = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats().map(repr),
)


def _import_whole_or_nothing(engine: Engine, kind: Kind, path: Path) -> None:
    table = SPECS[kind].table
    before = count(engine, table)
    try:
        report = ingest_file(kind=kind, path=path, engine=engine, batch_size=100)
    except IngestError:
        assert count(engine, table) == before  # refused before anything was written
        return
    assert report.status == "succeeded"
    assert report.rows_read == (report.rows_written + report.rows_rejected
                                + report.duplicates + report.combined
                                + report.skipped), report
    assert count(engine, table) - before == report.inserted, report


def _columns(kind: Kind) -> list[str]:
    return [f.name for f in SPECS[kind].fields]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[Kind, bytes]:
    kind = draw(st.sampled_from(KINDS))
    if draw(st.integers(0, 4)) == 0:  # raw bytes, sometimes after a valid header
        header = ",".join(_columns(kind)).encode() + b"\n"
        return kind, draw(st.sampled_from([b"", header])) + draw(st.binary(max_size=400))
    columns = draw(st.lists(st.sampled_from([*_columns(kind), "extra"]), min_size=1,
                            unique=True))
    columns = list(dict.fromkeys([*SPECS[kind].required, *columns]))
    rows = draw(st.lists(st.lists(CELL, min_size=len(columns), max_size=len(columns) + 1),
                         min_size=1, max_size=12))
    buffer = io.StringIO()
    csv.writer(buffer).writerows([columns, *rows])
    return kind, buffer.getvalue().encode("utf-8", "surrogatepass")


@FUZZ
@given(case=csv_files())
def test_fuzz_csv(service: Service, tmp_path: Path, case: tuple[Kind, bytes]) -> None:
    kind, data = case
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    _import_whole_or_nothing(service.engine, kind, path)
    service.customer_pages_answer()


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
              st.sampled_from([2**63, -(2**63) - 1, 2**70, 10**400, 1e308, -0.0]),
              st.floats(), st.text(max_size=30), st.sampled_from(NASTY)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[Kind, bytes]:
    kind = draw(st.sampled_from(KINDS))
    line = st.one_of(
        _record(kind).map(lambda d: json.dumps(d).encode()),
        st.sampled_from([b"[" * 100_000 + b"]" * 100_000, b'{"source": ' + b"[" * 5_000,
                         b"not json", b"[1, 2]", b'{"source": "\\u0000"}']),
        st.binary(max_size=200),
    )
    first = json.dumps({name: "x" for name in SPECS[kind].required}).encode()
    lines = draw(st.lists(line, min_size=1, max_size=10))
    if draw(st.booleans()):
        lines.insert(0, first)
    return kind, b"\n".join(lines) + b"\n"


@FUZZ
@given(case=jsonl_files())
def test_fuzz_json_lines(service: Service, tmp_path: Path, case: tuple[Kind, bytes]) -> None:
    kind, data = case
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    _import_whole_or_nothing(service.engine, kind, path)
    service.customer_pages_answer()


def _arrow_column(draw: st.DrawFn, n: int) -> pa.Array:
    shape = draw(st.sampled_from(["text", "int", "float", "stamp", "date", "list"]))
    if shape == "text":
        return pa.array(draw(st.lists(CELL, min_size=n, max_size=n)), pa.string())
    if shape == "int":
        ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
        return pa.array(draw(st.lists(ints, min_size=n, max_size=n)), pa.int64())
    if shape == "float":
        return pa.array(draw(st.lists(st.floats(), min_size=n, max_size=n)), pa.float64())
    if shape == "stamp":
        raw = pa.array(draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)),
                       pa.int64())
        unit = draw(st.sampled_from(["ms", "us", "ns"]))
        return raw.cast(pa.timestamp(unit, tz=draw(st.sampled_from([None, "UTC"]))))
    if shape == "date":
        raw = pa.array(draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n)),
                       pa.int32())
        return raw.cast(pa.date32())
    return pa.array(draw(st.lists(st.lists(st.text(max_size=5), max_size=3), min_size=n,
                                  max_size=n)), pa.list_(pa.string()))


@st.composite
def parquet_files(draw: st.DrawFn) -> tuple[Kind, bytes]:
    kind = draw(st.sampled_from(KINDS))
    if draw(st.integers(0, 5)) == 0:
        return kind, draw(st.binary(max_size=400))
    n = draw(st.integers(1, 8))
    names = list(dict.fromkeys([*SPECS[kind].required,
                                *draw(st.lists(st.sampled_from(_columns(kind)), max_size=6))]))
    table = pa.table({name: _arrow_column(draw, n) for name in names})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return kind, buffer.getvalue()


@FUZZ
@given(case=parquet_files())
def test_fuzz_parquet(service: Service, tmp_path: Path, case: tuple[Kind, bytes]) -> None:
    kind, data = case
    path = tmp_path / "fuzz.parquet"
    path.write_bytes(data)
    _import_whole_or_nothing(service.engine, kind, path)
    service.customer_pages_answer()


EVENT_KINDS = ("interactions", "transactions", "lines", "memberships")


def _record(kind: Kind) -> st.SearchStrategy[dict[str, Any]]:
    """A record with every required field (so it gets past the header check) and some
    of the others, all of them any JSON value."""
    required = SPECS[kind].required
    optional = [name for name in [*_columns(kind), "extra"] if name not in required]
    return st.fixed_dictionaries({name: JSON_VALUE for name in required},
                                 optional={name: JSON_VALUE for name in optional})


def _event_record(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return _record(Kind(kind))


@st.composite
def event_requests(draw: st.DrawFn) -> tuple[str, bytes | dict[str, Any]]:
    kind = draw(st.sampled_from(EVENT_KINDS))
    choice = draw(st.integers(0, 5))
    if choice == 0:
        broken = draw(st.sampled_from([
            b'{"kind": "transactions", "records": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
            b'{"kind": "lines", "records": [{"line_no": 1' + b"0" * 5_000 + b"}]}",
            b"\x00\xff", b"{",
        ]))
        return "/api/v1/events/batch", broken + draw(st.binary(max_size=50))
    if choice == 1:
        return "/api/v1/events", {"kind": kind, "record": draw(_event_record(kind))}
    records = draw(st.lists(_event_record(kind), min_size=1, max_size=6))
    return "/api/v1/events/batch", {"kind": kind, "records": records}


@FUZZ
@given(request=event_requests())
def test_fuzz_event_api(service: Service, request: tuple[str, bytes | dict[str, Any]]) -> None:
    url, body = request
    headers = {**service.headers, "Content-Type": "application/json"}
    if isinstance(body, bytes):
        response = service.client.post(url, content=body, headers=headers)
    else:
        payload = json.dumps(body, allow_nan=True).encode()
        response = service.client.post(url, content=payload, headers=headers)
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 200:
        result = response.json()
        assert result["received"] == (result["accepted"] + result["rejected"]
                                      + result["duplicates"])
    service.customer_pages_answer()
