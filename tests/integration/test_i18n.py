"""Persian (RTL) and English per user, and the language switch."""

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callcenter.models import User
from callcenter.states import Role
from tests.factories import log_in, make_user


def test_persian_user_gets_rtl_persian_pages(client: FlaskClient, app_session: Session) -> None:
    user = make_user(app_session, Role.SUPERVISOR, locale="fa")
    app_session.commit()
    log_in(client, user.username)
    page = client.get("/supervisor/").text
    assert '<html lang="fa" dir="rtl">' in page
    assert "خروج" in page  # "Log out"


def test_english_user_gets_ltr_english_pages(client: FlaskClient, app_session: Session) -> None:
    user = make_user(app_session, Role.SUPERVISOR, locale="en")
    app_session.commit()
    log_in(client, user.username)
    page = client.get("/supervisor/").text
    assert '<html lang="en" dir="ltr">' in page
    assert "Log out" in page


def test_switching_language_is_kept_on_the_user(client: FlaskClient, app_session: Session) -> None:
    user = make_user(app_session, Role.AGENT, locale="fa")
    app_session.commit()
    log_in(client, user.username)
    client.post("/account/locale", data={"locale": "en", "next": "/agent/"})
    app_session.expire_all()
    assert app_session.get(User, user.id).locale == "en"
    assert 'dir="ltr"' in client.get("/agent/").text


def test_anonymous_visitor_can_switch_the_login_page(client: FlaskClient) -> None:
    assert 'dir="rtl"' in client.get("/login").text  # the default locale is fa
    client.post("/account/locale", data={"locale": "en", "next": "/login"})
    page = client.get("/login").text
    assert 'dir="ltr"' in page and "Log in" in page
