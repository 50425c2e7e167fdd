"""How calls were closed: each campaign's dispositions with the labels the
campaign gives them, their category, and their share of the campaign's
dispositioned calls."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.metrics import ratio
from callcenter.models import Call, Disposition
from callcenter.services import disposition_codes
from callcenter.services.reports.filters import ReportFilters, call_conditions
from callcenter.services.reports.labels import CATEGORIES, DISPOSITIONS, translator
from callcenter.services.reports.scope import Names


@dataclass(frozen=True)
class DispositionRow:
    campaign_id: int
    campaign: str
    code: str
    label: str
    category: str
    calls: int
    campaign_calls: int

    @property
    def share(self) -> float | None:
        """Of the campaign's calls with a disposition."""
        return ratio(self.calls, self.campaign_calls)


@dataclass(frozen=True)
class CategoryRow:
    category: str
    label: str
    calls: int
    total: int

    @property
    def share(self) -> float | None:
        return ratio(self.calls, self.total)


@dataclass
class DispositionsReport:
    filters: ReportFilters
    rows: list[DispositionRow]
    by_category: list[CategoryRow]

    @property
    def total(self) -> int:
        return sum(row.calls for row in self.rows)


def dispositions_report(
    session: Session, filters: ReportFilters, locale: str
) -> DispositionsReport:
    _ = translator(locale)
    query = (
        select(Call.campaign_id, Disposition.code, Disposition.category, func.count())
        .join(Disposition, Disposition.call_id == Call.id)
        .where(*call_conditions(filters))
        .group_by(Call.campaign_id, Disposition.code, Disposition.category)
    )
    counts = [(c, code, str(category), n) for c, code, category, n in session.execute(query)]
    per_campaign: dict[int, int] = defaultdict(int)
    per_category: dict[str, int] = defaultdict(int)
    for campaign_id, _code, category, calls in counts:
        per_campaign[campaign_id] += calls
        per_category[category] += calls
    names = Names.load(session)
    labels = disposition_codes.labels(session, per_campaign)
    order = {
        (row.campaign_id, row.code): row.position
        for campaign_id in per_campaign
        for row in disposition_codes.for_campaign(session, campaign_id)
    }
    rows = [
        DispositionRow(
            campaign_id=campaign_id,
            campaign=names.campaigns.get(campaign_id, str(campaign_id)),
            code=code,
            label=disposition_label(labels, campaign_id, code, locale),
            category=category,
            calls=calls,
            campaign_calls=per_campaign[campaign_id],
        )
        for campaign_id, code, category, calls in counts
    ]
    rows.sort(key=lambda r: (r.campaign, order.get((r.campaign_id, r.code), 1_000), r.code))
    total = sum(per_campaign.values())
    by_category = [
        CategoryRow(category, _(label), per_category[category], total)
        for category, label in CATEGORIES.items()
        if per_category.get(category)
    ]
    return DispositionsReport(filters, rows, by_category)


def disposition_label(
    labels: dict[tuple[int, str], tuple[str, str]],
    campaign_id: int,
    code: str,
    locale: str,
) -> str:
    """The campaign's label for a code in the reader's language; the
    product's own label for a code no campaign defines (wrap_up_timeout)."""
    configured = labels.get((campaign_id, code))
    if configured is not None:
        return configured[0] if locale == "fa" else configured[1]
    fallback = DISPOSITIONS.get(code)
    return translator(locale)(fallback) if fallback else code
