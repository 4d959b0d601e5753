"""Retention: exit interviews and defection reasons, complaint lifecycle and service
analytics, retention and survival measurement (seed 003's retention programme)."""
