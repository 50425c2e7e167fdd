import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.leadfiles import InvalidPhone, PhoneType, normalize_phone, normalize_text
from callcenter.leadfiles.phones import iranian_number_type

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "value",
    [
        "09121234567",
        "+98 912 123 4567",
        "0098 912 123 4567",
        "00989121234567",
        "9121234567",
        "989121234567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "0912-123-4567",
        "(0912) 123 4567",
        "\u200f+98\u200e912 123 4567",
        "9121234567.0",
        "9.121234567E+09",
        "'09121234567",
        9121234567,
        9121234567.0,
        989121234567.0,
    ],
)
def test_iranian_mobile_forms(value):
    phone = normalize_phone(value)
    assert (phone.e164, phone.type, phone.region) == ("+989121234567", PhoneType.MOBILE, "IR")


def test_landline_with_area_code():
    phone = normalize_phone("021 8888 1234")
    assert (phone.e164, phone.type) == ("+982188881234", PhoneType.FIXED_LINE)


def test_foreign_number_keeps_its_country():
    assert normalize_phone("+44 20 7946 0958").region == "GB"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("12345", "too short"),
        ("0912123456", "too short for an Iranian mobile"),
        ("0912123456789", "too long"),
        ("0912abc4567", "characters that are not part of a phone number"),
        ("9.89121E+11", "lost digits"),
        ("+999 1234 5678", "unknown country code"),
        ("0000000000", "not a valid number for IR"),
        (9121234.5, "not a phone number"),
    ],
)
def test_invalid_numbers_say_why(value, reason):
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(value)
    assert reason in caught.value.reason


OPERATOR_PREFIXES = [
    "910",
    "911",
    "912",
    "913",
    "919",
    "901",
    "902",
    "930",
    "933",
    "935",
    "936",
    "937",
    "938",
    "939",
    "990",
    "920",
    "921",
    "922",
]


@st.composite
def iranian_mobiles(draw):
    prefix = draw(st.sampled_from(OPERATOR_PREFIXES))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    return prefix + rest


FORMATS = [
    lambda n: "0" + n,
    lambda n: "+98" + n,
    lambda n: "0098" + n,
    lambda n: "98" + n,
    lambda n: n,
    lambda n: f"+98 {n[:3]} {n[3:6]} {n[6:]}",
    lambda n: f"0{n[:3]}-{n[3:6]}-{n[6:]}",
    lambda n: ("0" + n).translate(PERSIAN),
    lambda n: ("0" + n).translate(ARABIC),
    lambda n: float(n),
    lambda n: int("98" + n),
    lambda n: n + ".0",
]


@given(iranian_mobiles(), st.sampled_from(FORMATS))
def test_any_format_of_a_valid_mobile_gives_the_same_e164(national, fmt):
    phone = normalize_phone(fmt(national))
    assert phone.e164 == "+98" + national
    assert phone.type is PhoneType.MOBILE


@given(st.text(max_size=30))
def test_normalizer_raises_only_invalid_phone(text):
    try:
        phone = normalize_phone(text)
    except InvalidPhone as exc:
        assert exc.reason
    else:
        assert phone.e164.startswith("+") and phone.e164[1:].isdigit()


@given(st.text(max_size=40))
def test_normalize_text_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


def _both_ways(text: str) -> tuple[object, object]:
    """normalize_phone (with its fast path for Iranian mobiles) and the
    phonenumbers parser alone, as a result or the reason given."""
    from callcenter.leadfiles import phones

    def outcome(read: object) -> object:
        try:
            return read()  # type: ignore[operator]
        except InvalidPhone as exc:
            return ("invalid", exc.reason)

    return (
        outcome(lambda: normalize_phone(text)),
        outcome(lambda: phones._parse(phones._as_text(text), "IR")),
    )


_PREFIXES = ["", "0", "+98", "0098", "98", "+980", "00", "+", "+1", "098"]
_SEPARATORS = ["", " ", "-", ".", "/", "(", ")", "  "]


@settings(max_examples=500)
@given(
    prefix=st.sampled_from(_PREFIXES),
    digits=st.text(alphabet="0123456789", min_size=8, max_size=12),
    lead=st.sampled_from(["9", "91", "99", "90", "93", "2", ""]),
    separators=st.lists(st.sampled_from(_SEPARATORS), min_size=3, max_size=3),
)
def test_the_fast_path_for_iranian_mobiles_reads_as_phonenumbers_does(
    prefix: str, digits: str, lead: str, separators: list[str]
) -> None:
    number = lead + digits
    text = prefix + separators[0] + number[:3] + separators[1] + number[3:6] + separators[2]
    text += number[6:]
    fast, parsed = _both_ways(text)
    assert fast == parsed


@pytest.mark.parametrize(
    "text",
    [
        "09121234567",
        "9121234567",
        "+98 912 123 4567",
        "0098-912-123-4567",
        "(0912) 123.4567",
        "0912/123/4567",
        "09901234567",
        "09991234567",
        "09501234567",  # not a mobile range: the parser's reason
        "0912123456",
        "091212345678",
        "+98 0912 123 4567",
        "989121234567",
    ],
)
def test_the_fast_path_gives_the_parsers_answer(text: str) -> None:
    fast, parsed = _both_ways(text)
    assert fast == parsed


def test_the_iranian_number_type_is_the_one_phonenumbers_gives() -> None:
    """Every 5-digit prefix of a national number starting with 9 (mobiles,
    UAN, fixed lines in 94..., invalid ones), with a random rest."""
    rng = random.Random(19)
    for prefix in range(90000, 100000):
        national = f"{prefix}{rng.randrange(100000):05d}"
        expected = phonenumbers.number_type(
            phonenumbers.PhoneNumber(country_code=98, national_number=int(national))
        )
        assert iranian_number_type(national) == expected, national
