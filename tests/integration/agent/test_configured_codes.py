"""The campaign's own dispositions and the pause codes managers keep, as an
agent's screen uses them over Socket.IO, and the managers' pages."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import Campaign, Disposition, DncEntry, Lead, PauseReason
from callcenter.services import disposition_codes, pause_codes, workstation
from callcenter.states import DispositionCategory, Role
from tests.factories import log_in, make_user
from tests.integration.agent.agent_floor import (
    Floor,
    end_call,
    inject_connected_call,
    lead_state,
    new_lead,
)


def ready(socket, floor: Floor) -> None:
    reply = socket.emit(
        "join_campaign", {"campaign_id": floor.campaign_id, "phone": "1001"}, callback=True
    )
    assert reply["ok"], reply
    assert socket.emit("go_ready", {}, callback=True)["ok"]


def add_code(session: Session, campaign_id: int, code: str, category: str, **extra) -> None:
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    disposition_codes.create(
        session,
        campaign,
        actor=None,
        code=code,
        label_fa=f"{code} fa",
        label_en=f"{code} en",
        category=category,
        **extra,
    )
    session.commit()


def dispose(socket, call_id: str, code: str) -> dict:
    return socket.emit("disposition_set", {"call_id": call_id, "code": code}, callback=True)


def test_a_retry_code_redials_after_its_own_minutes(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    add_code(app_session, floor.campaign_id, "busy_later", "retry", retry_minutes="۹۰")
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    before = utcnow()
    assert dispose(agent_socket, call_id, "busy_later")["ok"]

    app_session.expire_all()
    lead = app_session.get(Lead, floor.lead_id)
    assert lead is not None and lead.state == "retry" and lead.last_outcome == "busy_later"
    assert lead.next_attempt_at is not None
    wait = lead.next_attempt_at - before
    assert timedelta(minutes=89) < wait < timedelta(minutes=91)
    row = app_session.scalar(select(Disposition).where(Disposition.call_id == call_id))
    assert row is not None and (row.code, row.category) == ("busy_later", "retry")
    for locale, label in (("fa", "busy_later fa"), ("en", "busy_later en")):
        past = workstation.history(app_session, lead.customer_id, locale)["calls"]
        assert next(c for c in past if c["id"] == call_id)["disposition_label"] == label


def test_each_category_moves_the_lead_its_way(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    add_code(app_session, floor.campaign_id, "too_expensive", "final")
    add_code(app_session, floor.campaign_id, "angry", "dnc")
    add_code(app_session, floor.campaign_id, "closed_deal", "sale")
    ready(agent_socket, floor)
    expected = {"too_expensive": "rejected", "angry": "dnc", "closed_deal": "sale"}
    for number, (code, state) in enumerate(expected.items()):
        phone = f"+98912555000{number}"
        lead_id = new_lead(app_session, floor, phone_e164=phone)
        call_id = inject_connected_call(agent_app, floor, lead_id)
        end_call(agent_app, call_id)
        reply = dispose(agent_socket, call_id, code)
        assert reply["ok"], reply
        assert agent_socket.emit("go_ready", {}, callback=True)["ok"]
        app_session.expire_all()
        assert lead_state(app_session, lead_id) == state, code
    assert app_session.scalar(select(DncEntry).where(DncEntry.phone_e164 == "+989125550001"))


def test_an_inactive_code_or_another_campaigns_code_is_refused(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    add_code(app_session, floor.other_campaign_id, "theirs", "final")
    disposition_codes.set_active(app_session, floor.campaign_id, "sale", False, actor=None)
    app_session.commit()
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    for code in ("sale", "theirs", "wrap_up_timeout", ""):
        reply = dispose(agent_socket, call_id, code)
        assert reply["error"] == "invalid-input", code
    assert dispose(agent_socket, call_id, "no_decision")["ok"]


def test_a_used_code_cannot_be_deleted_only_deactivated(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    add_code(app_session, floor.campaign_id, "later", "retry")
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    assert dispose(agent_socket, call_id, "later")["ok"]

    manager = make_user(app_session, Role.MANAGER)
    app_session.commit()
    client = agent_app.test_client()
    log_in(client, manager.username)
    page = client.get(f"/campaigns/{floor.campaign_id}/dispositions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-code="later"' in html and 'data-code="callback"' in html
    refused = client.post(
        f"/campaigns/{floor.campaign_id}/dispositions/later",
        data={"action": "delete"},
        follow_redirects=True,
    )
    assert "به‌جای حذف، غیرفعالش کنید" in refused.get_data(as_text=True)
    client.post(f"/campaigns/{floor.campaign_id}/dispositions/later", data={"action": "deactivate"})
    app_session.expire_all()
    rows = {r.code: r for r in disposition_codes.for_campaign(app_session, floor.campaign_id)}
    assert "later" in rows and not rows["later"].is_active


def test_managers_add_and_edit_dispositions_on_the_page(
    agent_app: Flask, floor: Floor, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER)
    app_session.commit()
    client = agent_app.test_client()
    log_in(client, manager.username)
    url = f"/campaigns/{floor.campaign_id}/dispositions"
    added = client.post(
        url,
        data={
            "code": "visit_branch",
            "label_fa": "به شعبه می‌آید",
            "label_en": "Will visit a branch",
            "category": "appointment",
        },
        follow_redirects=True,
    )
    assert "نتیجهٔ تماس افزوده شد." in added.get_data(as_text=True)
    bad = client.post(
        url,
        data={"code": "x y", "label_fa": "ا", "label_en": "x", "category": "final"},
        follow_redirects=True,
    )
    assert "حرف لاتین" in bad.get_data(as_text=True)
    client.post(
        f"{url}/visit_branch",
        data={
            "action": "save",
            "label_fa": "به شعبه می‌آید",
            "label_en": "Visits a branch",
            "category": "retry",
            "retry_minutes": "30",
        },
    )
    client.post(f"{url}/visit_branch", data={"action": "up"})
    app_session.expire_all()
    rows = disposition_codes.for_campaign(app_session, floor.campaign_id)
    codes = [row.code for row in rows]
    assert codes[-2:] == ["visit_branch", "answering_machine"]
    edited = rows[-2]
    assert (edited.label_en, edited.category, edited.retry_minutes) == (
        "Visits a branch",
        DispositionCategory.RETRY,
        30,
    )


def test_a_new_pause_code_lets_agents_pause_and_a_retired_one_does_not(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER)
    app_session.commit()
    client = agent_app.test_client()
    log_in(client, manager.username)
    client.post(
        "/campaigns/pause-codes",
        data={"code": "coaching", "label_fa": "مربی‌گری", "label_en": "Coaching",
              "limit_minutes": "۲۰"},
    )  # fmt: skip
    app_session.expire_all()
    coaching = app_session.get(PauseReason, "coaching")
    assert coaching is not None and coaching.limit_minutes == 20 and not coaching.is_paid
    assert "coaching" in [r.code for r in pause_codes.all_codes(app_session)]

    ready(agent_socket, floor)
    paused = agent_socket.emit("pause", {"reason": "coaching"}, callback=True)
    assert paused["ok"], paused
    assert agent_socket.emit("go_ready", {}, callback=True)["ok"]
    client.post("/campaigns/pause-codes/coaching", data={"action": "deactivate"})
    refused = agent_socket.emit("pause", {"reason": "coaching"}, callback=True)
    assert refused["error"] == "invalid-input"
