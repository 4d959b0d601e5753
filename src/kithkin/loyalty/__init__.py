"""Loyalty programme: the financial bond (points, tiers, price locks) as an append-only
ledger whose sum is the balance."""
