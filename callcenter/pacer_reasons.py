"""The pacer's reasons in the reader's language.

The dialer writes each dial-level change's reason in English
(dial_level_changes.reason, the audit trail), as clauses joined by "; ":
"agents logged in (3 -> 5); answer rate 31.0%, 5 agents, abandon today
1.20% (cap 3.0%), risk budget 4.1%; dial level now 2.40". The live floor is
one broadcast to supervisors of both languages, so each browser translates
the clauses itself: the page carries every clause's pattern with its
translated text, and floor.js fills in the values."""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask_babel import get_locale, gettext

from callcenter.dates import to_persian_digits
from callcenter.errors import N_

_PERCENT = r"-?[\d.]+%"
# One pattern per clause the pacer writes (dialer/pacing/pacer.py), whole clause.
CLAUSES: tuple[tuple[str, str], ...] = (
    (r"no agents staffed", N_("no agents staffed")),
    (r"preview: agents place their own calls", N_("preview: agents place their own calls")),
    (r"progressive: one call per ready agent", N_("progressive: one call per ready agent")),
    (r"predictive pacing started", N_("predictive pacing started")),
    (
        r"agents logged in \((?P<before>\d+) -> (?P<after>\d+)\)",
        N_("agents logged in (%(before)s → %(after)s)"),
    ),
    (
        r"agents logged out \((?P<before>\d+) -> (?P<after>\d+)\)",
        N_("agents logged out (%(before)s → %(after)s)"),
    ),
    (
        rf"answer rate rose \((?P<before>{_PERCENT}) -> (?P<after>{_PERCENT})\)",
        N_("answer rate rose (%(before)s → %(after)s)"),
    ),
    (
        rf"answer rate fell \((?P<before>{_PERCENT}) -> (?P<after>{_PERCENT})\)",
        N_("answer rate fell (%(before)s → %(after)s)"),
    ),
    (
        rf"abandon budget loosened \((?P<before>{_PERCENT}) -> (?P<after>{_PERCENT})\)",
        N_("abandon budget loosened (%(before)s → %(after)s)"),
    ),
    (
        rf"abandon budget tightened \((?P<before>{_PERCENT}) -> (?P<after>{_PERCENT})\)",
        N_("abandon budget tightened (%(before)s → %(after)s)"),
    ),
    (r"agents freeing sooner than before", N_("agents freeing sooner than before")),
    (r"agents freeing later than before", N_("agents freeing later than before")),
    (
        rf"answer rate (?P<rate>{_PERCENT}), (?P<agents>\d+) agents, "
        rf"abandon today (?P<today>{_PERCENT}) \(cap (?P<cap>{_PERCENT})\), "
        rf"risk budget (?P<risk>{_PERCENT})",
        N_(
            "answer rate %(rate)s, %(agents)s agents, abandoned today %(today)s "
            "(cap %(cap)s), risk budget %(risk)s"
        ),
    ),
    (r"dial level now (?P<level>[\d.]+)", N_("dial level now %(level)s")),
)
_COMPILED = tuple((re.compile(pattern), text) for pattern, text in CLAUSES)


def for_browser(clauses: Sequence[tuple[str, str]] = CLAUSES) -> list[list[str]]:
    """[pattern, translated text] pairs for a page's script (JavaScript writes
    a named group `(?<name>`, Python `(?P<name>`); the pacer's clauses unless
    told (callcenter.dialer_reasons has the trunk's and the phones')."""
    return [[pattern.replace("(?P<", "(?<"), gettext(text)] for pattern, text in clauses]


def shown(reason: str) -> str:
    """`reason` translated clause by clause; a clause no pattern knows is
    kept as the dialer wrote it."""
    locale = get_locale()
    persian = locale is not None and locale.language == "fa"
    separator = "؛ " if persian else "; "
    return separator.join(_clause(clause, persian) for clause in reason.split("; "))


def _clause(clause: str, persian: bool) -> str:
    for pattern, text in _COMPILED:
        if match := pattern.fullmatch(clause):
            values = match.groupdict()
            if persian:
                values = {name: persian_number(value) for name, value in values.items()}
            return gettext(text, **values)
    return clause


def persian_number(text: str) -> str:
    """'12.5%' as a Persian reader writes it: '۱۲٫۵٪'."""
    return to_persian_digits(text).replace(".", "٫").replace("%", "٪")
