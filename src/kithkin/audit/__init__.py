"""Audit trail: who changed what, when, from where; append-only (docs/audit.md)."""
