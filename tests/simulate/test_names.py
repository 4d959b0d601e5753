"""Name pools: many names, a long tail, and mailboxes unique after normalisation."""

from __future__ import annotations

import numpy as np

from kithkin.identity.normalize import normalize_email
from kithkin.simulate import names, vocab
from kithkin.simulate.people import EmailBook


def test_pools_are_large_distinct_and_start_with_the_embedded_names() -> None:
    for pool, embedded, at_least in ((names.surnames(), vocab.LAST_NAMES, 20_000),
                                     (names.first_names(), vocab.FIRST_NAMES, 1_000)):
        spelled = pool.names.to_pylist()
        assert len(spelled) >= at_least
        assert spelled[: len(embedded)] == list(embedded)
        mailbox = pool.mailbox.to_pylist()
        assert len(set(mailbox)) == len(mailbox)


def test_draws_are_long_tailed() -> None:
    drawn = names.surnames().draw(np.random.default_rng(3), 200_000)
    counts = np.sort(np.bincount(drawn))[::-1]
    assert counts[0] / len(drawn) < 0.01  # no surname is a large share
    assert (counts > 0).sum() > 10_000  # most of the pool appears
    assert counts[:1000].sum() / len(drawn) > 0.35  # but the head is common


def test_mailboxes_that_read_the_same_without_dots_get_numbers() -> None:
    # mary.ashelbach@gmail.com and marya.shelbach@gmail.com are one gmail mailbox.
    firsts, lasts = names.first_names().names.to_pylist(), names.surnames().names.to_pylist()
    first = np.array([firsts.index("Mary"), firsts.index("Marya")] * 500)
    last = np.array([lasts.index("Ashelbach"), lasts.index("Shelbach")] * 500)
    book = EmailBook()
    rng = np.random.default_rng(0)
    issued = book.issue(rng, first, last).to_pylist() + book.issue(rng, first, last).to_pylist()
    keys = [normalize_email(e) for e in issued]
    assert len(set(keys)) == len(keys)
    gmail = {e for e in issued if e.endswith("@gmail.com")}
    assert {"mary.ashelbach@gmail.com", "marya.shelbach@gmail.com"} & gmail
    assert "maryashelbach@gmail.com" in {normalize_email(e) for e in gmail}
