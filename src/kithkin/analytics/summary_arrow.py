"""The buy-till-you-die summary of a transaction log already in memory or in Parquet.

The same numbers as :func:`kithkin.analytics.summary.customer_summary` (without the
holdout split), computed with Arrow and NumPy instead of a SQL engine: for a log handed
over as a file or a table (the CLV benchmark's "transaction log to summary" step), where
starting an engine and materialising the log cost more than the summary itself. The log
is read in batches into one running state per customer, so memory is touched once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kithkin.analytics.periods import (
    FIRST_MONDAY,
    TimeUnit,
    day_of,
    period_of_day,
)
from kithkin.errors import ValidationError

_SUMMARY_COLUMNS: Final = ("frequency", "recency", "T", "monetary_value")
_UNITS_PER_DAY: Final = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000,
                         "ns": 86_400_000_000_000}
_BATCH_ROWS: Final = 1 << 16  # rows per chunk of the running summary: a few MB, reused
_EARLIEST_DAY: Final = -25_567  # 1900-01-01: packing origin of the running summary


def customer_summary_from_arrow(transactions: pa.Table, *, as_of: date,
                                time_unit: TimeUnit = "D") -> pd.DataFrame:
    """:func:`customer_summary` (without the holdout split) of an in-memory Arrow table.

    Same rule, same columns, same values (to float rounding: sums are taken in another
    order), one row per customer in customer_id order, from ``customer_id`` (integer),
    ``ordered_at`` (timestamp, its stored UTC instant counts; or date) and ``amount``.

    Why a second implementation: the SQL form groups the rows by (customer, period), a hash
    table with one entry per purchase day, the costly part of the query in DuckDB.  Here the
    table is summarised chunk by chunk into running per-customer state (:class:`_Running`);
    logs whose chunks split a customer's periods in a way that state cannot merge (rows in
    random order) fall back to one global sort of packed (customer, period) keys
    (:func:`_sorted_summary`).
    """
    if transactions.num_rows < 4096 * transactions.column("amount").num_chunks:
        transactions = transactions.combine_chunks()  # tiny chunks: per-chunk overhead
    customer = transactions.column("customer_id")
    low, high = pc.min(customer).as_py(), pc.max(customer).as_py()
    if low is not None and high - low <= _dense_limit(transactions.num_rows):
        streamed = _streamed(transactions.to_batches(max_chunksize=_BATCH_ROWS), low=low,
                             high=high, as_of=as_of, time_unit=time_unit,
                             per_day=_per_day(transactions.column("ordered_at").type))
        if streamed is not None:
            return streamed
    return _sorted_summary(transactions, as_of=as_of, time_unit=time_unit)


def customer_summary_from_parquet(path: str | Path, *, as_of: date, time_unit: TimeUnit = "D",
                                  batch_rows: int = 1 << 16) -> pd.DataFrame:
    """:func:`customer_summary_from_arrow` of a Parquet file, read a batch at a time.

    Why: materialising a large order table and then its keys costs more than the
    summary itself on a machine where first touching memory is slow; batches of
    ``batch_rows`` rows reuse the same few megabytes.  The customer id range comes from
    the row-group statistics; without them (or with sparse ids, or rows in an order the
    running state cannot merge) the whole file is read and summarised by the global sort.
    """
    file = pq.ParquetFile(path)
    columns = ["customer_id", "ordered_at", "amount"]
    low, high = _id_bounds(file)
    if low is not None and high is not None and high - low <= _dense_limit(
            file.metadata.num_rows):
        per_day = _per_day(file.schema_arrow.field("ordered_at").type)
        batches = _prefetched(file.iter_batches(batch_size=batch_rows, columns=columns,
                                                use_threads=False))
        try:
            streamed = _streamed(batches, low=low, high=high, as_of=as_of,
                                 time_unit=time_unit, per_day=per_day)
        finally:
            batches.close()  # stops the reading thread when the running state gave up
        if streamed is not None:
            return streamed
    return _sorted_summary(file.read(columns=columns), as_of=as_of, time_unit=time_unit)


def _prefetched(batches: Iterator[pa.RecordBatch],
                depth: int = 4) -> Generator[pa.RecordBatch, None, None]:
    """The batches, decoded by a background thread while the caller works on earlier ones.

    Parquet decoding releases the GIL, and so do the NumPy calls on a batch, so on two
    cores reading overlaps the summary.  The thread stops when the consumer does.
    """
    ready: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: pa.RecordBatch | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put(error)
            return
        put(None)

    worker = threading.Thread(target=produce, name="kithkin-parquet-read", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _sorted_summary(transactions: pa.Table, *, as_of: date,
                    time_unit: TimeUnit) -> pd.DataFrame:
    """The summary from one global sort of packed keys: right for rows in any order.

    Each purchase becomes one int64, customer << shift | period, packed chunk by chunk while
    the chunk is in cache, and the keys are sorted in place (SIMD sort).  Distinct periods,
    first and last period per customer fall out of the sorted keys; totals and first-period
    values are bincounts over the chunks.
    """
    end_day = day_of(as_of)
    end_period = period_of_day(end_day, time_unit)
    customer, moment = transactions.column("customer_id"), transactions.column("ordered_at")
    per_day = _per_day(moment.type)
    low, high = pc.min(customer).as_py(), pc.max(customer).as_py()
    earliest = pc.min(pc.cast(moment, pa.int64())).as_py()
    if low is None or earliest is None:
        return _empty_summary()
    customers: np.ndarray | None = None
    if high - low > _dense_limit(transactions.num_rows):  # not store ids: rank them
        customers = np.sort(pc.drop_null(pc.unique(customer)).to_numpy())
    base = period_of_day(earliest // per_day, time_unit)  # packing origin: any lower bound
    size = high - low + 1 if customers is None else customers.size
    shift = max(1, (end_period - base).bit_length())
    if size >> (62 - shift):
        raise ValidationError("customer ids and purchase periods span too wide a range "
                              "to pack into 64 bits; use customer_summary")
    batches = transactions.to_batches()

    def pack() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in batches:
            yield _purchases(batch, end_day=end_day, time_unit=time_unit, per_day=per_day,
                             low=low, customers=customers, base=base, shift=shift)

    # One array of the log's size (fresh memory is slow to touch): the keys, filled chunk
    # by chunk, sorted in place and then read a million at a time.
    keys = np.empty(transactions.num_rows, dtype=np.int64)
    filled = 0
    for key, _spend in pack():
        keys[filled:filled + key.size] = key
        filled += key.size
    if not filled:
        return _empty_summary()
    keys = keys[:filled]
    keys.sort()
    periods, first_of, last_of = _runs(keys, size=size, shift=shift)
    present = np.flatnonzero(periods)
    counts, first, last = periods[present], first_of[present], last_of[present]
    total, first_value = _values(pack(), first_of=first_of, shift=shift)
    repeats = (counts - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(counts > 1, (total[present] - first_value[present]) / repeats, 0.0)
    return pd.DataFrame({
        "customer_id": present + low if customers is None else customers[present],
        "frequency": repeats,
        "recency": (last - first).astype(np.float64),
        "T": (end_period - base - first).astype(np.float64),
        "monetary_value": monetary,
    })


def _runs(keys: np.ndarray, *, size: int,
          shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer code: distinct periods, first and last period, from sorted keys.

    Read in blocks of a million keys so the temporaries stay small and reused.  Keys
    are sorted, so within the whole array a customer's last key comes last and its first
    key first: assigning blocks in order (last) and in reverse order, each reversed
    (first), leaves the right value when an index repeats (the last write wins).
    """
    mask, block = (1 << shift) - 1, 1 << 20
    periods = np.zeros(size, dtype=np.int64)
    first_of, last_of = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    starts = range(0, keys.size, block)
    for start in starts:
        chunk = keys[start:start + block]
        new = np.empty(chunk.size, dtype=np.bool_)
        new[0] = start == 0 or chunk[0] != keys[start - 1]
        np.not_equal(chunk[1:], chunk[:-1], out=new[1:])
        periods += np.bincount(chunk[new] >> shift, minlength=size)
        last_of[chunk >> shift] = chunk & mask
    for start in reversed(starts):
        chunk = keys[start:start + block][::-1]
        first_of[chunk >> shift] = chunk & mask
    return periods, first_of, last_of


def _empty_summary() -> pd.DataFrame:
    return pd.DataFrame({c: np.array([], dtype=np.int64 if c == "customer_id" else np.float64)
                         for c in ("customer_id", *_SUMMARY_COLUMNS)})


def _values(packed: Iterable[tuple[np.ndarray, np.ndarray]], *, first_of: np.ndarray,
            shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Total and first-period spend per customer code, summed over the packed chunks.

    Chunks are consumed as they come.  One whose customers lie in a narrow code range
    (logs written in customer order are) is counted into just that slice; the others
    are gathered a million rows at a time, so bincount's one-slot-per-customer output
    pays off.
    """
    size = first_of.size
    total, first_value = np.zeros(size), np.zeros(size)
    mask = (1 << shift) - 1
    wide: list[tuple[np.ndarray, np.ndarray]] = []

    def count(key: np.ndarray, spend: np.ndarray, start: int, stop: int) -> None:
        code = key >> shift
        local = code - start if start else code
        on_first = (key & mask) == first_of[code]
        total[start:stop] += np.bincount(local, spend, minlength=stop - start)
        first_value[start:stop] += np.bincount(local[on_first], spend[on_first],
                                               minlength=stop - start)

    for key, spend in packed:
        if not key.size:
            continue
        start, stop = int(key.min() >> shift), int(key.max() >> shift) + 1
        if stop - start <= 4 * key.size + 1024:
            count(key, spend, start, stop)
        else:
            wide.append((key, spend))
    for group in _groups([key.size for key, _spend in wide], at_least=max(size, 1 << 20)):
        count(np.concatenate([wide[i][0] for i in group]),
              np.concatenate([wide[i][1] for i in group]), 0, size)
    return total, first_value


def _groups(sizes: list[int], *, at_least: int) -> list[list[int]]:
    """Consecutive chunk indices in groups of at least ``at_least`` rows (the last: any)."""
    groups: list[list[int]] = [[]]
    rows = 0
    for index, size in enumerate(sizes):
        if rows >= at_least:
            groups.append([])
            rows = 0
        groups[-1].append(index)
        rows += size
    return groups if groups[0] else []


def _per_day(kind: pa.DataType) -> int:
    if pa.types.is_timestamp(kind):
        return _UNITS_PER_DAY[kind.unit]
    if pa.types.is_date32(kind):
        return 1
    raise ValidationError(f"ordered_at must be a timestamp or date, not {kind}")


def _purchases(batch: pa.RecordBatch, *, end_day: int, time_unit: TimeUnit, per_day: int,
               low: int, customers: np.ndarray | None, base: int,
               shift: int) -> tuple[np.ndarray, np.ndarray]:
    """One chunk's purchases as (packed customer code | period offset, amount)."""
    ids, period, spend = _rows(batch, end_day=end_day, time_unit=time_unit, per_day=per_day)
    code = ids - low if customers is None else np.searchsorted(customers, ids)
    return (code << shift) | (period - base), spend


def _rows(batch: pa.RecordBatch, *, end_day: int, time_unit: TimeUnit,
          per_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's purchases as (customer id, period, amount)."""
    customer, moment = batch.column("customer_id"), batch.column("ordered_at")
    amount = pc.cast(batch.column("amount"), pa.float64())
    # nulls are filled only to get plain NumPy arrays; ``keep`` drops those rows
    day = _numpy(pc.cast(moment, pa.int64()), 0) // per_day
    spend = _numpy(amount, 0.0)
    ids = _numpy(customer, 0).astype(np.int64, copy=False)
    keep = (spend > 0) & (day <= end_day)
    if customer.null_count or moment.null_count:
        keep &= pc.and_(pc.is_valid(customer), pc.is_valid(moment)).to_numpy(
            zero_copy_only=False)
    if not keep.all():
        ids, spend, day = ids[keep], spend[keep], day[keep]
    period = day if time_unit == "D" else (day - FIRST_MONDAY) // 7
    return ids, period, spend


def _numpy(array: pa.Array, fill: float) -> np.ndarray:
    """The array as NumPy, nulls (rows dropped later) replaced by ``fill``."""
    values: np.ndarray = (pc.fill_null(array, fill) if array.null_count else array).to_numpy(
        zero_copy_only=False)
    return values


def _dense_limit(rows: int) -> int:
    """Widest id range still indexed directly (one slot per id) rather than ranked."""
    return 4 * rows + (1 << 16)


def _id_bounds(file: pq.ParquetFile) -> tuple[int | None, int | None]:
    """Smallest and largest customer_id from the row-group statistics; None if unknown."""
    low: int | None = None
    high: int | None = None
    meta = file.metadata
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        columns = [row_group.column(i) for i in range(row_group.num_columns)]
        column = next((c for c in columns if c.path_in_schema == "customer_id"), None)
        stats = None if column is None else column.statistics
        if column is None or stats is None or column.physical_type not in ("INT32", "INT64"):
            return None, None
        if not stats.has_min_max:
            if stats.has_null_count and stats.null_count == row_group.num_rows:
                continue  # only nulls: nothing to bound
            return None, None
        low = int(stats.min) if low is None else min(low, int(stats.min))
        high = int(stats.max) if high is None else max(high, int(stats.max))
    return low, high


def _streamed(batches: Iterable[pa.RecordBatch], *, low: int, high: int, as_of: date,
              time_unit: TimeUnit, per_day: int) -> pd.DataFrame | None:
    """The summary from running state over the batches; None if it cannot be merged.

    Keys are packed from a fixed origin (1900-01-01) so nothing needs a first pass; a
    row outside the packing range (an id outside the bounds, a purchase before 1900)
    also returns None, and the caller takes the global sort instead.
    """
    end_day = day_of(as_of)
    base = period_of_day(_EARLIEST_DAY, time_unit)
    end_offset = period_of_day(end_day, time_unit) - base
    if end_offset < 0:
        return None
    shift = max(1, end_offset.bit_length())
    size = high - low + 1
    if size >> (62 - shift):
        return None
    running = _Running(size=size, shift=shift)
    for batch in batches:
        ids, period, spend = _rows(batch, end_day=end_day, time_unit=time_unit,
                                   per_day=per_day)
        if not ids.size:
            continue
        if ids.min() < low or ids.max() > high or period.min() < base:
            return None
        if not running.add(((ids - low) << shift) | (period - base), spend):
            return None
    return running.summary(low=low, end_offset=end_offset)


class _Running:
    """Per-customer state of the summary so far, merged one chunk of purchases at a time.

    Why it is right without seeing all rows at once: totals, first and last period add
    or take min/max; the first-period value is kept with the first period (added to on a
    tie).  Only the count of distinct periods needs care when a customer's rows are in
    several chunks: if the chunk's periods lie apart from those seen before, or touch
    them only at the first or last one (logs in time order), the overlap is known (0 or
    1).  Otherwise (logs in customer order split mid-customer) the customer must be one
    whose keys were all kept: the first and last customer of every chunk and the later
    rows of such customers, recounted exactly at the end.  Anything else (rows in random
    order) makes :meth:`add` return False.

    The state arrays become the output columns in place: fresh memory is slow to touch.
    """

    def __init__(self, *, size: int, shift: int) -> None:
        self.shift, self.mask = shift, (1 << shift) - 1
        self.periods = np.zeros(size)  # -> frequency
        self.last = np.zeros(size)  # -> recency
        self.first = np.full(size, np.inf)  # -> T; inf: no purchase yet
        self.total = np.zeros(size)  # -> monetary_value
        self.first_value = np.zeros(size)
        self.whole = np.zeros(size, dtype=np.bool_)  # every key of the customer is kept
        self.kept: list[np.ndarray] = []
        self.slot: np.ndarray | None = None  # code -> chunk position, for wide chunks

    def add(self, key: np.ndarray, spend: np.ndarray) -> bool:
        """Merge one chunk of packed (customer code | period offset) keys and amounts."""
        shift, mask = self.shift, self.mask
        distinct = np.sort(key)
        if distinct.size > 1:
            new = np.empty(distinct.size, dtype=np.bool_)
            new[0] = True
            np.not_equal(distinct[1:], distinct[:-1], out=new[1:])
            distinct = distinct[new]
        code = distinct >> shift
        starts = np.empty(code.size, dtype=np.bool_)
        starts[0] = True
        np.not_equal(code[1:], code[:-1], out=starts[1:])
        begin = np.flatnonzero(starts)
        end = np.append(begin[1:], code.size)
        who, counts = code[begin], end - begin
        lo, hi = distinct[begin] & mask, distinct[end - 1] & mask
        # a run of consecutive customers (logs in customer order): slices, not gathers
        at: slice | np.ndarray = who
        if who[-1] - who[0] + 1 == who.size:
            at = slice(int(who[0]), int(who[-1]) + 1)
        total, first_value = self._spend(key, spend, who=who, first_key=distinct[begin])

        f_old = self.first[at]
        old = f_old != np.inf
        if not old.any():
            self.periods[at] = counts
            self.first[at], self.last[at] = lo, hi
            self.first_value[at], self.total[at] = first_value, total
            keep = (0, who.size - 1)  # the first and last customer may continue elsewhere
            self.whole[who[list(keep)]] = True
            self.kept += [distinct[:counts[0]], distinct[distinct.size - counts[-1]:]]
            return True
        l_old, whole = self.last[at], self.whole[at]
        apart = (lo > l_old) | (hi < f_old)
        touch = ~apart & ((lo == l_old) | (hi == f_old))
        if (~apart & ~touch & ~whole).any():
            return False
        self.periods[at] += counts - touch
        fv_old = self.first_value[at]
        self.first_value[at] = np.where(lo < f_old, first_value,
                                        np.where(lo == f_old, fv_old + first_value, fv_old))
        self.first[at] = np.minimum(lo, f_old)
        self.last[at] = np.where(old, np.maximum(hi, l_old), hi)
        self.total[at] += total
        retain = old & whole
        retain[[0, -1]] |= ~old[[0, -1]]
        if retain.any():
            self.whole[who[retain]] = True
            self.kept.append(distinct[np.repeat(retain, counts)])
        return True

    def _spend(self, key: np.ndarray, spend: np.ndarray, *, who: np.ndarray,
               first_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per customer of the chunk (``who``, sorted): total and first-period spend."""
        code = key >> self.shift
        span = int(who[-1] - who[0]) + 1
        at: slice | np.ndarray = slice(None)
        if span == who.size:  # consecutive customers
            position = code - who[0] if who[0] else code
        elif span <= 4 * key.size + 1024:  # customers close together: index by offset
            position, at = code - who[0], who - who[0]
        else:
            if self.slot is None:
                self.slot = np.empty(self.first.size, dtype=np.int64)
            self.slot[who] = np.arange(who.size)
            position, span = self.slot[code], who.size
        first_at = np.empty(span, dtype=np.int64)
        first_at[at] = first_key
        on_first = key == first_at[position]
        total = np.bincount(position, spend, minlength=span)[at]
        first_value = np.bincount(position, spend * on_first, minlength=span)[at]
        return total, first_value

    def summary(self, *, low: int, end_offset: int) -> pd.DataFrame:
        """The output frame, built in place from the state arrays."""
        if self.kept:  # customers whose chunks overlapped: count their distinct keys
            kept = np.unique(np.concatenate(self.kept))
            codes, counts = np.unique(kept >> self.shift, return_counts=True)
            self.periods[codes] = counts
        frequency, recency, age, monetary = self.periods, self.last, self.first, self.total
        frequency -= 1
        recency -= age
        np.subtract(end_offset, age, out=age)
        monetary -= self.first_value
        np.divide(monetary, frequency, out=monetary, where=frequency > 0)
        np.copyto(monetary, 0.0, where=frequency <= 0)
        customer_id = np.arange(low, low + frequency.size, dtype=np.int64)
        columns = {"customer_id": customer_id, "frequency": frequency, "recency": recency,
                   "T": age, "monetary_value": monetary}
        present = frequency >= 0
        if not present.all():
            columns = {name: values[present] for name, values in columns.items()}
        return pd.DataFrame(columns, copy=False)
