from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from scripts import (
    BUILTIN_DIR,
    PLACEHOLDERS,
    ScriptError,
    Segment,
    call_context,
    day_period,
    greeting,
    load_builtin_scripts,
    load_script_file,
    parse_definition,
    parse_script,
    render,
    render_message,
    render_prompt,
    render_tips,
    segments,
)

TEHRAN = ZoneInfo("Asia/Tehran")
EN_FILE = BUILTIN_DIR / "telemarketing-appointment.en.yaml"
EN_TEXT = EN_FILE.read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1


def problem_lines(error: ScriptError) -> list[int | None]:
    return [problem.line for problem in error.problems]


def broken(old: str, new: str, count: int = 1) -> str:
    assert old in EN_TEXT
    return EN_TEXT.replace(old, new, count)


def test_both_builtins_load():
    scripts = load_builtin_scripts()
    assert [(s.key, s.locale, s.version) for s in scripts] == [
        ("telemarketing-appointment", "en", 1),
        ("telemarketing-appointment", "fa", 1),
    ]
    for script in scripts:
        assert [step.number for step in script.steps] == list(range(1, 10))
        assert [step.number for step in script.booking_steps] == [5, 6, 7]
        assert [step.number for step in script.steps if step.follow_up] == [9]
        assert script.steps[0].key == "greeting"
        for step in script.steps:
            assert step.tips, f"step {step.number} has tips"
            assert step.rejections[-1].code == "other"
            assert step.reason("other").free_text
            assert len(step.rejections) >= 2
        assert {"email_subject", "email_body", "letter_body"} == {
            name for name, _ in script.step(9).messages
        }


def test_builtins_use_the_same_step_keys_and_reason_codes():
    en, fa = load_builtin_scripts()
    for en_step, fa_step in zip(en.steps, fa.steps, strict=True):
        assert en_step.key == fa_step.key
        assert [r.code for r in en_step.rejections] == [r.code for r in fa_step.rejections]


def test_step_6_offers_two_slots_and_never_an_open_question():
    for script in load_builtin_scripts():
        prompt = script.step(6).prompt
        assert "{slot_1}" in prompt and "{slot_2}" in prompt


CONTEXTS = {
    "en": {"title": "Ms", "first_name": "Sara", "last_name": "Karimi", "agent_name": "Ali"},
    "fa": {"title": "خانم", "first_name": "سارا", "last_name": "کریمی", "agent_name": "علی"},
}


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_rendering_fills_placeholders(locale):
    script = next(s for s in load_builtin_scripts() if s.locale == locale)
    values = dict(
        CONTEXTS[locale],
        company="Acme",
        product="CRM",
        benefit="BENEFIT",
        email="sara@example.com",
        slot_1="SLOT-ONE",
        slot_2="SLOT-TWO",
        appointment_day="DAY",
        appointment_date="DATE",
        appointment_time="TIME",
        place="PLACE",
        contact_number="PHONE",
    )
    context = call_context(script, values, now=datetime(2026, 11, 23, 9, 0, tzinfo=TEHRAN))
    rendered = [render_prompt(step, context) for step in script.steps]
    rendered += [
        render_message(script.step(9), name, context) for name, _ in script.step(9).messages
    ]
    text = "\n".join(rendered)
    assert "{" not in text and "[" not in text
    for value in ("SLOT-ONE", "SLOT-TWO", "DAY", "DATE", "TIME", "PLACE", "PHONE", "Acme"):
        assert value in text
    greeting_line = rendered[0]
    morning = "Good morning" if locale == "en" else "صبح بخیر"
    assert f"{morning}" in greeting_line
    assert f"{CONTEXTS[locale]['title']} {CONTEXTS[locale]['last_name']}" in greeting_line


def test_missing_values_show_a_marker():
    script = load_builtin_scripts()[0]
    rendered = render_prompt(script.step(1), {"greeting": "Good morning", "title": "Mr"})
    assert rendered == "Good morning, Mr [last_name]. I hope you are keeping well."
    assert (
        render("{title} {last_name}", {"title": None, "last_name": "  "}) == "[title] [last_name]"
    )
    assert render_tips(script.step(1), {})[2].endswith("[title] [last_name].")


def test_rendering_escapes_nothing_and_keeps_literal_braces():
    assert render("{{x}} {last_name}", {"last_name": "<b>&"}) == "{x} <b>&"
    assert render("broken {", {}) == "broken {"


def test_greeting_by_time_of_day_in_the_customers_zone():
    assert greeting("en", datetime(2026, 11, 23, 8, 0, tzinfo=TEHRAN)) == "Good morning"
    assert greeting("en", datetime(2026, 11, 23, 13, 0, tzinfo=TEHRAN)) == "Good afternoon"
    assert greeting("en", datetime(2026, 11, 23, 20, 0, tzinfo=TEHRAN)) == "Good evening"
    assert greeting("en", datetime(2026, 11, 23, 2, 0, tzinfo=TEHRAN)) == "Good evening"
    assert greeting("fa", datetime(2026, 11, 23, 8, 0, tzinfo=TEHRAN)) == "صبح بخیر"
    assert greeting("fa", datetime(2026, 11, 23, 13, 0, tzinfo=TEHRAN)) == "ظهر بخیر"
    assert greeting("fa", datetime(2026, 11, 23, 16, 0, tzinfo=TEHRAN)) == "عصر بخیر"
    assert greeting("fa", datetime(2026, 11, 23, 21, 0, tzinfo=TEHRAN)) == "وقت بخیر"
    # 04:00 UTC is 07:30 in Tehran but still night in Los Angeles.
    moment = datetime(2026, 11, 23, 4, 0, tzinfo=ZoneInfo("UTC"))
    assert day_period(moment) == "morning"
    assert day_period(moment, ZoneInfo("America/Los_Angeles")) == "evening"


def test_call_context_keeps_a_given_greeting():
    script = load_builtin_scripts()[0]
    now = datetime(2026, 11, 23, 8, 0, tzinfo=TEHRAN)
    assert call_context(script, {"greeting": "Hi"}, now=now)["greeting"] == "Hi"
    assert call_context(script, {}, now=now)["greeting"] == "Good morning"


def test_definition_round_trip():
    for script in load_builtin_scripts():
        again = parse_definition(script.to_definition(), "stored")
        assert again.steps == script.steps
        assert (again.key, again.version, again.locale, again.title) == (
            script.key,
            script.version,
            script.locale,
            script.title,
        )


def test_load_script_file_names_the_path():
    assert load_script_file(EN_FILE).source_name == str(EN_FILE)


# --- malformed scripts: every error names the file and the line -----------------


def assert_error(text: str, line: int, message: str) -> ScriptError:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "upload.yaml")
    error = caught.value
    assert error.source_name == "upload.yaml"
    assert line in problem_lines(error), str(error)
    assert f"upload.yaml:{line}: " in str(error)
    assert message in str(error)
    return error


def test_step_missing_its_prompt():
    text = broken('    prompt: "Which would suit you better: {slot_1}, or {slot_2}?"\n', "")
    assert_error(text, line_of(text, "  - number: 6"), "step 6 has no prompt")


def test_unknown_placeholder_points_at_its_line_inside_a_folded_prompt():
    text = broken("valuable, so I will keep", "valuable, so {nickname} will keep")
    assert_error(text, line_of(text, "{nickname}"), "unknown placeholder {nickname}")


def test_placeholder_with_format_spec_is_refused():
    text = broken("{greeting}, {title}", "{greeting:>10}, {title}")
    assert_error(text, line_of(text, "{greeting:>10}"), "cannot carry a format")


def test_broken_braces():
    text = broken("Which would suit you better: {slot_1}", "Which would suit you better: slot_1}")
    assert_error(text, line_of(text, "slot_1}"), "broken braces")


def test_duplicate_step_number():
    text = broken("  - number: 4\n", "  - number: 3\n")
    error = assert_error(text, line_of(text, "  - number: 3", 2), "step number 3 appears twice")
    assert "steps 4 missing" in str(error)


def test_not_exactly_steps_one_to_nine():
    text = broken("  - number: 9\n", "  - number: 10\n")
    error = assert_error(text, line_of(text, "  - number: 10"), "outside 1..9")
    assert f"upload.yaml:{line_of(text, 'steps:')}: steps 9 missing" in str(error)


def test_reason_without_code():
    text = broken("      - code: hung_up\n        label:", "      - label:")
    assert_error(text, line_of(text, "      - label: Hung up"), "has no code")


def test_duplicate_reason_code():
    text = broken("code: hung_up", "code: not_available")
    assert_error(text, line_of(text, "code: not_available", 2), "appears twice")


def test_yaml_syntax_error():
    text = broken('title: "Telemarketing: book a meeting"', 'title: "Telemarketing: unclosed')
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "upload.yaml")
    assert "YAML syntax error" in str(caught.value)
    assert caught.value.line is not None and caught.value.line >= line_of(text, "unclosed")


def test_yaml_indentation_error_line():
    text = broken("    title: Greeting\n", "    title: Greeting\n   bad: indent\n")
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "upload.yaml")
    assert caught.value.line == line_of(text, "   bad: indent")
    assert str(caught.value).startswith(f"upload.yaml:{caught.value.line}: YAML syntax error")


def test_unknown_and_duplicate_keys():
    text = broken("    key: thanks\n", "    key: thanks\n    promt: typo\n")
    assert_error(text, line_of(text, "promt"), "unknown key 'promt'")
    text = broken("version: 1\n", "version: 1\nversion: 2\n")
    assert_error(text, line_of(text, "version: 2"), "appears twice")


def test_header_values_are_checked():
    for old, new, message in [
        ("version: 1", "version: one", "whole number"),
        ("locale: en", "locale: de", "locale 'de'"),
        ("key: telemarketing-appointment", "key: Bad Key", "Bad Key"),
    ]:
        text = broken(old, new)
        assert_error(text, line_of(text, new), message)


def test_booking_and_follow_up_flags():
    text = broken("    booking: true\n", "", 1)
    assert_error(text, line_of(text, "  - number: 5"), "step 5 must be flagged booking")
    text = broken("    key: close\n", "    key: close\n    follow_up: true\n")
    assert_error(text, line_of(text, "follow_up: true"), "step 8 cannot be flagged follow_up")


def test_several_problems_are_reported_together():
    text = broken("{greeting}, {title}", "{hello}, {title}")
    text = text.replace("code: hung_up", "code: Hung Up")
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "upload.yaml")
    assert len(caught.value.problems) == 2


def test_empty_and_non_mapping_documents():
    assert_error("", 1, "empty")
    assert_error("- just\n- a list\n", 1, "must be a mapping")


def test_placeholder_set_covers_the_design():
    for name in ("title", "last_name", "agent_name", "company", "slot_1", "slot_2"):
        assert name in PLACEHOLDERS


def test_segments_cut_a_template_at_each_missing_value():
    cut = segments(
        "Call {agent_name} on {contact_number}.", {"agent_name": "Ali", "contact_number": " "}
    )
    assert cut == [
        Segment("Call "),
        Segment("Ali"),
        Segment(" on "),
        Segment("", gap="contact_number"),
        Segment("."),
    ]
    assert segments("broken {", {}) == [Segment("broken {")]
    assert "".join(segment.text for segment in segments("{{x}}", {})) == "{x}"
