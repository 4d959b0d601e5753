"""/transactions: orders by customer, one order with its lines."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, IdQuery, LimitQuery
from kithkin.api.permissions import TransactionsRead
from kithkin.transactions import service as transaction_service
from kithkin.transactions.schemas import TransactionRead, TransactionWithLines

router = APIRouter(prefix="/transactions", tags=["transactions"])


@router.get("", response_model=Page[TransactionRead])
def list_transactions(session: SessionDep, _: TransactionsRead, scope: CustomerScopeDep,
                      limit: LimitQuery = DEFAULT_LIMIT, after: AfterQuery = None,
                      customer_id: IdQuery = None) -> Page[TransactionRead]:
    rows, cursor = transaction_service.list_page(session=session, limit=limit, after=after,
                                                 customer_id=customer_id, scope=scope)
    return Page[TransactionRead](items=[TransactionRead.model_validate(r) for r in rows],
                                 next_cursor=cursor, limit=limit)


@router.get("/{transaction_id:int}", response_model=TransactionWithLines)
def get_transaction(transaction_id: IdPath, session: SessionDep, _: TransactionsRead,
                    scope: CustomerScopeDep) -> TransactionWithLines:
    return TransactionWithLines.model_validate(
        transaction_service.get(session=session, transaction_id=transaction_id, scope=scope))
