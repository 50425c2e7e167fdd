"""Reading and validating script files (YAML), with file and line in every error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scripts.errors import Problem, ScriptError
from scripts.model import (
    BOOKING_STEPS,
    FOLLOW_UP_STEP,
    LOCALES,
    OTHER_LABELS,
    OTHER_REASON,
    PLACEHOLDERS,
    STEP_COUNT,
    RejectionReason,
    Script,
    Step,
)
from scripts.placeholders import TemplateError, placeholders

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"

_SCRIPT_KEYS = {"key", "version", "locale", "title", "description", "steps"}
_STEP_KEYS = {
    "number",
    "key",
    "title",
    "prompt",
    "tips",
    "rejections",
    "booking",
    "follow_up",
    "messages",
}
_REASON_KEYS = {"code", "label"}
_MESSAGE_NAMES = {"email_subject", "email_body", "letter_body"}
_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the composed YAML nodes, so each problem keeps its line."""

    def __init__(self, text: str, loader: yaml.SafeLoader) -> None:
        self.text = text
        self.loader = loader
        self.problems: list[Problem] = []

    def fail(self, node: Node | None, message: str) -> None:
        self.problems.append(Problem(_line(node) if node is not None else None, message))

    def mapping(self, node: Node, what: str, allowed: set[str]) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping of keys to values")
            return {}
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key not in allowed:
                self.fail(key_node, f"unknown key {key!r} in {what}; allowed: {sorted(allowed)}")
            elif key in entries:
                first = _line(entries[key][0])
                self.fail(key_node, f"key {key!r} appears twice in {what} (first on line {first})")
            else:
                entries[key] = (key_node, value_node)
        return entries

    def text_value(
        self,
        entries: dict[str, tuple[Node, Node]],
        key: str,
        what: str,
        owner: Node,
        *,
        required: bool = True,
    ) -> str | None:
        if key not in entries:
            if required:
                self.fail(owner, f"{what} has no {key}")
            return None
        node = entries[key][1]
        if not isinstance(node, ScalarNode) or node.tag != _STR_TAG or not node.value.strip():
            self.fail(node, f"{key} of {what} must be non-empty text")
            return None
        return str(node.value)

    def int_value(
        self, entries: dict[str, tuple[Node, Node]], key: str, what: str, owner: Node
    ) -> int | None:
        if key not in entries:
            self.fail(owner, f"{what} has no {key}")
            return None
        node = entries[key][1]
        if not isinstance(node, ScalarNode) or node.tag != _INT_TAG:
            self.fail(node, f"{key} of {what} must be a whole number")
            return None
        return int(self.loader.construct_object(node))

    def flag(self, entries: dict[str, tuple[Node, Node]], key: str, what: str) -> bool:
        if key not in entries:
            return False
        node = entries[key][1]
        if not isinstance(node, ScalarNode) or node.tag != _BOOL_TAG:
            self.fail(node, f"{key} of {what} must be true or false")
            return False
        return bool(self.loader.construct_object(node))

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{what} must be a list")
            return []
        return list(node.value)

    def template(self, node: Node, value: str, what: str) -> None:
        try:
            for name in placeholders(value):
                if name not in PLACEHOLDERS:
                    self.fail_at(node, "{" + name, f"unknown placeholder {{{name}}} in {what}")
        except TemplateError as exc:
            self.fail_at(node, exc.needle, f"{what}: {exc}")

    def fail_at(self, node: Node, needle: str | None, message: str) -> None:
        """Point at the line inside a (multi-line) value where `needle` occurs."""
        start, end = node.start_mark.index, node.end_mark.index
        found = self.text.find(needle, start, end) if needle else -1
        line = self.text.count("\n", 0, found) + 1 if found >= 0 else _line(node)
        self.problems.append(Problem(line, message))


_Entries = dict[str, tuple[Node, Node]]


def _read_reasons(
    reader: _Reader, entries: _Entries, what: str, locale: str | None
) -> tuple[RejectionReason, ...]:
    reasons: list[RejectionReason] = []
    if "rejections" in entries:
        for item in reader.sequence(entries["rejections"][1], f"rejections of {what}"):
            reason_what = f"a rejection reason of {what}"
            fields = reader.mapping(item, reason_what, _REASON_KEYS)
            code = reader.text_value(fields, "code", reason_what, item)
            label = reader.text_value(fields, "label", reason_what, item)
            if code is None or label is None:
                continue
            if not _SLUG.match(code):
                reader.fail(fields["code"][1], f"reason code {code!r} must be lower_snake_case")
            elif any(reason.code == code for reason in reasons):
                reader.fail(fields["code"][1], f"reason code {code!r} appears twice in {what}")
            else:
                reasons.append(RejectionReason(code, label, free_text=code == OTHER_REASON))
    if not any(reason.code == OTHER_REASON for reason in reasons):
        label = OTHER_LABELS.get(locale or "en", OTHER_LABELS["en"])
        reasons.append(RejectionReason(OTHER_REASON, label, free_text=True))
    return tuple(reasons)


def _read_messages(reader: _Reader, entries: _Entries, what: str) -> tuple[tuple[str, str], ...]:
    if "messages" not in entries:
        return ()
    node = entries["messages"][1]
    fields = reader.mapping(node, f"messages of {what}", _MESSAGE_NAMES)
    messages = []
    for name in sorted(fields):
        value = reader.text_value(fields, name, f"messages of {what}", node)
        if value is not None:
            reader.template(fields[name][1], value, f"{name} of {what}")
            messages.append((name, value))
    return tuple(messages)


def _read_step(
    reader: _Reader, node: Node, index: int, locale: str | None
) -> tuple[int | None, Step | None]:
    entries = reader.mapping(node, f"step #{index} of the list", _STEP_KEYS)
    if not entries:
        return None, None
    number = reader.int_value(entries, "number", f"step #{index} of the list", node)
    what = f"step {number}" if number is not None else f"step #{index} of the list"
    key = reader.text_value(entries, "key", what, node)
    title = reader.text_value(entries, "title", what, node)
    prompt = reader.text_value(entries, "prompt", what, node)
    if key is not None and not _SLUG.match(key):
        reader.fail(entries["key"][1], f"key {key!r} of {what} must be lower_snake_case")
    if prompt is not None:
        reader.template(entries["prompt"][1], prompt, f"the prompt of {what}")
    tips: list[str] = []
    if "tips" in entries:
        for tip_node in reader.sequence(entries["tips"][1], f"tips of {what}"):
            if isinstance(tip_node, ScalarNode) and tip_node.tag == _STR_TAG and tip_node.value:
                reader.template(tip_node, tip_node.value, f"a tip of {what}")
                tips.append(tip_node.value)
            else:
                reader.fail(tip_node, f"each tip of {what} must be non-empty text")
    reasons = _read_reasons(reader, entries, what, locale)
    booking = reader.flag(entries, "booking", what)
    follow_up = reader.flag(entries, "follow_up", what)
    messages = _read_messages(reader, entries, what)
    if number is not None:
        _check_roles(reader, entries, node, number, booking, follow_up)
    if number is None or key is None or title is None or prompt is None:
        return number, None
    return number, Step(
        number=number,
        key=key,
        title=title,
        prompt=prompt,
        tips=tuple(tips),
        rejections=reasons,
        booking=booking,
        follow_up=follow_up,
        messages=messages,
    )


def _check_roles(
    reader: _Reader, entries: _Entries, node: Node, number: int, booking: bool, follow_up: bool
) -> None:
    """The booking steps (5-7) and the follow-up (9) say so, and only they."""
    if booking != (number in BOOKING_STEPS):
        where = entries["booking"][1] if "booking" in entries else node
        expected = "must" if number in BOOKING_STEPS else "cannot"
        reader.fail(where, f"step {number} {expected} be flagged booking: true (steps 5-7 book)")
    if follow_up != (number == FOLLOW_UP_STEP):
        where = entries["follow_up"][1] if "follow_up" in entries else node
        expected = "must" if number == FOLLOW_UP_STEP else "cannot"
        reader.fail(where, f"step {number} {expected} be flagged follow_up: true (step 9)")
    if "messages" in entries and number != FOLLOW_UP_STEP:
        reader.fail(entries["messages"][0], f"only step {FOLLOW_UP_STEP} carries messages")


def _read_steps(reader: _Reader, key_node: Node, node: Node, locale: str | None) -> list[Step]:
    steps: list[Step] = []
    seen: dict[int, int] = {}
    for index, step_node in enumerate(reader.sequence(node, "steps"), start=1):
        number, step = _read_step(reader, step_node, index, locale)
        if number is None:
            continue
        line = _line(step_node)
        if not 1 <= number <= STEP_COUNT:
            reader.fail(step_node, f"step number {number} is outside 1..{STEP_COUNT}")
        elif number in seen:
            reader.fail(
                step_node, f"step number {number} appears twice (first on line {seen[number]})"
            )
        else:
            seen[number] = line
            if step is not None:
                steps.append(step)
    missing = [number for number in range(1, STEP_COUNT + 1) if number not in seen]
    if missing:
        listed = ", ".join(str(number) for number in missing)
        reader.fail(key_node, f"steps {listed} missing; a script has exactly steps 1..{STEP_COUNT}")
    keys: dict[str, int] = {}
    for step in steps:
        if step.key in keys:
            reader.fail(
                key_node,
                f"step key {step.key!r} is used by steps {keys[step.key]} and {step.number}",
            )
        keys[step.key] = step.number
    return sorted(steps, key=lambda step: step.number)


def _compose(text: str, source_name: str) -> tuple[yaml.SafeLoader, Node]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ScriptError(source_name, [Problem(line, f"YAML syntax error: {detail}")]) from exc
    except yaml.YAMLError as exc:
        raise ScriptError(source_name, [Problem(None, f"YAML error: {exc}")]) from exc
    if node is None:
        raise ScriptError(source_name, [Problem(1, "the script is empty")])
    return loader, node


def parse_script(text: str, source_name: str = "<script>") -> Script:
    """A script from YAML text (a built-in file or a manager's upload);
    raises `ScriptError` listing every problem with `source_name` and line."""
    loader, root = _compose(text, source_name)
    reader = _Reader(text, loader)
    entries = reader.mapping(root, "the script", _SCRIPT_KEYS)
    if not entries:
        raise ScriptError(source_name, reader.problems)
    key = reader.text_value(entries, "key", "the script", root)
    version = reader.int_value(entries, "version", "the script", root)
    locale = reader.text_value(entries, "locale", "the script", root)
    title = reader.text_value(entries, "title", "the script", root)
    description = reader.text_value(entries, "description", "the script", root, required=False)
    if key is not None and not _SLUG.match(key):
        reader.fail(entries["key"][1], f"script key {key!r} must be lower-case-with-dashes")
    if version is not None and version < 1:
        reader.fail(entries["version"][1], "version must be 1 or more")
    if locale is not None and locale not in LOCALES:
        reader.fail(entries["locale"][1], f"locale {locale!r} is not one of {list(LOCALES)}")
    steps: list[Step] = []
    if "steps" in entries:
        steps = _read_steps(reader, *entries["steps"], locale)
    else:
        reader.fail(root, "the script has no steps")
    if reader.problems:
        raise ScriptError(source_name, reader.problems)
    return Script(
        key=str(key),
        version=int(version),  # type: ignore[arg-type]
        locale=str(locale),
        title=str(title),
        steps=tuple(steps),
        description=description or "",
        source_name=source_name,
    )


def parse_definition(definition: dict[str, Any], source_name: str = "<stored script>") -> Script:
    """A script from the plain data `Script.to_definition` gave (as stored)."""
    text = yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)
    return parse_script(text, source_name)


def load_script_file(path: str | Path) -> Script:
    path = Path(path)
    return parse_script(path.read_text(encoding="utf-8"), str(path))


def load_builtin_scripts() -> list[Script]:
    """Every built-in script, ordered by key, locale and version."""
    scripts = [load_script_file(path) for path in sorted(BUILTIN_DIR.glob("*.yaml"))]
    return sorted(scripts, key=lambda script: (script.key, script.locale, script.version))
