"""Reading the product catalogue."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kithkin.database.core import get_or_raise
from kithkin.database.pagination import SortKey, keyset_page
from kithkin.products.models import Product


def get(*, session: Session, product_id: int) -> Product:
    product = get_or_raise(session, Product, product_id, "product")
    return product


def list_page(*, session: Session, limit: int, after: str | None = None, q: str | None = None,
              category: str | None = None) -> tuple[list[Product], str | None]:
    """Products by id; ``q`` matches sku or name (case-insensitive substring)."""
    query = select(Product)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Product.sku).like(pattern),
                                func.lower(Product.name).like(pattern)))
    if category:
        query = query.where(Product.category == category)
    return keyset_page(session=session, query=query, id_column=Product.id,
                       key=SortKey("id", Product.id), limit=limit, after=after)
