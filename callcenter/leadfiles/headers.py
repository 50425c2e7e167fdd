"""Which column holds which lead field, from Persian or English headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from callcenter.errors import N_
from callcenter.leadfiles.errors import LeadFileError
from callcenter.leadfiles.text import excerpt, header_key, normalize_text


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
    EXTRA = "extra"  # chosen by the manager: keep the column as the lead's own field


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
        # landlines, and a second number: the first valid one is dialled, the
        # others are kept with the lead as other_phones
        "landline",
        "homephone",
        "workphone",
        "officephone",
        "businessphone",
        "phone1",
        "mobile1",
        "tel1",
        "تلفن1",
        "شماره1",
        "موبایل1",
        "شمارهاول",
        "تلفناول",
        "موبایلاول",
        "phone2",
        "mobile2",
        "tel2",
        "secondphone",
        "otherphone",
        "alternatephone",
        "تلفنثابت",
        "ثابت",
        "تلفنمنزل",
        "تلفنمحلکار",
        "تلفنکار",
        "تلفندفتر",
        "تلفنشرکت",
        "تلفن2",
        "موبایل2",
        "شماره2",
        "تلفندوم",
        "شمارهدوم",
        "موبایلدوم",
        "شمارهتلفنثابت",
        "شمارهثابت",
        "شمارهمنزل",
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
    columns = find_columns(header, mapping)
    if columns is None:
        names = clean_names(header)
        raise LeadFileError(
            N_(
                "no phone column: expected a header such as phone, mobile, tel, landline, "
                "شماره, تلفن, تلفن ثابت, موبایل or همراه, or a column chosen as the phone; "
                "the columns are %(columns)s"
            ),
            details={"columns": list(names)},
            columns=_shown_names(names),
        )
    return columns


def find_columns(
    header: Sequence[object], mapping: Mapping[str, str] | None = None
) -> HeaderMap | None:
    """map_headers, or None when no column holds phones (this row may not
    be the header: a title row above it, say)."""
    names = clean_names(header)
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
        elif field is not None and field is not Field.EXTRA and field not in fields:
            fields[field] = index
        else:
            extra.append(index)
    extra.sort()
    if not phones:
        return None
    return HeaderMap(tuple(names), fields, tuple(phones), tuple(extra))


def guess_field(name: str) -> Field | None:
    """The field a column of this name holds, by the built-in names."""
    return _BY_KEY.get(header_key(name))


def _shown_names(names: Sequence[str]) -> str:
    """At most 20 column names, each cut, for a message a person reads."""
    shown = ", ".join(excerpt(name, 40) for name in names[:20])
    return shown + (" …" if len(names) > 20 else "") if names else "-"


def clean_names(header: Sequence[object]) -> list[str]:
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
            raise LeadFileError(
                N_("column %(column)s: unknown field %(field)s; use one of %(allowed)s"),
                details={"column": column, "field": field_name},
                column=excerpt(column, 40),
                field=excerpt(field_name, 40),
                allowed=", ".join(f.value for f in Field),
            ) from None
        index = by_key.get(header_key(column))
        if index is None:
            raise LeadFileError(
                N_("the column mapping names %(column)s, which is not a column of this file"),
                details={"column": column, "columns": list(names)},
                column=excerpt(column, 40),
            )
        explicit[index] = field
    return explicit
