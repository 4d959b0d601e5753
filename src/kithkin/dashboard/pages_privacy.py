"""The 360 page's privacy section: consent history and a form to record a statement,
the export (JSON and HTML) and erasure with a confirm step.

Recording consent is open to whoever may see the customer (an agent hears a withdrawal
on the phone); export and erasure to managers and admins, checked here on the server
whatever the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from kithkin.api.deps import CustomerScopeDep, SessionDep, SettingsDep
from kithkin.api.params import IdPath
from kithkin.config import Settings
from kithkin.customers.models import Channel, Consent, ConsentStatus, Customer, Purpose
from kithkin.dashboard import navigation
from kithkin.dashboard.navigation import OPERATIONS, Page, register_page
from kithkin.dashboard.sections import CustomerSection, register_customer_section
from kithkin.dashboard.web import PageRoute, flash, render, require_page
from kithkin.errors import KithkinError, NotFoundError
from kithkin.privacy import consent, erasure, export
from kithkin.privacy.models import ConsentEvent, ConsentSource
from kithkin.users.models import StaffUser

PRIVACY = register_page(Page("privacy", "Export and erase customers", "/customers",
                             OPERATIONS, in_nav=False))
router = APIRouter(route_class=PageRoute, include_in_schema=False)
CustomersUser = Annotated[StaffUser, Depends(require_page(navigation.CUSTOMERS.key))]
PrivacyUser = Annotated[StaffUser, Depends(require_page(PRIVACY.key))]


@dataclass(frozen=True)
class ConsentSection:
    current: list[Consent]
    events: list[ConsentEvent]
    channels: list[Channel]
    purposes: list[Purpose]
    statuses: list[ConsentStatus]
    sources: tuple[str, ...]
    privacy_roles: frozenset[str]


def consent_section(session: Session, customer_id: int,
                    _settings: Settings) -> ConsentSection:
    """What ``_customer_consent.html`` shows (every customer has one: never asked is
    shown as such)."""
    return ConsentSection(
        current=consent.current(session=session, customer_id=customer_id),
        events=consent.history(session=session, customer_id=customer_id),
        channels=list(Channel), purposes=list(Purpose), statuses=list(ConsentStatus),
        sources=(ConsentSource.STAFF, ConsentSource.FORM),
        privacy_roles=frozenset(r.value for r in PRIVACY.roles))


register_customer_section(CustomerSection(
    key="consent", title="Consent and privacy", template="_customer_consent.html",
    loader=consent_section, order=900))


@router.post("/customers/{customer_id:int}/consents")
def record_consent(request: Request, session: SessionDep, user: CustomersUser,
                   scope: CustomerScopeDep, customer_id: IdPath,
                   channel: Annotated[str, Form()], purpose: Annotated[str, Form()],
                   status: Annotated[str, Form()],
                   source: Annotated[str, Form()] = ConsentSource.STAFF,
                   wording: Annotated[str, Form()] = "",
                   evidence: Annotated[str, Form()] = "") -> Response:
    scope.check(session=session, customer_id=customer_id)
    if source not in (ConsentSource.STAFF, ConsentSource.FORM):
        source = ConsentSource.STAFF
    try:
        consent.record(session=session, change=consent.ConsentChange(
            customer_id=customer_id, channel=channel, purpose=purpose, status=status,
            source=source, source_detail="dashboard", staff_user_id=user.id,
            wording=wording.strip() or None, evidence=evidence.strip() or None))
        session.commit()
        flash(request, f"Recorded: {channel} for {purpose} {status.replace('_', ' ')}.")
    except KithkinError as exc:
        session.rollback()
        flash(request, f"Not recorded: {exc}")
    return RedirectResponse(f"/customers/{customer_id}#consent-history", status_code=303)


@router.get("/customers/{customer_id:int}/export.{kind}")
def export_customer(session: SessionDep, user: PrivacyUser, customer_id: IdPath,
                    kind: str) -> Response:
    if kind not in ("json", "html"):
        raise NotFoundError(f"no export format {kind!r}: json or html")
    document = export.export(session=session, customer_id=customer_id)
    headers = {"Content-Disposition":
               f'attachment; filename="customer-{customer_id}-export.{kind}"'}
    if kind == "html":
        return HTMLResponse(export.to_html(document), headers=headers)
    return JSONResponse(document, headers=headers)


@router.get("/customers/{customer_id:int}/erase")
def confirm_erase(request: Request, session: SessionDep, user: PrivacyUser,
                  customer_id: IdPath) -> Response:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    ids = erasure.cluster(session=session, customer_id=customer_id)
    return render(request, "privacy_erase.html", user=user, active="customers",
                  customer=customer, ids=ids)


@router.post("/customers/{customer_id:int}/erase")
def erase_customer(request: Request, session: SessionDep, settings: SettingsDep,
                   user: PrivacyUser, customer_id: IdPath,
                   confirm: Annotated[str, Form()] = "") -> Response:
    if confirm.strip() != str(customer_id):
        flash(request, f"Not erased: type the customer number {customer_id} to confirm.")
        return RedirectResponse(f"/customers/{customer_id}/erase", status_code=303)
    log = erasure.erase(session=session, settings=settings, customer_id=customer_id,
                        actor=user.email)
    session.commit()
    flash(request, f"Erased record(s) {', '.join(map(str, log.customer_ids))}. Orders stay "
                   f"under customer {log.customer_id}.")
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


