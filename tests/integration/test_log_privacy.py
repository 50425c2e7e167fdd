"""A failed statement, logged with its traceback, does not put a customer's
number or name in the log: SQLAlchemy hides the bound values, and the log
handler masks the number PostgreSQL repeats in its own detail line."""

from __future__ import annotations

import io
import json
import logging

from sqlalchemy.exc import IntegrityError

from callcenter.db import Database
from callcenter.logging_setup import JsonFormatter, RedactingFilter
from tests.factories import make_customer


def test_a_logged_database_error_shows_neither_number_nor_name(database: Database) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tests.log_privacy")
    log.addHandler(handler)
    # Held in names: the traceback quotes the source line that failed.
    phone, last_name = "+989121110099", "Karimi"
    try:
        with database.sessions() as session:
            make_customer(session, phone_e164=phone, last_name=last_name)
            session.commit()
            try:
                make_customer(session, phone_e164=phone, last_name=last_name)
            except IntegrityError as exc:
                assert "parameters hidden" in str(exc)
                log.exception("import failed", extra={"lead_id": 7})
    finally:
        log.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["lead_id"] == 7 and "IntegrityError" in record["exception"]
    assert "9121110099" not in line and "Karimi" not in line
