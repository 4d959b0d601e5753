"""Evidence as JSON text, built column-wise by DuckDB's JSON writer.

Building a JSON object per customer in Python, or with ``DataFrame.to_json``, is many times
slower than DuckDB's vectorised ``to_json`` over the same columns. Columns are first
normalised to their catalogue type so every engine sees the same values: numbers (doubles
rounded to 4 decimals), booleans, strings, ISO dates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from kithkin.relationships.catalog import METRIC_TYPES


def _normalised(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, pd.Series]:
    """The columns as the evidence shows them; kept apart (a DataFrame of them would
    consolidate, i.e. copy, every column into blocks before DuckDB reads them)."""
    out: dict[str, pd.Series] = {}
    for name in columns:
        if name not in frame.columns:
            out[name] = pd.Series(np.full(len(frame), np.nan), index=frame.index)
            continue
        series = frame[name]
        kind = METRIC_TYPES.get(name, "number")
        if kind == "bool":
            out[name] = series.astype("boolean")
        elif kind == "string":
            out[name] = series.astype("string")
        elif kind == "date":
            out[name] = pd.to_datetime(series, utc=True).dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_float_dtype(
                series.dtype):
            out[name] = series
        else:
            out[name] = pd.to_numeric(series, errors="coerce")
    return out


_LOCK = threading.Lock()


@cache
def _connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _object_sql(data: Mapping[str, pd.Series], columns: Sequence[str]) -> str:
    if not columns:
        return "'{}'"
    fields = ", ".join(
        f'"{name}" := ' + (f'round("{name}", 4)'
                           if pd.api.types.is_float_dtype(data[name].dtype) else f'"{name}"')
        for name in columns)
    return f"to_json(struct_pack({fields}))::VARCHAR"


def grouped_records_json(frame: pd.DataFrame, groups: npt.NDArray[np.integer[Any]],
                         specs: Sequence[tuple[dict[str, object], Sequence[str]]],
                         key: str = "values") -> npt.NDArray[np.object_]:
    """Per row ``{**prefix, key: {columns...}}`` where ``(prefix, columns) =
    specs[groups[row]]``: one query for every group (e.g. one per stage of a model)."""
    if len(frame) == 0:
        return np.array([], dtype=object)
    wanted = list(dict.fromkeys(name for _, names in specs for name in names))
    data = _normalised(frame, wanted)
    data["__group"] = pd.Series(groups)
    cases, parameters = [], []
    for number, (prefix, names) in enumerate(specs):
        head = json.dumps(prefix)[:-1] + (", " if prefix else "") + f'"{key}": '
        cases.append(f"WHEN {number} THEN ? || {_object_sql(data, names)} || '}}'")
        parameters.append(head)
    query = f'SELECT CASE "__group" {" ".join(cases)} END AS j FROM evidence_rows'
    return _run(data, query, parameters)


def values_json(frame: pd.DataFrame, columns: Sequence[str],
                extra: Sequence[str] = ()) -> npt.NDArray[np.object_]:
    """One JSON array per row of the given columns' values, in ``columns`` order.

    Five times smaller than objects with keys, for evidence whose keys are fixed by the
    code (the relationship profile's inputs); readers zip it back with the column names.
    ``extra`` columns (those the active stage rules read on top: they depend on the
    models) follow as one trailing object with keys.
    """
    if len(frame) == 0:
        return np.array([], dtype=object)
    data = _normalised(frame, list(dict.fromkeys((*columns, *extra))))
    parts = ", ".join(f"coalesce({_value_json(name, data[name].dtype)}, 'null')"
                      for name in columns)
    if extra:
        parts += f", {_object_sql(data, extra)}"
    return _run(data, f"SELECT '[' || concat_ws(',', {parts}) || ']' AS j "
                      "FROM evidence_rows", [])


def _value_json(name: str, dtype: Any) -> str:
    """One column's JSON text: an integer or a boolean is its plain text (what
    ``to_json`` writes, at a fraction of its cost), a float rounded to 4 decimals."""
    if pd.api.types.is_float_dtype(dtype):
        return f'to_json(round("{name}", 4))::VARCHAR'
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return f'"{name}"::VARCHAR'
    return f'to_json("{name}")::VARCHAR'


def with_member(bodies: npt.NDArray[np.object_], key: str,
                members: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Each JSON object of ``bodies`` with ``key`` set to the JSON text of ``members``
    (row by row), merged by DuckDB's JSON functions rather than by slicing text."""
    if len(bodies) == 0:
        return np.array([], dtype=object)
    data = pd.DataFrame({"body": bodies, "member": members})
    return _run(data, "SELECT json_merge_patch(body::JSON, json_object(?, member::JSON))"
                      "::VARCHAR AS j FROM evidence_rows", [key])


def read_values(text: str, columns: Sequence[str]) -> dict[str, Any]:
    """The ``{column: value}`` of a :func:`values_json` array (extras included)."""
    values = json.loads(text)
    found = dict(zip(columns, values, strict=False))
    if len(values) > len(columns) and isinstance(values[len(columns)], dict):
        found.update(values[len(columns)])
    return found


def _run(data: Mapping[str, pd.Series], query: str,
         parameters: list[str]) -> npt.NDArray[np.object_]:
    # as Arrow: DuckDB reads the columns in place (NaN as null, as its pandas scan does);
    # its pandas scan reads object and extension columns value by value
    table = pa.table({name: pa.array(series, from_pandas=True)
                      for name, series in data.items()})
    with _LOCK:
        connection = _connection()
        connection.register("evidence_rows", table)
        try:
            result = connection.execute(query, parameters).fetchnumpy()["j"]
        finally:
            connection.unregister("evidence_rows")
    return np.asarray(result, dtype=object)
