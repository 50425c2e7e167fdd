"""Spreadsheet formula injection (CWE-1236): text that anyone can set (names,
notes, reasons) must never run as a formula when a manager opens an export.
CSV has no cell types, so such text gets a leading apostrophe (the OWASP
advice); XLSX writes it as a string cell (`writers.write_xlsx`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# What spreadsheet programs read as the start of a formula, with the full-width
# forms that Excel also accepts in East Asian input modes.
FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
# A signed number (an E.164 phone, a negative count) is only ever a number.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def csv_text(value: Any) -> Any:
    """`value` as a CSV cell that no spreadsheet evaluates; numbers unchanged."""
    if (
        isinstance(value, str)
        and value[:1] in FORMULA_STARTS
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_row(row: Iterable[Any]) -> list[Any]:
    return [csv_text(value) for value in row]
