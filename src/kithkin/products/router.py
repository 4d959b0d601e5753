"""/products: the catalogue (read-only over the API; products arrive by import)."""

from __future__ import annotations

from fastapi import APIRouter

from kithkin.api.deps import SessionDep
from kithkin.api.pagination import DEFAULT_LIMIT, Page
from kithkin.api.params import AfterQuery, IdPath, LimitQuery
from kithkin.api.permissions import ProductsRead
from kithkin.products import service as product_service
from kithkin.products.schemas import ProductRead

router = APIRouter(prefix="/products", tags=["products"])


@router.get("", response_model=Page[ProductRead])
def list_products(session: SessionDep, _: ProductsRead, limit: LimitQuery = DEFAULT_LIMIT,
                  after: AfterQuery = None, q: str | None = None,
                  category: str | None = None) -> Page[ProductRead]:
    rows, cursor = product_service.list_page(session=session, limit=limit, after=after, q=q,
                                             category=category)
    return Page[ProductRead](items=[ProductRead.model_validate(r) for r in rows],
                             next_cursor=cursor, limit=limit)


@router.get("/{product_id:int}", response_model=ProductRead)
def get_product(product_id: IdPath, session: SessionDep, _: ProductsRead) -> ProductRead:
    return ProductRead.model_validate(product_service.get(session=session,
                                                          product_id=product_id))
