"""Normalisation for deterministic matching: one email or phone, one key.

An all-caps email, surrounding spaces, or a phone written with or without its country
code must not create a new customer. Provider rules (dots and plus-tags that a mailbox
ignores) are configurable because they are only true for some providers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import phonenumbers

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Providers whose mailboxes ignore dots in the local part and anything after '+'.
DEFAULT_PROVIDER_RULES: Mapping[str, tuple[bool, bool]] = {
    # domain: (strip dots, strip plus-tag)
    "gmail.com": (True, True),
    "googlemail.com": (True, True),
    "outlook.com": (False, True),
    "hotmail.com": (False, True),
    "fastmail.com": (False, True),
    "icloud.com": (False, True),
}
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def normalize_email(
    value: str | None, *, provider_rules: Mapping[str, tuple[bool, bool]] | None = None
) -> str | None:
    """Return the matching key for an email, or None when it is not an email."""
    if value is None:
        return None
    email = value.strip().lower()
    if not _EMAIL.match(email):
        return None
    local, domain = email.rsplit("@", 1)
    rules = DEFAULT_PROVIDER_RULES if provider_rules is None else provider_rules
    strip_dots, strip_plus = rules.get(domain, (False, False))
    if strip_plus:
        local = local.split("+", 1)[0]
    if strip_dots:
        local = local.replace(".", "")
    if not local:
        return None
    return f"{local}@{_DOMAIN_ALIASES.get(domain, domain)}"


def normalize_phone(value: str | None, *, default_region: str | None = "US") -> str | None:
    """Return the E.164 form of a phone number, or None when it is not a valid number."""
    if value is None or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
