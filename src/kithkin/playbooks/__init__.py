"""Playbooks: the follow-up each relationship level promises, as triggers and actions."""
