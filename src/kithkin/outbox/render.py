"""Rendering a message from its template, in a sandbox.

Templates are files: the built-ins shipped in ``outbox/templates/`` and, over them, the
workspace's ``templates/`` folder (same name wins), so a firm rewrites a message without
touching code. ``<name>.txt`` holds the text, its first line ``Subject: ...``; an optional
``<name>.html`` is the HTML part, else the text is wrapped in ``_layout.html``. The
environment is sandboxed (a template is data an operator edits, not code) and HTML is
autoescaped, so a customer's name cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
    nodes,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from kithkin.errors import ValidationError

BUILTIN_DIR = Path(__file__).parent / "templates"
SUBJECT_PREFIX = "Subject:"


class RenderError(ValidationError):
    """A template is missing or failed to render: the message is dead, with this text."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


class _Undefined(StrictUndefined):
    """A missing variable is an error when printed (a ``generic`` message without its
    subject must not go out blank) but false in a test, so ``{{ offer or "our offers" }}``
    and ``{% if note %}`` read naturally."""

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


@lru_cache(maxsize=8)
def _environment(workspace_dir: Path | None) -> SandboxedEnvironment:
    loaders = [FileSystemLoader(str(workspace_dir))] if workspace_dir else []
    loaders.append(FileSystemLoader(str(BUILTIN_DIR)))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders), undefined=_Undefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False,
                                    default=False),
        keep_trailing_newline=True, auto_reload=True)


@lru_cache(maxsize=256)
def _compiled(env: SandboxedEnvironment, subject: str, text: str) -> tuple[Template, Template]:
    """Subject and text compiled apart, so a newline in a value cannot move text from
    one into the other (the source is the cache key: an edited file compiles anew)."""
    return env.from_string(subject), env.from_string(text)


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.txt") if not p.name.startswith("_"))


@dataclass(frozen=True)
class _Loaded:
    """A template's three parts, compiled, and the names of what they read."""

    subject: Template
    text: Template
    html: Template
    reads: frozenset[tuple[str, ...]] | None  # None: anything may be read


def _load(template: str, workspace_dir: Path | None) -> _Loaded:
    if not template or "/" in template or "\\" in template or template.startswith(("_", ".")):
        raise RenderError(f"template {template!r}: not a template name")
    env = _environment(workspace_dir if workspace_dir and workspace_dir.is_dir() else None)
    with _errors(template):
        source, _, _ = env.loader.get_source(env, f"{template}.txt")  # type: ignore[union-attr]
        first, _, rest = source.partition("\n")
        if not first.startswith(SUBJECT_PREFIX):
            raise RenderError(f"template {template}.txt: the first line must be "
                              f"'{SUBJECT_PREFIX} ...'")
        subject, text = _compiled(env, first[len(SUBJECT_PREFIX):], rest)
        try:
            html_name = f"{template}.html"
            html = env.get_template(html_name)
        except TemplateNotFound:
            html_name = "_layout.html"
            html = env.get_template(html_name)
        html_source, _, _ = env.loader.get_source(env, html_name)  # type: ignore[union-attr]
        reads = _reads(env, [first[len(SUBJECT_PREFIX):], rest, html_source], set())
    return _Loaded(subject, text, html, reads)


Read = tuple[str, ...]


def _paths(node: nodes.Node, found: set[Read]) -> None:
    """What ``node`` reads: a name, or a name and the attributes taken from it
    (``customer.first_name``: ("customer", "first_name"))."""
    chain: list[str] = []
    inner = node
    while isinstance(inner, nodes.Getattr | nodes.Getitem):
        if isinstance(inner, nodes.Getattr):
            chain.append(inner.attr)
        elif isinstance(inner.arg, nodes.Const) and isinstance(inner.arg.value, str):
            chain.append(inner.arg.value)
        else:
            break
        inner = inner.node
    if isinstance(inner, nodes.Name) and inner.ctx == "load" and (chain or node is inner):
        found.add((inner.name, *reversed(chain)))
        return
    for child in node.iter_child_nodes():
        _paths(child, found)


def _reads(env: SandboxedEnvironment, sources: list[str], seen: set[str]
           ) -> frozenset[Read] | None:
    """The names (and attributes of them) the sources read, with those of the templates
    they include (None when one is named by an expression: anything may be read)."""
    paths: set[Read] = set()
    for source in sources:
        tree = env.parse(source)
        _paths(tree, paths)
        for included in meta.find_referenced_templates(tree):
            if included is None:
                return None
            if included in seen:
                continue
            seen.add(included)
            found, _, _ = env.loader.get_source(env, included)  # type: ignore[union-attr]
            inner = _reads(env, [found], seen)
            if inner is None:
                return None
            paths |= inner
    return frozenset(paths)


def _value(context: dict[str, Any], path: Read) -> Any:
    """What ``path`` reads from the context, or the whole value it is taken from where
    an attribute is not a plain dictionary key (that value decides the attribute)."""
    value = context.get(path[0], _ABSENT)
    for attr in path[1:]:
        if not isinstance(value, dict) or hasattr(dict, attr):
            break
        value = value.get(attr, _ABSENT)
    return value


@contextmanager
def _errors(template: str) -> Iterator[None]:
    """Any failure of a template as the RenderError that makes its message dead."""
    try:
        yield
    except RenderError:
        raise
    except TemplateNotFound as exc:
        raise RenderError(f"template {template!r}: not found (built-ins: "
                          f"{', '.join(builtin_names())})") from exc
    except TemplateError as exc:
        raise RenderError(f"template {template}: {type(exc).__name__}: {exc}") from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RenderError(f"template {template}: {type(exc).__name__}: {exc}") from exc


def _render(template: str, loaded: _Loaded, context: dict[str, Any]) -> Rendered:
    with _errors(template):
        # One line, whatever the context held: the subject becomes a header.
        subject = " ".join(loaded.subject.render(context).split())
        if not subject:
            raise RenderError(f"template {template}.txt: the subject is empty")
        text = loaded.text.render(context).strip() + "\n"
        html = loaded.html.render({**context, "subject": subject, "text": text})
    return Rendered(subject=subject, text=text, html=html)


def render(*, template: str, context: dict[str, Any],
           workspace_dir: Path | None) -> Rendered:
    """Render ``template``; RenderError names the template and the reason."""
    return _render(template, _load(template, workspace_dir), context)


class Renderer:
    """One template rendered for many contexts (messages queued set-wise): loaded and
    compiled once, and each distinct input rendered once. The input is the values of
    the names the template's parts read (Jinja's own analysis of them), so customers
    who differ only in what the template does not print share one rendering; a part
    that includes another template keys on the whole context. The text is what
    :func:`render` gives for the same context (tests/outbox compares them)."""

    def __init__(self, *, template: str, workspace_dir: Path | None) -> None:
        self.template = template
        self._failed: RenderError | None = None
        self._loaded: _Loaded | None = None
        try:
            self._loaded = _load(template, workspace_dir)
        except RenderError as exc:
            self._failed = exc
        self._done: dict[str, Rendered | RenderError] = {}

    def _key(self, context: dict[str, Any]) -> str:
        assert self._loaded is not None
        if self._loaded.reads is None:
            return repr(sorted(context.items()))
        # repr tells types apart (1, "1", True) and is stable for the memory's values
        return repr([(path, _value(context, path)) for path in sorted(self._loaded.reads)])

    def render(self, context: dict[str, Any]) -> Rendered:
        """As :func:`render`; raises its RenderError."""
        if self._failed is not None:
            raise self._failed
        assert self._loaded is not None
        key = self._key(context)
        done = self._done.get(key)
        if done is None:
            try:
                done = _render(self.template, self._loaded, context)
            except RenderError as exc:
                done = exc
            self._done[key] = done
        if isinstance(done, RenderError):
            raise done
        return done
