"""Offers and rules as the API reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    sku: str
    name: str
    category: str | None
    rank: int
    method: str = Field(description="item_cosine: bought by customers who bought what this "
                        "customer bought; popular: no purchase history to go on; rule: an "
                        "association rule over orders.")
    because_of: str | None = Field(description="For a bundle: the product it goes with.")


class CustomerOffersRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    next_best: list[OfferRead]
    bundle: OfferRead | None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    antecedent: str
    consequent: str
    category: str | None
    orders_both: int
    support: float
    confidence: float
    lift: float
