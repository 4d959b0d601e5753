"""Which field a column of a file is probably for, from the names the shipped presets know.

The preview suggests a mapping with it, and an import that misses a required field names
the column that looks like it, so a shop export's ``customer_id`` is one ``--map`` away.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from kithkin.errors import ValidationError
from kithkin.imports.ingest.kinds import SPECS, Kind
from kithkin.imports.ingest.options import IngestOptions, load_preset, preset_names

MIN_PRESET_MATCHES = 3
"""A preset is suggested only when this many of its column names are in the file."""


# Column names shop and CRM exports use that no shipped preset spells, per kind: the
# normalised name (see `_normal`) -> field. Presets add theirs (`_synonyms`).
COMMON_NAMES: dict[str, dict[str, str]] = {
    "customers": {
        **dict.fromkeys(("customerid", "customerno", "customernr", "customernumber",
                         "customercode", "clientid", "clientno", "clientnumber", "id",
                         "accountid", "accountnumber", "memberid", "contactid"),
                        "external_id"),
        **dict.fromkeys(("name", "fullname", "customername", "clientname", "contactname"),
                        "full_name"),
        **dict.fromkeys(("firstname", "givenname", "forename", "first"), "first_name"),
        **dict.fromkeys(("lastname", "surname", "familyname", "last"), "last_name"),
        **dict.fromkeys(("mail", "emailaddress", "mailaddress"), "email"),
        **dict.fromkeys(("telephone", "tel", "mobile", "mobilephone", "phonenumber",
                         "cellphone"), "phone"),
        **dict.fromkeys(("dob", "birthday", "birthdate", "dateofbirth"), "date_of_birth"),
        **dict.fromkeys(("address", "street", "streetaddress", "address1", "addressline1"),
                        "address_line"),
        **dict.fromkeys(("address2", "addressline2"), "address_line2"),
        **dict.fromkeys(("town",), "city"),
        **dict.fromkeys(("state", "province", "county"), "region"),
        **dict.fromkeys(("zip", "zipcode", "postalcode", "plz"), "postcode"),
        **dict.fromkeys(("organisation", "organization", "companyname"), "company"),
        **dict.fromkeys(("signupdate", "signedup", "signedupat", "signupat", "signup",
                         "registered", "registeredat", "registrationdate", "joined",
                         "datejoined", "joinedat", "customersince", "memberssince",
                         "membersince", "createdat", "created", "firstseen"),
                        "acquired_at"),
        **dict.fromkeys(("leadsource", "acquisitionchannel", "referrer", "utmsource"),
                        "acquisition_source"),
    },
    "interactions": {
        **dict.fromkeys(("requesteremail", "requester", "customeremail", "email",
                         "emailaddress", "contactemail", "fromemail", "from"),
                        "customer_email"),
        **dict.fromkeys(("ticketid", "ticketno", "ticketnumber", "ticket", "caseid",
                         "caseno", "conversationid", "id"), "external_id"),
        **dict.fromkeys(("createdat", "created", "date", "opened", "openedat",
                         "submittedat", "receivedat"), "occurred_at"),
        **dict.fromkeys(("rating", "csat", "nps", "csatscore", "npsscore"), "score"),
        **dict.fromkeys(("body", "description", "message", "comment"), "text"),
        **dict.fromkeys(("solvedat", "closedat", "resolved"), "resolved_at"),
        **dict.fromkeys(("type", "category"), "kind"),
    },
    "transactions": {
        **dict.fromkeys(("customeremail", "email", "billingemail", "receiptemail"),
                        "customer_email"),
        **dict.fromkeys(("orderno", "ordernr", "ordernumber", "orderid", "invoiceno",
                         "invoicenumber", "receiptno"), "order_id"),
        **dict.fromkeys(("customerno", "customernr", "customernumber", "customercode",
                         "clientid", "clientno"), "customer_external_id"),
        **dict.fromkeys(("orderdate", "purchasedate", "invoicedate", "orderedat"),
                        "ordered_at"),
        **dict.fromkeys(("ordervalue", "ordertotal", "grandtotal", "revenue"), "amount"),
    },
}


def _normal(name: str) -> str:
    """Case, accents, punctuation and a bracketed unit left out: ``Amount (EUR)`` and
    ``amount`` are one name, as are ``E-mail`` and ``email``."""
    name = re.sub(r"\([^)]*\)|\[[^]]*\]", "", name)
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower())


def suggest_preset(*, kind: str, columns: list[str]) -> str | None:
    """The shipped preset for ``kind`` most of whose column names the file has."""
    best, best_hits = None, 0
    present = {_normal(c) for c in columns}
    for name in preset_names():
        try:
            preset = load_preset(name, kind=kind)
        except ValidationError:
            continue
        hits = sum(_normal(c) in present for c in preset.columns)
        if hits >= MIN_PRESET_MATCHES and hits > best_hits:
            best, best_hits = name, hits
    return best


def suggest_mapping(*, kind: str, columns: list[str],
                    options: IngestOptions | None = None) -> dict[str, str]:
    """column -> field for the columns kithkin can place: the options' own mapping,
    then a field of the same name (ignoring case and punctuation), then the synonyms
    the presets know (``Order ID``, ``Customer Email``...)."""
    spec = SPECS[Kind(kind)]
    fields = _fields(kind)
    synonyms = _synonyms(kind)
    given = options.columns if options else {}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        found = given.get(column) or fields.get(_normal(column)) or synonyms.get(
            _normal(column))
        if found and found not in taken and found in spec.field_by_name:
            mapping[column] = found
            taken.add(found)
    return mapping


@cache
def _synonyms(kind: str) -> Mapping[str, str]:
    """The presets' column names first (they were read off real exports), then ours; the
    presets ship with the package, so they are read once per process, not per import."""
    synonyms: dict[str, str] = {}
    for name in preset_names():
        try:
            preset = load_preset(name, kind=kind)
        except ValidationError:
            continue
        for column, target in preset.columns.items():
            synonyms.setdefault(_normal(column), target)
    for column, target in COMMON_NAMES.get(kind, {}).items():
        synonyms.setdefault(column, target)
    return MappingProxyType(synonyms)


@cache
def _fields(kind: str) -> Mapping[str, str]:
    """normalised field name -> field."""
    return MappingProxyType({_normal(f): f for f in SPECS[Kind(kind)].field_by_name})


def same_field(*, kind: str, column: str) -> str | None:
    """The field a column names in another case or spelling (``Country``, ``E-mail``,
    ``Date of birth``): that is the field, so an import takes it without a --map."""
    return _fields(kind).get(_normal(column))
