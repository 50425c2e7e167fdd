"""Agent states, ownership, rejections, dispositions, preview mode, resume,
script upload and the follow-up letter, over the Socket.IO test client."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.events import CallDialing, PreviewOffered
from callcenter.models import (
    AgentStateChange,
    AgentStatus,
    AuditEntry,
    Call,
    Callback,
    Disposition,
    DncEntry,
    FollowUp,
    Note,
    ScriptVersion,
    StepAction,
    StepOutcome,
)
from callcenter.scheduling import SlotRules, free_slots
from callcenter.services import dispositions
from callcenter.states import Role
from tests.factories import log_in, make_user
from tests.integration.agent.agent_floor import (
    Floor,
    connect_as,
    end_call,
    inject_connected_call,
    lead_state,
    new_lead,
    received,
)
from tests.support import statements, wait_until


def ready(socket, floor: Floor) -> None:
    reply = socket.emit(
        "join_campaign", {"campaign_id": floor.campaign_id, "phone": "1001"}, callback=True
    )
    assert reply["ok"], reply
    assert socket.emit("go_ready", {}, callback=True)["ok"]


def test_pause_with_a_reason_is_recorded_and_seen_by_supervisors(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    supervisor = connect_as(agent_app, floor.supervisor_username)
    ready(agent_socket, floor)
    refused = agent_socket.emit("pause", {"reason": "nap"}, callback=True)
    assert refused["ok"] is False and refused["error"] == "invalid-input"
    paused = agent_socket.emit("pause", {"reason": "lunch"}, callback=True)
    assert paused["agent"]["state"] == "paused"
    assert paused["agent"]["pause_limit_minutes"] == 45
    seen: list[dict[str, Any]] = []

    def supervisor_sees_the_pause() -> bool:
        seen.extend(a for d in received(supervisor, "floor_delta") for a in d["agents"])
        states = [a["state"] for a in seen if a["agent_id"] == floor.agent_id]
        return bool(states) and states[-1] == "paused"

    wait_until(supervisor_sees_the_pause, 10, "the pause in the supervisor's floor delta")
    assert agent_socket.emit("agent_logout", {}, callback=True)["agent"]["state"] == "logged_out"
    rows = list(
        app_session.scalars(
            select(AgentStateChange).where(AgentStateChange.agent_id == floor.agent_id)
        )
    )
    assert [(str(r.to_state), r.reason) for r in rows] == [
        ("ready", None),
        ("paused", "lunch"),
        ("logged_out", None),
    ]


def test_an_agent_cannot_join_a_campaign_of_another_team(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    from tests.factories import make_campaign

    foreign = make_campaign(app_session)
    app_session.commit()
    reply = agent_socket.emit(
        "join_campaign", {"campaign_id": foreign.id, "phone": "1001"}, callback=True
    )
    assert reply["error"] == "forbidden"
    assert agent_socket.emit("go_ready", {}, callback=True)["error"] == "invalid-input"


def test_another_agent_never_sees_the_pop_nor_touches_the_call(
    agent_app: Flask, agent_socket, floor: Floor
) -> None:
    other = connect_as(agent_app, floor.other_username)
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    assert received(other, "screen_pop") == []
    assert len(received(agent_socket, "screen_pop")) == 1
    for event, data in [
        ("script_move", {"call_id": call_id, "kind": "next"}),
        ("script_reject", {"call_id": call_id, "step": 1, "reason_code": "hung_up"}),
        ("notes_save", {"call_id": call_id, "text": "spy"}),
        ("slots_free", {"call_id": call_id}),
        ("hangup", {"call_id": call_id}),
        ("disposition_set", {"call_id": call_id, "code": "sale"}),
    ]:
        assert other.emit(event, data, callback=True)["error"] == "forbidden", event
    assert other.emit("resume", {}, callback=True)["call"] is None


def test_a_disposition_reads_its_call_its_campaign_and_any_earlier_one_at_once(
    agent_app: Flask, agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    with statements(sqlite_database) as seen:
        reply = agent_socket.emit(
            "disposition_set", {"call_id": call_id, "code": "no_decision"}, callback=True
        )
    assert reply == {"ok": True, "call_id": call_id, "code": "no_decision"}
    reads = [s for s in seen if s.startswith("SELECT") and ("calls" in s or "campaigns" in s)]
    assert len(reads) == 1, reads
    assert "FROM calls JOIN campaigns" in reads[0]
    assert "LEFT OUTER JOIN dispositions" in reads[0]
    again = agent_socket.emit(
        "disposition_set", {"call_id": call_id, "code": "no_decision"}, callback=True
    )
    assert again["error"] == "conflict"
    with sqlite_database.sessions() as session:
        assert session.scalars(
            select(Disposition.code).where(Disposition.call_id == call_id)
        ).all() == ["no_decision"]
        assert lead_state(session, floor.lead_id) == "retry"


def test_rejection_needs_a_reason_of_the_step_and_text_for_other(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    bad = agent_socket.emit(
        "script_reject", {"call_id": call_id, "step": 1, "reason_code": "no_budget"}, callback=True
    )
    assert bad["error"] == "invalid-input"
    no_text = agent_socket.emit(
        "script_reject", {"call_id": call_id, "step": 4, "reason_code": "other"}, callback=True
    )
    assert no_text["error"] == "invalid-input"
    ok = agent_socket.emit(
        "script_reject",
        {"call_id": call_id, "step": 4, "reason_code": "other", "reason_text": "moving abroad"},
        callback=True,
    )
    assert ok["ok"]
    end_call(agent_app, call_id)
    done = agent_socket.emit(
        "disposition_set", {"call_id": call_id, "code": "not_interested"}, callback=True
    )
    assert done["ok"], done
    rows = list(
        app_session.scalars(
            select(StepOutcome).where(
                StepOutcome.call_id == call_id, StepOutcome.action == StepAction.REJECT
            )
        )
    )
    assert [(r.step_number, r.reason_code, r.reason_text) for r in rows] == [
        (4, "other", "moving abroad")
    ]
    assert lead_state(app_session, floor.lead_id) == "rejected"


def test_not_interested_without_a_rejection_is_refused(
    agent_app: Flask, agent_socket, floor: Floor
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    still_on = agent_socket.emit(
        "disposition_set", {"call_id": call_id, "code": "no_decision"}, callback=True
    )
    assert still_on["error"] == "conflict"
    end_call(agent_app, call_id)
    refused = agent_socket.emit(
        "disposition_set", {"call_id": call_id, "code": "not_interested"}, callback=True
    )
    assert refused["error"] == "invalid-input"
    with_reason = agent_socket.emit(
        "disposition_set",
        {
            "call_id": call_id,
            "code": "not_interested",
            "rejection": {"step": 2, "reason_code": "already_supplier"},
        },
        callback=True,
    )
    assert with_reason["ok"], with_reason
    # Wrapped up: its note and rejection are the record the reports read.
    late_note = agent_socket.emit(
        "notes_save", {"call_id": call_id, "text": "rewritten later"}, callback=True
    )
    late_reason = agent_socket.emit(
        "script_reject",
        {"call_id": call_id, "step": 5, "reason_code": "other", "reason_text": "changed"},
        callback=True,
    )
    assert late_note["error"] == late_reason["error"] == "conflict"


def test_callback_for_anyone_and_do_not_call(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    past = agent_socket.emit(
        "disposition_set",
        {"call_id": call_id, "code": "callback", "callback_at": utcnow().isoformat()},
        callback=True,
    )
    assert past["error"] == "invalid-input"
    due = (utcnow() + timedelta(days=1)).isoformat()
    reply = agent_socket.emit(
        "disposition_set",
        {"call_id": call_id, "code": "callback", "callback_at": due, "callback_for": "anyone"},
        callback=True,
    )
    assert reply["ok"], reply
    callback = app_session.scalar(select(Callback).where(Callback.call_id == call_id))
    assert callback is not None and callback.assigned_agent_id is None
    assert lead_state(app_session, floor.lead_id) == "callback"

    lead_id = new_lead(app_session, floor, phone_e164="+989121110000")
    second = inject_connected_call(agent_app, floor, lead_id)
    end_call(agent_app, second)
    assert agent_socket.emit(
        "disposition_set", {"call_id": second, "code": "do_not_call"}, callback=True
    )["ok"]
    assert app_session.scalar(select(DncEntry).where(DncEntry.phone_e164 == "+989121110000"))
    assert lead_state(app_session, lead_id) == "dnc"


def test_resume_brings_back_the_call_step_and_notes(
    agent_app: Flask, agent_socket, floor: Floor
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    agent_socket.emit("script_move", {"call_id": call_id, "kind": "jump", "step": 3}, callback=True)
    agent_socket.emit("notes_save", {"call_id": call_id, "text": "half typed"}, callback=True)
    agent_socket.disconnect()
    again = connect_as(agent_app, floor.agent_username)
    view = again.emit("resume", {}, callback=True)
    assert view["agent"]["state"] == "on_call"
    assert view["call"]["call"]["id"] == call_id
    assert view["call"]["call"]["current_step"] == 3
    assert view["call"]["notes"] == "half typed"
    end_call(agent_app, call_id)
    wrap = again.emit("resume", {}, callback=True)
    assert wrap["agent"]["state"] == "wrap_up" and wrap["call"]["call"]["state"] == "ended"


def test_wrap_up_expiry_closes_the_call_as_timed_out(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    early = agent_socket.emit("wrap_up_expired", {"call_id": call_id}, callback=True)
    assert early["error"] == "conflict"
    call = app_session.get(Call, call_id)
    assert call is not None and call.ended_at is not None
    call.ended_at = call.ended_at - timedelta(seconds=61)
    app_session.commit()
    reply = agent_socket.emit(
        "wrap_up_expired", {"call_id": call_id, "notes": "ran out"}, callback=True
    )
    assert reply["code"] == "wrap_up_timeout"
    assert lead_state(app_session, floor.lead_id) == "retry"
    app_session.expire_all()
    status = app_session.get(AgentStatus, floor.agent_id)
    assert status is not None and status.state.value == "paused"


def test_save_and_pause_is_both_or_neither(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    end_call(agent_app, call_id)
    no_time = agent_socket.emit(
        "disposition_set_and_pause",
        {"call_id": call_id, "code": "callback", "reason": "lunch"},
        callback=True,
    )
    assert no_time["ok"] is False and no_time["error"] == "invalid-input", no_time
    no_reason = agent_socket.emit(
        "disposition_set_and_pause",
        {"call_id": call_id, "code": "no_decision", "reason": "nap"},
        callback=True,
    )
    assert no_reason["ok"] is False and no_reason["details"] == {"field": "reason"}
    status = app_session.get(AgentStatus, floor.agent_id)
    assert status is not None
    # Neither: still in the wrap-up, no pause waiting, no disposition.
    assert (str(status.state), status.pause_after_call) == ("wrap_up", None)
    assert app_session.scalar(select(Disposition).where(Disposition.call_id == call_id)) is None
    app_session.rollback()

    both = agent_socket.emit(
        "disposition_set_and_pause",
        {"call_id": call_id, "code": "no_decision", "reason": "lunch", "notes": "at noon"},
        callback=True,
    )
    assert both["ok"], both
    assert (both["agent"]["state"], both["agent"]["pause_reason"]) == ("paused", "lunch")
    disposition = app_session.scalar(select(Disposition).where(Disposition.call_id == call_id))
    assert disposition is not None and (disposition.code, disposition.notes) == (
        "no_decision",
        "at noon",
    )
    changes = app_session.scalars(
        select(AgentStateChange)
        .where(AgentStateChange.agent_id == floor.agent_id)
        .order_by(AgentStateChange.id)
    ).all()
    assert [(str(c.from_state), str(c.to_state), c.reason) for c in changes[-1:]] == [
        ("wrap_up", "paused", "lunch")  # straight from the wrap-up, never Ready
    ]
    again = agent_socket.emit(
        "disposition_set_and_pause",
        {"call_id": call_id, "code": "no_decision", "reason": "lunch"},
        callback=True,
    )
    assert again["error"] == "conflict"


def test_events_are_applied_once(agent_app: Flask, agent_socket, floor: Floor) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    bus = agent_app.extensions["cc_bus"]
    event = CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=1, attempt=1)
    bus.publish(event)
    bus.publish(event)
    assert bus.wait_until_idle()
    assert agent_socket.emit("resume", {}, callback=True)["call"]["call"]["id"] == call_id


def test_preview_offer_start_and_skip(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    bus = agent_app.extensions["cc_bus"]
    requested: list = []
    skipped: list = []
    bus.subscribe("preview.call_requested", requested.append)
    bus.subscribe("preview.skipped", skipped.append)
    ready(agent_socket, floor)
    bus.publish(
        PreviewOffered(
            agent_id=floor.agent_id, campaign_id=floor.campaign_id, lead_id=floor.lead_id
        )
    )
    assert bus.wait_until_idle()
    offer = received(agent_socket, "preview_offer")[0]
    assert offer["customer"]["name"] == "Ms Sara Ahmadi"
    assert offer["history"]["calls"][0]["id"] == floor.earlier_call_id
    assert agent_socket.emit("resume", {}, callback=True)["preview"]["lead"]["id"] == floor.lead_id
    no_reason = agent_socket.emit("preview_skip", {"lead_id": floor.lead_id}, callback=True)
    assert no_reason["error"] == "invalid-input"
    skip = agent_socket.emit(
        "preview_skip", {"lead_id": floor.lead_id, "reason": "duplicate"}, callback=True
    )
    assert skip["agent"]["state"] == "ready"
    assert bus.wait_until_idle() and skipped[0].reason == "duplicate"

    lead_id = new_lead(app_session, floor)
    bus.publish(
        PreviewOffered(agent_id=floor.agent_id, campaign_id=floor.campaign_id, lead_id=lead_id)
    )
    assert bus.wait_until_idle()
    assert agent_socket.emit("preview_start", {"lead_id": lead_id}, callback=True)["ok"]
    assert bus.wait_until_idle() and requested[0].lead_id == lead_id
    actions = list(
        app_session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("preview.%"))
            .order_by(AuditEntry.id)
        )
    )
    assert actions == ["preview.offered", "preview.skipped", "preview.offered", "preview.started"]


def test_managers_upload_scripts_and_see_errors_with_file_and_line(
    agent_app: Flask, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER)
    app_session.commit()
    client = agent_app.test_client()
    log_in(client, manager.username)
    bad = client.post(
        "/agent/scripts",
        data={"script": (io.BytesIO(b"key: x\nversion: one\n"), "broken.yaml")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "broken.yaml:2" in bad.get_data(as_text=True)
    from scripts import BUILTIN_DIR

    text = (BUILTIN_DIR / "telemarketing-appointment.en.yaml").read_text(encoding="utf-8")
    good = client.post(
        "/agent/scripts",
        data={"script": (io.BytesIO(text.replace("version: 1", "version: 2").encode()), "v2.yaml")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    assert app_session.scalar(select(ScriptVersion).where(ScriptVersion.version == 2))


def test_far_meeting_gets_a_printable_letter(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session, smtp_server
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    assert agent_socket.emit("slots_free", {"call_id": call_id}, callback=True)["slots"]
    later = utcnow() + timedelta(days=4)
    far = {"start": free_slots(later, (), SlotRules(), limit=1)[0].start.isoformat()}
    booked = agent_socket.emit(
        "appointment_book",
        {
            "call_id": call_id,
            "starts_at": far["start"],
            "kind": "online",
            "link": "https://meet.example.com/abc",
        },
        callback=True,
    )
    assert booked["ok"], booked
    letter = app_session.scalar(select(FollowUp).where(FollowUp.kind == "letter"))
    assert letter is not None
    app_session.commit()
    inbox, _port = smtp_server
    deadline = time.monotonic() + 10
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)  # the email goes out too; let the sender finish writing
    time.sleep(0.2)
    supervisor = agent_app.test_client()
    log_in(supervisor, floor.supervisor_username)
    page = supervisor.get(f"/agent/letters/{letter.id}")
    assert page.status_code == 200
    # Another team's supervisor cannot read it by counting ids.
    stranger = make_user(app_session, Role.SUPERVISOR, username="other_floor")
    app_session.commit()
    other = agent_app.test_client()
    log_in(other, stranger.username)
    assert other.get(f"/agent/letters/{letter.id}").status_code == 404
    body = page.get_data(as_text=True)
    assert "Ms Sara Ahmadi" in body and "https://meet.example.com/abc" in body


def test_a_call_with_a_booked_meeting_is_not_also_a_callback(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    later = utcnow() + timedelta(days=1)
    start = free_slots(later, (), SlotRules(), limit=1)[0].start.isoformat()
    booked = agent_socket.emit(
        "appointment_book",
        {"call_id": call_id, "starts_at": start, "kind": "online", "link": "https://m.example/x"},
        callback=True,
    )
    assert booked["ok"], booked
    end_call(agent_app, call_id)
    both = agent_socket.emit(
        "disposition_set",
        {
            "call_id": call_id,
            "code": "callback",
            "callback_at": (utcnow() + timedelta(days=2)).isoformat(),
        },
        callback=True,
    )
    assert both["ok"] is False and both["details"] == {"field": "code"}
    assert app_session.scalar(select(Callback).where(Callback.call_id == call_id)) is None
    assert agent_socket.emit(
        "disposition_set", {"call_id": call_id, "code": "appointment_set"}, callback=True
    )["ok"]


def test_a_disposition_without_notes_keeps_the_note_the_screen_saved(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    """Notes are saved as the agent types; a disposition sent with no notes
    (an API client, a screen that sends none) keeps them, one with notes
    replaces them, and notes cleared leave no blank entry in the history."""

    def disposed(call_id: str, **notes: str) -> None:
        end_call(agent_app, call_id)
        reply = agent_socket.emit(
            "disposition_set", {"call_id": call_id, "code": "no_decision", **notes}, callback=True
        )
        assert reply["ok"], reply
        assert agent_socket.emit("go_ready", {}, callback=True)["ok"]

    ready(agent_socket, floor)
    kept = inject_connected_call(agent_app, floor)
    agent_socket.emit("notes_save", {"call_id": kept, "text": "Budget in Q3"}, callback=True)
    disposed(kept)
    edited = inject_connected_call(agent_app, floor, attempt=2)
    agent_socket.emit("notes_save", {"call_id": edited, "text": "Budget"}, callback=True)
    disposed(edited, notes="Budget in Q4, call the CFO")
    cleared = inject_connected_call(agent_app, floor, attempt=3)
    agent_socket.emit("notes_save", {"call_id": cleared, "text": "wrong customer"}, callback=True)
    disposed(cleared, notes="")
    blanked = inject_connected_call(agent_app, floor, attempt=4)
    disposed(blanked)
    # as a disposition without notes left the note before it kept it
    app_session.add(
        Note(customer_id=floor.customer_id, call_id=blanked, author_id=floor.agent_id, text="")
    )
    app_session.commit()
    agent_socket.get_received()

    inject_connected_call(agent_app, floor, attempt=5)
    (pop,) = received(agent_socket, "screen_pop")
    shown = {row["id"]: row["notes"] for row in pop["history"]["calls"]}
    assert shown[kept] == ["Budget in Q3"]
    assert shown[edited] == ["Budget in Q4, call the CFO"]
    assert shown[cleared] == shown[blanked] == []
    noted = dict(
        app_session.execute(
            select(Disposition.call_id, Disposition.notes).where(
                Disposition.call_id.in_([kept, edited, cleared])
            )
        ).all()
    )
    assert app_session.scalar(select(Note).where(Note.call_id == cleared)) is None
    assert noted == {kept: "Budget in Q3", edited: "Budget in Q4, call the CFO", cleared: ""}


def test_a_wrap_up_expired_without_notes_keeps_the_saved_note(
    agent_app: Flask, agent_socket, floor: Floor, app_session: Session
) -> None:
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    agent_socket.emit("notes_save", {"call_id": call_id, "text": "call after 5"}, callback=True)
    end_call(agent_app, call_id)
    call = app_session.get(Call, call_id)
    assert call is not None and call.ended_at is not None
    call.ended_at = call.ended_at - timedelta(seconds=61)
    app_session.flush()
    disposition = dispositions.expire_wrap_up(app_session, floor.agent_id, call_id)
    assert disposition is not None
    assert (disposition.code, disposition.notes) == ("wrap_up_timeout", "call after 5")
    assert app_session.scalar(select(Note.text).where(Note.call_id == call_id)) == "call after 5"


def test_the_pop_pushed_at_connect_is_the_screen_a_reload_shows(
    agent_app: Flask, agent_socket, floor: Floor
) -> None:
    """The pop of a call's first connect skips the reads of what nobody can
    have put on the call yet; a reload reads them all and must show the same."""
    ready(agent_socket, floor)
    earlier = inject_connected_call(agent_app, floor)
    agent_socket.emit("notes_save", {"call_id": earlier, "text": "after six"}, callback=True)
    end_call(agent_app, earlier)
    coded = agent_socket.emit(
        "disposition_set",
        {"call_id": earlier, "code": "no_decision", "notes": "after six"},
        callback=True,
    )
    assert coded["ok"], coded
    assert agent_socket.emit("go_ready", {}, callback=True)["ok"]
    agent_socket.get_received()

    call_id = inject_connected_call(agent_app, floor, attempt=2)
    pushed = received(agent_socket, "screen_pop")
    reloaded = agent_socket.emit("resume", {}, callback=True)["call"]

    assert [pop["call"]["id"] for pop in pushed] == [call_id]
    shown = {row["id"]: row for row in pushed[0]["history"]["calls"]}
    assert call_id not in shown
    assert shown[earlier]["notes"] == ["after six"]
    assert shown[earlier]["disposition"] == "no_decision"
    assert pushed[0] == reloaded
