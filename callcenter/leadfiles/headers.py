"""Which column holds which lead field, from Persian or English headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from callcenter.leadfiles.errors import LeadFileError
from callcenter.leadfiles.text import header_key, normalize_text


class Field(StrEnum):
    PHONE = "phone"
    TITLE = "title"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    FULL_NAME = "full_name"
    COMPANY = "company"
    EMAIL = "email"
    CITY = "city"
    ADDRESS = "address"
    PRIORITY = "priority"
    TIMEZONE = "timezone"
    NOTES = "notes"


_SYNONYMS: dict[Field, tuple[str, ...]] = {
    Field.PHONE: (
        "phone",
        "phonenumber",
        "phoneno",
        "mobile",
        "mobilenumber",
        "mobilephone",
        "cell",
        "cellphone",
        "cellnumber",
        "tel",
        "telephone",
        "number",
        "msisdn",
        "contactnumber",
        "شماره",
        "شمارهتلفن",
        "شمارهتماس",
        "تلفن",
        "تلفنهمراه",
        "موبایل",
        "شمارهموبایل",
        "همراه",
        "شمارههمراه",
        "تماس",
        "تلفنتماس",
    ),
    Field.TITLE: ("title", "salutation", "honorific", "prefix", "عنوان", "لقب", "پیشوند"),
    Field.FIRST_NAME: ("firstname", "first", "givenname", "forename", "نام", "اسم", "نامکوچک"),
    Field.LAST_NAME: (
        "lastname",
        "last",
        "surname",
        "familyname",
        "family",
        "نامخانوادگی",
        "فامیلی",
        "فامیل",
        "نامفامیل",
    ),
    Field.FULL_NAME: (
        "fullname",
        "name",
        "contactname",
        "customername",
        "customer",
        "contact",
        "نامونامخانوادگی",
        "نامکامل",
        "نامونامفامیلی",
        "مشتری",
        "ناممشتری",
    ),
    Field.COMPANY: (
        "company",
        "companyname",
        "organization",
        "organisation",
        "org",
        "business",
        "employer",
        "شرکت",
        "نامشرکت",
        "سازمان",
        "موسسه",
    ),
    Field.EMAIL: ("email", "emailaddress", "mail", "ایمیل", "پستالکترونیک", "رایانامه", "پست"),
    Field.CITY: ("city", "town", "شهر"),
    Field.ADDRESS: ("address", "addr", "streetaddress", "آدرس", "نشانی"),
    Field.PRIORITY: ("priority", "prio", "اولویت", "الویت"),
    Field.TIMEZONE: ("timezone", "tz", "zone", "منطقهزمانی", "زمانمحلی"),
    Field.NOTES: (
        "notes",
        "note",
        "comment",
        "comments",
        "remarks",
        "description",
        "توضیحات",
        "توضیح",
        "یادداشت",
        "ملاحظات",
    ),
}

_BY_KEY: dict[str, Field] = {
    header_key(name): field for field, names in _SYNONYMS.items() for name in names
}


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """Column positions per field. Several phone columns are alternatives in
    file order (the first valid one is dialled); any other repeated field
    keeps its first column and the rest become extra fields."""

    header: tuple[str, ...]  # cleaned header names, as shown to the manager
    fields: Mapping[Field, int]
    phones: tuple[int, ...]
    extra: tuple[int, ...]  # columns kept as the lead's own fields, by header name


def map_headers(header: Sequence[object], mapping: Mapping[str, str] | None = None) -> HeaderMap:
    """Match a header row to lead fields.

    `mapping` names columns explicitly ({"Cell #": "phone"}) and wins over the
    built-in names; its keys match like headers do (case, spaces, ZWNJ
    ignored); a value that is not a Field, or a key that is not a column, is
    an error since the manager chose it on purpose. Raises LeadFileError when
    no column holds phones."""
    names = _clean_names(header)
    explicit = _explicit_mapping(mapping or {}, names)
    fields: dict[Field, int] = {}
    phones: list[int] = []
    extra: list[int] = []
    guessed = {index: _BY_KEY.get(header_key(name)) for index, name in enumerate(names)}
    # Explicit choices are placed first so a guessed column cannot take their field.
    for index in [*explicit, *(i for i in guessed if i not in explicit)]:
        field = explicit.get(index) or guessed[index]
        if field is Field.PHONE:
            phones.append(index)
        elif field is not None and field not in fields:
            fields[field] = index
        else:
            extra.append(index)
    extra.sort()
    if not phones:
        shown = ", ".join(repr(name) for name in names) or "(none)"
        raise LeadFileError(
            f"no phone column: expected a header such as phone, mobile, tel, شماره, تلفن, "
            f"موبایل or همراه, or an explicit column mapping; the columns are {shown}",
            details={"columns": list(names)},
        )
    return HeaderMap(tuple(names), fields, tuple(phones), tuple(extra))


def _clean_names(header: Sequence[object]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(header, start=1):
        name = normalize_text("" if cell is None else str(cell)) or f"column_{position}"
        while name in seen:  # two "notes" columns must both survive as extra fields
            name = f"{name}_{position}"
        seen.add(name)
        names.append(name)
    return names


def _explicit_mapping(mapping: Mapping[str, str], names: Sequence[str]) -> dict[int, Field]:
    by_key = {header_key(name): index for index, name in enumerate(names)}
    explicit: dict[int, Field] = {}
    for column, field_name in mapping.items():
        try:
            field = Field(field_name)
        except ValueError:
            allowed = ", ".join(f.value for f in Field)
            raise LeadFileError(
                f"column mapping {column!r} -> {field_name!r}: unknown field; use one of {allowed}",
                details={"column": column, "field": field_name},
            ) from None
        index = by_key.get(header_key(column))
        if index is None:
            raise LeadFileError(
                f"column mapping names {column!r}, which is not a column of this file",
                details={"column": column, "columns": list(names)},
            )
        explicit[index] = field
    return explicit
