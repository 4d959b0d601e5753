"""The one definition of a firing's identity and of holdout assignment.

A firing is (playbook, rule, customer, occurrence), unique in ``playbook_firing``; its
key is the text below (built in Arrow for many firings, in SQL from the stored columns
by :func:`firing_key_sql`), and every action it takes carries that key plus the
action's position, so the same trigger occurrence never creates the same task or
message twice, whichever path (the per-row services or the set-based insert) or run
writes it.

Holdout assignment is deterministic: a 64-bit mix (SplitMix64) of the customer id and
a hash of the playbook name, read as a number in [0, 1) and compared with the share.
The same customer is in or out of a playbook's holdout on every run and process
(Python's ``hash`` is salted per process, so it is not used), independently across
playbooks.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import ColumnElement, String, cast, literal


def firing_prefix(playbook: str, rule: str) -> str:
    """What every firing key of a rule starts with."""
    return f"pb:{playbook}:{rule}:"


def firing_keys(playbook: str, rule: str, customers: pd.Series,
                occurrences: pd.Series) -> pd.Series:
    """``pb:<playbook>:<rule>:<customer>:<occurrence>``, built in Arrow (C) so a million
    keys cost no Python work per row."""
    if customers.empty:
        return pd.Series([], dtype=object, index=customers.index)
    ids = pa.array(customers.to_numpy(dtype="int64")).cast(pa.string())
    occurred = pa.array(occurrences.astype(str).to_numpy(dtype=object), type=pa.string())
    joined = pc.binary_join_element_wise(firing_prefix(playbook, rule)[:-1], ids, occurred,
                                         ":")
    return pd.Series(joined.to_numpy(zero_copy_only=False), index=customers.index,
                     dtype=object)


def firing_key_sql(firing: Any) -> ColumnElement[str]:
    """:func:`firing_keys`' text from a ``playbook_firing`` row's columns (``firing``:
    the table's columns, ``table.c``), in SQL."""
    text: ColumnElement[str] = (literal("pb:") + firing.playbook + ":" + firing.rule + ":"
                                + cast(firing.customer_id, String) + ":" + firing.occurrence)
    return text


def action_suffix(kind: str, index: int) -> str:
    """What an action's key adds to its firing's key (also appended in SQL)."""
    return f":{kind}{index}"


def action_key(firing_key: pd.Series, kind: str, index: int) -> pd.Series:
    return firing_key + action_suffix(kind, index)


def reason(playbook: str, rule: str) -> str:
    """The tasks' and messages' ``reason``: "playbook:<playbook>:<rule>"."""
    return f"playbook:{playbook}:{rule}"


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def unit_hash(customer_ids: npt.ArrayLike, playbook: str) -> npt.NDArray[np.float64]:
    seed = np.uint64(int.from_bytes(
        hashlib.blake2b(playbook.encode(), digest_size=8).digest(), "little"))
    with np.errstate(over="ignore"):
        x = np.asarray(customer_ids, dtype=np.int64).astype(np.uint64) ^ seed
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def in_holdout(customer_ids: npt.ArrayLike, playbook: str,
               share: float) -> npt.NDArray[np.bool_]:
    return unit_hash(customer_ids, playbook) < share
