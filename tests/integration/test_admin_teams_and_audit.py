"""Teams, direct numbers and the audit log: the services (SQLite and
PostgreSQL) and the admin's pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput
from callcenter.models import AuditEntry, Team, User
from callcenter.services import accounts, audit, teams
from callcenter.states import Role
from tests.factories import log_in, make_team, make_user


def _actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_teams_are_created_renamed_and_staffed(session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    sara, omid = make_user(session, Role.SUPERVISOR), make_user(session, Role.SUPERVISOR)
    elsewhere = make_team(session, "Day shift")
    nina = make_user(session, Role.AGENT, team=elsewhere)
    reza = make_user(session, Role.AGENT)

    team = teams.create_team(session, "  Night   shift ", actor=admin)
    assert team.name == "Night shift"
    with pytest.raises(Conflict):
        teams.create_team(session, "night SHIFT", actor=admin)
    with pytest.raises(InvalidInput):
        teams.rename_team(session, team, "   ", actor=admin)
    teams.rename_team(session, team, "Evening shift", actor=admin)
    teams.set_supervisors(session, team, [sara, omid], actor=admin)
    teams.set_supervisors(session, team, [omid], actor=admin)
    teams.set_agents(session, team, [nina, reza], actor=admin)
    teams.set_agents(session, team, [nina], actor=admin)
    with pytest.raises(InvalidInput):
        teams.set_agents(session, team, [sara], actor=admin)
    with pytest.raises(InvalidInput):
        teams.set_supervisors(session, team, [nina], actor=admin)

    session.expire_all()
    assert [user.id for user in teams.supervisors_of(session, team)] == [omid.id]
    assert session.get(User, sara.id).supervised == []  # type: ignore[union-attr]
    assert session.get(User, nina.id).team_id == team.id  # type: ignore[union-attr]
    assert session.get(User, reza.id).team_id is None  # type: ignore[union-attr]
    assert _actions(session)[-6:] == [
        "team.created",
        "team.renamed",
        "team.supervisors_changed",
        "team.supervisors_changed",
        "team.agents_changed",
        "team.agents_changed",
    ]
    moved = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "team.agents_changed")
    ).first()
    assert moved is not None
    assert moved.details["taken_from_teams"] == {nina.username: elsewhere.id}


def test_direct_number_is_an_iranian_number_stored_as_e164(session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    agent = make_user(session, Role.AGENT)
    accounts.set_direct_number(session, agent, "۰۲۱ ۸۸۷۷ ۶۶۵۵", actor=admin)
    assert agent.direct_number == "+982188776655"
    for bad in ("12345", "+44 20 7946 0958", "not a number"):
        with pytest.raises(InvalidInput) as refused:
            accounts.set_direct_number(session, agent, bad, actor=admin)
        assert refused.value.details == {"field": "direct_number"}
    assert agent.direct_number == "+982188776655"
    accounts.set_direct_number(session, agent, "", actor=admin)
    assert agent.direct_number is None
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.direct_number_changed")
    ).all()
    assert [e.details for e in entries] == [
        {"from": None, "to": "+982188776655"},
        {"from": "+982188776655", "to": None},
    ]


def test_audit_search_filters_and_pages(session: Session) -> None:
    admin = make_user(session, Role.ADMIN, username="boss")
    session.execute(delete(AuditEntry))  # the user's creation
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for number in range(7):
        entry = audit.record(
            session,
            "lead_list.recycled" if number % 2 else "campaign.updated",
            actor=admin if number < 5 else None,
            target_type="lead_list" if number % 2 else "campaign",
            target_id=number,
        )
        entry.at = start + timedelta(days=number)
    session.flush()

    everything = audit.search(session, audit.AuditFilter(), page=1, page_size=3)
    assert (everything.total, everything.pages, len(everything.rows)) == (7, 3, 3)
    assert everything.rows[0].entry.target_id == "6"  # newest first
    last = audit.search(session, audit.AuditFilter(), page=99, page_size=3)
    assert (last.page, [r.entry.target_id for r in last.rows]) == (3, ["0"])

    by_boss = audit.search(session, audit.AuditFilter(actor_username="BOSS"))
    assert by_boss.total == 5 and by_boss.rows[0].actor_username == "boss"
    lists = audit.search(session, audit.AuditFilter(action="lead_list.", target_type="lead_list"))
    assert [r.entry.target_id for r in lists.rows] == ["5", "3", "1"]
    window = audit.search(
        session,
        audit.AuditFilter(since=start + timedelta(days=2), until=start + timedelta(days=4)),
    )
    assert [r.entry.target_id for r in window.rows] == ["3", "2"]
    one = audit.search(session, audit.AuditFilter(target_type="campaign", target_id="4"))
    assert [r.entry.action for r in one.rows] == ["campaign.updated"]
    assert audit.target_types(session) == ["campaign", "lead_list"]
    assert audit.search(session, audit.AuditFilter(action="%")).total == 0


def _admin(client: FlaskClient, session: Session) -> User:
    admin = make_user(session, Role.ADMIN, locale="en")
    session.commit()
    log_in(client, admin.username)
    return admin


def test_admin_pages_for_teams_numbers_and_the_audit_log(
    client: FlaskClient, app_session: Session
) -> None:
    admin = _admin(client, app_session)
    supervisor = make_user(app_session, Role.SUPERVISOR)
    agent = make_user(app_session, Role.AGENT)
    app_session.commit()

    created = client.post("/admin/teams", data={"name": "Closers"})
    assert created.status_code == 302
    team = app_session.scalar(select(Team).where(Team.name == "Closers"))
    assert team is not None
    taken = client.post("/admin/teams", data={"name": "closers"})
    assert taken.status_code == 422 and "already a team named closers" in taken.text
    saved = client.post(
        f"/admin/teams/{team.id}",
        data={"name": "Closers", "supervisors": [str(supervisor.id)], "agents": [str(agent.id)]},
    )
    assert saved.status_code == 302
    page = client.get("/admin/teams").text
    assert supervisor.full_name in page

    refused = client.post(
        f"/admin/users/{agent.id}",
        data={"role": "agent", "team": str(team.id), "locale": "fa", "is_active": "y",
              "direct_number": "+44 20 7946 0958"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "is not an Iranian phone number" in refused.text
    accepted = client.post(
        f"/admin/users/{agent.id}",
        data={"role": "agent", "team": str(team.id), "locale": "fa", "is_active": "y",
              "direct_number": "09121234567"},
    )  # fmt: skip
    assert accepted.status_code == 302, accepted.text
    assert accepted.location.endswith("/admin/users"), accepted.location
    app_session.commit()  # a fresh snapshot
    app_session.expire_all()
    assert app_session.get(User, agent.id).direct_number == "+989121234567"  # type: ignore[union-attr]
    assert app_session.get(User, agent.id).team_id == team.id  # type: ignore[union-attr]

    log = client.get("/admin/audit", query_string={"action": "team.", "actor": admin.username})
    assert log.status_code == 200
    assert log.text.count('data-action="team.') == 3
    assert 'data-action="user.direct_number_changed"' not in log.text
    numbers = client.get("/admin/audit", query_string={"action": "user.direct_number"})
    assert numbers.text.count('data-action="user.direct_number_changed"') == 1


def test_audit_dates_are_typed_in_either_calendar(
    client: FlaskClient, app_session: Session
) -> None:
    _admin(client, app_session)
    today = datetime.now(UTC)
    jalali_from = "۱۴۰۰/۰۱/۰۱"  # 2021-03-21
    found = client.get("/admin/audit", query_string={"date_from": jalali_from})
    assert 'data-action="user.created"' in found.text
    later = f"{today.year + 1}-01-01"
    none = client.get("/admin/audit", query_string={"date_from": later})
    assert 'data-action="user.created"' not in none.text
    before = client.get("/admin/audit", query_string={"date_to": "1399/12/29"})
    assert 'data-action="user.created"' not in before.text
    bad = client.get("/admin/audit", query_string={"date_to": "yesterday"})
    assert bad.status_code == 200
    assert "Type a date year first" in bad.text
    assert 'data-action="user.created"' in bad.text  # an unreadable date filters nothing


@pytest.mark.parametrize(
    ("locale", "campaign", "lead"), [("en", "Campaign", "Lead"), ("fa", "کمپین", "سرنخ")]
)
def test_the_audit_log_names_objects_in_the_readers_language(
    client: FlaskClient, app_session: Session, locale: str, campaign: str, lead: str
) -> None:
    admin = make_user(app_session, Role.ADMIN, locale=locale)
    audit.record(app_session, "campaign.updated", actor=admin, target_type="campaign", target_id=7)
    audit.record(app_session, "lead.updated", actor=admin, target_type="lead", target_id=42)
    app_session.commit()
    log_in(client, admin.username)
    page = client.get("/admin/audit").text
    assert f'data-type="campaign">{campaign} <span class="ltr">7</span>' in page
    assert f'data-type="lead">{lead} <span class="ltr">42</span>' in page
    assert f'<option value="campaign">{campaign}</option>' in page
    assert f'<option value="lead">{lead}</option>' in page
    assert ">campaign<" not in page and ">lead<" not in page
