"""Mapping presets for common exports, read by ``kithkin import --preset NAME``."""
