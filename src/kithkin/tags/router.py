"""Customer tags: ``/customers/{id}/tags`` (read, add, remove) and ``/tags`` (in use)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kithkin.api.deps import CustomerScopeDep, SessionDep
from kithkin.api.params import IdPath
from kithkin.api.permissions import CustomersRead, CustomersWrite
from kithkin.customers import service as customer_service
from kithkin.lists.spec import TagText
from kithkin.tags import service as tag_service

router = APIRouter(tags=["tags"])


class TagsChange(BaseModel):
    tags: list[TagText] = Field(min_length=1, max_length=100)


class CustomerTags(BaseModel):
    customer_id: int
    tags: list[str]


class TagCount(BaseModel):
    tag: str
    customers: int


@router.get("/customers/{customer_id:int}/tags", response_model=CustomerTags)
def customer_tags(customer_id: IdPath, session: SessionDep, _: CustomersRead,
                  scope: CustomerScopeDep) -> CustomerTags:
    scope.check(session=session, customer_id=customer_id)
    customer_service.get(session=session, customer_id=customer_id)
    return CustomerTags(customer_id=customer_id,
                        tags=tag_service.tags_of(session=session, customer_id=customer_id))


@router.post("/customers/{customer_id:int}/tags", response_model=CustomerTags)
def add_tags(customer_id: IdPath, payload: TagsChange, session: SessionDep,
             user: CustomersWrite, scope: CustomerScopeDep) -> CustomerTags:
    """Add tags (normalised: lower case, spaces to -); a tag already there is kept."""
    scope.check(session=session, customer_id=customer_id)
    customer_service.get(session=session, customer_id=customer_id)
    tag_service.add_tags(session=session, customer_id=customer_id, tags=payload.tags,
                         created_by_id=user.id)
    session.commit()
    return CustomerTags(customer_id=customer_id,
                        tags=tag_service.tags_of(session=session, customer_id=customer_id))


@router.delete("/customers/{customer_id:int}/tags/{tag}", response_model=CustomerTags)
def remove_tag(customer_id: IdPath, tag: str, session: SessionDep, _: CustomersWrite,
               scope: CustomerScopeDep) -> CustomerTags:
    scope.check(session=session, customer_id=customer_id)
    customer_service.get(session=session, customer_id=customer_id)
    tag_service.remove_tags(session=session, customer_id=customer_id, tags=[tag])
    session.commit()
    return CustomerTags(customer_id=customer_id,
                        tags=tag_service.tags_of(session=session, customer_id=customer_id))


@router.get("/tags", response_model=list[TagCount])
def tags_in_use(session: SessionDep, _: CustomersRead, scope: CustomerScopeDep
                ) -> list[TagCount]:
    """Every tag and how many customers have it (an agent: in their own book)."""
    return [TagCount(tag=t, customers=n)
            for t, n in tag_service.tag_counts(session=session, scope=scope)]
