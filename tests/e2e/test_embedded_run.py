"""`callcenter run` on a fresh instance folder: demo data, passwords printed
once, and each role logs in through a real browser and lands on its home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    ASSETS,
    CSP,
    EmbeddedServer,
    open_every_campaign_around_the_clock,
    run_embedded,
    use_desk_phone,
)

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("CC_TEST_SCREENSHOT_DIR")
# The simulated customers all answer in person after a short ring: the first
# call reaches the agent at once, not after a run of busy, failed and
# unanswered numbers (35% answer by default, so a single ready agent waited
# 17-74 s). No test here is about ringing.
EVERY_CUSTOMER_ANSWERS = {
    "CC_DIALER__SIMULATION__RING_MEDIAN_SECONDS": "1",
    "CC_DIALER__SIMULATION__ANSWER": "1",
    "CC_DIALER__SIMULATION__MACHINE": "0",
    "CC_DIALER__SIMULATION__BUSY": "0",
    "CC_DIALER__SIMULATION__NO_ANSWER": "0",
    "CC_DIALER__SIMULATION__FAILED": "0",
}


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """`callcenter run` as the README starts it, on a free port."""
    with run_embedded(tmp_path_factory.mktemp("instance"), EVERY_CUSTOMER_ANSWERS) as server:
        yield server


def _log_in(page, server: EmbeddedServer, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")


def test_first_start_prints_each_password_once(embedded_server: EmbeddedServer) -> None:
    assert set(embedded_server.passwords) >= {"admin", "manager", "supervisor", "agent1"}
    assert len(set(embedded_server.passwords.values())) == len(embedded_server.passwords)
    assert any("Demo data loaded: 2 campaigns" in line for line in embedded_server.output)


def test_the_server_says_once_what_it_is_without_werkzeugs_warnings(
    embedded_server: EmbeddedServer,
) -> None:
    import time
    import urllib.request

    urllib.request.urlopen(f"{embedded_server.url}/login", timeout=10).close()
    deadline = time.monotonic() + 10  # the request's own log line comes after the banner
    while not any("GET /login" in line for line in embedded_server.output):
        assert time.monotonic() < deadline, "".join(embedded_server.output)
        time.sleep(0.1)
    output = "".join(embedded_server.output)
    assert output.count("with the built-in server") == 1
    assert "development server" not in output and "production deployment" not in output


@pytest.mark.parametrize(
    ("username", "home", "direction"),
    [
        ("admin", "/admin/users", "rtl"),
        ("manager", "/supervisor/reports", "ltr"),
        ("supervisor", "/supervisor/", "rtl"),
        ("agent1", "/agent/", "rtl"),
        ("agent4", "/agent/", "ltr"),
    ],
)
def test_each_role_logs_in_and_lands_home(
    browser,
    embedded_server: EmbeddedServer,  # type: ignore[no-untyped-def]
    username: str,
    home: str,
    direction: str,
    tmp_path: Path,
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{embedded_server.url}/login")
    if SCREENSHOTS and username == "admin":
        page.screenshot(path=str(Path(SCREENSHOTS) / "login.png"))
    _log_in(page, embedded_server, username)
    page.wait_for_url(f"{embedded_server.url}{home}")
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == direction
    if SCREENSHOTS and username == "admin":
        page.screenshot(path=str(Path(SCREENSHOTS) / "admin-users.png"))
    page.click("#logout")
    page.wait_for_url(f"{embedded_server.url}/login")
    context.close()


def test_wrong_password_is_refused_in_the_browser(
    browser,
    embedded_server: EmbeddedServer,  # type: ignore[no-untyped-def]
) -> None:
    page = browser.new_page()
    page.goto(f"{embedded_server.url}/login")
    page.fill("#username", "admin")
    page.fill("#password", "definitely-wrong")
    page.click("button[type=submit]")
    assert page.locator("#login-error").is_visible()
    assert page.url.endswith("/login")
    page.close()


def test_a_ready_agent_gets_a_call_from_the_embedded_dialer(
    browser,
    embedded_server: EmbeddedServer,  # type: ignore[no-untyped-def]
) -> None:
    """The whole embedded system: the dialer places calls on the simulated
    carrier and connects an answered one to the agent, whose screen pops with
    the customer and step 1 of the script."""
    open_every_campaign_around_the_clock(embedded_server)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _log_in(page, embedded_server, "agent2")
    page.wait_for_url(f"{embedded_server.url}/agent/")
    use_desk_phone(page, "sip:1002@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    page.wait_for_selector("#call:not([hidden])", timeout=120_000)
    assert page.text_content("#cust-name").strip()
    assert page.locator(".step-dot.current").text_content() in ("1", "۱")
    # Step 7 reads back a contact number: the demo agent's own line, no gap.
    page.keyboard.press("Alt+Digit7")
    page.wait_for_function("() => window.ccAgent.state.call.call.current_step === 7")
    step = page.text_content("#script-panel") or ""
    assert "[contact_number]" not in step and "۰۲۱ ۸۸۷۷ ۶۶۰۲" in step, step
    page.close()


def test_an_inline_script_is_refused_and_the_violation_fails_a_test(
    browser,
    embedded_server: EmbeddedServer,  # type: ignore[no-untyped-def]
) -> None:
    """The policy runs scripts from this origin only, and the watcher every
    browser test has sees a violation (taken back here, so this test passes)."""
    page = browser.new_page()
    page.goto(f"{embedded_server.url}/login")
    before = len(CSP.seen)
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.injected = true"; document.body.appendChild(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected === undefined")
    assert any("inline script" in text for text in CSP.seen[before:]), CSP.seen[before:]
    del CSP.seen[before:]
    page.close()


def test_a_missing_stylesheet_is_seen_and_would_fail_a_test(
    browser,
    embedded_server: EmbeddedServer,  # type: ignore[no-untyped-def]
) -> None:
    """A stylesheet the server answers with its HTML 404 page is refused by
    Chromium before Playwright sees a response; the watcher every browser
    test has sees it anyway (taken back here, so this test passes)."""
    page = browser.new_page()
    page.goto(f"{embedded_server.url}/login")
    before = len(ASSETS.seen)
    page.evaluate(
        """() => new Promise((done) => { const link = document.createElement("link");
               link.rel = "stylesheet"; link.href = "/static/no-such-sheet.css";
               link.addEventListener("error", () => done()); document.head.appendChild(link); })"""
    )
    page.wait_for_timeout(200)
    assert any("no-such-sheet.css" in seen for seen in ASSETS.seen[before:]), ASSETS.seen[before:]
    ASSETS.take_back("no-such-sheet.css")
    page.close()
