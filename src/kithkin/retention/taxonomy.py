"""The two classifications of a former customer, from seed 003.

*Reason categories* say why customers leave in general terms; *defector types* name the
kind of defector (price, product, service, market, technology, organizational). The
default mapping from type to category is a starting point for the suggestion only:
staff choose both on the interview.
"""

from __future__ import annotations

REASON_CATEGORIES: tuple[str, ...] = (
    "perceived_difference_in_value",
    "dissatisfaction_with_product_class",
    "increased_competition",
    "other_friendships_or_bonds",
    "no_reason",
)
REASON_LABELS: dict[str, str] = {
    "perceived_difference_in_value": "Perceived difference in value",
    "dissatisfaction_with_product_class": "Dissatisfaction with the product class",
    "increased_competition": "Increased competition",
    "other_friendships_or_bonds": "Other friendships or bonds",
    "no_reason": "No reason",
}
DEFECTOR_TYPES: tuple[str, ...] = (
    "price", "product", "service", "market", "technology", "organizational",
)
# Price defectors see a better deal (value); product and service defectors are unhappy
# with what they got; market and technology defectors leave for what rivals now offer;
# organizational defectors follow a decision or bond outside the relationship.
TYPE_TO_CATEGORY: dict[str, str] = {
    "price": "perceived_difference_in_value",
    "product": "dissatisfaction_with_product_class",
    "service": "dissatisfaction_with_product_class",
    "market": "increased_competition",
    "technology": "increased_competition",
    "organizational": "other_friendships_or_bonds",
}
