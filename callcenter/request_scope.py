"""One database session per request or socket event, kept on `flask.g`.
Committed once at the boundary, rolled back on any error."""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session

from callcenter.db import Database


def database() -> Database:
    db: Database = current_app.extensions["cc_database"]
    return db


def session() -> Session:
    if "db_session" not in g:
        g.db_session = database().sessions()
    current: Session = g.db_session
    return current


def commit() -> None:
    if "db_session" in g:
        g.db_session.commit()


def rollback() -> None:
    if "db_session" in g:
        g.db_session.rollback()


def close() -> None:
    current = g.pop("db_session", None)
    if current is not None:
        current.close()


def _commit_successful_response(response: Response) -> Response:
    if response.status_code < 400:
        commit()
    else:
        rollback()
    return response


def _close(_exc: BaseException | None) -> None:
    rollback()
    close()


def init_app(app: Flask, db: Database) -> None:
    app.extensions["cc_database"] = db
    app.after_request(_commit_successful_response)
    app.teardown_appcontext(_close)
