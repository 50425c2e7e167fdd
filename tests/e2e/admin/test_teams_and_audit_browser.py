"""An admin staffs a team, gives an agent a direct number and reads the
audit log in Chromium, in English and in Persian. Saves docs/admin-teams.png,
docs/admin-audit.png and their -fa twins (with CC_TEST_SCREENSHOT_DIR=docs)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callcenter.models import Team, User
from callcenter.states import Role
from tests.e2e.admin.conftest import SCREENSHOTS, LiveApp
from tests.e2e.site import log_in
from tests.factories import make_team, make_user

PEOPLE = {
    "en": ("Sara Ahmadi", "Omid Jafari", "Nina Karimi", "Reza Rezaei", "Day shift", "Closers"),
    "fa": ("سارا احمدی", "امید جعفری", "نینا کریمی", "رضا رضایی", "شیفت روز", "فروش ویژه"),
}
WORDS = {
    "en": {"create": "Create team", "save": "Save", "filter": "Filter", "bad": "Iranian"},
    "fa": {"create": "ساختن تیم", "save": "ذخیره", "filter": "فیلتر", "bad": "ایرانی"},
}


def _suffix(locale: str) -> str:
    return "-fa" if locale == "fa" else ""


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "fa"])
def test_an_admin_staffs_a_team_and_reads_the_audit_log(
    live_app: LiveApp, browser: Any, locale: str
) -> None:
    sara, omid, nina, reza, day_shift, closers = PEOPLE[locale]
    words = WORDS[locale]
    with live_app.database.unit_of_work() as session:
        admin = make_user(session, Role.ADMIN, locale=locale, username="admin")
        supervisor = make_user(session, Role.SUPERVISOR, full_name=sara)
        make_user(session, Role.SUPERVISOR, full_name=omid)
        day = make_team(session, day_shift)
        agent = make_user(session, Role.AGENT, full_name=nina, team=day)
        make_user(session, Role.AGENT, full_name=reza)
        ids = {"admin": admin.username, "supervisor": supervisor.id, "agent": agent.id}

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_app.url, ids["admin"])
    page.goto(f"{live_app.url}/admin/teams")
    page.fill("#new-team input[name=name]", closers)
    page.get_by_role("button", name=words["create"]).click()
    page.wait_for_selector("#team-supervisors")
    page.check(f"#team-supervisors input[value='{ids['supervisor']}']")
    page.check(f"#team-agents input[value='{ids['agent']}']")
    page.screenshot(path=str(SCREENSHOTS / f"admin-team{_suffix(locale)}.png"), full_page=True)
    page.locator("form.team-people button[type=submit]").click()
    page.wait_for_selector("#teams")
    row = page.locator("#teams tr", has_text=closers)
    assert sara in row.locator(".supervisors").inner_text()
    assert row.locator(".agents").inner_text() == "1"

    page.goto(f"{live_app.url}/admin/users/{ids['agent']}")
    page.fill("input[name=direct_number]", "+44 20 7946 0958")
    page.locator("form.stacked button[type=submit]").click()
    assert words["bad"] in page.locator(".field-error").inner_text()
    page.fill("input[name=direct_number]", "۰۲۱ ۸۸۷۷ ۶۶۵۵")
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_selector("#users")

    page.goto(f"{live_app.url}/admin/audit")
    page.fill("#audit-filters input[name=action]", "team.")
    page.get_by_role("button", name=words["filter"]).click()
    page.wait_for_selector("#audit tr[data-action='team.created']")
    actions = page.locator("#audit tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.action)"
    )
    assert actions == ["team.agents_changed", "team.supervisors_changed", "team.created"]
    page.fill("#audit-filters input[name=action]", "")
    page.select_option("#audit-filters select[name=target_type]", "user")
    page.get_by_role("button", name=words["filter"]).click()
    page.wait_for_selector("#audit tr[data-action='user.direct_number_changed']")
    page.screenshot(path=str(SCREENSHOTS / f"admin-audit{_suffix(locale)}.png"), full_page=True)
    page.close()

    with live_app.database.unit_of_work() as session:
        team = session.scalar(select(Team).where(Team.name == closers))
        stored = session.get(User, ids["agent"])
        assert team is not None and stored is not None
        assert stored.team_id == team.id
        assert stored.direct_number == "+982188776655"
        assert [user.id for user in session.get(User, ids["supervisor"]).supervised] == [team.id]
