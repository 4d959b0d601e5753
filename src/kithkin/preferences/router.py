"""/customers/{id}/preferences: the customer's remembered preferences (read, replace)."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import CustomersRead, CustomersWrite
from kithkin.preferences import service as preference_service
from kithkin.preferences.schemas import PreferencesRead, PreferencesUpdate

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("/{customer_id:int}/preferences", response_model=PreferencesRead)
def get_preferences(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                    scope: CustomerScopeDep) -> PreferencesRead:
    """What the firm remembers the customer likes; ``source`` says whether anyone has
    edited it or only an imported attribute is known."""
    scope.check(session=session, customer_id=customer_id)
    return preference_service.get(session=session, customer_id=customer_id)


@router.put("/{customer_id:int}/preferences", response_model=PreferencesRead)
def put_preferences(customer_id: IdPath, payload: PreferencesUpdate, session: SessionDep,
                    user: CustomersWrite, scope: CustomerScopeDep) -> PreferencesRead:
    """Replace the customer's preferences (lists left out are cleared)."""
    scope.check(session=session, customer_id=customer_id)
    saved = preference_service.save(session=session, customer_id=customer_id, data=payload,
                                    staff_user_id=user.id)
    session.commit()
    return saved
