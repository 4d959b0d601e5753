"""Recording, importing and classifying exit interviews.

Every path (dashboard form, API, CLI, CSV import, or interviews already in the
interaction log from a general import) ends in :func:`record` or :func:`sync`, so each
interview gets the same validation and the same suggestion. The classifier is trained
on the interviews staff have labelled so far, each time it is needed: a few thousand
short texts train in milliseconds, and a suggestion then always reflects the latest
labels.
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.database import registry  # noqa: F401 - fills Base.metadata (staff_user)
from kithkin.errors import ConflictError, NotFoundError, ValidationError
from kithkin.interactions.models import Interaction
from kithkin.retention.classifier import Classifier, Labelled, Suggestion
from kithkin.retention.models import ExitInterview
from kithkin.retention.taxonomy import DEFECTOR_TYPES, REASON_CATEGORIES

STAFF_SOURCE = "staff"


def _validate(reason_category: str | None, defector_type: str | None, where: str) -> None:
    if reason_category is not None and reason_category not in REASON_CATEGORIES:
        raise ValidationError(f"{where}reason_category: {reason_category!r} is not one of "
                              f"{', '.join(REASON_CATEGORIES)}")
    if defector_type is not None and defector_type not in DEFECTOR_TYPES:
        raise ValidationError(f"{where}defector_type: {defector_type!r} is not one of "
                              f"{', '.join(DEFECTOR_TYPES)}")


def complaint_history(session: Session, customer_ids: list[int]
                      ) -> dict[int, tuple[int, tuple[str, ...]]]:
    """Per customer: number of complaints and their tags (the classifier's history)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Interaction.customer_id, Interaction.tags).where(
            Interaction.kind == "complaint", Interaction.customer_id.in_(customer_ids)))
    out: dict[int, tuple[int, tuple[str, ...]]] = {}
    for customer_id, tags in rows:
        if customer_id is None:
            continue
        count, seen = out.get(customer_id, (0, ()))
        parts: list[str] = []
        for tag in tags or []:
            parts.extend(str(tag).split(";"))
        out[customer_id] = (count + 1, seen + tuple(p for p in parts if p))
    return out


def labelled(session: Session) -> list[Labelled]:
    """Interviews staff have classified, with their customers' complaint history."""
    rows = session.execute(select(ExitInterview).where(
        ExitInterview.defector_type.is_not(None))).scalars().all()
    history = complaint_history(session, list({r.customer_id for r in rows}))
    return [Labelled(r.text, r.defector_type, r.reason_category,
                     *history.get(r.customer_id, (0, ()))) for r in rows]


def classifier(session: Session) -> Classifier:
    return Classifier.train(labelled(session))


def suggest(session: Session, *, customer_id: int, text_: str,
            trained: Classifier | None = None) -> Suggestion:
    complaints, tags = complaint_history(session, [customer_id]).get(customer_id, (0, ()))
    return (trained or classifier(session)).suggest(text_, complaints=complaints,
                                                    complaint_tags=tags)


def record(*, session: Session, customer_id: int, text_: str, occurred_at: datetime | None,
           reason_category: str | None, defector_type: str | None,
           created_by_id: int | None, source: str = STAFF_SOURCE,
           external_id: str | None = None, channel: str | None = None,
           trained: Classifier | None = None, where: str = "") -> ExitInterview:
    """Store an interview and its touch in the interaction log; the same
    (source, external_id) twice is a conflict."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"{where}customer {customer_id} does not exist")
    if not text_.strip():
        raise ValidationError(f"{where}text: the customer's words are required "
                              "(write 'no reason given' if they gave none)")
    _validate(reason_category, defector_type, where)
    external_id = external_id or uuid.uuid4().hex
    exists = session.scalar(select(ExitInterview.id).where(
        ExitInterview.source == source, ExitInterview.external_id == external_id))
    if exists is not None:
        raise ConflictError(f"{where}exit interview {external_id!r} from {source} was "
                            f"already recorded (id {exists})")
    when = (occurred_at or datetime.now(UTC)).astimezone(UTC)
    touch = Interaction(source=source, external_id=f"exit:{external_id}",
                        customer_id=customer_id, occurred_at=when, channel=channel,
                        direction="outbound", kind="exit_interview",
                        subject="Exit interview", text=text_, status="closed",
                        staff_user_id=created_by_id)
    session.add(touch)
    session.flush()
    hint = suggest(session, customer_id=customer_id, text_=text_, trained=trained)
    interview = ExitInterview(
        source=source, external_id=external_id, customer_id=customer_id,
        interaction_id=touch.id, occurred_at=when, text=text_,
        reason_category=reason_category, defector_type=defector_type,
        suggested_category=hint.reason_category, suggested_type=hint.defector_type,
        suggested_by=hint.method, created_by_id=created_by_id)
    session.add(interview)
    session.flush()
    return interview


def classify(*, session: Session, interview_id: int, reason_category: str | None,
             defector_type: str | None) -> ExitInterview:
    """Staff set or correct the classification (the suggestion is kept)."""
    interview = session.get(ExitInterview, interview_id)
    if interview is None:
        raise NotFoundError(f"exit interview {interview_id} does not exist")
    _validate(reason_category, defector_type, "")
    interview.reason_category = reason_category
    interview.defector_type = defector_type
    session.flush()
    return interview


def sync(*, session: Session) -> int:
    """Give every exit-interview touch in the interaction log (from a general import or
    the simulator) its interview row, unclassified, with a suggestion. Idempotent."""
    rows = session.execute(
        select(Interaction.id, Interaction.customer_id, Interaction.occurred_at,
               Interaction.text)
        .outerjoin(ExitInterview, ExitInterview.interaction_id == Interaction.id)
        .where(Interaction.kind == "exit_interview", Interaction.customer_id.is_not(None),
               ExitInterview.id.is_(None))).all()
    if not rows:
        return 0
    trained = classifier(session)
    history = complaint_history(session, list({r.customer_id for r in rows}))
    for row in rows:
        count, tags = history.get(row.customer_id, (0, ()))
        hint = trained.suggest(row.text or "", complaints=count, complaint_tags=tags)
        session.add(ExitInterview(
            source="interaction", external_id=str(row.id), customer_id=row.customer_id,
            interaction_id=row.id, occurred_at=row.occurred_at, text=row.text or "",
            suggested_category=hint.reason_category, suggested_type=hint.defector_type,
            suggested_by=hint.method))
    session.flush()
    return len(rows)


IMPORT_COLUMNS = ("customer_id", "text")


def import_csv(*, session: Session, path: Path, created_by_id: int | None = None) -> int:
    """Columns: customer_id, text, and optionally occurred_at (ISO), reason_category,
    defector_type, external_id, channel. Re-running the file skips rows already stored
    (same external_id); every other error names the row and field."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in IMPORT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(f"{path}: missing column(s) {', '.join(missing)}")
        trained = classifier(session)
        added = 0
        for number, row in enumerate(reader, start=2):
            where = f"{path}:{number}: "
            try:
                customer_id = int(row["customer_id"])
            except ValueError:
                raise ValidationError(f"{where}customer_id: {row['customer_id']!r} is not "
                                      "a number") from None
            occurred = None
            if row.get("occurred_at"):
                try:
                    occurred = datetime.fromisoformat(row["occurred_at"])
                except ValueError:
                    raise ValidationError(f"{where}occurred_at: {row['occurred_at']!r} is "
                                          "not an ISO date") from None
                if occurred.tzinfo is None:
                    occurred = occurred.replace(tzinfo=UTC)
            external_id = row.get("external_id") or f"{path.name}:{number}"
            if session.scalar(select(ExitInterview.id).where(
                    ExitInterview.source == "import",
                    ExitInterview.external_id == external_id)) is not None:
                continue
            record(session=session, customer_id=customer_id, text_=row["text"] or "",
                   occurred_at=occurred, reason_category=row.get("reason_category") or None,
                   defector_type=row.get("defector_type") or None,
                   created_by_id=created_by_id, source="import", external_id=external_id,
                   channel=row.get("channel") or None, trained=trained, where=where)
            added += 1
    return added


def for_customer(session: Session, customer_id: int) -> list[ExitInterview]:
    return list(session.execute(select(ExitInterview).where(
        ExitInterview.customer_id == customer_id).order_by(
        ExitInterview.occurred_at.desc())).scalars())


@dataclass(frozen=True)
class ReasonSummary:
    interviews: int
    classified: int
    by_category: dict[str, int]
    by_type: dict[str, int]
    suggested_type: dict[str, int]  # unclassified interviews, by suggested type


def reason_summary(session: Session) -> ReasonSummary:
    rows = session.execute(select(ExitInterview.reason_category, ExitInterview.defector_type,
                                  ExitInterview.suggested_type)).all()
    classified = [r for r in rows if r.defector_type or r.reason_category]
    return ReasonSummary(
        interviews=len(rows), classified=len(classified),
        by_category=dict(Counter(r.reason_category for r in classified if r.reason_category)),
        by_type=dict(Counter(r.defector_type for r in classified if r.defector_type)),
        suggested_type=dict(Counter(r.suggested_type or "no suggestion" for r in rows
                                    if not r.defector_type)))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count(ExitInterview.id))) or 0)
