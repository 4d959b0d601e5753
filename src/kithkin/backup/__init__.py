"""Online backup and checked restore of the store and the workspace (docs/backup.md)."""
