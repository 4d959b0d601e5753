"""Data retention policy: old prospects, interaction text and uploads (docs/audit.md)."""
