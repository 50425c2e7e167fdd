"""Phone numbers from lead files to E.164, with a reason when that fails.

`phonenumbers` does the real work (default region IR: 0912..., 912..., 98912...,
0098912..., +98 912... all parse). This module adds what spreadsheets do to
numbers: Persian digits, a float such as 9121234567.0, a CSV cell in Excel
scientific notation, and reasons a person can act on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from callcenter.leadfiles.text import normalize_text

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
    """A value that is not a diallable number; `reason` is shown to the manager."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ALLOWED = re.compile(r"^\+?[\d\s().\-/]+$")
_FLOAT_ZERO = re.compile(r"^(\+?\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\d(?:\.(\d+))?[eE]\+?(\d+)$")

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def normalize_phone(value: str | int | float | Decimal, region: str = DEFAULT_REGION) -> Phone:
    """Parse one cell into a valid number or raise InvalidPhone with the reason."""
    text = _as_text(value)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "not a phone number")
        raise InvalidPhone(f"{reason}: {text!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_invalid_reason(number, text))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = _TYPES.get(phonenumbers.number_type(number), PhoneType.UNKNOWN)
    region_code = phonenumbers.region_code_for_number(number)
    return Phone(e164=e164, type=kind, region=region_code, country_code=number.country_code or 0)


def _as_text(value: str | int | float | Decimal) -> str:
    if isinstance(value, bool):
        raise InvalidPhone(f"not a phone number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite or value != int(value):  # NaN, infinity (seen by fuzzing), a fraction
            raise InvalidPhone(f"not a phone number: {value!r}")
        return str(int(value))
    if not isinstance(value, str):
        raise InvalidPhone(f"not a phone number: {type(value).__name__} {value!r}")
    text = normalize_text(value)
    if not text:
        raise InvalidPhone("phone is empty")
    if text.startswith("'"):  # Excel's "keep as text" marker survives some exports
        text = text[1:]
    if match := _FLOAT_ZERO.match(text):
        return match.group(1)
    if match := _SCIENTIFIC.match(text):
        return _from_scientific(text, match)
    if not _ALLOWED.match(text):
        raise InvalidPhone(f"contains characters that are not part of a phone number: {text!r}")
    return text


def _from_scientific(text: str, match: re.Match[str]) -> str:
    """9.121234567E+09 is exact; 9.89121E+11 lost its last digits in Excel and
    must not be padded with zeros into someone else's number."""
    mantissa_digits = 1 + len(match.group(1) or "")
    try:
        whole = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidPhone(f"not a phone number: {text!r}") from exc
    digits = str(int(whole))
    if whole != int(whole) or len(digits) > mantissa_digits:
        raise InvalidPhone(
            f"number in scientific notation lost digits ({text}); "
            "format the phone column as text in the spreadsheet"
        )
    return digits


def _invalid_reason(number: phonenumbers.PhoneNumber, text: str) -> str:
    regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
    region = regions[0] if regions else f"+{number.country_code}"
    possible = phonenumbers.is_possible_number_with_reason(number)
    digit_count = sum(ch.isdigit() for ch in text)
    if possible == ValidationResult.TOO_SHORT or digit_count < 7:
        return f"too short for {region}: {text!r}"
    if possible == ValidationResult.TOO_LONG:
        return f"too long for {region}: {text!r}"
    national = _iranian_national_digits(text) if region == "IR" else ""
    if national.startswith("9") and len(national) != 10:
        size = "too short" if len(national) < 10 else "too long"
        return f"{size} for an Iranian mobile (11 digits, like 0912 123 4567): {text!r}"
    if possible == ValidationResult.INVALID_LENGTH:
        return f"wrong length for {region}: {text!r}"
    return f"not a valid number for {region}: {text!r}"


def _iranian_national_digits(text: str) -> str:
    """The digits after the country code or trunk zero: 0912... -> 912..."""
    digits = re.sub(r"\D", "", text)
    for prefix in ("0098", "98", "0"):
        if digits.startswith(prefix) and (
            prefix != "98" or text.lstrip().startswith("+") or len(digits) > 11
        ):
            return digits[len(prefix) :]
    return digits
