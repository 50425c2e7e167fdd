from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from callcenter.services.reports import ReportFilters
from tests.integration.reports.report_dataset import Dataset, build


@pytest.fixture
def dataset(session: Session) -> Dataset:
    data = build(session)
    session.commit()
    return data


@pytest.fixture
def span() -> ReportFilters:
    return ReportFilters(date_from=date(2025, 5, 10), date_to=date(2025, 5, 11))
