"""What the customer receives (email, letter, invite) never shows a `[name]`
gap: a sentence about a missing fact is left out, a missing title is blank."""

from __future__ import annotations

from scripts.placeholders import render, render_for_customer

BODY = """Dear {title} {last_name},

We meet on {appointment_day} at {appointment_time}, {place}.

If anything changes, please call me directly on {contact_number}.

Kind regards,
{agent_name}"""

FULL = {
    "title": "Ms",
    "last_name": "Ahmadi",
    "appointment_day": "Monday",
    "appointment_time": "10:00",
    "place": "at your office",
    "contact_number": "021 8888 1234",
    "agent_name": "Niloofar Karimi",
}


def test_with_every_value_the_message_is_the_template_filled() -> None:
    assert render_for_customer(BODY, FULL) == render(BODY, FULL)


def test_a_missing_contact_number_leaves_its_sentence_out_and_no_gap() -> None:
    text = render_for_customer(BODY, {**FULL, "contact_number": ""})
    assert "[" not in text and "call me directly" not in text
    assert "\n\n\n" not in text
    assert text.endswith("Kind regards,\nNiloofar Karimi")


def test_a_missing_title_is_blank_and_the_salutation_stays() -> None:
    text = render_for_customer(BODY, {**FULL, "title": None})
    assert text.startswith("Dear Ahmadi,\n")


def test_the_agent_still_sees_the_gap_on_the_screen() -> None:
    assert "[contact_number]" in render(BODY, {**FULL, "contact_number": ""})
