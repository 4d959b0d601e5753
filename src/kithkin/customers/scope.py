"""Which customers a staff member may see: all of them, or the ones they look after.

Agents work their own book of customers (those whose ``account_manager_id`` is theirs);
every other role sees every customer. The scope is applied in SQL, on any table's
``customer_id`` column, so lists, searches and single-row reads all enforce the same rule
server-side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from kithkin.customers.models import Customer
from kithkin.errors import NotFoundError, PermissionDeniedError
from kithkin.users.models import Role, StaffUser


@dataclass(frozen=True)
class CustomerScope:
    """``account_manager_id`` None means every customer."""

    account_manager_id: int | None = None

    @classmethod
    def for_user(cls, user: StaffUser) -> CustomerScope:
        return cls(user.id) if user.role == Role.AGENT else cls()

    @property
    def everyone(self) -> bool:
        return self.account_manager_id is None

    def customers(self) -> list[ColumnElement[bool]]:
        """Conditions on the customer table itself."""
        if self.account_manager_id is None:
            return []
        return [Customer.account_manager_id == self.account_manager_id]

    def rows(self, customer_id: Any) -> list[ColumnElement[bool]]:
        """Conditions on another table's ``customer_id`` column."""
        if self.account_manager_id is None:
            return []
        return [customer_id.in_(select(Customer.id).where(*self.customers()))]

    def require_all(self, what: str) -> None:
        """For views that span every customer (duplicate review, bulk event ingestion)."""
        if self.account_manager_id is not None:
            raise PermissionDeniedError(
                f"{what} spans every customer; agents see only the customers they are "
                "account manager of")

    def check(self, *, session: Session, customer_id: int | None) -> None:
        """Raise unless the customer is in scope (NotFoundError when it does not exist);
        ``None`` (a row of no customer, such as a prospect's interaction) is in no agent's
        scope."""
        if self.account_manager_id is None:
            return
        if customer_id is None:
            raise PermissionDeniedError("this record belongs to no customer of yours")
        found = session.execute(select(Customer.account_manager_id)
                                .where(Customer.id == customer_id)).first()
        if found is None:
            raise NotFoundError(f"customer {customer_id} does not exist")
        if found[0] != self.account_manager_id:
            raise PermissionDeniedError(
                f"customer {customer_id} is not assigned to you: agents see the customers "
                "they are account manager of")


EVERYONE = CustomerScope()
