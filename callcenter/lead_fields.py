"""The lead fields a column can be mapped to, named as the reader names them:
the upload page lists them, and a mapping may name a field in either
language ("Cell # = شماره تلفن" or "Cell # = phone")."""

from __future__ import annotations

from flask_babel import gettext

from callcenter.errors import N_
from callcenter.leadfiles.headers import Field

LABELS: dict[Field, str] = {
    Field.PHONE: N_("Phone number"),
    Field.TITLE: N_("Title"),
    Field.FIRST_NAME: N_("First name"),
    Field.LAST_NAME: N_("Last name"),
    Field.FULL_NAME: N_("Full name"),
    Field.COMPANY: N_("Company"),
    Field.EMAIL: N_("Email"),
    Field.CITY: N_("City"),
    Field.ADDRESS: N_("Address"),
    Field.PRIORITY: N_("Priority"),
    Field.TIMEZONE: N_("Time zone"),
    Field.NOTES: N_("Notes"),
    Field.EXTRA: N_("Keep as the lead's own field"),
}


def shown() -> list[tuple[str, str]]:
    """(field, its name in the reader's language)."""
    return [(field.value, gettext(label)) for field, label in LABELS.items()]


def field_named(text: str) -> str:
    """The field a mapping line names: its key ("phone"), or its name in
    English or in the reader's language; anything else as typed (the import
    then says it is unknown)."""
    wanted = " ".join(text.split()).casefold()
    for field, label in LABELS.items():
        if wanted in (field.value, label.casefold(), gettext(label).casefold()):
            return field.value
    return text.strip()
