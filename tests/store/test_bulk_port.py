"""The landing port (kithkin.database.bulk) on each store and path: every column type the
models use survives a round trip, upserts are idempotent, a failed block replacement
leaves the old block, and the ADBC-staged SQLite path stores what the driver path does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    exc,
    func,
    inspect,
    select,
)
from sqlalchemy.types import Date

from kithkin.database import adbc, bulk
from kithkin.database.base import IdType, UTCDateTime
from kithkin.database.bulk import packed
from kithkin.database.core import build_engine
from kithkin.errors import ValidationError

metadata = MetaData()
parent = Table("bulk_parent", metadata, Column("id", IdType, primary_key=True))
sample = Table(
    "bulk_sample", metadata,
    Column("id", IdType, primary_key=True),
    Column("block", Date, nullable=False),
    Column("label", String(64), nullable=False),
    Column("parent_id", IdType, ForeignKey("bulk_parent.id")),
    Column("at", UTCDateTime()),
    Column("day", Date),
    Column("doc", JSON),
    Column("flag", Boolean),
    Column("amount", Numeric(18, 2, asdecimal=False)),
    Column("ratio", Float),
    Column("note", Text),
    Column("count", Integer, nullable=False, default=0),
    UniqueConstraint("block", "label"),
)
BLOCK, OTHER = date(2024, 6, 30), date(2024, 7, 31)
PARIS = timezone(timedelta(hours=2))


def _engine(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    if request.param == "postgresql":
        request.applymarker(pytest.mark.postgres)
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'bulk.db'}"
    if request.param == "sqlite-staged":
        pytest.importorskip("adbc_driver_sqlite")
        monkeypatch.setattr(adbc, "MIN_ROWS", 0)
    built = build_engine(url)
    metadata.create_all(built)
    with built.begin() as conn:
        conn.execute(parent.insert(), [{"id": 1}, {"id": 2}])
    yield built
    built.dispose()


@pytest.fixture(params=["sqlite", "sqlite-staged", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Each store, and SQLite's ADBC-staged path (a child process per write: slower)."""
    yield from _engine(request, tmp_path, monkeypatch)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Each store, for what never stages."""
    yield from _engine(request, tmp_path, monkeypatch)


def _rows() -> pd.DataFrame:
    return pd.DataFrame({
        "block": [BLOCK] * 4,
        "label": ["plain", "quote's \"double\"", "unicode ✓ é 日本", ""],
        "parent_id": [1, 2, None, 1],
        "at": [datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
               datetime(2024, 3, 1, 11, 0, tzinfo=PARIS), None,
               datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)],
        "day": [date(2024, 2, 29), None, date(1970, 1, 1), date(2099, 12, 31)],
        "doc": ['{"a": 1, "b": [1, 2]}', '{"q": "it\'s \\"x\\""}', None, "[]"],
        "flag": [True, False, None, True],
        "amount": [Decimal("12.34"), Decimal("0.10"), None, Decimal("-5.00")],
        "ratio": [0.5, None, 1e-9, -3.25],
        "note": ["line\nbreak, comma", "", None, "tab\there"],
        "count": [1, 2, 3, 4],
    })


def _stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(sample).order_by(sample.c.block, sample.c.count)).mappings()
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _expected(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict("records"):
        row = {k: (None if v is None or (isinstance(v, float) and pd.isna(v)) else v)
               for k, v in record.items()}
        row["parent_id"] = None if row["parent_id"] is None else int(row["parent_id"])
        row["at"] = None if row["at"] is None else row["at"].astimezone(UTC)
        row["doc"] = None if row["doc"] is None else __import__("json").loads(row["doc"])
        row["amount"] = None if row["amount"] is None else float(row["amount"])
        out.append(row)
    return out


def test_append_round_trips_every_column_type(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        assert bulk.append(conn, sample, rows) == 4
    assert _stored(engine) == _expected(rows)


def test_select_to_arrow_reads_what_was_written(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows)
    query = select(sample.c.label, sample.c.at, sample.c.day, sample.c.flag,
                   sample.c.amount, sample.c.count).order_by(sample.c.count)
    with engine.connect() as conn:
        read = bulk.select_to_arrow(conn, query, expected_rows=len(rows))
    assert read.schema == pa.schema([
        ("label", pa.string()), ("at", bulk.UTC_TIMESTAMP), ("day", pa.date32()),
        ("flag", pa.bool_()), ("amount", pa.float64()), ("count", pa.int64())])
    expected = _expected(rows)
    assert read.to_pylist() == [{k: row[k] for k in read.column_names} for row in expected]


def test_upsert_is_idempotent_and_updates_on_the_key(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.upsert(conn, sample, rows, key=("block", "label"))
        bulk.upsert(conn, sample, rows, key=("block", "label"))
    assert _stored(engine) == _expected(rows)
    changed = rows.assign(ratio=[9.0, 8.0, 7.0, 6.0])
    added = pd.concat([changed, rows.iloc[:1].assign(label="new", count=5)])
    with engine.begin() as conn:
        bulk.upsert(conn, sample, added, key=("block", "label"))
    assert _stored(engine) == _expected(added.reset_index(drop=True))


def test_insert_new_leaves_stored_keys_as_they_are(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        assert bulk.insert_new(conn, sample, rows.iloc[:2], key=("block", "label")) == 2
        changed = rows.assign(ratio=[9.0, 8.0, 7.0, 6.0])
        assert bulk.insert_new(conn, sample, changed, key=("block", "label")) == 2
    expected = pd.concat([rows.iloc[:2], changed.iloc[2:]], ignore_index=True)
    assert _stored(engine) == _expected(expected)


def test_staged_rows_join_stored_ones_and_write_nothing(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows.iloc[:2])
    with engine.connect() as conn:
        with bulk.staged(conn, sample, rows[["block", "label", "count"]]) as stage:
            new = select(stage.c.label, stage.c.block).where(~select(sample.c.id).where(
                sample.c.block == stage.c.block, sample.c.label == stage.c.label).exists())
            found = sorted((label, day) for label, day in conn.execute(new))
        conn.rollback()
    assert found == sorted((label, BLOCK) for label in rows["label"].iloc[2:])
    assert len(_stored(engine)) == 2


def test_unstored_gives_the_positions_of_new_keys(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows.iloc[[1, 3]])
    with engine.connect() as conn:
        positions = bulk.unstored(conn, sample, rows, key=("block", "label"))
        conn.rollback()
    assert positions.tolist() == [0, 2]
    assert len(_stored(engine)) == 2


def test_replace_block_swaps_one_block_only(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows)
        bulk.append(conn, sample, rows.assign(block=OTHER))
    kept = rows.iloc[1:3].drop(columns=["block"]).assign(ratio=[1.5, 2.5])
    with engine.begin() as conn:
        written = bulk.replace_block(conn, sample, kept, where={"block": BLOCK},
                                     key=("block", "label"))
    assert written == 2
    expected = _expected(pd.concat([kept.assign(block=BLOCK), rows.assign(block=OTHER)])
                         [rows.columns].reset_index(drop=True))
    assert _stored(engine) == expected


@pytest.mark.parametrize("merge", [True, False])
def test_replace_block_with_columns_staged_ahead(engine: Engine, merge: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The first columns staged while the caller computes the others store what one
    write of the whole block stores, merged or written anew."""
    stages: list[list[str]] = []
    stage = bulk._staged
    monkeypatch.setattr(bulk, "_staged", lambda conn, table, rows, **options: (
        stages.append(rows.column_names), stage(conn, table, rows, **options))[1])
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows)
        bulk.append(conn, sample, rows.assign(block=OTHER))
    first = ["label", "parent_id", "at", "day", "doc", "flag", "count"]
    ahead = bulk.stage_ahead(engine, sample, rows[first], constants={"block": BLOCK})
    block = rows.drop(columns=["block"]).assign(ratio=[1.5, 2.5, None, 4.0], note="later")
    stages.clear()
    with engine.begin() as conn:
        written = bulk.replace_block(conn, sample, block, where={"block": BLOCK},
                                     key=("block", "label"), merge=merge, ahead=ahead)
    ahead.discard()
    assert written == 4
    if adbc.MIN_ROWS == 0:  # a staged SQLite file: only the later columns staged now
        assert ahead.pending is not None and stages == [["amount", "ratio", "note"]]
    expected = _expected(pd.concat([block.assign(block=BLOCK), rows.assign(block=OTHER)])
                         [rows.columns].reset_index(drop=True))
    assert _stored(engine) == expected


def test_rows_changed_since_they_were_staged_ahead_are_written_as_they_are(
        engine: Engine) -> None:
    """A staged column the caller changed afterwards, or rows in another order, cannot
    be joined by row number: the whole block is staged again, nothing is mixed up."""
    rows = _rows()
    ahead = bulk.stage_ahead(engine, sample, rows[["label", "count"]],
                             constants={"block": BLOCK})
    reordered = rows.iloc[::-1].reset_index(drop=True).assign(ratio=0.25)
    with engine.begin() as conn:
        bulk.replace_block(conn, sample, reordered, where={"block": BLOCK},
                           key=("block", "label"), ahead=ahead)
    assert _stored(engine) == _expected(rows.assign(ratio=0.25))
    assert ahead.used and (ahead.pending is None or not ahead.pending.folder.exists())


def test_a_stage_ahead_that_is_not_used_leaves_nothing_behind(engine: Engine,
                                                               tmp_path: Path) -> None:
    ahead = bulk.stage_ahead(engine, sample, _rows()[["label", "count"]],
                             constants={"block": BLOCK})
    ahead.discard()
    assert not list(tmp_path.glob("kithkin-stage-*"))
    assert _stored(engine) == []


def test_a_failed_replace_block_leaves_the_old_block(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows)
    broken = rows.assign(label=["a", "b", "c", None])  # label is NOT NULL
    with engine.connect() as conn:
        with pytest.raises(exc.IntegrityError):
            bulk.replace_block(conn, sample, broken, where={"block": BLOCK},
                               key=("block", "label"))
        # the caller's transaction goes on: the savepoint undid the half-done swap
        count = conn.execute(select(func.count()).select_from(sample)).scalar_one()
        assert count == 4
        conn.commit()
    assert _stored(engine) == _expected(rows)


def test_update_and_delete_by_id(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows)
        ids = conn.execute(select(sample.c.id).order_by(sample.c.count)).scalars().all()
        updated = bulk.update_by_id(conn, sample, pd.DataFrame({
            "id": ids[:2], "note": ["now 'quoted'", None],
            "at": [datetime(2025, 1, 1, tzinfo=UTC), None]}))
        assert updated == 2
        assert bulk.delete_by_id(conn, sample, [ids[3]]) == 1
    expected = _expected(rows)[:3]
    expected[0].update(note="now 'quoted'", at=datetime(2025, 1, 1, tzinfo=UTC))
    expected[1].update(note=None, at=None)
    assert _stored(engine) == expected


def test_plan_applies_queued_steps_in_order(engine: Engine) -> None:
    """Two stages (one per stage() call) attached and applied in the queued order."""
    rows = _rows()
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.append(sample, rows.iloc[:2])
        plan.stage()
        plan.append(sample, rows.iloc[2:])
        plan.apply()
    assert _stored(engine) == _expected(rows)
    if engine.dialect.name == "sqlite":  # stage files go once the connection is back
        assert not list(Path(str(engine.url.database)).parent.glob("kithkin-stage-*"))


def test_plan_binds_constants_and_looks_up_encoded_columns(engine: Engine) -> None:
    """Constants and a dictionary-encoded column (one code per row, a few values) store
    what the written-out values store, appended and updated by id."""
    rows = _rows()
    codes = pa.array([1, 0, None, 1], pa.int8())
    notes = pa.DictionaryArray.from_arrays(codes, pa.array(["first", "it's \"second\""]))
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.append(sample, pa.table({"label": rows["label"], "note": notes,
                                      "count": rows["count"]}),
                    constants={"block": BLOCK, "at": datetime(2024, 3, 1, 9, 30,
                                                             tzinfo=PARIS)})
        plan.apply()
        ids = conn.execute(select(sample.c.id).order_by(sample.c.count)).scalars().all()
        plan.update_by_id(sample, pa.table({"id": pa.array(ids[:2]), "flag": pa.array(
            [True, None]), "day": pa.DictionaryArray.from_arrays(
            pa.array([0, 0], pa.int8()), pa.array([date(2025, 1, 2)]))}),
            constants={"ratio": 0.25})
        plan.apply()
    stored = _stored(engine)
    assert [row["note"] for row in stored] == ["it's \"second\"", "first", None,
                                               "it's \"second\""]
    assert {row["block"] for row in stored} == {BLOCK}
    assert {row["at"] for row in stored} == {datetime(2024, 3, 1, 7, 30, tzinfo=UTC)}
    assert [(row["flag"], row["day"], row["ratio"]) for row in stored] == [
        (True, date(2025, 1, 2), 0.25), (None, date(2025, 1, 2), 0.25),
        (None, None, None), (None, None, None)]


def test_plan_sync_rewrites_only_what_changed(engine: Engine) -> None:
    """New keys inserted in order, gone ones deleted, a stored row updated (with the
    constants) only when a value differs, a missing value equal to a missing one."""
    first = pd.DataFrame({"label": ["a", "b", "c"], "ratio": [0.5, None, 1.0],
                          "note": ["x", None, "z"]})
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.sync(sample, first, key=["block", "label"],
                  constants={"block": BLOCK, "count": 1})
        plan.apply()
    second = pd.DataFrame({"label": ["d", "c", "b"], "ratio": [2.0, 1.5, None],
                           "note": ["w", "z", None]})
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.sync(sample, second, key=["block", "label"],
                  constants={"block": BLOCK, "count": 2})
        plan.apply()
        stored = conn.execute(select(sample.c.id, sample.c.label, sample.c.ratio,
                                     sample.c.note, sample.c["count"]).order_by(
            sample.c.id)).all()
    assert [tuple(row)[1:] for row in stored] == [
        ("b", None, None, 1), ("c", 1.5, "z", 2), ("d", 2.0, "w", 2)]
    assert stored[0].id < stored[1].id < stored[2].id
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.sync(sample, second.iloc[:0], key=["block", "label"],
                  constants={"block": BLOCK, "count": 3})
        plan.apply()
    assert _stored(engine) == []


def test_plan_inserts_only_new_keys_staged_or_not(engine: Engine) -> None:
    """A queued insert of new keys, staged while other work runs, leaves rows stored
    meanwhile (another writer, an earlier step) as they are."""
    rows = _rows()
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.insert_new(sample, rows.assign(ratio=[9.0, 8.0, 7.0, 6.0]),
                        key=("block", "label"))
        plan.stage()
        bulk.append(conn, sample, rows.iloc[:1])
        plan.apply()
    expected = rows.assign(ratio=[rows["ratio"][0], 8.0, 7.0, 6.0])
    assert _stored(engine) == _expected(expected)


@pytest.mark.parametrize("counts", [[7, -3, 0, 2**30], [-(2**62), 2**62, 0, 1]])
def test_plan_packs_integer_steps_and_stores_what_is_given(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, counts: list[int]) -> None:
    """An append and an update by id of integer columns and codes alone (SQLite, enough
    rows: one packed integer per row, unpacked by the statement) store the values given,
    negative and large ones included; columns whose spans do not fit in one integer (the
    second case) go the staged way and store the same."""
    if engine.dialect.name == "postgresql" and max(map(abs, counts)) >= 2**31:
        pytest.skip("a 32-bit integer column on PostgreSQL (packing is SQLite's)")
    packs: list[bool] = []
    pack = packed.pack

    def counted(rows: pa.Table) -> packed.Packed | None:
        found = pack(rows)
        packs.append(found is not None)
        return found

    monkeypatch.setattr(packed, "pack", counted)
    labels = pa.array(["a", "b", "c", "d"])
    with engine.begin() as conn:
        plan = bulk.Plan(conn)
        plan.append(sample, pa.table({
            "label": pa.DictionaryArray.from_arrays(pa.array([3, 1, 0, 2], pa.int8()), labels),
            "parent_id": pa.array([2, 1, 1, 2]), "count": pa.array(counts)}),
            constants={"block": BLOCK, "note": "constant"})
        plan.apply()
        ids = conn.execute(select(sample.c.id).order_by(sample.c.label)).scalars().all()
        plan.update_by_id(sample, pa.table({
            "id": pa.array(ids[1:3]), "count": pa.array(counts[2:]),
            "note": pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int8()),
                                                   pa.array(["x", "y"]))}))
        plan.apply()
        stored = conn.execute(select(sample.c.label, sample.c.parent_id, sample.c.count,
                                     sample.c.note, sample.c.block).order_by(sample.c.label)
                              ).all()
    assert [tuple(row) for row in stored] == [
        ("a", 1, counts[2], "constant", BLOCK), ("b", 1, counts[2], "y", BLOCK),
        ("c", 2, counts[3], "x", BLOCK), ("d", 2, counts[0], "constant", BLOCK)]
    staged = engine.dialect.name == "sqlite" and adbc.MIN_ROWS == 0
    assert packs == ([counts[0] == 7, True] if staged else []), packs


def test_select_integers_reads_the_rows_of_integer_columns(engine: Engine) -> None:
    rows = _rows()
    with engine.begin() as conn:
        bulk.append(conn, sample, rows)
        query = select(sample.c.id, sample.c.parent_id, sample.c.count,
                       (sample.c.count * -1000).label("scaled"))
        found = bulk.select_integers(conn, query)
        expected = [tuple(row) for row in conn.execute(query).all()]
        with pytest.raises(ValidationError, match="not integer columns: label"):
            bulk.select_integers(conn, select(sample.c.id, sample.c.label))
    assert found.schema.types == [pa.int64()] * 4
    assert sorted(zip(*(found.column(n).to_pylist() for n in found.column_names),
                      strict=True), key=repr) == sorted(expected, key=repr)


def test_bad_input_names_table_column_and_reason(store: Engine) -> None:
    with store.begin() as conn:
        with pytest.raises(ValidationError, match=r"bulk_sample: no column 'colour'"):
            bulk.append(conn, sample, pd.DataFrame({"colour": ["red"]}))
        with pytest.raises(ValidationError, match=r"bulk_sample\.count: cannot store"):
            bulk.append(conn, sample, pd.DataFrame({
                "block": [BLOCK], "label": ["x"], "count": ["many"]}))
    assert _stored(store) == []


def test_a_missing_column_gets_its_scalar_default(store: Engine) -> None:
    with store.begin() as conn:
        bulk.append(conn, sample, pd.DataFrame({"block": [BLOCK], "label": ["x"]}))
    assert _stored(store)[0]["count"] == 0


indexed = Table(
    "bulk_indexed", metadata,
    Column("id", IdType, primary_key=True),
    Column("block", Date, nullable=False),
    Column("label", String(64), nullable=False),
    Column("ratio", Float),
    UniqueConstraint("block", "label"),
)
Index("ix_bulk_indexed_ratio", indexed.c.block, indexed.c.ratio)


def _index_names(engine: Engine) -> set[str]:
    return {str(ix["name"]) for ix in inspect(engine).get_indexes("bulk_indexed")}


def test_deferred_indexes_are_built_again_and_survive_a_failure(store: Engine) -> None:
    rows = pd.DataFrame({"block": [BLOCK] * 3, "label": ["a", "b", "c"],
                         "ratio": [0.3, 0.1, 0.2]})
    with store.begin() as conn, bulk.deferred_indexes(conn, indexed):
        assert "ix_bulk_indexed_ratio" not in {
            str(ix["name"]) for ix in inspect(conn).get_indexes("bulk_indexed")}
        bulk.replace_block(conn, indexed, rows, where={"block": BLOCK})
    assert "ix_bulk_indexed_ratio" in _index_names(store)
    with pytest.raises(RuntimeError), store.begin() as conn, \
            bulk.deferred_indexes(conn, indexed):
        raise RuntimeError("a failed write")
    assert "ix_bulk_indexed_ratio" in _index_names(store)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(indexed)).scalar_one() == 3


def test_a_deferred_checkpoint_leaves_the_log_until_checkpoint(store: Engine) -> None:
    # some 2,000 pages: beyond SQLite's autocheckpoint (1,000), which would otherwise
    # copy them into the database file at the commit
    rows = pd.DataFrame({"block": [BLOCK] * 2000, "label": [f"r{n}" for n in range(2000)],
                         "note": ["x" * 3000] * 2000, "count": range(2000)})
    with store.begin() as conn:
        bulk.defer_checkpoint(conn)
        bulk.append(conn, sample, rows)
    if store.dialect.name == "sqlite":
        database = Path(str(store.url.database))
        # the commit left its pages in the log: the database file has not grown
        before = database.stat().st_size
        with store.connect() as conn:  # back in the pool: its own setting again
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        bulk.checkpoint(store)
        assert database.stat().st_size > before
    bulk.checkpoint(store)  # nothing to do on PostgreSQL; twice is harmless
    assert len(_stored(store)) == 2000
