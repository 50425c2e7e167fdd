"""Log in, log out, language switch, and the role's home page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from callcenter import request_scope
from callcenter.auth.access import (
    ALL_ROLES,
    LOGIN_TOKEN,
    allow_roles,
    is_token_authenticated,
    public,
)
from callcenter.auth.forms import LocaleForm, LoginForm, PasswordChangeForm
from callcenter.db import utcnow
from callcenter.errors import InvalidInput
from callcenter.extensions import limiter
from callcenter.services import accounts
from callcenter.states import Role

bp = Blueprint("auth", __name__)

HOME_ENDPOINTS = {
    Role.AGENT: "agent_ui.home",
    Role.SUPERVISOR: "supervisor.floor",
    Role.MANAGER: "supervisor.reports",
    Role.ADMIN: "admin.users",
}


def _login_rate_limit() -> str:
    return str(current_app.config["CC_LOGIN_RATE_LIMIT"])


def _login_attempt_key() -> str:
    """Per username and address: a whole office behind one NAT logs in at
    shift start, and guessing one account's password is still slowed."""
    username = (request.form.get("username") or "").strip().casefold()[:64]
    return f"login:{request.remote_addr}:{username}"


def _refused(response: Response) -> bool:
    """Only refused attempts count against the limit (a success redirects)."""
    return response.status_code >= 400


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _login_rate_limit, methods=["POST"], key_func=_login_attempt_key, deduct_when=_refused
)
@public
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(
                request_scope.session(),
                form.username.data or "",
                form.password.data or "",
                policy=current_app.config["CC_LOCKOUT_POLICY"],
                ip_address=request.remote_addr,
            )
        except accounts.LoginRefused as refused:
            request_scope.commit()  # keep the failed-attempt count and the audit row
            error = _translate_refusal(refused)
        else:
            session.clear()
            session.permanent = True
            session[LOGIN_TOKEN] = accounts.start_session(
                request_scope.session(), user, ip_address=request.remote_addr
            )
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
    return render_template("auth/login.html", form=form, error=error), 401 if error else 200


@bp.post("/logout")
@allow_roles(*ALL_ROLES)
def logout() -> ResponseReturnValue:
    accounts.record_logout(
        request_scope.session(),
        current_user,
        token=session.get(LOGIN_TOKEN),
        ip_address=request.remote_addr,
    )
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@allow_roles(*ALL_ROLES)
def change_password() -> ResponseReturnValue:
    """Everyone changes their own; after an admin's reset it comes first."""
    form = PasswordChangeForm()
    error = None
    if form.validate_on_submit():
        if form.new.data != form.again.data:
            error = _("The two new passwords differ.")
        else:
            try:
                accounts.change_own_password(
                    request_scope.session(),
                    current_user,
                    form.current.data or "",
                    form.new.data or "",
                    keep_token=session.get(LOGIN_TOKEN),
                )
            except InvalidInput as refused:
                error = (
                    _("The current password is wrong.")
                    if refused.details.get("field") == "current"
                    else _("Choose a new password of at least 10 characters, not the one you have.")
                )
            else:
                flash(_("Your password is changed."), "success")
                return redirect(url_for("auth.home"))
    status = 422 if error or form.errors else 200
    return render_template(
        "auth/password.html", form=form, error=error, forced=current_user.must_change_password
    ), status


def require_own_password() -> ResponseReturnValue | None:
    """After an admin set the password, the user's first stop is choosing one."""
    if is_token_authenticated(current_app, request.endpoint):
        return None
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if request.endpoint in _ALLOWED_BEFORE_A_NEW_PASSWORD or request.path.startswith("/static"):
        return None
    return redirect(url_for("auth.change_password"))


_ALLOWED_BEFORE_A_NEW_PASSWORD = frozenset(
    {"auth.change_password", "auth.logout", "auth.set_locale", "auth.login", "static"}
)


@bp.get("/")
@allow_roles(*ALL_ROLES)
def home() -> ResponseReturnValue:
    return redirect(url_for(HOME_ENDPOINTS[current_user.role]))


@bp.post("/account/locale")
@public
def set_locale() -> ResponseReturnValue:
    form = LocaleForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            accounts.set_locale(request_scope.session(), current_user, form.locale.data or "fa")
        else:
            session["locale"] = form.locale.data
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.home"))


def _translate_refusal(refused: accounts.LoginRefused) -> str:
    if refused.message.startswith("too many"):
        return _("Too many failed attempts. This account is locked for a while; try again later.")
    if refused.message.startswith("this account"):
        return _("This account is deactivated. Ask an administrator.")
    return _("Wrong username or password.")


def _safe_next(target: str | None) -> str | None:
    """A path on this site, or nothing. Browsers drop tabs and newlines and
    read a backslash as a slash: "/", a tab, "/evil.example" is "//evil.example"."""
    if not target or any(ch in target for ch in "\\\t\r\n") or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def enforce_idle_timeout() -> ResponseReturnValue | None:
    """Log out a session idle for longer than the configured limit; the
    agent's screen working over its socket counts as activity."""
    if is_token_authenticated(current_app, request.endpoint):
        return None
    if not current_user.is_authenticated:
        return None
    now = utcnow()
    limit = timedelta(minutes=current_app.config["CC_IDLE_TIMEOUT_MINUTES"])
    last_seen = session.get("last_seen")
    db = request_scope.session()
    if last_seen is not None and accounts.idle_too_long(
        db,
        current_user.id,
        last_page_at=datetime.fromtimestamp(float(last_seen), UTC),
        limit=limit,
        now=now,
    ):
        accounts.record_logout(
            db, current_user, token=session.get(LOGIN_TOKEN), ip_address=request.remote_addr
        )
        request_scope.commit()
        logout_user()
        session.clear()
        flash(_("Your session expired. Please log in again."), "info")
        return redirect(url_for("auth.login"))
    session["last_seen"] = now.timestamp()
    accounts.touch(db, current_user.id, now=now)
    return None
