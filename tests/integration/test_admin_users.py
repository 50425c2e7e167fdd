"""An admin manages users from the UI."""

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AuditEntry, User
from callcenter.states import Role
from tests.factories import log_in, make_team, make_user


def _admin(client: FlaskClient, session: Session) -> User:
    admin = make_user(session, Role.ADMIN, locale="en")
    session.commit()
    log_in(client, admin.username)
    return admin


def test_admin_creates_a_user_and_sees_the_password_once(
    client: FlaskClient, app_session: Session
) -> None:
    _admin(client, app_session)
    team = make_team(app_session, "Night shift")
    app_session.commit()
    response = client.post(
        "/admin/users/new",
        data={
            "username": "new.agent",
            "full_name": "Neda Agent",
            "role": "agent",
            "team": str(team.id),
            "locale": "fa",
            "email": "",
        },
    )
    assert response.status_code == 200
    password = response.text.split('id="new-password">')[1].split("<")[0]
    assert len(password) >= 10
    client.post("/logout")
    assert log_in(client, "new.agent", password).status_code == 302
    created = app_session.scalar(select(User).where(User.username == "new.agent"))
    assert created.team_id == team.id and created.role is Role.AGENT
    assert password not in client.get("/agent/").text


def test_invalid_input_shows_the_error_and_keeps_what_was_typed(
    client: FlaskClient, app_session: Session
) -> None:
    _admin(client, app_session)
    response = client.post(
        "/admin/users/new",
        data={
            "username": "bad name!",
            "full_name": "Kept Name",
            "role": "agent",
            "team": "",
            "locale": "en",
            "email": "not-an-email",
        },
    )
    assert response.status_code == 422
    assert 'class="field-error"' in response.text
    assert 'value="Kept Name"' in response.text
    assert 'value="bad name!"' in response.text


def test_duplicate_username_is_a_field_error(client: FlaskClient, app_session: Session) -> None:
    _admin(client, app_session)
    make_user(app_session, Role.AGENT, username="taken")
    app_session.commit()
    response = client.post(
        "/admin/users/new",
        data={
            "username": "taken",
            "full_name": "X",
            "role": "agent",
            "team": "",
            "locale": "en",
        },
    )
    assert response.status_code == 422
    assert "taken" in response.text


def test_admin_changes_role_team_locale_and_deactivates(
    client: FlaskClient, app_session: Session
) -> None:
    _admin(client, app_session)
    user = make_user(app_session, Role.AGENT)
    team = make_team(app_session)
    app_session.commit()
    response = client.post(
        f"/admin/users/{user.id}",
        data={
            "role": "supervisor",
            "team": str(team.id),
            "locale": "en",
        },
    )
    assert response.status_code == 302
    app_session.expire_all()
    changed = app_session.get(User, user.id)
    assert changed.role is Role.SUPERVISOR and changed.team_id == team.id
    assert changed.locale == "en" and not changed.is_active
    actions = set(app_session.scalars(select(AuditEntry.action)))
    assert {"user.role_changed", "user.team_changed", "user.deactivated"} <= actions


def test_admin_resets_a_password(client: FlaskClient, app_session: Session) -> None:
    _admin(client, app_session)
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    response = client.post(f"/admin/users/{user.id}/reset-password")
    new_password = response.text.split('id="new-password">')[1].split("<")[0]
    client.post("/logout")
    assert log_in(client, user.username).status_code == 401
    assert log_in(client, user.username, new_password).status_code == 302


def test_admin_cannot_deactivate_themself(client: FlaskClient, app_session: Session) -> None:
    admin = _admin(client, app_session)
    response = client.post(
        f"/admin/users/{admin.id}",
        data={
            "role": "admin",
            "team": "",
            "locale": "en",
        },
    )
    assert response.status_code == 422
    app_session.expire_all()
    assert app_session.get(User, admin.id).is_active


def test_the_last_active_admin_cannot_demote_themself(
    client: FlaskClient, app_session: Session
) -> None:
    admin = _admin(client, app_session)
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"role": "manager", "team": "", "locale": "en", "is_active": "y"},
    )
    assert response.status_code == 422
    assert "last active administrator" in response.text
    app_session.expire_all()
    assert app_session.get(User, admin.id).role is Role.ADMIN


def test_an_admin_may_step_down_once_another_admin_exists(
    client: FlaskClient, app_session: Session
) -> None:
    admin = _admin(client, app_session)
    make_user(app_session, Role.ADMIN)
    app_session.commit()
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"role": "manager", "team": "", "locale": "en", "is_active": "y"},
    )
    assert response.status_code == 302
    app_session.expire_all()
    assert app_session.get(User, admin.id).role is Role.MANAGER


def test_a_supervisor_with_no_teams_is_told_why_the_floor_is_empty(
    client: FlaskClient, app_session: Session
) -> None:
    supervisor = make_user(app_session, Role.SUPERVISOR, locale="en")
    app_session.commit()
    log_in(client, supervisor.username)
    page = client.get("/supervisor/")
    assert page.status_code == 200
    assert 'id="no-teams"' in page.text and "Ask an administrator" in page.text


def test_a_persian_admin_reads_roles_and_refusals_in_persian(
    client: FlaskClient, app_session: Session
) -> None:
    admin = make_user(app_session, Role.ADMIN, locale="fa")
    make_user(app_session, Role.AGENT, username="taken")
    app_session.commit()
    log_in(client, admin.username)
    form = client.get("/admin/users/new").text
    assert '<option value="agent">کارشناس تماس</option>' in form
    assert '<option value="admin">مدیر سیستم</option>' in form
    response = client.post(
        "/admin/users/new",
        data={"username": "taken", "full_name": "X", "role": "agent", "team": "", "locale": "fa"},
    )
    assert response.status_code == 422
    assert "نام کاربری «taken» قبلاً گرفته شده است" in response.text
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"role": "manager", "team": "", "locale": "fa", "is_active": "y"},
    )
    assert "نقش آخرین مدیر سیستمِ فعال را نمی‌توانید پایین بیاورید" in response.text


def test_admin_marks_a_user_as_a_salesperson(client: FlaskClient, app_session: Session) -> None:
    _admin(client, app_session)
    team = make_team(app_session)
    user = make_user(app_session, Role.AGENT, team=team)
    app_session.commit()
    form = {"role": "agent", "team": str(team.id), "locale": "fa", "is_active": "y"}
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert 'name="is_salesperson"' in page
    response = client.post(f"/admin/users/{user.id}", data={**form, "is_salesperson": "y"})
    assert response.status_code == 302
    app_session.expire_all()
    assert app_session.get(User, user.id).is_salesperson
    entry = app_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "user.salesperson_set")
    )
    assert entry is not None and entry.details["is_salesperson"] is True
    assert "salesperson" in client.get("/admin/users").get_data(as_text=True)
    unticked = client.post(f"/admin/users/{user.id}", data=form)
    assert unticked.status_code == 302, unticked.get_data(as_text=True)
    app_session.rollback()  # a fresh read (the open transaction reads its snapshot)
    assert not app_session.get(User, user.id).is_salesperson
