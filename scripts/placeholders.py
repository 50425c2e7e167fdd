"""Prompt templates: `{name}` placeholders, `{{` and `}}` for literal braces."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from string import Formatter

_FORMATTER = Formatter()


class TemplateError(ValueError):
    def __init__(self, message: str, needle: str | None = None) -> None:
        super().__init__(message)
        self.needle = needle


def placeholders(template: str) -> Iterator[str]:
    """The placeholder names in `template`, in order; raises `TemplateError`
    for broken braces or anything beyond a bare name ({0}, {x!r}, {x:>5})."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise TemplateError(f"broken braces in template: {exc}") from exc
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        shown = "{" + field
        if not field.isidentifier():
            raise TemplateError(f"placeholder {shown}}} is not a plain name", shown)
        if spec or conversion:
            raise TemplateError(f"placeholder {shown}}} cannot carry a format or conversion", shown)
        yield field


@dataclass(frozen=True)
class Segment:
    """A piece of a filled template: literal or filled text, or a `gap`
    (the name of a placeholder with no value) for the caller to show."""

    text: str
    gap: str | None = None


def segments(template: str, context: Mapping[str, object]) -> list[Segment]:
    """`template` filled from `context`, cut where a value is missing or
    empty, so the screen can mark each gap and say what it lacks."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        return [Segment(template)]
    cut: list[Segment] = []
    for literal, field, _, _ in parts:
        if literal:
            cut.append(Segment(literal))
        if field is None:
            continue
        value = context.get(field)
        text = "" if value is None else str(value)
        cut.append(Segment(text) if text.strip() else Segment("", gap=field))
    return cut


def missing_marker(name: str) -> str:
    return f"[{name}]"


def render(template: str, context: Mapping[str, object]) -> str:
    """Fill placeholders from `context`; a missing or empty value shows as
    `[name]` so the agent sees the gap. Nothing is escaped here."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        return template
    rendered: list[str] = []
    for literal, field, _, _ in parts:
        rendered.append(literal)
        if field is None:
            continue
        value = context.get(field)
        text = "" if value is None else str(value)
        rendered.append(text if text.strip() else missing_marker(field))
    return "".join(rendered)


FACTS = frozenset(
    {"contact_number", "email", "place", "slot_1", "slot_2", "appointment_day",
     "appointment_date", "appointment_time"}
)  # fmt: skip
"""What a sentence to a customer is about: without it the sentence is left out."""


def render_for_customer(template: str, context: Mapping[str, object]) -> str:
    """For the customer's email, letter and invite: no `[name]` gap ever
    reaches them. A line that needs a missing fact (a contact number, say) is
    left out; another missing value (a title) is left blank."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        return template
    lines: list[str] = []
    current: list[str] = []
    dropped = False
    for literal, field, _, _ in parts:
        for index, piece in enumerate(literal.split("\n")):
            if index:
                lines.append("" if dropped else "".join(current))
                current, dropped = [], False
            current.append(piece)
        if field is None:
            continue
        value = context.get(field)
        text = "" if value is None else str(value).strip()
        if not text and field in FACTS:
            dropped = True
        current.append(text)
    lines.append("" if dropped else "".join(current))
    return _tidy("\n".join(_collapse_spaces(line) for line in lines))


def _collapse_spaces(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip(" "))]
    return indent + " ".join(line.split()) if line.strip() else ""


def _tidy(text: str) -> str:
    """At most one blank line in a row (a dropped line leaves none behind)."""
    out: list[str] = []
    for line in text.split("\n"):
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out)
