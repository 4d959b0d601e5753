"""Common English given-name variants, so "Bill Smith" and "William Smith" can meet.

A small table is enough: the comparison only needs to know that two given names are
forms of one name; it never replaces what the customer wrote.
"""

from __future__ import annotations

_GROUPS = (
    "william bill billy will willy liam", "robert bob bobby rob robbie bert",
    "richard rick ricky dick rich", "james jim jimmy jamie", "john jack johnny jon",
    "joseph joe joey", "thomas tom tommy", "charles charlie chuck chas",
    "michael mike mick mikey", "daniel dan danny", "edward ed eddie ted ned",
    "elizabeth liz lizzie beth betty eliza libby", "margaret maggie meg peggy marge",
    "catherine kate katie cathy kath kathryn katherine", "jennifer jen jenny",
    "alexander alex alec sandy", "alexandra alex lexi sandra", "andrew andy drew",
    "anthony tony", "benjamin ben benny", "christopher chris kit", "christine chris chrissy",
    "david dave davy", "matthew matt matty", "nicholas nick nicky", "patrick pat paddy",
    "peter pete", "samuel sam sammy", "samantha sam sammy", "stephen steve stevie steven",
    "timothy tim timmy", "victoria vicky tori", "rebecca becky becca",
    "susan sue susie", "deborah deb debbie", "patricia pat patty trish",
    "jessica jess jessie", "joshua josh", "zachary zach zack", "nathan nate nat",
    "nathaniel nate nat", "gregory greg", "jonathan jon jonny", "kenneth ken kenny",
    "lawrence larry", "ronald ron ronnie", "donald don donny", "frederick fred freddie",
    "harold harry hal", "henry harry hank", "isabella bella izzy isabel isabelle",
    "abigail abby abbie", "madison maddie maddy", "mitchell mitch", "benjamin benji",
)

CANONICAL: dict[str, str] = {}
for _group in _GROUPS:
    _names = _group.split()
    for _name in _names:
        CANONICAL.setdefault(_name, _names[0])


def canonical_given_name(name: str | None) -> str | None:
    """The group's first name for a known variant, else the (cleaned) name itself."""
    if not name:
        return None
    first = name.split(" ")[0]
    return CANONICAL.get(first, first)
