"""Upload file names as they are saved: the client's name made safe for any disk.

The name comes from the client: it may hold a path, control or reserved characters,
or be longer than a file system allows (255 bytes on most; a 300-character name used to
end in a 500). Only the last path component is kept, reduced to letters, digits and
``._-``, and shortened to :data:`MAX_NAME_BYTES` with its suffix (``.csv.gz``) intact.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 120
DEFAULT_NAME = "upload"
_UNSAFE = re.compile(r"[^\w.-]+")
_SUFFIX = re.compile(r"(?:\.[A-Za-z0-9]{1,10}){1,2}$")


def safe_upload_name(original: str | None) -> str:
    """A file name (no directory) of at most MAX_NAME_BYTES bytes of UTF-8."""
    name = unicodedata.normalize("NFKC", original or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).lstrip("._") or DEFAULT_NAME
    found = _SUFFIX.search(name)
    suffix = found.group(0) if found else ""  # ASCII, at most 22 bytes
    stem = name[: len(name) - len(suffix)]
    while stem and len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip("._") or DEFAULT_NAME) + suffix
