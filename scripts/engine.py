"""Filling a script's steps for one call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from scripts.greetings import DEFAULT_TZ, greeting
from scripts.model import Script, Step
from scripts.placeholders import Segment, render, render_for_customer, segments


def render_prompt(step: Step, context: Mapping[str, object]) -> str:
    return render(step.prompt, context)


def render_tips(step: Step, context: Mapping[str, object]) -> list[str]:
    return [render(tip, context) for tip in step.tips]


def prompt_segments(step: Step, context: Mapping[str, object]) -> list[Segment]:
    return segments(step.prompt, context)


def tip_segments(step: Step, context: Mapping[str, object]) -> list[list[Segment]]:
    return [segments(tip, context) for tip in step.tips]


def render_message(step: Step, name: str, context: Mapping[str, object]) -> str:
    """One of step 9's messages: 'email_subject', 'email_body', 'letter_body',
    for the customer: never with a `[name]` gap in it."""
    return render_for_customer(step.message(name), context)


def call_context(
    script: Script,
    values: Mapping[str, object],
    *,
    now: datetime,
    tz: ZoneInfo = DEFAULT_TZ,
) -> dict[str, object]:
    """`values` plus the time-of-day greeting for `now` in the customer's
    zone `tz`, unless `values` already has one."""
    context = dict(values)
    if not context.get("greeting"):
        context["greeting"] = greeting(script.locale, now, tz)
    return context
