"""The reports page in a real Chromium, in Persian and in English: its own
stylesheet loads (tabs apart, bars in the accent colour beside their labels).
Saves docs/reports.png and docs/reports-fa.png when CC_TEST_SCREENSHOT_DIR is set."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EmbeddedServer

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))
BLACK = "rgb(0, 0, 0)"


def open_reports(browser: Any, server: EmbeddedServer, username: str, query: str = "") -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{server.url}/supervisor/reports{query}")
    return page


@pytest.mark.parametrize(
    ("username", "direction", "screenshot"),
    [("manager", "ltr", "reports.png"), ("supervisor", "rtl", "reports-fa.png")],
)
def test_the_reports_page_is_styled(
    browser: Any, embedded_server: EmbeddedServer, username: str, direction: str, screenshot: str
) -> None:
    page = open_reports(browser, embedded_server, username, "?report=funnel")
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == direction
    tabs = page.locator(".report-tabs")
    assert tabs.evaluate("el => getComputedStyle(el).display") == "flex"
    first, second = page.locator(".report-tabs a").all()[:2]
    assert first.bounding_box()["x"] != second.bounding_box()["x"]
    active = page.locator(".report-tabs a.active")
    assert active.evaluate("el => getComputedStyle(el).backgroundColor") not in (
        BLACK,
        "rgba(0, 0, 0, 0)",
    )
    bar_fills = page.locator(".chart-bar").evaluate_all(
        "bars => bars.map(bar => getComputedStyle(bar).fill)"
    )
    assert bar_fills and BLACK not in bar_fills
    page.screenshot(path=str(SHOTS / screenshot), full_page=True)
    page.close()


@pytest.mark.parametrize(
    ("username", "digits", "foreign"),
    [("supervisor", "[۰-۹]", "[0-9]"), ("manager", "[0-9]", "[۰-۹]")],
)
def test_the_figures_are_in_the_readers_digits(
    browser: Any, embedded_server: EmbeddedServer, username: str, digits: str, foreign: str
) -> None:
    """The supervisor reads Persian: every count and rate in the tables and
    the charts in Persian digits; the manager reads English: Latin digits."""
    page = open_reports(browser, embedded_server, username, "?report=funnel")
    figures = page.locator("td.num, .chart-value, .chart-tick").evaluate_all(
        "cells => cells.map(cell => cell.textContent.trim()).filter(t => t && t !== '—')"
    )
    assert figures
    assert [text for text in figures if re.search(foreign, text)] == []
    assert all(re.search(digits, text) for text in figures)
    page.close()
