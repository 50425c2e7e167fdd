"""The manager's reports and exports (supervisors see their teams' campaigns)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.dates import format_date, format_datetime, format_jalali, localize_digits
from callcenter.i18n import list_separator
from callcenter.numbers import format_number, format_percent
from callcenter.services import exports
from callcenter.services import reports as service
from callcenter.services.reports.funnel import GROUPS, contact_rate_by_hour, stages
from callcenter.services.reports.labels import REPORT_TITLES, WEEKDAYS
from callcenter.services.reports.scope import REPORT_ROLES

DEFAULT_DAYS = 7


def _locale() -> str:
    return str(get_locale() or "fa")


def _filters(session: Any) -> Any:
    visible = service.visible_campaign_ids(session, current_user)
    try:
        filters = service.parse_filters(request.args, visible_campaign_ids=visible)
    except service.InvalidFilter as exc:
        flash(_("The filter was not understood: %(error)s", error=exc.shown()), "error")
        filters = service.parse_filters({}, visible_campaign_ids=visible)
    if filters.date_from is None and filters.date_to is None:
        today = datetime.now(ZoneInfo(filters.tz)).date()
        filters = replace(
            filters, date_from=today - timedelta(days=DEFAULT_DAYS - 1), date_to=today
        )
    return filters


def reports_page(kind: str | None = None) -> ResponseReturnValue:
    session = request_scope.session()
    locale = _locale()
    kind = kind or request.args.get("report", "rejections")
    if kind not in service.REPORT_KINDS:
        kind = "rejections"
    filters = _filters(session)
    context: dict[str, Any] = {
        "kind": kind,
        "kinds": service.REPORT_KINDS if current_user.role in REPORT_ROLES else ("call_list",),
        "titles": REPORT_TITLES,
        "filters": filters,
        "options": service.filter_options(session, filters.visible_campaign_ids, locale),
        "weekdays": WEEKDAYS,
        "fmt_date": lambda day: format_date(day, locale, style="short"),
        "typed_date": lambda day: typed_date(day, locale),
        "date_hints": [
            _(
                "%(jalali)s or %(gregorian)s",
                jalali=format_jalali(example, locale, style="short"),
                gregorian=example.isoformat(),
            )
            for example in (date(2025, 5, 10), date(2025, 5, 11))
        ],
        "group_by": "total",
        "groups": GROUPS,
    }
    if kind == "rejections":
        report = service.rejections_report(session, filters, locale)
        context["report"] = report
        context["charts"] = {"steps": _step_chart(report, locale)}
    elif kind == "funnel":
        group = request.args.get("group", "total")
        context["group_by"] = group if group in GROUPS else "total"
        context["report"] = service.funnel_report(session, filters, locale, context["group_by"])
        labels = [_stage_label(stage, locale) for stage in stages()]
        context["stage_labels"] = labels
        context["charts"] = {
            "funnel": _funnel_chart(context["report"], labels, locale),
            "hours": _hour_chart(contact_rate_by_hour(session, filters), locale),
        }
    elif kind == "agents":
        context["report"] = service.agents_report(session, filters)
        context["openers_closers"] = service.openers_closers(session, filters)
        context["pause_labels"] = service.pause_labels(session, locale)
    elif kind == "dispositions":
        closed = service.dispositions_report(session, filters, locale)
        context["report"] = closed
        context["charts"] = {"categories": _category_chart(closed, locale)}
    elif kind == "compliance":
        context["report"] = service.compliance_report(session, filters)
    else:
        context["page"] = service.call_list(
            session, current_user, filters, locale, cursor=request.args.get("cursor")
        )
        context["when"] = lambda at: format_datetime(at, locale, style="short")
    return render_template("supervisor/reports.html", **context)


def typed_date(day: date | None, locale: str) -> str:
    """A filter's date as its reader types it: Jalali in Persian digits for
    fa ('۱۴۰۵/۰۹/۱۲'), ISO for en; parse_date reads both back."""
    if day is None:
        return ""
    return format_jalali(day, "fa", style="short") if locale == "fa" else day.isoformat()


def _category_chart(report: Any, locale: str) -> list[tuple[str, float, str]]:
    return [
        (
            row.label,
            row.share or 0.0,
            format_number(row.calls, locale)
            + list_separator(locale)
            + format_percent(row.share, locale),
        )
        for row in report.by_category
    ]


def _stage_label(stage: Any, locale: str) -> str:
    if stage.step:
        return _(stage.label, step=format_number(stage.step, locale))
    return _(stage.label)


def _of(part: int, whole: int, locale: str) -> str:
    return f"({format_number(part, locale)}/{format_number(whole, locale)})"


def _step_chart(report: Any, locale: str) -> list[tuple[str, float, str]]:
    items = []
    for row in report.by_step:
        label = _("Step %(step)s", step=format_number(row.step, locale))
        label += f": {row.title}" if row.title else ""
        text = f"{format_percent(row.rate, locale)} {_of(row.rejections, row.reached, locale)}"
        items.append((label, row.rate or 0.0, text))
    return items


def _funnel_chart(report: Any, labels: list[str], locale: str) -> list[tuple[str, float, str]]:
    total = report.total
    shares = total.of_dials()
    return [
        (
            label,
            count,
            f"{format_number(count, locale)} ({format_percent(share, locale)})",
        )
        for label, count, share in zip(labels, total.counts, shares, strict=True)
    ]


def _hour_chart(rows: list[Any], locale: str) -> list[tuple[str, float | None, str]]:
    return [
        (
            localize_digits(f"{row.hour:02d}", locale),
            row.contact_rate,
            format_percent(row.contact_rate, locale)
            + " "
            + _of(row.live_answers, row.dials, locale),
        )
        for row in rows
    ]


def export_download() -> ResponseReturnValue:
    session = request_scope.session()
    visible = service.visible_campaign_ids(session, current_user)
    filters = service.parse_filters(request.args, visible_campaign_ids=visible)
    export = exports.start_export(
        request_scope.database(),
        kind=request.args.get("kind", ""),
        fmt=request.args.get("format", "csv"),
        filters=filters,
        locale=_locale(),
        actor_id=current_user.id,
        ip_address=request.remote_addr,
    )
    return Response(
        export.chunks,
        mimetype=export.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
