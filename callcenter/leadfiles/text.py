"""Text clean-up for cells typed or pasted by people using Persian keyboards.

Cells arrive with Persian (۰-۹) or Arabic-Indic (٠-٩) digits, Arabic yeh/kaf
instead of the Persian letters, tatweel used as decoration, bidi control marks
pasted from Word or a browser, and stray zero-width non-joiners. Stored text is
kept in one canonical form (ASCII digits, Persian letters) so that duplicates
and searches match; the display layer decides which digits to show.
"""

from __future__ import annotations

import re

ZWNJ = "\u200c"

_DIGITS = {ord(c): str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")}
_DIGITS.update({ord(c): str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")})

_LETTERS = {
    ord("ي"): "ی",  # Arabic yeh
    ord("ى"): "ی",  # Arabic alef maksura, typed for yeh on Arabic layouts
    ord("ك"): "ک",  # Arabic kaf
}

# Invisible characters that carry no meaning in a name, a number or an address.
_DROPPED = (
    "\x00"  # NUL, from binary junk pasted in; PostgreSQL text cannot hold it
    "\u0640"  # tatweel (kashida)
    "\u200b\u200d\u2060\ufeff"  # zero-width space / joiner, word joiner, BOM
    "\u200e\u200f\u061c"  # LRM, RLM, Arabic letter mark
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)

_TABLE: dict[int, str | None] = {**_DIGITS, **_LETTERS, **dict.fromkeys(map(ord, _DROPPED))}
_DIGITS_ONLY: dict[int, str | None] = dict(_DIGITS)

# ZWNJ is meaningful between two letters (می‌خواهم); a run of them is one, and
# one next to a space or at either end of the text is junk.
_ZWNJ_RUN = re.compile(ZWNJ + "{2,}")
_ZWNJ_EDGE = re.compile(rf"\s*{ZWNJ}+\s*(?=\s|$)|(?:^|(?<=\s)){ZWNJ}+\s*|\s+{ZWNJ}+")


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII; nothing else changes."""
    return text.translate(_DIGITS_ONLY)


def normalize_text(text: str) -> str:
    """Canonical form of one cell: ASCII digits, Persian yeh/kaf, no tatweel or
    bidi marks, no stray ZWNJ, single spaces, stripped."""
    text = text.translate(_TABLE)
    if ZWNJ in text:
        text = _ZWNJ_RUN.sub(ZWNJ, text)
        text = _ZWNJ_EDGE.sub(" ", text)
    # Runs of whitespace (str.isspace: no-break and figure spaces too) to one space.
    return " ".join(text.split())


def header_key(text: str) -> str:
    """Key for matching column names: case, spaces, ZWNJ and punctuation ignored,
    so "First Name", "first_name" and "FIRST-NAME" are one key, as are
    "نام خانوادگی" and "نام‌خانوادگی"."""
    text = normalize_text(text).casefold()
    return re.sub(r"[\s\u200c_\-.#:/()]+", "", text)


_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\ufb50-\ufeff]")
_LATIN_LETTER = re.compile("[a-zA-Z]")


def has_arabic_script(text: str) -> bool:
    return _ARABIC_SCRIPT.search(text) is not None


def has_latin_letters(text: str) -> bool:
    return _LATIN_LETTER.search(text) is not None


EXCERPT_CHARS = 60
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A cell as quoted in a report: in double quotes, control characters
    shown as spaces, and cut to `limit` characters with "…" (a junk cell of
    megabytes must not be copied into every report that mentions it)."""
    text = _UNPRINTABLE.sub(" ", value if isinstance(value, str) else str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f'"{text}"'
