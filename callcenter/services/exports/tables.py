"""Each report as tables: headers in the reader's language, Jalali and
Gregorian date columns, rates in percent, durations in seconds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callcenter.dates import format_jalali
from callcenter.services import disposition_codes
from callcenter.services.exports import calls_pg
from callcenter.services.exports.writers import Sheet
from callcenter.services.reports import (
    agents_report,
    compliance_report,
    funnel_report,
    rejections_report,
)
from callcenter.services.reports.calls import iter_call_rows
from callcenter.services.reports.dispositions import disposition_label, dispositions_report
from callcenter.services.reports.filters import ReportFilters
from callcenter.services.reports.funnel import GROUPS, FunnelReport
from callcenter.services.reports.labels import (
    CATEGORIES,
    OUTCOMES,
    WEEKDAYS,
    Gettext,
    _l,
    translator,
)
from callcenter.services.reports.rejections import BreakdownRow
from callcenter.services.reports.scope import Names, ScriptLabels, pause_labels
from callcenter.services.reports.transfers import openers_closers

EXPORT_KINDS = ("calls", "rejections", "funnel", "agents", "dispositions", "compliance")

AMD_RESULTS = {"human": _l("Person"), "machine": _l("Machine"), "not_sure": _l("Not sure")}
AMD_ACTIONS = {
    "hung_up": _l("Hung up"),
    "message_played": _l("Message left"),
    "passed_to_agent": _l("Passed to an agent"),
}
RECORDING_STATUSES = {
    "recording": _l("Being recorded"),
    "stored": _l("Stored"),
    "failed": _l("Failed"),
    "deleted": _l("Deleted"),
    "upload_pending": _l("Waiting for the store"),
}
DIRECTIONS = {"outbound": _l("Outbound"), "inbound": _l("Inbound (rang back)")}
ROLES = {"opener": _l("Opener"), "closer": _l("Closer"), "both": _l("Opener and closer")}


def percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


@lru_cache(maxsize=4096)
def jalali(day: date) -> str:
    """1405/09/02, ASCII digits so spreadsheets sort and parse it."""
    return format_jalali(day, "en", style="short")


def gregorian(day: date) -> str:
    return day.isoformat()


def date_headers(_: Gettext, prefix: str = "") -> list[str]:
    if prefix:
        return [
            _("%(what)s (Jalali)") % {"what": prefix},
            _("%(what)s (Gregorian)") % {"what": prefix},
        ]
    return [_("Date (Jalali)"), _("Date (Gregorian)")]


def build_sheets(session: Session, kind: str, filters: ReportFilters, locale: str) -> list[Sheet]:
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export {kind!r}")
    builder = {
        "calls": call_sheets,
        "rejections": rejection_sheets,
        "funnel": funnel_sheets,
        "agents": agent_sheets,
        "dispositions": disposition_sheets,
        "compliance": compliance_sheets,
    }[kind]
    return builder(session, filters, locale)


# --- calls ---------------------------------------------------------------------------------


def call_sheets(session: Session, filters: ReportFilters, locale: str) -> list[Sheet]:
    _ = translator(locale)
    headers = [
        _("Call ID"),
        _("Campaign"),
        _("Lead list"),
        _("Agent"),
        _("Phone"),
        _("Attempt"),
        *date_headers(_, _("Dialed")),
        _("Dialed time"),
        _("Outcome"),
        _("SIP status"),
        _("Live answer"),
        _("Contact"),
        _("AMD result"),
        _("AMD decision (ms)"),
        _("AMD action"),
        _("Connect wait (s)"),
        _("Talk (s)"),
        _("Wrap-up (s)"),
        _("Furthest step"),
        _("Rejected at step"),
        _("Rejection reason"),
        _("Disposition"),
        _("Recording"),
        _("Recording length (s)"),
        _("Recording SHA-256"),
        _("Direction"),
        _("Opened by (transferred calls)"),
    ]
    if calls_pg.supported(session):
        return [
            Sheet(
                _("Call records"),
                headers,
                calls_pg.typed_rows(session, filters, locale),
                csv_encoded=lambda: calls_pg.csv_lines(session, filters, locale),
            )
        ]
    return [Sheet(_("Call records"), headers, _call_rows(session, filters, locale))]


def _call_rows(session: Session, filters: ReportFilters, locale: str) -> Iterator[list[Any]]:
    _ = translator(locale)
    names = Names.load(session)
    labels = ScriptLabels.load(session, locale)
    zone = ZoneInfo(filters.tz)
    outcomes = {key: _(label) for key, label in OUTCOMES.items()}
    disposition_labels = disposition_codes.labels(session)
    amd_results = {key: _(label) for key, label in AMD_RESULTS.items()}
    amd_actions = {key: _(label) for key, label in AMD_ACTIONS.items()}
    recordings = {key: _(label) for key, label in RECORDING_STATUSES.items()}
    directions = {key: _(label) for key, label in DIRECTIONS.items()}
    yes, no = _("yes"), _("no")
    campaigns, users, lists = names.campaigns, names.users, names.lead_lists
    for (
        call_id, campaign_id, list_id, agent_id, phone, attempt, outcome, sip_status, live,
        contact, amd_result, amd_ms, amd_action, dialed_at, answered_at, connected_at, ended_at,
        wrapped_at, max_step, reject_step, reject_code, reject_text, disposition,
        recording, recording_ms, recording_sha256, direction, opened_by_id,
    ) in iter_call_rows(session, filters):  # fmt: skip
        local = dialed_at.astimezone(zone)
        day = local.date()
        reason = ""
        if reject_code is not None:
            reason = labels.reason(reject_step, reject_code)
            if reject_text:
                reason = f"{reason}: {reject_text}"
        yield [
            call_id,
            campaigns.get(campaign_id, ""),
            lists.get(list_id, "") if list_id is not None else "",
            users.get(agent_id, "") if agent_id is not None else "",
            phone,
            attempt,
            jalali(day),
            day.isoformat(),
            f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}",
            outcomes.get(outcome, outcome or ""),
            sip_status,
            yes if live else no,
            yes if contact else no,
            amd_results.get(amd_result, amd_result or ""),
            amd_ms,
            amd_actions.get(amd_action, amd_action or ""),
            _gap(answered_at, connected_at),
            _gap(connected_at, ended_at),
            _gap(ended_at, wrapped_at),
            max_step,
            reject_step,
            reason,
            disposition_label(disposition_labels, campaign_id, disposition, locale)
            if disposition
            else "",
            recordings.get(recording, recording or ""),
            round(recording_ms / 1000, 1) if recording_ms is not None else None,
            recording_sha256 or "",
            directions.get(str(direction), str(direction)),
            users.get(opened_by_id, "") if opened_by_id is not None else "",
        ]


def _gap(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds())


# --- rejections ----------------------------------------------------------------------------


def rejection_sheets(session: Session, filters: ReportFilters, locale: str) -> list[Sheet]:
    _ = translator(locale)
    report = rejections_report(session, filters, locale)
    rate = _("Rejection rate (%)")
    steps = Sheet(
        _("Rejections by step"),
        [_("Step"), _("Step title"), _("Calls that reached it"), _("Rejections"), rate],
        [[r.step, r.title, r.reached, r.rejections, percent(r.rate)] for r in report.by_step],
    )
    reasons = Sheet(
        _("Rejections by step and reason"),
        [
            _("Step"),
            _("Reason code"),
            _("Reason"),
            _("Rejections"),
            _("Share of the step's rejections (%)"),
            _("Rate of calls that reached the step (%)"),
        ],
        [
            [r.step, r.code, r.label, r.rejections, percent(r.share), percent(r.rate)]
            for r in report.by_reason
        ],
    )
    counts = [_("Contacts"), _("Rejections"), rate]

    def by(title: str, key_header: str, rows: list[BreakdownRow], key: Any) -> Sheet:
        return Sheet(
            title,
            [key_header, *counts],
            [[key(r), r.contacts, r.rejections, percent(r.rate)] for r in rows],
        )

    return [
        steps,
        reasons,
        by(_("Rejections by agent"), _("Agent"), report.by_agent, lambda r: r.label),
        by(_("Rejections by campaign"), _("Campaign"), report.by_campaign, lambda r: r.label),
        by(_("Rejections by lead list"), _("Lead list"), report.by_list, lambda r: r.label),
        by(_("Rejections by hour"), _("Hour"), report.by_hour, lambda r: r.key),
        by(
            _("Rejections by weekday"),
            _("Weekday"),
            report.by_weekday,
            lambda r: _(WEEKDAYS[r.key]),
        ),
        Sheet(
            _("Rejections by date"),
            [*date_headers(_), *counts],
            [
                [jalali(r.key), gregorian(r.key), r.contacts, r.rejections, percent(r.rate)]
                for r in report.by_date
            ],
        ),
    ]


# --- funnel --------------------------------------------------------------------------------


def stage_label(_: Gettext, report: FunnelReport, index: int) -> str:
    stage = report.stages[index]
    if stage.step is None:
        return _(stage.label)
    text = _(stage.label) % {"step": stage.step}
    title = report.step_titles.get(stage.step)
    return f"{text}: {title}" if title else text


def funnel_sheets(session: Session, filters: ReportFilters, locale: str) -> list[Sheet]:
    _ = translator(locale)
    sheets = []
    titles = {
        "total": _("Funnel"),
        "campaign": _("Funnel by campaign"),
        "agent": _("Funnel by agent"),
        "date": _("Funnel by date"),
    }
    group_headers = {"campaign": [_("Campaign")], "agent": [_("Agent")], "date": date_headers(_)}
    for group in GROUPS:
        report = funnel_report(session, filters, locale, group)
        headers = [
            *group_headers.get(group, []),
            _("Stage"),
            _("Count"),
            _("Rate from the stage before (%)"),
            _("Rate of dials (%)"),
        ]
        rows = []
        for row in report.rows:
            if group == "date":
                prefix = [jalali(row.key), gregorian(row.key)] if row.key else ["", ""]
            elif group == "total":
                prefix = []
            else:
                prefix = [row.label]
            for index, (count, rate, of_dials) in enumerate(
                zip(row.counts, row.rates(), row.of_dials(), strict=True)
            ):
                label = stage_label(_, report, index)
                rows.append([*prefix, label, count, percent(rate), percent(of_dials)])
            rows.append([*prefix, _("Inbound calls answered"), row.inbound_answered, None, None])
        sheets.append(Sheet(titles[group], headers, rows))
    return sheets


# --- agents --------------------------------------------------------------------------------


def agent_sheets(session: Session, filters: ReportFilters, locale: str) -> list[Sheet]:
    _ = translator(locale)
    report = agents_report(session, filters)
    pauses = pause_labels(session, locale)
    pause_headers = [
        _("Pause: %(reason)s (s)") % {"reason": pauses.get(code, code) or _("no reason")}
        for code in report.pause_reasons
    ]
    headers = [
        _("Agent"),
        _("Team"),
        _("Calls"),
        _("Contacts"),
        _("Inbound calls answered"),
        _("Talk (s)"),
        _("Wait (s)"),
        _("Wrap-up (s)"),
        _("Reserved (s)"),
        _("Pause (s)"),
        _("Paid pause (s)"),
        _("Unpaid pause (s)"),
        *pause_headers,
        _("Average handle time (s)"),
        _("Occupancy (%)"),
        _("Appointments"),
        _("Conversion (%)"),
        _("Sales"),
        _("Appointments owned"),
        _("Appointments held"),
        _("Appointments sold"),
        _("Sales amount (rials)"),
        _("Close rate (%)"),
        _("Opener or closer"),
        _("QA scored calls"),
        _("QA score (%)"),
        _("QA auto-fails"),
    ]
    rows = []
    for row in [*report.rows, report.total]:
        name = row.name if row.agent_id else _("Total")
        rows.append(
            [
                name,
                row.team,
                row.calls,
                row.contacts,
                row.inbound_answered,
                seconds(row.talk_seconds),
                seconds(row.wait_seconds),
                seconds(row.wrap_up_seconds),
                seconds(row.reserved_seconds),
                seconds(row.pause_total),
                seconds(row.paid_pause_seconds),
                seconds(row.unpaid_pause_seconds),
                *(seconds(row.pause_seconds.get(code, 0.0)) for code in report.pause_reasons),
                seconds(row.aht),
                percent(row.occupancy),
                row.appointments,
                percent(row.conversion),
                row.sales,
                row.owned_appointments,
                row.held_appointments,
                row.sold_appointments,
                int(row.sales_amount),
                percent(row.close_rate),
                _(ROLES[row.role]) if row.role and row.agent_id else "",
                row.qa_scored,
                percent(row.qa_score),
                row.qa_auto_fails,
            ]
        )
    return [Sheet(_("Agent performance"), headers, rows), opener_closer_sheet(session, filters, _)]


def opener_closer_sheet(session: Session, filters: ReportFilters, _: Gettext) -> Sheet:
    headers = [
        _("Agent"),
        _("Calls opened"),
        _("Transferred to another"),
        _("Taken over and closed"),
        _("Converted as closer"),
        _("Closer conversion (%)"),
    ]
    rows = [
        [
            row.name,
            row.opened,
            row.transferred,
            row.closed,
            row.converted,
            percent(row.closer_conversion),
        ]
        for row in openers_closers(session, filters)
    ]
    return Sheet(_("Openers vs closers"), headers, rows)


# --- dispositions --------------------------------------------------------------------------


def disposition_sheets(session: Session, filters: ReportFilters, locale: str) -> list[Sheet]:
    _ = translator(locale)
    report = dispositions_report(session, filters, locale)
    headers = [
        _("Campaign"),
        _("Code"),
        _("Disposition"),
        _("What it does"),
        _("Calls"),
        _("Share of the campaign (%)"),
    ]
    rows: list[list[Any]] = [
        [
            row.campaign,
            row.code,
            row.label,
            _(CATEGORIES[row.category]) if row.category in CATEGORIES else row.category,
            row.calls,
            percent(row.share),
        ]
        for row in report.rows
    ]
    category_rows: list[list[Any]] = [
        [row.label, row.calls, percent(row.share)] for row in report.by_category
    ]
    return [
        Sheet(_("Dispositions"), headers, rows),
        Sheet(_("By category"), [_("What it does"), _("Calls"), _("Share (%)")], category_rows),
    ]


# --- compliance ----------------------------------------------------------------------------


def compliance_sheets(session: Session, filters: ReportFilters, locale: str) -> list[Sheet]:
    _ = translator(locale)
    report = compliance_report(session, filters)
    yes, no = _("yes"), _("no")
    days = Sheet(
        _("Abandon rate by day"),
        [
            _("Campaign"),
            *date_headers(_),
            _("Live answers"),
            _("Abandoned"),
            _("Abandon rate (%)"),
            _("Rolling window (days)"),
            _("Rolling live answers"),
            _("Rolling abandoned"),
            _("Rolling abandon rate (%)"),
            _("Cap (%)"),
            _("Over the cap"),
        ],
        [
            [
                d.campaign,
                jalali(d.day),
                gregorian(d.day),
                d.live_answers,
                d.abandoned,
                percent(d.rate),
                d.window_days,
                d.rolling_live_answers,
                d.rolling_abandoned,
                percent(d.rolling_rate),
                d.cap_percent,
                yes if d.over_cap else no,
            ]
            for d in report.days
        ],
    )
    summary = Sheet(
        _("Compliance by campaign"),
        [
            _("Campaign"),
            _("Calls"),
            _("Calls outside calling windows"),
            _("DNC hits prevented"),
            _("Calls to DNC numbers"),
        ],
        [
            [c.campaign, c.calls, c.outside_window, c.dnc_prevented, c.dnc_violations]
            for c in report.campaigns
        ],
    )
    flagged: list[Sequence[Any]] = [
        (call_id, _("Outside calling windows")) for call_id in report.outside_window_calls
    ]
    flagged += [(call_id, _("Number on a DNC list")) for call_id in report.dnc_violation_calls]
    problems = Sheet(_("Calls to check"), [_("Call ID"), _("Problem")], flagged)
    return [days, summary, problems]
