"""A manager works campaigns, lead files and DNC lists from the UI."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AmdMode, AuditEntry, Campaign, CampaignStatus, DncEntry, Lead
from callcenter.services import lead_import
from callcenter.states import Role
from tests.factories import log_in, make_campaign, make_team, make_user


def _manager(client: FlaskClient, session: Session) -> None:
    manager = make_user(session, Role.MANAGER, locale="en")
    session.commit()
    log_in(client, manager.username)


def _form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Spring sale",
        "description": "",
        "company_name": "Acme",
        "product": "",
        "script_version_id": "",
        "dial_mode": "predictive",
        "abandon_cap_percent": "3.00",
        "abandon_window_days": "30",
        "max_lines_per_agent": "2",
        "ring_timeout_seconds": "25",
        "wrap_up_limit_seconds": "45",
        "caller_id": "+982100000000",
        "trunk": "main",
        "timezone": "Asia/Tehran",
        "max_attempts": "4",
        "holidays": "2025-03-21\n2025-03-22",
        "saturday": "09:00-21:00",
        "sunday": "09:00-21:00",
        "monday": "۰۹:۰۰-۱۳:۰۰، 16:00-21:00",
        "tuesday": "09:00-21:00",
        "wednesday": "09:00-21:00",
        "thursday": "09:00-13:00",
        "friday": "",
        "retry_busy": "10",
        "retry_no_answer": "60",
        "retry_machine": "120",
        "retry_abandoned": "20",
        "retry_failed": "5",
    }
    data.update(changes)
    return data


def test_manager_creates_and_edits_a_campaign(client: FlaskClient, app_session: Session) -> None:
    _manager(client, app_session)
    team = make_team(app_session, "Day shift")
    app_session.commit()
    assert client.get("/campaigns/new").status_code == 200
    response = client.post("/campaigns/new", data=_form(teams=[str(team.id)]))
    assert response.status_code == 302, response.text
    campaign = app_session.scalars(select(Campaign)).one()
    assert campaign.status is CampaignStatus.PAUSED
    assert campaign.calling_windows["weekly"]["monday"] == [
        {"start": "09:00", "end": "13:00"},
        {"start": "16:00", "end": "21:00"},
    ]
    assert campaign.calling_windows["weekly"]["friday"] == []
    assert campaign.holidays == ["2025-03-21", "2025-03-22"]
    assert campaign.retry_delays_minutes["busy"] == 10
    assert [t.name for t in campaign.teams] == ["Day shift"]

    page = client.get(f"/campaigns/{campaign.id}")
    assert 'value="Spring sale"' in page.text and "16:00-21:00" in page.text
    response = client.post(f"/campaigns/{campaign.id}", data=_form(max_attempts="6", teams=[]))
    assert response.status_code == 302
    app_session.rollback()  # see the rows the request committed
    assert campaign.max_attempts == 6 and campaign.teams == []
    actions = app_session.scalars(select(AuditEntry.action)).all()
    assert {"campaign.created", "campaign.updated", "campaign.teams_changed"} <= set(actions)

    client.post(f"/campaigns/{campaign.id}/status", data={"status": "active"})
    app_session.rollback()  # see the rows the request committed
    assert campaign.status is CampaignStatus.ACTIVE


def test_numbers_typed_on_a_persian_keyboard_are_saved(
    client: FlaskClient, app_session: Session
) -> None:
    _manager(client, app_session)
    response = client.post(
        "/campaigns/new",
        data=_form(
            max_attempts="۶",
            abandon_cap_percent="۲٫۵",
            ring_timeout_seconds="٣٠",
            retry_busy="۱۵",
            holidays="۱۴۰۴/۰۱/۰۱",
        ),
    )
    assert response.status_code == 302, response.text
    campaign = app_session.scalars(select(Campaign)).one()
    assert campaign.max_attempts == 6
    assert float(campaign.abandon_cap_percent) == 2.5
    assert campaign.ring_timeout_seconds == 30
    assert campaign.retry_delays_minutes["busy"] == 15
    assert campaign.holidays == ["2025-03-21"]


def test_bad_campaign_values_are_shown_on_the_form(
    client: FlaskClient, app_session: Session
) -> None:
    _manager(client, app_session)
    response = client.post("/campaigns/new", data=_form(ring_timeout_seconds="10", monday="9-5"))
    assert response.status_code == 422
    response = client.post("/campaigns/new", data=_form(timezone="Mars/Base"))
    assert response.status_code == 422 and "unknown time zone" in response.text
    assert app_session.scalars(select(Campaign)).all() == []


def _wait_until_imported(client: FlaskClient, page: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        progress = client.get(f"{page}/progress").get_json()
        if progress["finished"]:
            return dict(progress)
        assert time.monotonic() < deadline, f"the import did not end: {progress}"
        time.sleep(0.1)


def test_manager_uploads_a_file_and_sees_the_result_by_line(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    _manager(client, app_session)
    campaign = make_campaign(app_session)
    app_session.add(DncEntry(phone_e164="+989127654321", campaign_id=None))
    app_session.commit()
    assert client.get(f"/campaigns/{campaign.id}/import").status_code == 200
    content = "\ufeffنام,موبایل\nعلی,۰۹۱۲۱۲۳۴۵۶۷\nبد,12345\nمریم,09127654321\nعلی,09121234567\n"
    response = client.post(
        f"/campaigns/{campaign.id}/import",
        data={"file": (io.BytesIO(content.encode()), "leads.csv"), "mapping": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = response.headers["Location"]
    # queued: the page shows the import waiting, and polls its progress
    waiting = client.get(page)
    assert 'id="import-progress"' in waiting.text and 'data-state="queued"' in waiting.text
    assert client.get(f"{page}/progress").get_json()["state"] == "queued"
    worker = app.extensions["cc_import_worker"].start()
    try:
        progress = _wait_until_imported(client, page)
    finally:
        worker.stop()
    assert progress["state"] == "done" and progress["rows_read"] == 4
    assert (progress["rows_imported"], progress["rows_rejected"]) == (1, 2)
    result = client.get(page)
    assert result.status_code == 200
    assert 'id="imported">1<' in result.text
    rejected = result.text.split('id="rejected-rows"')[1]
    assert "<td>3</td>" in rejected
    assert "<td>4</td>" in result.text.split('id="dnc-rows"')[1]
    assert "<td>5</td><td>2</td>" in result.text.split('id="duplicate-rows"')[1]
    assert len(app_session.scalars(select(Lead)).all()) == 1
    assert client.get(page).status_code == 200  # revisitable
    listed = client.get(f"/campaigns/{campaign.id}").text.split('id="lead-lists"')[1]
    assert "leads.csv" in listed and "importing" not in listed


def test_manager_keeps_the_dnc_lists(client: FlaskClient, app_session: Session) -> None:
    _manager(client, app_session)
    campaign = make_campaign(app_session)
    app_session.commit()
    client.post("/campaigns/dnc/add", data={"phone": "0912 123 4567", "reason": "asked"})
    client.post(
        f"/campaigns/dnc/import?campaign={campaign.id}",
        data={"file": (io.BytesIO(b"phone\n09350000001\nxx\n"), "dnc.csv")},
        content_type="multipart/form-data",
    )
    entries = {(e.phone_e164, e.campaign_id) for e in app_session.scalars(select(DncEntry))}
    assert entries == {("+989121234567", None), ("+989350000001", campaign.id)}
    page = client.get("/campaigns/dnc")
    assert "+989121234567" in page.text and "+989350000001" not in page.text
    export = client.get(f"/campaigns/dnc/export.csv?campaign={campaign.id}")
    assert export.mimetype == "text/csv" and "+989350000001" in export.text


def test_an_agent_gets_403(client: FlaskClient, app_session: Session) -> None:
    agent = make_user(app_session, Role.AGENT, locale="en")
    campaign = make_campaign(app_session)
    app_session.commit()
    log_in(client, agent.username)
    for path in ("/campaigns/", "/campaigns/new", f"/campaigns/{campaign.id}", "/campaigns/dnc"):
        assert client.get(path).status_code == 403, path
    assert client.post("/campaigns/new", data=_form()).status_code == 403


def _message_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x10" * 800)
    return path


def test_answering_machine_detection_is_set_per_campaign(
    client: FlaskClient, app_session: Session, tmp_path: Path
) -> None:
    _manager(client, app_session)
    page = client.get("/campaigns/new")
    assert "Answering-machine detection" in page.text
    assert '<option selected value="off">' in page.text  # the default: machines reach agents
    message = _message_wav(tmp_path / "our-message.wav")
    response = client.post(
        "/campaigns/new", data=_form(amd_mode="message", voicemail_wav=str(message))
    )
    assert response.status_code == 302, response.text
    campaign = app_session.scalars(select(Campaign)).one()
    assert (campaign.amd_mode, campaign.voicemail_wav) == (AmdMode.MESSAGE, str(message))
    page = client.get(f"/campaigns/{campaign.id}")
    assert '<option selected value="message">' in page.text and str(message) in page.text

    response = client.post(f"/campaigns/{campaign.id}", data=_form(amd_mode="hangup"))
    assert response.status_code == 302
    app_session.rollback()  # see the rows the request committed
    assert (campaign.amd_mode, campaign.voicemail_wav) == (AmdMode.HANGUP, "")
    audit = app_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "campaign.updated")
    ).one()
    assert audit.details["changes"]["amd_mode"] == ["message", "hangup"]


def test_a_message_the_dialer_could_not_play_is_refused_on_the_form(
    client: FlaskClient, app_session: Session, tmp_path: Path
) -> None:
    _manager(client, app_session)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    for path, error in (
        ("relative/message.wav", "the absolute path of a .wav file"),
        (str(tmp_path / "gone.wav"), "not a readable PCM WAV file"),
        (str(text), "not a readable PCM WAV file"),
    ):
        response = client.post("/campaigns/new", data=_form(amd_mode="message", voicemail_wav=path))
        assert response.status_code == 422 and error in response.text, path
    response = client.post("/campaigns/new", data=_form(amd_mode="sometimes"))
    assert response.status_code == 422
    assert app_session.scalars(select(Campaign)).all() == []


def test_the_detection_choices_are_in_persian(client: FlaskClient, app_session: Session) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    app_session.commit()
    log_in(client, manager.username)
    page = client.get("/campaigns/new").text
    for label in ("تشخیص پیغام‌گیر", "قطع تماس با پیغام‌گیر", "پیغام‌گیرها"):
        assert label in page


def test_a_column_is_mapped_to_a_field_named_in_persian(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    campaign = make_campaign(app_session)
    app_session.commit()
    log_in(client, manager.username)
    upload = client.get(f"/campaigns/{campaign.id}/import").text
    listed = upload.split('id="lead-fields"')[1].split("</p>")[0]
    assert "شمارهٔ تلفن" in listed and "نام خانوادگی" in listed and "phone" not in listed.split(">")
    content = "Cell #,Who,Family\n09121234567,Ali,Rezaei\n"
    response = client.post(
        f"/campaigns/{campaign.id}/import",
        data={
            "file": (io.BytesIO(content.encode()), "leads.csv"),
            "mapping": "Cell # = شمارهٔ تلفن\nWho = نام\nFamily = last name",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    worker = app.extensions["cc_import_worker"].start()
    try:
        progress = _wait_until_imported(client, response.headers["Location"])
    finally:
        worker.stop()
    assert progress["rows_imported"] == 1, progress
    customer = app_session.scalars(select(Lead)).one().customer
    assert (customer.phone_e164, customer.first_name, customer.last_name) == (
        "+989121234567",
        "Ali",
        "Rezaei",
    )


def test_a_persian_manager_reads_the_forms_refusals_in_persian(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    app_session.commit()
    log_in(client, manager.username)
    response = client.post(
        "/campaigns/new",
        data=_form(voicemail_wav="message.mp3", holidays="۱۴۰۴/۱۳/۰۱", timezone="Mars/Base"),
    )
    assert response.status_code == 422
    assert "مسیر کامل یک پروندهٔ .wav (از ریشه)" in response.text
    assert "«1404/13/01» تاریخ نیست" in response.text
    assert "منطقهٔ زمانی «Mars/Base» شناخته‌شده نیست" in response.text


def test_a_campaign_is_paused_not_sent_on_a_break(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    make_campaign(app_session, name="Spring")
    make_campaign(app_session, name="Autumn", status=CampaignStatus.PAUSED)
    app_session.commit()
    log_in(client, manager.username)
    page = client.get("/campaigns/").text
    assert 'value="paused">توقف موقت</button>' in page
    assert 'value="active">ادامهٔ کمپین</button>' in page
    assert "استراحت" not in page


def test_the_preview_reads_the_file_as_people_have_it_and_the_import_follows_it(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    _manager(client, app_session)
    campaign = make_campaign(app_session)
    app_session.commit()
    content = (
        "فهرست مشتریان مهر\n"
        "نام؛شماره اول؛تلفن ثابت؛شهر\n"
        "علی؛09121234567؛02188776655؛تهران\n"
        '"مریم؛09351234567؛؛شیراز\n'
        "رضا؛12345؛؛قم\n"
        "سارا؛09361234567؛؛کرج\n"
    ).encode()

    def post(url: str, **form: str):  # type: ignore[no-untyped-def]
        return client.post(
            url,
            data={"file": (io.BytesIO(content), "leads.csv"), "mapping": "", **form},
            content_type="multipart/form-data",
        )

    shown = post(f"/campaigns/{campaign.id}/import/preview")
    assert shown.status_code == 200, shown.text
    html = shown.text
    assert 'data-ready="1"' in html and 'name="header_line" min="1" value="2"' in html
    assert '<option value="arabic-semicolon" selected>' in html
    assert 'name="column-2" value="تلفن ثابت"' in html and "second number" in html
    # the unclosed quote and the short number are shown as not imported, by line
    bad_rows = html.split('class="bad"')
    assert len(bad_rows) == 3 and "<td>4</td>" in bad_rows[1] and "<td>5</td>" in bad_rows[2]
    assert "never closed" in bad_rows[1] and "too short for Iran" in bad_rows[2]
    refused = post(f"/campaigns/{campaign.id}/import/preview", header_line="two")
    assert refused.status_code == 422 and "must be a line number" in refused.text

    # the manager keeps the city as the lead's own field, and imports
    form = {
        "header_line": "2",
        "delimiter": "arabic-semicolon",
        **{f"column-{i}": name for i, name in enumerate(["نام", "شماره اول", "تلفن ثابت", "شهر"])},
        "field-0": "first_name",
        "field-1": "phone",
        "field-2": "phone",
        "field-3": "extra",
    }
    response = post(f"/campaigns/{campaign.id}/import", **form)
    assert response.status_code == 302, response.text
    page = response.headers["Location"]
    worker = app.extensions["cc_import_worker"].start()
    try:
        progress = _wait_until_imported(client, page)
    finally:
        worker.stop()
    assert (progress["rows_imported"], progress["rows_rejected"]) == (2, 2)
    ali = app_session.scalars(select(Lead).order_by(Lead.id)).first()
    assert ali is not None and ali.fields["شهر"] == "تهران"
    assert ali.fields["other_phones"] == "02188776655"
    assert ali.customer.phone2_e164 == "+982188776655"  # the agent's "call the other number"
    result = client.get(page).text
    assert "never closed" in result and 'id="report-csv"' in result
    report = client.get(f"{page}/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "Line,What,Reason"
    assert lines[1].startswith("4,Rejected,") and "never closed" in lines[1]
    assert lines[2] == '5,Rejected,"too short for Iran: ""12345"""'


def test_the_preview_and_report_speak_persian(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    app_session.commit()
    log_in(client, manager.username)
    campaign = make_campaign(app_session)
    app_session.commit()
    content = "نام,ستون دوم\nعلی,09121234567\nرضا,12345\n".encode()
    shown = client.post(
        f"/campaigns/{campaign.id}/import/preview",
        data={"file": (io.BytesIO(content), "leads.csv")},
        content_type="multipart/form-data",
    )
    assert "ستون شماره تلفن پیدا نشد" in shown.text, shown.text
    chosen = client.post(
        f"/campaigns/{campaign.id}/import/preview",
        data={
            "file": (io.BytesIO(content), "leads.csv"),
            "column-0": "نام",
            "field-0": "full_name",
            "column-1": "ستون دوم",
            "field-1": "phone",
        },
        content_type="multipart/form-data",
    )
    assert 'data-ready="1"' in chosen.text
    assert "کوتاه است" in chosen.text and "&#34;12345&#34;" in chosen.text, chosen.text


def test_a_persian_manager_reads_which_rows_lost_nul_characters(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    campaign = make_campaign(app_session)
    lead_list = lead_import.import_leads(
        app_session,
        b"phone,name\n09121234567,Ali\x00\n09351234567,Sara\n",
        campaign_id=campaign.id,
        filename="leads.csv",
    )
    app_session.commit()
    log_in(client, manager.username)
    page = client.get(f"/campaigns/{campaign.id}/lists/{lead_list.id}")
    assert page.status_code == 200
    warnings = page.text.split('id="warning-rows"')[1].split("</table>")[0]
    assert "<td>2</td><td>نویسه‌های تهی (NUL) از &#34;name&#34; حذف شدند</td>" in warnings
    assert lead_list.rows_imported == 2


def test_a_persian_manager_reads_what_is_wrong_with_a_calling_window_in_persian(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    app_session.commit()
    log_in(client, manager.username)
    response = client.post("/campaigns/new", data=_form(monday="09:00-25:00"))
    assert response.status_code == 422
    assert "بازهٔ تماس 09:00-25:00: «25:00» ساعتی میان ۰۰:۰۰ و ۲۴:۰۰ نیست" in response.text
    response = client.post("/campaigns/new", data=_form(monday="21:00-09:00"))
    assert response.status_code == 422
    assert "بازهٔ تماس 21:00-09:00: آغاز باید پیش از پایان" in response.text
    assert "is not a time" not in response.text and "must" not in response.text
    assert app_session.scalars(select(Campaign)).all() == []


def test_a_persian_manager_reads_that_the_header_lost_nul_characters(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    campaign = make_campaign(app_session)
    lead_list = lead_import.import_leads(
        app_session,
        b"phone,na\x00me\n09121234567,Ali\n",
        campaign_id=campaign.id,
        filename="leads.csv",
    )
    app_session.commit()
    log_in(client, manager.username)
    page = client.get(f"/campaigns/{campaign.id}/lists/{lead_list.id}")
    assert page.status_code == 200
    warnings = page.text.split('id="warning-rows"')[1].split("</table>")[0]
    said = "نویسه‌های تهی (NUL) از نام ستون‌های &#34;name&#34; حذف شدند"
    assert f"<td>1</td><td>{said}</td>" in warnings


def test_a_reminder_not_understood_is_said_on_its_field_and_nothing_typed_is_lost(
    client: FlaskClient, app_session: Session
) -> None:
    _manager(client, app_session)
    response = client.post(
        "/campaigns/new", data=_form(name="Autumn push", reminder_minutes="1440, 60 30")
    )
    assert response.status_code == 422
    reminder = response.text.split('id="reminder_minutes"')[1].split("<label")[0]
    assert "60 30 is not a number of minutes" in reminder
    assert "is not like 09:00-21:00" not in response.text
    assert "invalid literal" not in response.text and 'class="flash error"' not in response.text
    assert 'value="Autumn push"' in response.text and 'value="1440, 60 30"' in response.text
    assert "16:00-21:00" in response.text
    assert app_session.scalars(select(Campaign)).all() == []


def test_a_calling_window_not_understood_is_said_on_its_day(
    client: FlaskClient, app_session: Session
) -> None:
    _manager(client, app_session)
    response = client.post("/campaigns/new", data=_form(monday="9-5", reminder_minutes="60"))
    assert response.status_code == 422
    monday = response.text.split('id="monday"')[1].split("<label")[0]
    assert "Calling window 9-5:" in monday
    assert 'value="60"' in response.text
    assert app_session.scalars(select(Campaign)).all() == []


def test_a_persian_manager_reads_what_is_wrong_with_a_reminder_in_persian(
    client: FlaskClient, app_session: Session
) -> None:
    manager = make_user(app_session, Role.MANAGER, locale="fa")
    app_session.commit()
    log_in(client, manager.username)
    response = client.post("/campaigns/new", data=_form(reminder_minutes="۶۰ ۳۰"))
    assert response.status_code == 422
    assert "60 30 عدد دقیقه نیست" in response.text
    error = response.text.split('id="reminder_minutes"')[1].split('class="field-error">')[1]
    assert "minutes" not in error.split("</p>")[0]
