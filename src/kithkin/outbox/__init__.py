"""The outbox: messages to customers, queued in the same transaction as their cause and
delivered exactly once (SMTP, signed webhooks)."""
