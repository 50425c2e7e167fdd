"""The calendar feeds' URLs: public, the unguessable token is the key."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from callcenter import request_scope
from callcenter.auth.access import public
from callcenter.services import calendar_feeds

bp = Blueprint("calendars", __name__, url_prefix="/calendars")


@bp.get("/<token>.ics")
@public
def feed(token: str) -> Response:
    session = request_scope.session()
    found = calendar_feeds.feed_for_token(session, token)
    body = calendar_feeds.render(
        session, found, timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"]
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="meetings.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
