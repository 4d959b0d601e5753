"""The reader thread hands batches over in order, with its errors, and stops when asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kithkin.imports.ingest.prefetch import prefetch


def test_items_arrive_in_order() -> None:
    assert list(prefetch(iter(range(50)))) == list(range(50))


def test_producer_error_is_raised_in_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(broken()):
            seen.append(item)
    assert seen == [1]


def test_consumer_stopping_early_stops_the_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    for item in prefetch(endless()):
        if item == 3:
            break
    assert not any(t.name == "kithkin-ingest-reader" for t in threading.enumerate())
    assert len(produced) <= 6  # bounded read-ahead, not the whole input
