"""Phone numbers from lead files to E.164, with a reason when that fails.

`phonenumbers` does the real work (default region IR: 0912..., 912..., 98912...,
0098912..., +98 912... all parse). This module adds what spreadsheets do to
numbers: Persian digits, a float such as 9121234567.0, a CSV cell in Excel
scientific notation, and reasons a person can act on.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from callcenter.errors import N_
from callcenter.leadfiles.text import excerpt, normalize_text

DEFAULT_REGION = "IR"


class PhoneType(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    VOIP = "voip"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


_TYPES = {
    PhoneNumberType.MOBILE: PhoneType.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP: PhoneType.VOIP,
    PhoneNumberType.TOLL_FREE: PhoneType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: PhoneType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: PhoneType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER: PhoneType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER: PhoneType.PAGER,
    PhoneNumberType.UAN: PhoneType.UAN,
    PhoneNumberType.VOICEMAIL: PhoneType.VOICEMAIL,
}


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    type: PhoneType
    region: str | None  # ISO country of the number, e.g. "IR"
    country_code: int  # 98


class InvalidPhone(ValueError):
    """A value that is not a diallable number. `text` is the reason marked for
    translation, `params` its values (the cell quoted and cut by `excerpt`);
    `reason` the English sentence (logs, CLI)."""

    def __init__(self, text: str, **params: str | int) -> None:
        self.text = text
        self.params = params
        self.reason = text % params if params else text
        super().__init__(self.reason)


_ALLOWED = re.compile(r"^\+?[\d\s().\-/]+$")
_FLOAT_ZERO = re.compile(r"^(\+?\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\d(?:\.(\d+))?[eE]\+?(\d+)$")

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: N_("unknown country code: %(cell)s"),
    NumberParseException.NOT_A_NUMBER: N_("not a phone number: %(cell)s"),
    NumberParseException.TOO_SHORT_AFTER_IDD: N_(
        "too short after the international prefix: %(cell)s"
    ),
    NumberParseException.TOO_SHORT_NSN: N_("too short: %(cell)s"),
    NumberParseException.TOO_LONG: N_("too long: %(cell)s"),
}


# The shapes nearly every Iranian lead file writes its mobiles in (0912...,
# 912..., +98 912..., 0098 912..., with spaces, dashes, dots, slashes or
# brackets): phonenumbers.parse reads each as +98 and the ten digits.
_IR_SEPARATORS = re.compile(r"[ ().\-/]")
_IR_NATIONAL_MOBILE = re.compile(r"(?:\+98|0098|0)?(9[0-9]{9})")


def normalize_phone(value: str | int | float | Decimal, region: str = DEFAULT_REGION) -> Phone:
    """Parse one cell into a valid number or raise InvalidPhone with the reason."""
    text = _as_text(value)
    if region == "IR" and (phone := _iranian_mobile(text)) is not None:
        return phone
    return _parse(text, region)


def _iranian_mobile(text: str) -> Phone | None:
    """The Phone phonenumbers gives for an Iranian number written in one of
    the usual shapes, without its parser (two thirds of the time of reading
    a lead file): one validation against the same metadata. None for any
    other shape, or a number that is not valid (the parser then says why)."""
    match = _IR_NATIONAL_MOBILE.fullmatch(_IR_SEPARATORS.sub("", text))
    if match is None:
        return None
    national = match.group(1)
    kind = iranian_number_type(national)
    if kind == PhoneNumberType.UNKNOWN:  # not valid: the parser's reason is wanted
        return None
    return Phone(
        e164="+98" + national,
        type=_TYPES.get(kind, PhoneType.UNKNOWN),
        region="IR",
        country_code=98,
    )


_Desc = tuple[frozenset[int], re.Pattern[str]] | None
_TYPES_IN_ORDER = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


def iranian_number_type(national: str) -> int:
    """`phonenumbers.number_type` of +98 and these national digits: the same
    metadata checked in the same order, its patterns compiled once (the
    library's own path was a sixth of the time of reading a lead file)."""
    general, types, fixed_line, mobile, same_patterns = _iranian_metadata()
    if not _matches(national, general):
        return PhoneNumberType.UNKNOWN
    for desc, kind in types:
        if _matches(national, desc):
            return kind
    if _matches(national, fixed_line):
        if same_patterns or _matches(national, mobile):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not same_patterns and _matches(national, mobile):
        return PhoneNumberType.MOBILE
    return PhoneNumberType.UNKNOWN


def _matches(national: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


@functools.cache
def _iranian_metadata() -> tuple[_Desc, list[tuple[_Desc, int]], _Desc, _Desc, bool]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("IR")
    assert metadata is not None

    def desc(name: str) -> _Desc:
        found = getattr(metadata, name)
        if found is None or not found.national_number_pattern:
            return None
        return frozenset(found.possible_length), re.compile(found.national_number_pattern)

    return (
        desc("general_desc"),
        [(desc(name), kind) for name, kind in _TYPES_IN_ORDER if desc(name) is not None],
        desc("fixed_line"),
        desc("mobile"),
        bool(metadata.same_mobile_and_fixed_line_pattern),
    )


def _parse(text: str, region: str) -> Phone:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, N_("not a phone number: %(cell)s"))
        raise InvalidPhone(reason, cell=excerpt(text)) from None
    if not phonenumbers.is_valid_number(number):
        raise _invalid(number, text)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = _TYPES.get(phonenumbers.number_type(number), PhoneType.UNKNOWN)
    region_code = phonenumbers.region_code_for_number(number)
    return Phone(e164=e164, type=kind, region=region_code, country_code=number.country_code or 0)


def _as_text(value: str | int | float | Decimal) -> str:
    if isinstance(value, bool):
        raise InvalidPhone(N_("not a phone number: %(cell)s"), cell=excerpt(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite or value != int(value):  # NaN, infinity (seen by fuzzing), a fraction
            raise InvalidPhone(N_("not a phone number: %(cell)s"), cell=excerpt(value))
        return str(int(value))
    if not isinstance(value, str):
        raise InvalidPhone(N_("not a phone number: %(cell)s"), cell=excerpt(value))
    text = normalize_text(value)
    if not text:
        raise InvalidPhone(N_("the phone is empty"))
    if text.startswith("'"):  # Excel's "keep as text" marker survives some exports
        text = text[1:]
    if match := _FLOAT_ZERO.match(text):
        return match.group(1)
    if match := _SCIENTIFIC.match(text):
        return _from_scientific(text, match)
    if not _ALLOWED.match(text):
        raise InvalidPhone(
            N_("contains characters that are not part of a phone number: %(cell)s"),
            cell=excerpt(text),
        )
    return text


def _from_scientific(text: str, match: re.Match[str]) -> str:
    """9.121234567E+09 is exact; 9.89121E+11 lost its last digits in Excel and
    must not be padded with zeros into someone else's number."""
    mantissa_digits = 1 + len(match.group(1) or "")
    try:
        whole = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidPhone(N_("not a phone number: %(cell)s"), cell=excerpt(text)) from exc
    digits = str(int(whole))
    if whole != int(whole) or len(digits) > mantissa_digits:
        raise InvalidPhone(
            N_(
                "the number in scientific notation lost digits (%(cell)s); "
                "format the phone column as text in the spreadsheet"
            ),
            cell=excerpt(text),
        )
    return digits


def _invalid(number: phonenumbers.PhoneNumber, text: str) -> InvalidPhone:
    regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
    region = regions[0] if regions else f"+{number.country_code}"
    possible = phonenumbers.is_possible_number_with_reason(number)
    digit_count = sum(ch.isdigit() for ch in text)
    cell = excerpt(text)
    if possible == ValidationResult.TOO_SHORT or digit_count < 7:
        return InvalidPhone(N_("too short for %(region)s: %(cell)s"), region=region, cell=cell)
    if possible == ValidationResult.TOO_LONG:
        return InvalidPhone(N_("too long for %(region)s: %(cell)s"), region=region, cell=cell)
    national = _iranian_national_digits(text) if region == "IR" else ""
    if national.startswith("9") and len(national) != 10:
        size = (
            N_("too short for an Iranian mobile (11 digits, like 0912 123 4567): %(cell)s")
            if len(national) < 10
            else N_("too long for an Iranian mobile (11 digits, like 0912 123 4567): %(cell)s")
        )
        return InvalidPhone(size, cell=cell)
    if possible == ValidationResult.INVALID_LENGTH:
        return InvalidPhone(N_("wrong length for %(region)s: %(cell)s"), region=region, cell=cell)
    return InvalidPhone(N_("not a valid number for %(region)s: %(cell)s"), region=region, cell=cell)


def _iranian_national_digits(text: str) -> str:
    """The digits after the country code or trunk zero: 0912... -> 912..."""
    digits = re.sub(r"\D", "", text)
    for prefix in ("0098", "98", "0"):
        if digits.startswith(prefix) and (
            prefix != "98" or text.lstrip().startswith("+") or len(digits) > 11
        ):
            return digits[len(prefix) :]
    return digits
