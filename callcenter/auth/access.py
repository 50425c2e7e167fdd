"""One mechanism for role checks on routes and Socket.IO events.

Every view declares who may use it (`allow_roles` or `public`); a
before-request hook refuses everything else, so a view that forgot to declare
is closed, not open. Socket events register through `socket_event` and are
checked by the same rule."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from callcenter.errors import N_, DomainError, Forbidden
from callcenter.states import Role
from callcenter.typed_digits import normalized_payload

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})

INTERNAL_ERROR = N_("something went wrong on the server; it is logged")
DATABASE_AWAY = N_("the server cannot reach its database; try again in a moment")
LOGIN_TOKEN = "login_token"
"""The session cookie's key for this login's token (services.accounts.start_session)."""


class NotLoggedIn(DomainError):
    status = 401
    error_id = "not-logged-in"


def allow_roles(*roles: Role) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return mark


def allow_token_roles(*roles: Role) -> Callable[[F], F]:
    """An API view: authenticated by an API token of one of `roles` (the
    Authorization header), never by the session cookie."""

    def mark(view: F) -> F:
        view.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        view.token_authenticated = True  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    view.allowed_roles = None  # type: ignore[attr-defined]
    view.is_public = True  # type: ignore[attr-defined]
    return view


def allowed_roles_of(view: Callable[..., Any]) -> frozenset[Role] | None:
    """None for a public view; raises if the view declared nothing."""
    if getattr(view, "is_public", False):
        return None
    roles = getattr(view, "allowed_roles", ...)
    if roles is ...:
        raise LookupError(f"view {view.__module__}.{view.__qualname__} declares no roles")
    return roles


def roles_for_endpoint(app: Flask, endpoint: str) -> frozenset[Role] | None:
    """Static files are public; every other endpoint answers for its view."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return None
    return allowed_roles_of(app.view_functions[endpoint])


def is_token_authenticated(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return bool(getattr(view, "token_authenticated", False))


def check_token(roles: frozenset[Role]) -> None:
    """The request's API token is live and of one of `roles`; kept on g.api_token."""
    from callcenter import request_scope
    from callcenter.services import api_tokens

    token = api_tokens.authenticate(
        request_scope.session(), api_tokens.bearer_token(request.headers.get("Authorization"))
    )
    api_tokens.check_role(token, roles)
    g.api_token = token


def check_role(roles: Iterable[Role] | None) -> None:
    if roles is None:
        return
    if not current_user.is_authenticated:
        raise NotLoggedIn(N_("please log in"))
    if current_user.role not in roles:
        raise Forbidden(N_("your role may not do this"), details={"role": str(current_user.role)})


def enforce_route_roles() -> None:
    if request.endpoint is None:
        return  # 404 / 405: nothing to protect
    try:
        roles = roles_for_endpoint(current_app, request.endpoint)
    except LookupError:
        log.error("refusing %s: the view declares no roles", request.endpoint)
        raise Forbidden(N_("this page declares no roles")) from None
    if roles is not None and is_token_authenticated(current_app, request.endpoint):
        check_token(roles)
        return
    check_role(roles)


def init_app(app: Flask) -> None:
    app.before_request(enforce_route_roles)


@dataclass(frozen=True)
class SocketEvent:
    name: str
    namespace: str
    roles: frozenset[Role]
    handler: Callable[..., Any]


SOCKET_EVENTS: dict[tuple[str, str], SocketEvent] = {}


def socket_event(name: str, *, roles: Iterable[Role], namespace: str = "/") -> Callable[[F], F]:
    """Register a Socket.IO handler with the roles that may send it. The
    wrapper checks the role, runs the handler in one unit of work, and turns
    domain errors into an `error` event for that client only."""

    allowed = frozenset(roles)

    def register(handler: F) -> F:
        @functools.wraps(handler)
        def guarded(*args: Any) -> Any:
            from flask_socketio import emit

            from callcenter import request_scope
            from callcenter.services import accounts

            try:
                check_role(allowed)
                result = handler(*(normalized_payload(arg) for arg in args))
                accounts.touch(request_scope.session(), current_user.id)
                request_scope.commit()
                return result
            except DomainError as exc:
                request_scope.rollback()
                emit("error", {"event": name, **exc.to_dict()})
                return {"ok": False, **exc.to_dict()}
            except SQLAlchemyError as exc:  # the database is away: answer, do not hang
                request_scope.rollback()
                log.warning("socket event %s: database unavailable (%s)", name, type(exc).__name__)
                return {"ok": False, "error": "unavailable", "message": _said(DATABASE_AWAY)}
            except Exception:  # logged by our logger (masked, one JSON record), not raw
                request_scope.rollback()
                log.exception("socket event %s failed", name)
                return {"ok": False, "error": "internal", "message": _said(INTERNAL_ERROR)}
            finally:
                request_scope.close()

        SOCKET_EVENTS[(namespace, name)] = SocketEvent(name, namespace, allowed, guarded)
        return handler

    return register


def _said(text: str) -> str:
    """`text` in the reader's language; in English when even their locale
    cannot be read (it is on their user row, and the database may be away)."""
    from flask_babel import gettext

    try:
        return gettext(text)
    except SQLAlchemyError:
        return text


def register_socket_events(socketio: Any) -> None:
    for event in SOCKET_EVENTS.values():
        socketio.on_event(event.name, event.handler, namespace=event.namespace)
