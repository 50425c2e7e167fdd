"""The From header we send: the caller ID as a URI user part and the display
name as a quoted string, whatever text a campaign or setting holds."""

from __future__ import annotations

from dialer.sip.message import from_header, quoted_display_name, split_header_values, uri_of


def test_display_name_is_quoted_with_escapes() -> None:
    assert quoted_display_name('Sales "East" \\ Team') == '"Sales \\"East\\" \\\\ Team"'


def test_control_characters_cannot_start_a_new_header() -> None:
    assert quoted_display_name("Ali\r\nVia: evil\x00\x1b[31m\x85") == '"AliVia: evil[31m"'
    assert quoted_display_name("\r\n\t ") == ""


def test_persian_names_are_kept() -> None:
    assert quoted_display_name("فروش شرق") == '"فروش شرق"'


def test_from_header_with_and_without_a_name() -> None:
    assert from_header("+982100000000", "trunk.example", "t1") == (
        "<sip:+982100000000@trunk.example>;tag=t1"
    )
    value = from_header("+982100000000", "trunk.example", "t1", 'A "B", C')
    assert value == '"A \\"B\\", C" <sip:+982100000000@trunk.example>;tag=t1'
    assert split_header_values(value) == [value]  # the comma is inside the quotes
    assert uri_of(value) == "sip:+982100000000@trunk.example"


def test_a_caller_id_that_is_not_a_user_part_is_percent_encoded() -> None:
    assert from_header("021 <x>@y", "h", "t") == "<sip:021%20%3Cx%3E%40y@h>;tag=t"
