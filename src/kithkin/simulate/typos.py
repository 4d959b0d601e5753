"""Vectorised typing errors for duplicate records.

One edit per call on every selected string, the kinds of error record linkage meets in
practice (Christen 2012, *Data Matching*, ch. 4): substitution, transposition of
neighbours, deletion and doubled letter. The first letter is kept, as people rarely
mistype it. Strings become a (n, width) code-point matrix so edits are index arithmetic.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_LETTERS = np.frombuffer("abcdefghijklmnopqrstuvwxyz".encode("utf-32-le"), dtype=np.uint32)


def add_typos(rng: np.random.Generator, values: pa.Array, selected: np.ndarray) -> pa.Array:
    """Return ``values`` with one random edit in each selected string of 3+ characters."""
    if not selected.any():
        return values
    rows = np.flatnonzero(selected)
    texts = values.take(pa.array(rows)).fill_null("").to_numpy(zero_copy_only=False)
    width = max(int(max((len(t) for t in texts), default=0)), 1) + 1
    matrix = np.asarray(texts, dtype=f"U{width - 1}").view(np.uint32).reshape(len(rows), -1)
    matrix = np.hstack([matrix, np.zeros((len(rows), 2), dtype=np.uint32)])
    lengths = (matrix != 0).sum(axis=1)
    editable = lengths >= 3
    pos = 1 + (rng.random(len(rows)) * np.maximum(lengths - 2, 1)).astype(np.int64)
    kind = rng.integers(0, 4, len(rows))
    columns = np.arange(width)[None, :]
    source = columns.repeat(len(rows), axis=0)
    deleting = (kind == 2) & editable
    doubling = (kind == 3) & editable
    source[deleting] += columns[0] >= pos[deleting, None]
    source[doubling] -= columns[0] > pos[doubling, None]
    edited = np.take_along_axis(matrix, source, axis=1)
    substituting = np.flatnonzero((kind == 0) & editable)
    edited[substituting, pos[substituting]] = rng.choice(_LETTERS, len(substituting))
    swapping = np.flatnonzero((kind == 1) & editable)
    first, second = edited[swapping, pos[swapping]], edited[swapping, pos[swapping] + 1]
    edited[swapping, pos[swapping]], edited[swapping, pos[swapping] + 1] = second, first
    fixed = np.ascontiguousarray(edited[:, :width]).view(f"U{width}").ravel()
    typed = pa.array(fixed.tolist(), pa.string())
    keep_null = values.take(pa.array(rows)).is_null()
    typed = pc.if_else(keep_null, pa.scalar(None, pa.string()), typed)
    index = np.full(len(values), -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    from_typed = pa.array(selected)
    return pc.if_else(from_typed, typed.take(pa.array(np.maximum(index, 0))), values)
