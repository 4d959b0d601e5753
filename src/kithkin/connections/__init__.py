"""Bonds among customers: who referred whom, households, and a company's contacts."""
