"""Messages shown to clients name files, never where they live on the server.

Error details (an unreadable upload, a reject file, a database file) often carry an
absolute path; shown to a client it discloses the server's layout (user names, install
and workspace folders). :func:`hide_paths` keeps the file name only, and drops the
unique prefix uploads are saved under. Applied where text leaves the server: API
problem details, import job reports, dashboard error pages.
"""

from __future__ import annotations

import os
import re

# An absolute POSIX path of two or more components, or a Windows drive path.
_POSIX_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^/\s'\"<>|;,()\[\]{}]+/)+[^/\s'\"<>|;,()\[\]{}]*")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\\\s'\"<>|;,]+\\)*[^\\\s'\"<>|;,]*")
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{32}-")


def _file_name(path: str, separator: str) -> str:
    name = path.rstrip(separator).rsplit(separator, 1)[-1]
    return _UPLOAD_PREFIX.sub("", name) or "…"


def _posix(match: re.Match[str]) -> str:
    path = match.group(0)
    top = path.split("/", 2)[1]
    # URL paths in messages (/api/v1/...) are not files: only paths whose top folder
    # exists on this server are hidden.
    if not os.path.isdir("/" + top):
        return path
    return _file_name(path, "/")


def hide_paths(text: str) -> str:
    """``text`` with every absolute server path replaced by its file name."""
    if "/" not in text and "\\" not in text:
        return text
    text = _POSIX_PATH.sub(_posix, text)
    return _WINDOWS_PATH.sub(lambda m: _file_name(m.group(0), "\\"), text)
