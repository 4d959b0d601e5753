"""Next-best offers and bundles per customer, and the association rules behind bundles."""
