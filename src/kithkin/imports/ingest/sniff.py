"""Meet text files where they are: guess the encoding, the delimiter and the header.

Real exports are not all UTF-8 comma-separated files with a header: spreadsheets save
semicolons and cp1252, logs separate fields by runs of spaces and carry no header. The
guesses below only look at bytes, never at what the columns mean, and each one can be
overridden (``--encoding``, ``--delimiter``, ``--header/--no-header``); the import report
states what was used.

- Encoding: a UTF-16 or UTF-8 byte-order mark wins; otherwise the whole file is checked
  as UTF-8 (incrementally, a few hundred MB/s) and, when it is not, read as cp1252
  (Windows' Western default, a superset of the printable latin-1), or latin-1 when it
  holds bytes cp1252 leaves undefined.
- Delimiter: on the first 64 KiB, the candidate among ``,`` ``;`` tab ``|`` that splits
  (nearly) every row into the same number of fields, more than one, with the most
  consistent rows and then the most fields; if none does, runs of whitespace when they
  split the rows the same way; else a comma (a one-column file). A short sample may
  have one odd row (a malformed line is rejected later, with its row number).
- Header: the first row is a header unless none of its cells holds a letter (a log line
  such as ``00001 19970101 1 11.77``). Header-less columns are named ``column_1``,
  ``column_2``... unless names are given (``--columns``).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from kithkin.errors import IngestError

WHITESPACE = "whitespace"
"""The delimiter value meaning "runs of spaces and tabs" (no quoting)."""
DELIMITER_NAMES = {",": ",", "comma": ",", ";": ";", "semicolon": ";", "tab": "\t",
                   "\\t": "\t", "\t": "\t", "|": "|", "pipe": "|", WHITESPACE: WHITESPACE,
                   "space": WHITESPACE, "spaces": WHITESPACE}
CANDIDATES = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 16
SAMPLE_ROWS = 200
CONSISTENT = 0.9
"""Share of sampled rows that must have the header's field count."""
AUTO = "auto"


def delimiter_label(delimiter: str) -> str:
    """How a delimiter is spelled in messages and reports (``tab``, ``whitespace``...)."""
    return {"\t": "tab", WHITESPACE: WHITESPACE}.get(delimiter, delimiter)


def parse_delimiter(value: str | None) -> str | None:
    """``--delimiter`` as given (``,`` ``;`` ``tab`` ``\\t`` ``|`` ``whitespace``); None
    or ``auto``: guess it."""
    if value is None or value.strip().lower() == AUTO:
        return None
    found = DELIMITER_NAMES.get(value if value in DELIMITER_NAMES else value.strip().lower())
    if found is None:
        raise IngestError(f"unknown delimiter {value!r}: use ',', ';', 'tab', '|' or "
                          "'whitespace' (or 'auto')")
    return found


def detect_encoding(path: Path) -> str:
    """The file's text encoding: utf-16 (by its mark), utf-8, cp1252 or latin-1."""
    with path.open("rb") as handle:
        start = handle.read(4)
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        undefined = False
        try:
            while chunk := handle.read(1 << 22):
                if chunk.isascii() and not decoder.getstate()[0]:
                    continue  # most files: ASCII is UTF-8, and isascii() is faster
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        handle.seek(0)
        while chunk := handle.read(1 << 22):
            if any(byte in chunk for byte in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")):
                undefined = True
                break
    return "latin-1" if undefined else "cp1252"


def sample_text(path: Path, encoding: str) -> str:
    """The first complete lines of the file (at most :data:`SAMPLE_BYTES`), decoded."""
    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
        more = bool(handle.read(1))
    text = raw.decode(encoding, errors="replace")
    if more and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # drop the cut last line
    return text.lstrip("\ufeff")


def _rows(text: str, delimiter: str) -> list[list[str]]:
    if delimiter == WHITESPACE:
        return [line.split() for line in text.splitlines() if line.strip()][:SAMPLE_ROWS]
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) >= SAMPLE_ROWS:
                break
    except csv.Error:
        return []
    return rows


def _score(rows: list[list[str]]) -> tuple[float, int]:
    """(share of rows with the first row's width, that width); (0, 0) for one column."""
    if not rows or len(rows[0]) < 2:
        return 0.0, 0
    width = len(rows[0])
    return sum(len(r) == width for r in rows) / len(rows), width


def detect_delimiter(text: str) -> str:
    """The delimiter that splits ``text`` into a consistent table (see the module doc)."""
    best, best_score = ",", (0.0, 0)
    for candidate in CANDIDATES:
        rows = _rows(text, candidate)
        score = _score(rows)
        if score[0] >= _needed(len(rows)) and score > best_score:
            best, best_score = candidate, score
    if best_score[1] >= 2:
        return best
    rows = _rows(text, WHITESPACE)
    share, width = _score(rows)
    if width >= 2 and share >= _needed(len(rows)):
        return WHITESPACE
    return ","


def _needed(rows: int) -> float:
    """The consistent share a delimiter needs: :data:`CONSISTENT`, or all rows but one
    in a short sample (one malformed row must not hide the delimiter of a small file)."""
    return min(CONSISTENT, (rows - 1) / rows) if rows > 1 else 1.0


def looks_like_header(cells: list[str]) -> bool:
    """A header names its columns: at least one cell holds a letter."""
    return any(any(ch.isalpha() for ch in cell) for cell in cells)


def positional_names(count: int) -> list[str]:
    return [f"column_{i}" for i in range(1, count + 1)]


@dataclass(frozen=True)
class Layout:
    """How a text file is read: what was guessed or given, and the column names."""

    encoding: str
    delimiter: str  # one character, or WHITESPACE
    header: bool
    columns: list[str]
    guessed: tuple[str, ...] = ()  # which of encoding / delimiter / header were guessed

    @property
    def described(self) -> str:
        """One line for reports: ``delimiter tab (detected), encoding cp1252 (detected)...``."""
        def tag(name: str) -> str:
            return " (detected)" if name in self.guessed else ""
        header = "first row" if self.header else "none"
        return (f"delimiter {delimiter_label(self.delimiter)}{tag('delimiter')}, "
                f"encoding {self.encoding}{tag('encoding')}, header {header}{tag('header')}")


def text_layout(path: Path, *, encoding: str | None, delimiter: str | None,
                header: bool | None, column_names: list[str] | None, label: str,
                sniff_delimiter: bool = True) -> Layout:
    """Settle encoding, delimiter, header and column names of a CSV-like text file.

    ``column_names`` name the columns of a file without a header (or replace the header
    when ``header`` is True).
    """
    guessed: list[str] = []
    if encoding is None or encoding.lower() == AUTO:
        encoding = detect_encoding(path)
        guessed.append("encoding")
    text = sample_text(path, encoding)
    if delimiter is None:
        delimiter = detect_delimiter(text) if sniff_delimiter else ","
        guessed.append("delimiter")
    rows = _rows(text, delimiter)
    if not rows:
        raise IngestError("file is empty (not even a header)", file=label)
    first = [cell.strip() for cell in rows[0]]
    if header is None:
        header = looks_like_header(first) if not column_names else False
        guessed.append("header")
    if column_names:
        names = [name.strip() for name in column_names]
        if len(names) != len(first):
            raise IngestError(
                f"{len(names)} column names given ({', '.join(names)}) but the first row "
                f"has {len(first)} fields (delimiter {delimiter_label(delimiter)})",
                file=label)
    elif header:
        names = first
    else:
        names = positional_names(len(first))
    return Layout(encoding, delimiter, header, names, tuple(guessed))
