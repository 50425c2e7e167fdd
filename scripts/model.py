"""A call script: nine steps the agent walks through, as immutable values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STEP_COUNT = 9
BOOKING_STEPS = (5, 6, 7)
FOLLOW_UP_STEP = 9
LOCALES = ("fa", "en")
OTHER_REASON = "other"

# Every placeholder a prompt may use; the service fills what it knows.
PLACEHOLDERS = frozenset(
    {
        "greeting",
        "title",
        "first_name",
        "last_name",
        "agent_name",
        "company",
        "product",
        "benefit",
        "email",
        "slot_1",
        "slot_2",
        "appointment_day",
        "appointment_date",
        "appointment_time",
        "place",
        "contact_number",
    }
)

# The label of the catch-all reason when a script does not word its own.
OTHER_LABELS = {"fa": "دلیل دیگر", "en": "Other reason"}


@dataclass(frozen=True)
class RejectionReason:
    code: str
    label: str
    free_text: bool = False


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    title: str
    prompt: str
    tips: tuple[str, ...] = ()
    rejections: tuple[RejectionReason, ...] = ()
    booking: bool = False
    follow_up: bool = False
    # Step 9 only: the wording of the confirmation email and of the letter.
    messages: tuple[tuple[str, str], ...] = ()

    def reason(self, code: str) -> RejectionReason:
        for reason in self.rejections:
            if reason.code == code:
                return reason
        raise KeyError(f"step {self.number} has no rejection reason {code!r}")

    def message(self, name: str) -> str:
        return dict(self.messages)[name]


@dataclass(frozen=True)
class Script:
    key: str
    version: int
    locale: str
    title: str
    steps: tuple[Step, ...]
    description: str = ""
    source_name: str = ""

    def step(self, number: int) -> Step:
        if not 1 <= number <= len(self.steps):
            raise KeyError(f"script {self.key} has no step {number}")
        return self.steps[number - 1]

    @property
    def booking_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.booking)

    def to_definition(self) -> dict[str, Any]:
        """Plain data, as the script file says it; `parse_definition` reads it back."""
        return {
            "key": self.key,
            "version": self.version,
            "locale": self.locale,
            "title": self.title,
            "description": self.description,
            "steps": [_step_definition(step) for step in self.steps],
        }


def _step_definition(step: Step) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "number": step.number,
        "key": step.key,
        "title": step.title,
        "prompt": step.prompt,
        "tips": list(step.tips),
        "rejections": [{"code": reason.code, "label": reason.label} for reason in step.rejections],
    }
    if step.booking:
        definition["booking"] = True
    if step.follow_up:
        definition["follow_up"] = True
    if step.messages:
        definition["messages"] = dict(step.messages)
    return definition
