"""Rendering a message from its template, in a sandbox.

Templates are files: the built-ins shipped in ``outbox/templates/`` and, over them, the
workspace's ``templates/`` folder (same name wins), so a firm rewrites a message without
touching code. ``<name>.txt`` holds the text, its first line ``Subject: ...``; an optional
``<name>.html`` is the HTML part, else the text is wrapped in ``_layout.html``. The
environment is sandboxed (a template is data an operator edits, not code) and HTML is
autoescaped, so a customer's name cannot inject markup.
"""

from __future__ import annotations

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


def render(*, template: str, context: dict[str, Any],
           workspace_dir: Path | None) -> Rendered:
    """Render ``template``; RenderError names the template and the reason."""
    if not template or "/" in template or "\\" in template or template.startswith(("_", ".")):
        raise RenderError(f"template {template!r}: not a template name")
    env = _environment(workspace_dir if workspace_dir and workspace_dir.is_dir() else None)
    try:
        source, _, _ = env.loader.get_source(env, f"{template}.txt")  # type: ignore[union-attr]
        first, _, rest = source.partition("\n")
        if not first.startswith(SUBJECT_PREFIX):
            raise RenderError(f"template {template}.txt: the first line must be "
                              f"'{SUBJECT_PREFIX} ...'")
        subject_template, text_template = _compiled(env, first[len(SUBJECT_PREFIX):], rest)
        # One line, whatever the context held: the subject becomes a header.
        subject = " ".join(subject_template.render(context).split())
        if not subject:
            raise RenderError(f"template {template}.txt: the subject is empty")
        text = text_template.render(context).strip() + "\n"
        try:
            html_template = env.get_template(f"{template}.html")
        except TemplateNotFound:
            html_template = env.get_template("_layout.html")
        html = html_template.render({**context, "subject": subject, "text": text})
    except TemplateNotFound as exc:
        raise RenderError(f"template {template!r}: not found (built-ins: "
                          f"{', '.join(builtin_names())})") from exc
    except TemplateError as exc:
        raise RenderError(f"template {template}: {type(exc).__name__}: {exc}") from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RenderError(f"template {template}: {type(exc).__name__}: {exc}") from exc
    return Rendered(subject=subject, text=text, html=html)
