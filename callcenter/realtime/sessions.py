"""The Flask session of a Socket.IO event.

Flask-SocketIO gives each socket its own copy of the user's session, taken
at its first event (the connect) and kept in the socket's WSGI environ as
`saved_session`; every later event's request context gets that copy. Flask
still opens the session cookie when it pushes that context (the signature
checked, the JSON decoded), and the result was thrown away at once: a cost
every socket event paid. The copy is what the handlers, the login check
included, have always read."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

# Flask-SocketIO's key for the socket's session copy in its environ.
SAVED_SESSION = "saved_session"


class SocketEventSessions(SecureCookieSessionInterface):
    """The signed cookie sessions, not opened for a socket's later events."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if SAVED_SESSION in request.environ:
            # replaced by the socket's copy before any handler runs
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = SocketEventSessions()
