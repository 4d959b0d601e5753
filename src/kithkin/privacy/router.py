"""/privacy: the consent ledger, the export (right of access) and erasure.

Consents are read and written with the customers' permissions (an agent records a
withdrawal heard on the phone, for their own customers); the export and erasure are
privileged (customers:admin, i.e. managers and admins).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import CustomersAdmin, CustomersRead, CustomersWrite
from kithkin.customers.models import Channel, Purpose
from kithkin.privacy import consent, erasure, export
from kithkin.privacy.models import ConsentSource
from kithkin.privacy.schemas import (
    ConsentEventCreate,
    ConsentEventRead,
    ConsentHistory,
    ConsentingCustomers,
    ConsentStateRead,
    ErasureRead,
)

router = APIRouter(prefix="/privacy", tags=["privacy"])


@router.get("/customers/{customer_id:int}/consents", response_model=ConsentHistory)
def consent_history(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                    scope: CustomerScopeDep) -> ConsentHistory:
    """The current consent per channel and purpose, and every event behind it (newest
    first)."""
    scope.check(session=session, customer_id=customer_id)
    return ConsentHistory(
        customer_id=customer_id,
        current=[ConsentStateRead.model_validate(c)
                 for c in consent.current(session=session, customer_id=customer_id)],
        events=[ConsentEventRead.model_validate(e)
                for e in consent.history(session=session, customer_id=customer_id)])


@router.post("/customers/{customer_id:int}/consents", response_model=ConsentEventRead,
             status_code=201)
def record_consent(customer_id: IdPath, payload: ConsentEventCreate, session: SessionDep,
                   user: CustomersWrite, scope: CustomerScopeDep) -> ConsentEventRead:
    """Append a grant, denial or withdrawal to the ledger; the current state follows."""
    scope.check(session=session, customer_id=customer_id)
    event = consent.record(session=session, change=consent.ConsentChange(
        customer_id=customer_id, channel=payload.channel.value, purpose=payload.purpose.value,
        status=payload.status.value, source=payload.source,
        source_detail=payload.source_detail,
        staff_user_id=user.id if payload.source == ConsentSource.STAFF else None,
        wording=payload.wording, evidence=payload.evidence, occurred_at=payload.occurred_at))
    session.commit()
    return ConsentEventRead.model_validate(event)


@router.get("/consenting", response_model=ConsentingCustomers)
def consenting(session: SessionDep, _: CustomersRead, scope: CustomerScopeDep,
               channel: Channel, purpose: Purpose = Purpose.MARKETING) -> ConsentingCustomers:
    """Ids of the live customers who granted ``channel`` for ``purpose`` (an agent: of
    their own customers)."""
    return ConsentingCustomers(channel=channel, purpose=purpose, customer_ids=consent.consenting(
        session=session, channel=channel.value, purpose=purpose.value,
        account_manager_id=scope.account_manager_id))


@router.get("/customers/{customer_id:int}/export", response_model=None)
def export_customer(customer_id: IdPath, session: SessionDep, _: CustomersAdmin,
                    format: Annotated[str, Query(pattern="^(json|html)$", description=(
                        "json: the versioned document (docs/privacy.md); html: the same, "
                        "readable"))] = "json") -> Any:
    """Everything held about the person (right of access), merged records included."""
    document = export.export(session=session, customer_id=customer_id)
    disposition = f'attachment; filename="customer-{customer_id}-export.{format}"'
    if format == "html":
        return HTMLResponse(export.to_html(document),
                            headers={"Content-Disposition": disposition})
    return JSONResponse(document, headers={"Content-Disposition": disposition})


@router.post("/customers/{customer_id:int}/erase", response_model=ErasureRead)
def erase_customer(customer_id: IdPath, session: SessionDep, settings: SettingsDep,
                   user: CustomersAdmin) -> ErasureRead:
    """Erase the person (right to erasure) for good: personal fields, identities, free
    text, merge before-images and file rows go; orders stay under the pseudonymous id."""
    log = erasure.erase(session=session, settings=settings, customer_id=customer_id,
                        actor=user.email)
    session.commit()
    return ErasureRead.model_validate(log)
