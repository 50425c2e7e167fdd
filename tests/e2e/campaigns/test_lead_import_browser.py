"""Importing lead files as people have them, in a real headless Chromium, in
English and in Persian: the preview shows how the file will be read (sheet,
header line, delimiter, a field per column, the first rows), a change there
reads it again, and the import follows the preview. CSRF is on, as deployed.
Screenshots for docs/lead-files.md: CC_TEST_SCREENSHOT_DIR=docs."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import Lead
from callcenter.states import Role
from tests.e2e.site import log_in, make_test_app, serve
from tests.factories import make_campaign, make_user

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


@dataclass
class Running:
    app: Flask
    url: str
    database: Database
    campaign_id: int


@pytest.fixture
def running(tmp_path: Path, sqlite_database: Database) -> Iterator[Running]:
    app = make_test_app(tmp_path, sqlite_database)
    bus = app.extensions["cc_bus"]
    bus.start()
    worker = app.extensions["cc_import_worker"].start()
    with sqlite_database.unit_of_work() as session:
        campaign_id = make_campaign(session, name="Autumn fair").id
    url, server = serve(app)
    yield Running(app, url, sqlite_database, campaign_id)
    server.shutdown()
    worker.stop()
    bus.stop()


def _manager(running: Running, locale: str) -> str:
    with running.database.unit_of_work() as session:
        return make_user(session, Role.MANAGER, locale=locale).username


def _workbook_renamed_csv(path: Path) -> Path:
    """Instructions on the first sheet; the leads on the second, under a title row."""
    book = openpyxl.Workbook()
    book.active.title = "Read me"
    book.active.append(["Do not edit this sheet"])
    sheet = book.create_sheet("Customers")
    sheet.append(["Autumn fair visitors, exported 2026-10-01"])
    sheet.append([])
    sheet.append(["Name", "Mobile", "Landline", "City", "Source"])
    sheet.append(["Sara Ahmadi", "09121234567", "02188776655", "Tehran", "stand"])
    sheet.append(["Reza Karimi", "12345", None, "Qom", "web"])
    sheet.append(["Neda Moradi", "09351234567", None, "Karaj", "stand"])
    sheet.append(["Omid Jafari", "x" * 500, None, "Tabriz", "junk"])
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())  # Excel's .xlsx, saved under a .csv name
    return path


def _persian_csv(path: Path) -> Path:
    path.write_text(
        "فهرست مشتریان نمایشگاه پاییز\n"
        "نام و نام خانوادگی؛موبایل؛تلفن ثابت؛شهر\n"
        "علی رضایی؛۰۹۱۲۱۲۳۴۵۶۷؛۰۲۱۸۸۷۷۶۶۵۵؛تهران\n"
        '"مریم کریمی؛09351234567؛؛شیراز\n'
        "رضا احمدی؛09361234567؛؛قم\n"
        "سارا نوری؛12345؛؛کرج\n"
        "نرگس موسوی؛09191234567؛؛تبریز\n",
        encoding="utf-8",
    )
    return path


def _choose_file(page: Any, url: str, path: Path) -> None:
    page.goto(url)
    page.set_input_files("input[type=file]", str(path))
    page.wait_for_selector("#preview[data-ready]")


def _read_column_names_on(page: Any, line: int) -> None:
    """Sets the line and sends one change, as a user's edit does on leaving the
    field (fill and then a change sent two previews, and the earlier one could
    land mid-fill and take the value back)."""
    page.eval_on_selector(
        "input[name=header_line]",
        "(input, line) => { input.value = line;"
        " input.dispatchEvent(new Event('change', { bubbles: true })); }",
        str(line),
    )


@pytest.mark.browser
def test_a_workbook_renamed_csv_is_previewed_mapped_and_imported(
    running: Running, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    log_in(page, running.url, _manager(running, "en"))
    upload = f"{running.url}/campaigns/{running.campaign_id}/import"
    _choose_file(page, upload, _workbook_renamed_csv(tmp_path / "visitors.csv"))

    assert page.input_value("select[name=sheet]") == "Customers"
    assert page.input_value("input[name=header_line]") == "3"
    assert page.input_value("select[name=field-1]") == "phone"
    assert page.input_value("select[name=field-2]") == "phone"
    assert "second number" in page.inner_text("#preview-table thead")
    bad = page.locator("#preview-table tr.bad")
    assert bad.count() == 2
    assert "too short for Iran" in bad.nth(0).inner_text()
    assert len(bad.nth(1).inner_text()) < 250  # the 500-character cell is cut

    # The manager keeps the city as the lead's own field; the preview reads again.
    page.eval_on_selector("#preview", "el => { el.dataset.shown = 'before'; }")
    page.select_option("select[name=field-3]", "extra")
    page.wait_for_selector("#preview[data-ready]:not([data-shown])")
    assert page.input_value("select[name=field-3]") == "extra"  # as the server read it back
    page.screenshot(path=str(SHOTS / "lead-import-preview.png"), full_page=True)

    page.click("#import-button")
    page.wait_for_selector("#import-result", timeout=30_000)
    assert page.inner_text("#imported") == "2"
    assert page.inner_text("#rejected") == "2"
    rejected = page.inner_text("#rejected-rows")
    assert "5" in rejected and "too short for Iran" in rejected
    assert "Sheet Customers" in page.inner_text("#import-file")
    page.screenshot(path=str(SHOTS / "lead-import-result.png"), full_page=True)
    with running.database.read_sessions() as session:
        cities = {lead.fields.get("City") for lead in session.scalars(select(Lead))}
    assert cities == {"Tehran", "Karaj"}


@pytest.mark.browser
def test_a_persian_file_with_a_title_row_and_a_broken_quote_in_persian(
    running: Running, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, running.url, _manager(running, "fa"))
    upload = f"{running.url}/campaigns/{running.campaign_id}/import"
    _choose_file(page, upload, _persian_csv(tmp_path / "مشتریان.csv"))

    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.inner_text("#preview h2") == "فایل این‌طور خوانده می‌شود"
    assert page.input_value("select[name=delimiter]") == "arabic-semicolon"
    assert page.input_value("input[name=header_line]") == "2"
    assert page.input_value("select[name=field-2]") == "phone"
    bad = page.locator("#preview-table tr.bad")
    assert bad.count() == 2
    assert "گیومه" in bad.nth(0).inner_text()  # line 4: the quote never closed
    assert bad.nth(0).locator("td").first.inner_text() == "4"
    assert "کوتاه است" in bad.nth(1).inner_text()
    page.screenshot(path=str(SHOTS / "lead-import-preview-fa.png"), full_page=True)

    # Reading the title row as the header finds no phone column, and says so in Persian.
    _read_column_names_on(page, 1)
    page.wait_for_selector("#preview-problem")
    assert "ستون شماره تلفن پیدا نشد" in page.inner_text("#preview-problem")
    _read_column_names_on(page, 2)
    page.wait_for_selector("#preview[data-ready]")

    page.click("#import-button")
    page.wait_for_selector("#import-result", timeout=30_000)
    assert page.inner_text("#imported") == "3"
    rejected = page.inner_text("#rejected-rows")
    assert "گیومه" in rejected and "کوتاه است" in rejected
    page.screenshot(path=str(SHOTS / "lead-import-result-fa.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#report-csv")
    report = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert report.splitlines()[0] == "سطر,موضوع,دلیل"
    assert report.splitlines()[1].startswith("4,ردشده,")
