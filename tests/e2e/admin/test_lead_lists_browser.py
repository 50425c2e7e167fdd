"""A manager works a campaign's lead lists in Chromium, in English and in
Persian: penetration, disable, recycle, reset, move. Saves
docs/lead-lists.png and docs/lead-lists-fa.png (with CC_TEST_SCREENSHOT_DIR=docs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.db import utcnow
from callcenter.models import AuditEntry, Call, Campaign, Lead, LeadList
from callcenter.states import CallOutcome, LeadState, Role
from tests.e2e.admin.conftest import SCREENSHOTS, LiveApp
from tests.e2e.site import log_in
from tests.factories import make_campaign, make_lead, make_user

WORDS = {
    "en": {"disable": "Disable the list", "enable": "Enable the list", "move": "Move the list"},
    "fa": {"disable": "غیرفعال کردن فهرست", "enable": "فعال کردن فهرست", "move": "جابه‌جایی"},
}


def _build(live_app: LiveApp, locale: str) -> dict[str, Any]:
    with live_app.database.unit_of_work() as session:
        manager = make_user(session, Role.MANAGER, locale=locale)
        agent = make_user(session, Role.AGENT)
        spring = make_campaign(session, name="Spring" if locale == "en" else "بهار")
        autumn = make_campaign(session, name="Autumn" if locale == "en" else "پاییز")
        march = LeadList(campaign_id=spring.id, name="march.csv")
        session.add(march)
        session.flush()
        long_ago = utcnow() - timedelta(hours=48)
        for number in range(10):
            exhausted = number < 4
            lead = make_lead(
                session,
                spring,
                lead_list_id=march.id,
                state=LeadState.EXHAUSTED if exhausted else LeadState.NEW,
                attempts=5 if exhausted else (1 if number < 7 else 0),
                last_outcome=("busy" if number < 3 else "no_answer") if exhausted else None,
                last_attempt_at=long_ago if number < 7 else None,
            )
            if number < 7:
                answered = number in (4, 5)
                session.add(
                    Call(
                        id=f"c{number}",
                        campaign_id=spring.id,
                        lead_id=lead.id,
                        customer_id=lead.customer_id,
                        attempt=1,
                        phone_e164=lead.customer.phone_e164,
                        dialed_at=long_ago,
                        outcome=CallOutcome.ANSWERED if answered else CallOutcome.BUSY,
                        answered_at=long_ago if answered else None,
                        connected_at=long_ago if answered else None,
                        agent_id=agent.id if answered else None,
                    )
                )
        return {
            "manager": manager.username,
            "spring": spring.id,
            "autumn": autumn.id,
            "autumn_name": autumn.name,
            "list": march.id,
        }


def _flash(page: Any) -> str:
    return page.locator(".flash.success").first.inner_text()


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "fa"])
def test_a_manager_works_a_list(live_app: LiveApp, browser: Any, locale: str) -> None:
    built = _build(live_app, locale)
    words = WORDS[locale]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_app.url, built["manager"])
    page.goto(f"{live_app.url}/campaigns/")
    page.click(f"a[href='/campaigns/{built['spring']}/lists']")
    row = page.locator(f"#lead-list-penetration tr[data-list-id='{built['list']}']")
    assert row.locator(".leads").inner_text() == "10"
    assert row.locator(".dialed").inner_text().startswith("7")
    assert row.locator(".contacted").inner_text().startswith("2")
    assert row.locator(".converted").inner_text().startswith("0")
    assert row.locator(".exhausted").inner_text() == "4"
    assert page.locator("html").get_attribute("dir") == ("rtl" if locale == "fa" else "ltr")
    page.screenshot(path=str(SCREENSHOTS / f"lead-lists{'-fa' if locale == 'fa' else ''}.png"))

    page.get_by_role("button", name=words["disable"]).click()
    page.wait_for_selector(f"tr[data-list-id='{built['list']}'][data-enabled='0']")
    page.get_by_role("button", name=words["enable"]).click()
    page.wait_for_selector(f"tr[data-list-id='{built['list']}'][data-enabled='1']")

    page.select_option(f"#outcome-{built['list']}", "busy")
    page.fill(f"#hours-{built['list']}", "۲۴" if locale == "fa" else "24")
    page.locator("form.recycle button").click()
    assert "3" in _flash(page)
    assert page.locator(f"tr[data-list-id='{built['list']}'] .exhausted").inner_text() == "1"

    page.locator("button.reset").click()
    assert "1" in _flash(page)
    assert page.locator(f"tr[data-list-id='{built['list']}'] .exhausted").inner_text() == "0"

    page.select_option(f"#campaign-{built['list']}", str(built["autumn"]))
    page.get_by_role("button", name=words["move"]).click()
    assert built["autumn_name"] in _flash(page)
    page.wait_for_selector("#no-lists")
    page.goto(f"{live_app.url}/campaigns/{built['autumn']}/lists")
    page.wait_for_selector(f"tr[data-list-id='{built['list']}']")
    page.close()

    with live_app.database.unit_of_work() as session:
        in_autumn = session.scalar(
            select(func.count(Lead.id)).where(Lead.campaign_id == built["autumn"])
        )
        actions = list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_type == "lead_list")
                .order_by(AuditEntry.id)
            )
        )
        assert session.get(Campaign, built["autumn"]) is not None
    assert in_autumn == 10
    assert actions == [
        "lead_list.disabled",
        "lead_list.enabled",
        "lead_list.recycled",
        "lead_list.reset",
        "lead_list.moved",
    ]
