"""Dates and numbers as a Persian user types them, in a real Chromium: the
Jalali picker on every date field, Jalali report filters kept Jalali, digits
from a Persian keyboard in number fields; an English reader keeps the
browser's own date fields and Gregorian filters. Saves
docs/jalali-picker-fa.png when CC_TEST_SCREENSHOT_DIR is set."""

from __future__ import annotations

import os
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jdatetime
import pytest

from tests.e2e.conftest import EmbeddedServer

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


def logged_in(browser: Any, server: EmbeddedServer, username: str, path: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{server.url}{path}")
    return page


def test_a_typed_jalali_report_filter_stays_jalali(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(browser, embedded_server, "supervisor", "/supervisor/reports")
    page.fill("#filter-from", "۱۴۰۵/۰۹/۰۱")
    page.fill("#filter-to", "1405/9/12")
    page.click(".report-filters button[type=submit]")
    page.wait_for_load_state()
    assert "from=" in page.url
    assert page.input_value("#filter-from") == "۱۴۰۵/۰۹/۰۱"
    assert page.input_value("#filter-to") == "۱۴۰۵/۰۹/۱۲"
    summary = page.locator(".report-filters + p").inner_text()
    assert "۱۴۰۵/۰۹/۰۱ (۲۰۲۶/۱۱/۲۲)" in summary and "۱۴۰۵/۰۹/۱۲ (۲۰۲۶/۱۲/۰۳)" in summary
    page.close()


def test_the_calendar_shows_jalali_months_and_writes_the_day_picked(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(
        browser, embedded_server, "supervisor", "/supervisor/reports?from=1405/09/01&to=1405/09/12"
    )
    field = page.locator(".jalali-field", has=page.locator("#filter-from"))
    field.locator(".jalali-open").click()
    calendar = field.locator(".jalali-calendar")
    assert calendar.is_visible()
    assert calendar.locator(".jalali-title").inner_text() == "آذر ۱۴۰۵"
    assert calendar.locator(".jalali-weekday").first.inner_text() == "ش"
    assert calendar.locator(".jalali-day").count() == 30
    # 1 Azar 1405 is a Sunday: one blank (Saturday) before it.
    assert calendar.locator(".jalali-blank").count() == 1
    assert calendar.locator(".jalali-day.selected").inner_text() == "۱"
    calendar.locator(".jalali-prev").click()
    assert calendar.is_visible(), "the month buttons keep the calendar open"
    assert calendar.locator(".jalali-title").inner_text() == "آبان ۱۴۰۵"
    calendar.locator(".jalali-day", has_text="۲۵").click()
    assert not calendar.is_visible()
    assert page.input_value("#filter-from") == "۱۴۰۵/۰۸/۲۵"
    field.locator(".jalali-open").click()
    page.screenshot(path=str(SHOTS / "jalali-picker-fa.png"))
    page.keyboard.press("Escape")
    page.click(".report-filters button[type=submit]")
    page.wait_for_load_state()
    assert "۱۴۰۵/۰۸/۲۵ (۲۰۲۶/۱۱/۱۶)" in page.locator(".report-filters + p").inner_text()
    page.close()


def test_a_datetime_field_is_entered_in_jalali_and_submits_gregorian(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(browser, embedded_server, "supervisor", "/supervisor/reports")
    page.evaluate(
        """() => { const input = document.createElement("input");
                   input.type = "datetime-local"; input.id = "when"; input.name = "when";
                   input.addEventListener("change", () => { window.changed = input.value; });
                   document.querySelector(".report-filters").append(input); }"""
    )
    text = page.locator("#when-jalali")
    text.wait_for()
    assert not page.locator("#when").is_visible()
    text.fill("۱۴۰۵/۰۹/۱۲ ۱۴:۳۰")
    assert page.evaluate("document.getElementById('when').value") == "2026-12-03T14:30"
    assert page.evaluate("window.changed") == "2026-12-03T14:30"
    text.fill("۱۴۰۵/۱۲/۳۰ ۱۰:۰۰")  # 1405 is not a leap year: no 30 Esfand
    assert text.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.getElementById('when').value") == ""
    page.evaluate("document.getElementById('when').value = '2027-03-20T09:15'")
    assert text.input_value() == "۱۴۰۵/۱۲/۲۹ ۰۹:۱۵"
    page.close()


def test_the_pickers_calendar_agrees_with_jdatetime(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(browser, embedded_server, "supervisor", "/supervisor/reports")
    start = date(2020, 1, 1)
    days = [start + timedelta(days=n) for n in range(0, 365 * 12, 3)]
    jalali = page.evaluate(
        """isoDays => isoDays.map(iso => { const [y, m, d] = iso.split("-").map(Number);
             const j = window.jalaliPicker.toJalali(Date.UTC(y, m - 1, d));
             const back = window.jalaliPicker.fromJalali(j.y, j.m, j.d);
             return [j.y, j.m, j.d, new Date(back).toISOString().slice(0, 10)]; })""",
        [day.isoformat() for day in days],
    )
    for day, (year, month, day_of_month, back) in zip(days, jalali, strict=True):
        expected = jdatetime.date.fromgregorian(date=day)
        assert (year, month, day_of_month) == (expected.year, expected.month, expected.day), day
        assert back == day.isoformat()
    page.close()


def test_digits_from_a_persian_keyboard_fill_a_number_field(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(browser, embedded_server, "admin", "/campaigns/new")
    page.fill("#max_attempts", "")
    page.click("#max_attempts")
    page.keyboard.type("۶")
    page.fill("#ring_timeout_seconds", "")
    page.click("#ring_timeout_seconds")
    page.keyboard.type("٣٠")
    assert page.input_value("#max_attempts") == "6"
    assert page.input_value("#ring_timeout_seconds") == "30"
    page.close()


def test_an_english_reader_keeps_gregorian_filters_and_native_date_fields(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(
        browser, embedded_server, "manager", "/supervisor/reports?from=1405/09/01&to=1405/09/12"
    )
    assert page.input_value("input[name=from]") == "2026-11-22"
    assert page.input_value("input[name=to]") == "2026-12-03"
    assert page.locator(".jalali-open").count() == 0
    assert page.get_attribute("input[name=from]", "placeholder") == "1404/02/20 or 2025-05-10"
    page.close()


def test_the_audit_logs_date_filters_have_the_calendar(
    browser: Any, embedded_server: EmbeddedServer
) -> None:
    page = logged_in(browser, embedded_server, "admin", "/admin/audit")
    field = page.locator(".jalali-field", has=page.locator("#date_from"))
    field.locator(".jalali-open").click()
    today = jdatetime.date.today()
    assert (
        field.locator(".jalali-title")
        .inner_text()
        .endswith("".join("۰۱۲۳۴۵۶۷۸۹"[int(d)] for d in str(today.year)))
    )
    field.locator(".jalali-day", has_text="۱").first.click()
    assert page.input_value("#date_from") == (
        f"{today.year}/{today.month:02d}/01".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    )
    page.close()
