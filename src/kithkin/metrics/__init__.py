"""Stored per-customer metrics: one row per customer per as-of date, history kept."""
