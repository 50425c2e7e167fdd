"""The application factory: a readable list of configure steps."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import entry_points
from typing import Any

from flask import Flask, request
from flask import session as flask_session

from callcenter import (
    consumers,
    i18n,
    request_scope,
    security_headers,
    typed_digits,
    web_errors,
)
from callcenter.auth import access
from callcenter.auth.access import LOGIN_TOKEN
from callcenter.auth.views import enforce_idle_timeout, require_own_password
from callcenter.bus import EventBus, build_event_bus
from callcenter.bus_backlog import backlog_source
from callcenter.db import Database
from callcenter.extensions import csrf, limiter, login_manager, socketio
from callcenter.lead_import_worker import LeadImportWorker
from callcenter.prometheus import observe_backlog, observe_events
from callcenter.realtime import BROADCASTER, async_mode, client_manager, gate, wire_json
from callcenter.realtime import sessions as socket_sessions
from callcenter.realtime.connection import held_users, init_socketio
from callcenter.recording_store import store_from_settings
from callcenter.services import accounts
from callcenter.services.accounts import LockoutPolicy
from callcenter.services.floor.wiring import register_live_floor
from callcenter.settings import Settings, load_settings
from callcenter.sms_worker import SmsWorker
from callcenter.webhook_worker import WebhookWorker

# Feature packages (agent_ui, supervisor) plug their blueprints in through this
# entry-point group, so `callcenter` never imports them (tests/unit/test_architecture.py).
BLUEPRINT_ENTRY_POINTS = "callcenter.blueprints"


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    bus: EventBus | None = None,
) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    configure_flask(app, settings)
    database = database or Database(settings.database_url)
    request_scope.init_app(app, database)
    configure_login(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app, settings.locale.default, settings.locale.timezone)
    typed_digits.init_app(app)
    configure_socketio(app, settings, database)
    app.before_request(enforce_idle_timeout)
    app.before_request(require_own_password)
    access.init_app(app)
    register_blueprints(app)
    register_socket_handlers()
    web_errors.init_app(app)
    security_headers.init_app(app, settings)
    app.extensions["cc_settings"] = settings
    app.extensions["cc_bus"] = bus or build_event_bus(
        settings.redis_url, linger_ms=settings.bus.linger_ms
    )
    consumers.init_app(app)
    app.extensions["cc_import_worker"] = LeadImportWorker(database)
    app.extensions["cc_webhook_worker"] = WebhookWorker(database, settings.webhooks)
    app.extensions["cc_sms_worker"] = SmsWorker(database, settings.sms, settings.locale.timezone)
    app.extensions["cc_recording_store"] = store_from_settings(settings)
    register_live_floor(app.extensions["cc_bus"], app)
    observe_events(app.extensions["cc_bus"])
    observe_backlog(backlog_source(app.extensions["cc_bus"], settings.redis_url))
    return app


def start_web_background(app: Flask, *, embedded: bool = False) -> list[Any]:
    """What a web process runs beside its requests: it reads the event stream
    (unless `web.applies_events` is off and `callcenter consume` applies every
    event), and where no `callcenter consume` runs (no Redis, or everything in
    one process: `callcenter run`) the lead imports, webhooks, SMS and
    follow-up mail. The workers started, to stop."""
    settings: Settings = app.extensions["cc_settings"]
    if embedded or settings.web.applies_events or not settings.uses_redis:
        app.extensions["cc_bus"].start()
    if settings.uses_redis and not embedded:
        return []
    workers = [
        app.extensions[name].start()
        for name in ("cc_import_worker", "cc_webhook_worker", "cc_sms_worker")
    ]
    app.extensions["cc_follow_up_sender"].wake()
    return workers


def configure_flask(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.auth.session_lifetime_minutes),
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_ENABLED=True,
        # A moving window: no double burst where two fixed windows meet.
        RATELIMIT_STRATEGY="moving-window",
        CC_LOGIN_RATE_LIMIT=settings.auth.login_rate_limit,
        CC_API_RATE_LIMIT=settings.auth.api_rate_limit,
        CC_IDLE_TIMEOUT_MINUTES=settings.auth.idle_timeout_minutes,
        CC_LOCKOUT_POLICY=LockoutPolicy(
            settings.auth.max_failed_logins, settings.auth.lockout_minutes
        ),
        TESTING=settings.env == "test",
    )


def configure_login(app: Flask) -> None:
    from callcenter.models import User

    login_manager.init_app(app)
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        """Every page and Socket.IO event: the user, while this login's token
        is live (logout, deactivation, a role change or a password reset
        revoke it). A socket's events take the user its connect checked,
        while nothing has changed it (`realtime.socket_users`)."""
        token = flask_session.get(LOGIN_TOKEN)
        socket_id = getattr(request, "sid", None)
        if socket_id is None:
            return accounts.signed_in_user(request_scope.session(), int(user_id), token)
        held = held_users()
        user = held.user(request_scope.session(), socket_id, int(user_id), token)
        if user is None:
            user = accounts.signed_in_user(request_scope.session(), int(user_id), token)
            if user is not None:
                held.checked_again(socket_id, token, user)
        return user


def configure_socketio(app: Flask, settings: Settings, database: Database) -> None:
    # The client manager is named every time: Flask-SocketIO keeps the options
    # of an earlier init_app (tests make many apps in one process).
    socketio.init_app(
        app,
        async_mode=async_mode(),
        client_manager=client_manager(settings.redis_url),
        json=wire_json,
    )
    socket_sessions.init_app(app)
    database.sessions.configure(info={BROADCASTER: socketio})
    # a user changed in a read session is forgotten by the sockets too (socket_users)
    database.read_sessions.configure(info={BROADCASTER: socketio})
    app.extensions["cc_socket_counts"] = gate.install(
        app,
        per_ip=settings.web.sockets_per_ip,
        per_process=settings.web.sockets_per_process,
        path=socketio.server_options.get("path", "socket.io"),
    )


def register_socket_handlers() -> None:
    """After init_app (which makes a new server), so every app gets them all."""
    init_socketio()
    access.register_socket_events(socketio)


def register_blueprints(app: Flask) -> None:
    from callcenter.admin import integration_views  # noqa: F401  (its routes join the blueprint)
    from callcenter.admin.views import bp as admin_bp
    from callcenter.api.views import bp as api_bp
    from callcenter.auth.views import bp as auth_bp
    from callcenter.calendar_views import bp as calendars_bp
    from callcenter.campaigns import code_views  # noqa: F401  (its routes join the blueprint)
    from callcenter.campaigns.views import bp as campaigns_bp
    from callcenter.ops_views import bp as ops_bp
    from callcenter.recordings.views import bp as recordings_bp
    from callcenter.sms_views import bp as sms_bp

    for blueprint in (
        auth_bp,
        admin_bp,
        api_bp,
        calendars_bp,
        campaigns_bp,
        ops_bp,
        recordings_bp,
        sms_bp,
    ):
        app.register_blueprint(blueprint)
    for entry_point in sorted(entry_points(group=BLUEPRINT_ENTRY_POINTS), key=lambda e: e.name):
        app.register_blueprint(entry_point.load())
