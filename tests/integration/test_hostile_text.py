"""Every page that shows text a user or a lead file can set shows it escaped:
campaign, team, agent, lead-list, pause-reason, DNC and script names, the
file name and rows of an import, in the pages, forms, filters and charts."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import (
    Campaign,
    DncEntry,
    LeadList,
    PauseReason,
    StepOutcome,
    Team,
    User,
)
from callcenter.states import Role
from scripts import BUILTIN_DIR
from tests.factories import log_in, make_user
from tests.hostile_text import SCRIPT, assert_shown_escaped, tag
from tests.integration.reports.report_dataset import Dataset, build
from tests.support import wait_until

RANGE = {"from": "2025-05-10", "to": "2025-05-11"}
CAMPAIGN = tag("campaign")
DESCRIPTION = "</textarea>" + tag("description")
AGENT = tag("agent")
TEAM = tag("team")
LEAD_LIST = tag("list")
PAUSE = tag("pause")
MANAGER = tag("manager")
DNC_REASON = tag("dnc")


@dataclass
class Site:
    data: Dataset
    campaign_id: int
    admin: str


@pytest.fixture
def site(app_session: Session) -> Site:
    data = build(app_session)
    campaign = app_session.get(Campaign, data.campaigns["C1"].id)
    assert campaign is not None
    campaign.name, campaign.description = CAMPAIGN, DESCRIPTION
    for user_key, full_name in (("a1", AGENT), ("boss", MANAGER)):
        user = app_session.get(User, data.users[user_key].id)
        assert user is not None
        user.full_name = full_name
    lead_list = app_session.get(LeadList, data.lists["L1"].id)
    assert lead_list is not None
    lead_list.name = LEAD_LIST
    team = app_session.scalar(select(Team).where(Team.name == "Team A"))
    lunch = app_session.get(PauseReason, "lunch")
    assert team is not None and lunch is not None
    team.name, lunch.label_en, lunch.label_fa = TEAM, PAUSE, PAUSE
    rejection = app_session.scalar(
        select(StepOutcome).where(
            StepOutcome.call_id == data.calls["k7"].id, StepOutcome.reason_code.is_not(None)
        )
    )
    assert rejection is not None
    rejection.reason_text = SCRIPT
    app_session.add(
        DncEntry(phone_e164="+989121119999", campaign_id=campaign.id, reason=DNC_REASON)
    )
    admin = make_user(app_session, Role.ADMIN, locale="en")
    app_session.commit()
    return Site(data, campaign.id, admin.username)


def page(client: FlaskClient, path: str, **query: object) -> str:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_campaign_and_dnc_pages(client: FlaskClient, site: Site) -> None:
    log_in(client, "boss")
    assert_shown_escaped(page(client, "/campaigns/"), CAMPAIGN, MANAGER)
    assert_shown_escaped(page(client, f"/campaigns/{site.campaign_id}"), CAMPAIGN, DESCRIPTION)
    assert_shown_escaped(page(client, f"/campaigns/{site.campaign_id}/import"), CAMPAIGN)
    assert_shown_escaped(
        page(client, "/campaigns/dnc", campaign=site.campaign_id), CAMPAIGN, DNC_REASON
    )


@pytest.mark.parametrize(
    ("report", "group", "shown"),
    [
        ("agents", None, (AGENT, TEAM)),
        ("rejections", None, (AGENT, CAMPAIGN, LEAD_LIST)),
        ("funnel", "agent", (AGENT,)),
        ("funnel", "campaign", (CAMPAIGN,)),
        ("compliance", None, (CAMPAIGN,)),
    ],
)
def test_report_pages_tables_filters_and_charts(
    client: FlaskClient, site: Site, report: str, group: str | None, shown: tuple[str, ...]
) -> None:
    log_in(client, "boss")
    query = {"report": report, **RANGE, **({"group": group} if group else {})}
    html = page(client, "/supervisor/reports", **query)
    assert_shown_escaped(html, *shown, MANAGER)


def test_admin_user_pages(client: FlaskClient, site: Site) -> None:
    log_in(client, site.admin)
    assert_shown_escaped(page(client, "/admin/users"), AGENT, TEAM, MANAGER)
    assert_shown_escaped(page(client, f"/admin/users/{site.data.users['a1'].id}"), AGENT)


def test_agent_workstation_page(client: FlaskClient, site: Site) -> None:
    log_in(client, "a1")
    assert_shown_escaped(page(client, "/agent/"), AGENT, CAMPAIGN, PAUSE)


def test_lead_import_file_name_and_rows(app: Flask, client: FlaskClient, site: Site) -> None:
    log_in(client, "boss")
    name = tag("file") + ".csv"
    rows = f"first_name,phone\n{tag('row')},{tag('phone')}\nSara,09121234567\n"
    response = client.post(
        f"/campaigns/{site.campaign_id}/import",
        data={"file": (io.BytesIO(rows.encode()), name), "mapping": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    worker = app.extensions["cc_import_worker"].start()  # imports run in the background
    try:
        wait_until(
            lambda: client.get(f"{location}/progress").get_json()["finished"],
            30,
            "the import to finish",
        )
    finally:
        worker.stop()
    html = page(client, location)
    assert 'id="rejected-rows"' in html
    assert_shown_escaped(html, name, CAMPAIGN)


def test_lead_import_preview_columns_cells_and_reasons(client: FlaskClient, site: Site) -> None:
    log_in(client, "boss")
    column, cell, phone = tag("column"), tag("cell"), tag("phone")
    rows = f"title line {tag('title')}\n{column},phone\n{cell},{phone}\nSara,09121234567\n"
    response = client.post(
        f"/campaigns/{site.campaign_id}/import/preview",
        data={"file": (io.BytesIO(rows.encode()), tag("file") + ".csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-ready="1"' in html  # the title line was skipped
    assert_shown_escaped(html, column, cell)
    assert html.count(str(escape(phone))) == 2  # the cell, and the reason quoting it


def test_script_upload_titles_and_errors(client: FlaskClient, site: Site) -> None:
    log_in(client, "boss")
    source = (BUILTIN_DIR / "telemarketing-appointment.en.yaml").read_text(encoding="utf-8")
    title = tag("script")
    hostile = source.replace("version: 1", "version: 7").replace(
        'title: "Telemarketing: book a meeting"', f'title: "{title}"'
    )
    assert title in hostile
    good = client.post(
        "/agent/scripts",
        data={"script": (io.BytesIO(hostile.encode()), tag("source") + ".yaml")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302, good.get_data(as_text=True)
    assert_shown_escaped(page(client, "/agent/scripts"), title, tag("source") + ".yaml")
    broken = client.post(
        "/agent/scripts",
        data={"script": (io.BytesIO(b"key: [unclosed\n"), tag("broken") + ".yaml")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422
    assert_shown_escaped(broken.get_data(as_text=True), tag("broken") + ".yaml")
