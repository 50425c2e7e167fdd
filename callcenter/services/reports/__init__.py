"""Manager reports, computed from the rows with the definitions in
callcenter.metrics. One module per report; `ReportFilters` says what to count."""

from callcenter.services.reports.agents import AgentRow, AgentsReport, agents_report
from callcenter.services.reports.call_list import CallListPage, CallListRow, call_list
from callcenter.services.reports.compliance import ComplianceReport, compliance_report
from callcenter.services.reports.dispositions import DispositionsReport, dispositions_report
from callcenter.services.reports.filters import (
    InvalidFilter,
    ReportFilters,
    call_conditions,
    parse_filters,
)
from callcenter.services.reports.funnel import FunnelReport, funnel_report
from callcenter.services.reports.rejections import RejectionsReport, rejections_report
from callcenter.services.reports.scope import (
    FilterOptions,
    Names,
    filter_options,
    pause_labels,
    visible_campaign_ids,
)
from callcenter.services.reports.transfers import OpenerCloserRow, openers_closers

REPORT_KINDS = ("rejections", "funnel", "agents", "dispositions", "compliance", "call_list")

__all__ = [
    "REPORT_KINDS",
    "AgentRow",
    "AgentsReport",
    "CallListPage",
    "CallListRow",
    "ComplianceReport",
    "DispositionsReport",
    "FilterOptions",
    "FunnelReport",
    "InvalidFilter",
    "Names",
    "OpenerCloserRow",
    "RejectionsReport",
    "ReportFilters",
    "agents_report",
    "call_conditions",
    "call_list",
    "compliance_report",
    "dispositions_report",
    "filter_options",
    "funnel_report",
    "openers_closers",
    "parse_filters",
    "pause_labels",
    "rejections_report",
    "visible_campaign_ids",
]
