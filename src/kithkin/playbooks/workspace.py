"""The workspace's playbooks: built-ins, user files and ``playbooks.toml``.

User playbooks live in ``<home>/playbooks/NAME.toml`` (``kithkin playbooks install``);
one named like a built-in replaces it. ``<home>/playbooks.toml`` (every key optional)::

    segment_kind = "value_tier"   # the segment whose level serves a customer
    holdout_share = 0.10          # default share of customers each playbook leaves out
    outcome_model = "journey"     # stage model whose moves "what happened" counts
    [levels]                      # the playbook serving each level (default: same name)
    partnership = "key_accounts"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from kithkin.errors import ConfigurationError, NotFoundError
from kithkin.playbooks.definitions import (
    Playbook,
    PlaybookError,
    builtin_playbooks,
    load_playbook_file,
)
from kithkin.relationships.levels import Level
from kithkin.relationships.workspace import available_models

SEGMENT_KINDS = ("value_tier", "needs_segment", "rfm_segment")  # + "stage:<model>"


class PlaybookConfig(BaseModel):
    segment_kind: str = "value_tier"
    holdout_share: float = Field(default=0.10, ge=0, lt=1)
    outcome_model: str = "journey"
    levels: dict[Level, str] = Field(default_factory=dict)

    def playbook_for(self, level: str) -> str:
        return self.levels.get(Level(level), level)


def config_path(home: Path) -> Path:
    return home / "playbooks.toml"


def user_dir(home: Path) -> Path:
    return home / "playbooks"


def load_config(*, home: Path) -> PlaybookConfig:
    path = config_path(home)
    if not path.exists():
        return PlaybookConfig()
    try:
        config = PlaybookConfig.model_validate(tomllib.loads(path.read_text("utf-8")))
    except (tomllib.TOMLDecodeError, PydanticValidationError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    kind = config.segment_kind
    if kind not in SEGMENT_KINDS and not kind.startswith("stage:"):
        raise ConfigurationError(f"{path}: segment_kind {kind!r} is not one of "
                                 f"{list(SEGMENT_KINDS)} or stage:<model>")
    return config


def available_playbooks(*, home: Path) -> dict[str, Playbook]:
    """Built-in playbooks, replaced or extended by the user's (validated) files."""
    books = builtin_playbooks()
    folder = user_dir(home)
    if folder.is_dir():
        models = set(available_models(home=home))
        for path in sorted(folder.glob("*.toml")):
            book = load_playbook_file(path, stage_models=models)
            books[book.name] = book
    return books


def active_playbooks(*, home: Path, config: PlaybookConfig | None = None
                     ) -> dict[str, Playbook]:
    """Level -> the playbook serving it; a level naming a missing playbook is an error."""
    config = config or load_config(home=home)
    books = available_playbooks(home=home)
    active: dict[str, Playbook] = {}
    for level in Level:
        name = config.playbook_for(level.value)
        if name not in books:
            raise ConfigurationError(f"{config_path(home)}: level {level.value} names "
                                     f"unknown playbook {name!r}; available: {sorted(books)}")
        active[level.value] = books[name]
    return active


def get_playbook(name: str, *, home: Path) -> Playbook:
    books = available_playbooks(home=home)
    if name not in books:
        raise NotFoundError(f"no playbook {name!r}; available: {sorted(books)}")
    return books[name]


def validate_file(path: Path, *, home: Path) -> Playbook:
    return load_playbook_file(path, stage_models=set(available_models(home=home)))


def validate_text(text: str, *, file: str, home: Path) -> Playbook:
    from kithkin.playbooks.definitions import parse_playbook
    return parse_playbook(text, file=file, stage_models=set(available_models(home=home)))


def install_text(text: str, *, file: str, home: Path) -> Playbook:
    """Validate a playbook and, only if it is valid, store it in the workspace (the
    playbooks in force are untouched by an invalid file)."""
    book = validate_text(text, file=file, home=home)
    folder = user_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{book.name}.toml"
    temporary = target.with_suffix(".toml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(target)  # atomic: a reader sees the old file or the new one
    return book


def install_file(path: Path, *, home: Path) -> Playbook:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    return install_text(text, file=str(path), home=home)


__all__ = ["PlaybookConfig", "active_playbooks", "available_playbooks", "get_playbook",
           "install_file", "install_text", "load_config", "validate_file"]
