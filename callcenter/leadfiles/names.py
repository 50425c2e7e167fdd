"""Titles, full-name splitting and the locale hint taken from a name."""

from __future__ import annotations

from callcenter.leadfiles.text import has_arabic_script, has_latin_letters, normalize_text

_TITLES = {
    "آقا": "آقای",
    "آقای": "آقای",
    "اقا": "آقای",
    "اقای": "آقای",
    "جناب": "آقای",
    "جنابآقای": "آقای",
    "جنابآقا": "آقای",
    "خانم": "خانم",
    "بانو": "خانم",
    "سرکارخانم": "خانم",
    "دکتر": "دکتر",
    "mr": "Mr",
    "mister": "Mr",
    "ms": "Ms",
    "mrs": "Ms",
    "miss": "Ms",
    "dr": "Dr",
    "doctor": "Dr",
}

# Persian first names written as two words: "سید علی", "محمد رضا", "امیر حسین".
_ALWAYS_COMPOUND = frozenset({"سید", "سیده", "میر"})
_FIRST_PART = frozenset({"محمد", "امیر", "علی", "ابو", "عبد", "فاطمه", "زهرا", "ام"})
_SECOND_PART = frozenset(
    {
        "رضا",
        "علی",
        "حسین",
        "حسن",
        "محمد",
        "مهدی",
        "جواد",
        "صادق",
        "کاظم",
        "باقر",
        "تقی",
        "امین",
        "هادی",
        "اله",
        "الله",
        "رحمان",
        "رحیم",
        "حمید",
        "مجید",
        "زهرا",
        "سادات",
        "البنین",
    }
)


def _title_key(text: str) -> str:
    return normalize_text(text).casefold().replace(".", "").replace(" ", "").replace("\u200c", "")


def normalize_title(text: str) -> str:
    """آقا/آقای/جناب -> آقای, خانم/بانو -> خانم, Mr/Mr. -> Mr, Ms/Mrs/Miss -> Ms,
    Dr -> Dr, دکتر stays. Titles not in the list are kept as written."""
    text = normalize_text(text)
    if not text:
        return ""
    key = _title_key(text)
    if key in _TITLES:
        return _TITLES[key]
    if "دکتر" in key:  # "جناب آقای دکتر", "خانم دکتر"
        return "دکتر"
    return text


def split_title(name: str) -> tuple[str, str]:
    """("آقای علی رضایی") -> ("آقای", "علی رضایی"); ("Dr. Jane Roe") -> ("Dr", "Jane Roe").
    Takes up to two leading title words ("جناب آقای")."""
    words = normalize_text(name).split(" ")
    for count in (2, 1):
        if len(words) > count and _title_key("".join(words[:count])) in _TITLES:
            return normalize_title(" ".join(words[:count])), " ".join(words[count:])
    return "", " ".join(words)


def split_full_name(name: str) -> tuple[str, str, str]:
    """A full-name cell to (title, first, last).

    "Roe, Jane" is last-comma-first. Persian names: the first word is the
    first name, the rest the surname ("علی حسینی نژاد"), except a compound
    first name ("محمد رضا احمدی"). Latin names: the last word is the surname,
    the rest the first name ("Mary Ann Smith")."""
    title, rest = split_title(name)
    if "," in rest or "،" in rest:
        last, _, first = rest.replace("،", ",").partition(",")
        return title, first.strip(), last.strip()
    words = rest.split()
    if len(words) <= 1:
        return title, "", rest  # one word: call them by it after the title
    if has_arabic_script(rest):
        cut = 2 if len(words) >= 3 and _is_compound_first(words[0], words[1]) else 1
    else:
        cut = len(words) - 1
    return title, " ".join(words[:cut]), " ".join(words[cut:])


def _is_compound_first(first: str, second: str) -> bool:
    return first in _ALWAYS_COMPOUND or (first in _FIRST_PART and second in _SECOND_PART)


def locale_hint(*texts: str) -> str | None:
    """ "fa" for names in Persian script, "en" for Latin ones, None if neither."""
    joined = " ".join(texts)
    if has_arabic_script(joined):
        return "fa"
    if has_latin_letters(joined):
        return "en"
    return None
