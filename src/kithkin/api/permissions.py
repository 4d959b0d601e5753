"""Ready-made route parameters: ``user: CustomersRead`` checks role and key scopes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from kithkin.api.deps import require_permission
from kithkin.auth.roles import Access, Area
from kithkin.users.models import StaffUser

CustomersRead = Annotated[StaffUser, Depends(require_permission(Area.CUSTOMERS, Access.READ))]
CustomersWrite = Annotated[StaffUser, Depends(require_permission(Area.CUSTOMERS, Access.WRITE))]
CustomersAdmin = Annotated[StaffUser, Depends(require_permission(Area.CUSTOMERS, Access.ADMIN))]
ProspectsRead = Annotated[StaffUser, Depends(require_permission(Area.PROSPECTS, Access.READ))]
ProductsRead = Annotated[StaffUser, Depends(require_permission(Area.PRODUCTS, Access.READ))]
TransactionsRead = Annotated[
    StaffUser, Depends(require_permission(Area.TRANSACTIONS, Access.READ))
]
InteractionsRead = Annotated[
    StaffUser, Depends(require_permission(Area.INTERACTIONS, Access.READ))
]
InteractionsWrite = Annotated[
    StaffUser, Depends(require_permission(Area.INTERACTIONS, Access.WRITE))
]
MembershipsRead = Annotated[
    StaffUser, Depends(require_permission(Area.MEMBERSHIPS, Access.READ))
]
ImportsRead = Annotated[StaffUser, Depends(require_permission(Area.IMPORTS, Access.READ))]
ImportsWrite = Annotated[StaffUser, Depends(require_permission(Area.IMPORTS, Access.WRITE))]
AnalyticsRead = Annotated[StaffUser, Depends(require_permission(Area.ANALYTICS, Access.READ))]
AnalyticsAdmin = Annotated[
    StaffUser, Depends(require_permission(Area.ANALYTICS, Access.ADMIN))
]
TasksRead = Annotated[StaffUser, Depends(require_permission(Area.TASKS, Access.READ))]
TasksWrite = Annotated[StaffUser, Depends(require_permission(Area.TASKS, Access.WRITE))]
PlaybooksRead = Annotated[StaffUser, Depends(require_permission(Area.PLAYBOOKS, Access.READ))]
PlaybooksWrite = Annotated[
    StaffUser, Depends(require_permission(Area.PLAYBOOKS, Access.WRITE))
]
PlaybooksAdmin = Annotated[
    StaffUser, Depends(require_permission(Area.PLAYBOOKS, Access.ADMIN))
]
ListsRead = Annotated[StaffUser, Depends(require_permission(Area.LISTS, Access.READ))]
ListsWrite = Annotated[StaffUser, Depends(require_permission(Area.LISTS, Access.WRITE))]
ListsAdmin = Annotated[StaffUser, Depends(require_permission(Area.LISTS, Access.ADMIN))]
OutboxRead = Annotated[StaffUser, Depends(require_permission(Area.OUTBOX, Access.READ))]
OutboxWrite = Annotated[StaffUser, Depends(require_permission(Area.OUTBOX, Access.WRITE))]
