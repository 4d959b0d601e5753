"""What the API and the CLI send and receive for lists and their bulk actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from kithkin.fields import RowId
from kithkin.lists.spec import ListSpec, TagText
from kithkin.outbox.models import MessageChannel
from kithkin.tasks.models import TaskPriority

Name = Annotated[str, Field(min_length=1, max_length=200)]


class ListCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: str | None = Field(None, max_length=2000)
    spec: ListSpec = Field(default_factory=ListSpec)


class ListUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: str | None = Field(None, max_length=2000)
    spec: ListSpec | None = None


class ListRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    spec: dict[str, Any]
    spec_version: int
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class ListSize(BaseModel):
    size: int = Field(description="Members in the caller's scope (an agent: their book).")
    as_of: str | None = Field(description="The refresh the metric filters read; null: "
                                          "none yet (metric filters then match nobody).")


class CreateTasks(BaseModel):
    """One open task per member, owned by the member's account manager (by default),
    else by ``owner_id``, else left to ``team``."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["create_tasks"]
    title: str = Field(min_length=1, max_length=300)
    details: str | None = Field(None, max_length=5000)
    owner_is_account_manager: StrictBool = True
    owner_id: RowId | None = None
    team: str | None = Field(None, max_length=100)
    due_in_days: Annotated[StrictInt, Field(ge=0, le=3650)] | None = None
    priority: TaskPriority = TaskPriority.NORMAL


class QueueMessage(BaseModel):
    """A message to every member through the outbox, which checks consent and caps and
    may skip one (counted as skipped)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["queue_message"]
    template: str = Field(min_length=1, max_length=200)
    channel: MessageChannel = MessageChannel.EMAIL
    purpose: Literal["marketing", "service"] = "marketing"
    subject: str | None = Field(None, max_length=400)
    body: str | None = Field(None, max_length=20000)


class AssignManager(BaseModel):
    """Make one staff member the account manager of every member (null: unassign)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["assign_manager"]
    account_manager_id: RowId | None = None


class AddTag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["add_tag"]
    tag: TagText


ActionParams = Annotated[CreateTasks | QueueMessage | AssignManager | AddTag,
                         Field(discriminator="action")]


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_key: str | None = Field(None, min_length=1, max_length=100, description=(
        "Your name for this run (e.g. a UUID): sending the same key again repeats or "
        "resumes that run instead of starting a second one. Absent: a new run."))
    params: ActionParams


class ActionRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    list_id: int | None
    list_name: str
    action: str
    params: dict[str, Any] | None
    request_key: str
    created_by_id: int | None
    via: str
    status: str
    members: int | None
    affected: int | None
    skipped: int | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
