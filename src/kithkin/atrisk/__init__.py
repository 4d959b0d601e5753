"""Who is leaving: the purchase-model choice behind P(alive), the at-risk score, and each
customer's defection status with its history (docs/retention.md, "Who is leaving")."""
