"""Lists: saved filters over customers (campaign audiences), their members, CSV export
and bulk actions (tasks, messages, account manager, tag)."""
