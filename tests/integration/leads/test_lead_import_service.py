"""Lead import through the service into a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.leadfiles import LeadFileError
from callcenter.models import Customer, DncHit, DncHitSource, Lead, LeadList, LeadStateChange
from callcenter.services import dnc, lead_import
from callcenter.services.reports import compliance_report
from callcenter.services.reports.filters import ReportFilters
from callcenter.states import LeadState
from tests.factories import make_campaign, make_customer, make_lead

UGLY_CSV = (
    "\ufeffنام;نام خانوادگی;موبایل;شهر;توضیحات;ستون اضافه\r\n"
    "علي;احمدی;۰۹۱۲۱۲۳۴۵۶۷;تهران;مشتری قدیمی;x\r\n"
    "\r\n"
    "مريم;كريمي;٠٩١٢٧٦٥٤٣٢١;شیراز;;\r\n"
    "Reza;Rezaei;+98 912 111 2233;Tabriz;;;surplus\r\n"
    "بد;شماره;12345;قم;;\r\n"
    "خالی;تلفن;;قم;;\r\n"
    "علی;احمدی;00989121234567;تهران;تکراری;\r\n"
    ";;;;;\r\n"
    "Sara;Nouri;9.12555e+09;Karaj;;\r\n"
).encode()


def _lines(report: dict, key: str) -> list[int]:  # type: ignore[type-arg]
    return [item["line"] for item in report[key]]


def test_ugly_csv_imports_every_good_row_and_reports_the_rest(session: Session) -> None:
    campaign = make_campaign(session)
    result = lead_import.import_leads(
        session, UGLY_CSV, campaign_id=campaign.id, filename="ugly.csv"
    )
    report = result.report
    assert result.rows_imported == 3
    assert report["imported"] == 3
    assert _lines(report, "rejected") == [6, 7, 10]
    assert {item["line"]: item["code"] for item in report["rejected"]} == {
        6: "invalid_phone",
        7: "missing_phone",
        10: "invalid_phone",
    }
    assert report["duplicates"] == [{"line": 8, "first_line": 2}]
    assert report["file"]["delimiter"] == ";"
    phones = set(session.scalars(select(Customer.phone_e164)))
    assert phones == {"+989121234567", "+989127654321", "+989121112233"}
    ali = session.scalars(select(Customer).where(Customer.phone_e164 == "+989121234567")).one()
    assert (ali.first_name, ali.last_name, ali.city) == ("علی", "احمدی", "تهران")
    lead = session.scalars(select(Lead).where(Lead.customer_id == ali.id)).one()
    assert lead.state is LeadState.NEW and lead.lead_list_id == result.id
    assert lead.fields["notes"] == "مشتری قدیمی" and lead.fields["source_line"] == 2
    changes = session.scalar(
        select(func.count(LeadStateChange.id)).where(LeadStateChange.reason == "imported")
    )
    assert changes == 3
    stored = session.get(LeadList, result.id)
    assert stored is not None and stored.report["rejected"][0]["line"] == 6


def test_reimport_of_the_same_file_duplicates_nothing(session: Session) -> None:
    campaign = make_campaign(session)
    first = lead_import.import_leads(session, UGLY_CSV, campaign_id=campaign.id, filename="a.csv")
    again = lead_import.import_leads(session, UGLY_CSV, campaign_id=campaign.id, filename="a.csv")
    assert again.id == first.id
    assert session.scalar(select(func.count(Lead.id))) == 3
    assert session.scalar(select(func.count(LeadList.id))) == 1


def test_overlapping_file_reports_rows_already_in_the_campaign(session: Session) -> None:
    campaign = make_campaign(session)
    lead_import.import_leads(session, UGLY_CSV, campaign_id=campaign.id, filename="a.csv")
    second = b"phone,first name\n09121234567,Ali\n09350000001,New\n"
    result = lead_import.import_leads(session, second, campaign_id=campaign.id, filename="b.csv")
    assert result.rows_imported == 1
    assert result.report["already_in_campaign"] == [2]
    assert session.scalar(select(func.count(Lead.id))) == 4
    assert session.scalar(select(func.count(Customer.id))) == 4


def test_a_known_number_joins_the_existing_customer(session: Session) -> None:
    old_campaign, campaign = make_campaign(session), make_campaign(session)
    customer = make_customer(session, phone_e164="+989121234567", first_name="Ali")
    make_lead(session, old_campaign, customer)
    result = lead_import.import_leads(
        session,
        b"mobile,name\n0912 123 4567,Someone Else\n",
        campaign_id=campaign.id,
        filename="x.csv",
    )
    assert result.report["existing_customers"] == 1
    assert session.scalar(select(func.count(Customer.id))) == 1
    leads = session.scalars(select(Lead).where(Lead.customer_id == customer.id)).all()
    assert {lead.campaign_id for lead in leads} == {old_campaign.id, campaign.id}


def test_dnc_numbers_are_not_queued_and_are_reported(session: Session) -> None:
    campaign, other = make_campaign(session), make_campaign(session)
    dnc.add_number(session, "+989121234567", campaign_id=None, source="t", reason="", actor_id=None)
    dnc.add_number(
        session, "+989127654321", campaign_id=campaign.id, source="t", reason="", actor_id=None
    )
    dnc.add_number(
        session, "+989121112233", campaign_id=other.id, source="t", reason="", actor_id=None
    )
    result = lead_import.import_leads(
        session, UGLY_CSV, campaign_id=campaign.id, filename="ugly.csv"
    )
    assert result.report["dnc"] == [
        {"line": 2, "phone": "+989121234567"},
        {"line": 4, "phone": "+989127654321"},
    ]
    assert result.rows_imported == 1
    assert result.rows_rejected == 5
    hits = session.execute(
        select(DncHit.campaign_id, DncHit.source, DncHit.phone_e164, DncHit.lead_list_id)
    ).all()
    assert sorted(hits) == [
        (campaign.id, DncHitSource.IMPORT, "+989121234567", result.id),
        (campaign.id, DncHitSource.IMPORT, "+989127654321", result.id),
    ]
    report = compliance_report(session, ReportFilters(campaign_ids=(campaign.id,)))
    assert report.dnc_prevented == 2


def test_xlsx_with_excel_dates_numbers_and_an_explicit_mapping(session: Session) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Cell #", "Who", "Signed up", "Extra"])
    sheet.append([9121234567, "Ali Ahmadi", datetime(2024, 3, 20), "vip"])
    sheet.append([None, None, None, None])
    sheet.append(["۰۹۳۵۱۲۳۴۵۶۷", "خانم مریم کریمی", datetime(2024, 3, 21, 10, 30), None])
    sheet.append(["not a number", "Bad Row", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    campaign = make_campaign(session)
    result = lead_import.import_leads(
        session,
        buffer.getvalue(),
        campaign_id=campaign.id,
        filename="list.xlsx",
        mapping={"Cell #": "phone", "Who": "full_name"},
    )
    assert result.rows_imported == 2
    assert _lines(result.report, "rejected") == [5]
    ali = session.scalars(select(Customer).where(Customer.phone_e164 == "+989121234567")).one()
    assert (ali.first_name, ali.last_name) == ("Ali", "Ahmadi")
    lead = session.scalars(select(Lead).where(Lead.customer_id == ali.id)).one()
    assert lead.fields["Signed up"] == "2024-03-20" and lead.fields["Extra"] == "vip"
    maryam = session.scalars(select(Customer).where(Customer.phone_e164 == "+989351234567")).one()
    assert maryam.title == "خانم" and maryam.last_name == "کریمی"


def test_progress_is_reported_per_chunk(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lead_import, "CHUNK", 2)
    seen: list[int] = []
    campaign = make_campaign(session)
    lead_import.import_leads(
        session, UGLY_CSV, campaign_id=campaign.id, filename="u.csv", progress=seen.append
    )
    assert seen == [2, 4, 6, 7]  # non-blank rows


def test_an_unreadable_file_raises(session: Session) -> None:
    campaign = make_campaign(session)
    with pytest.raises(LeadFileError):
        lead_import.import_leads(
            session, b"name,city\nAli,Tehran\n", campaign_id=campaign.id, filename="x.csv"
        )


HOSTILE_CSV = (
    "phone,name,notes,tab\there,back\\slash,nul\x00col\n"
    '09121234567,"Ali\x00 \\ ""quoted""\tTab","line\none",a\\tb,\\N,x\x00y\n'
    '09121234568,"مریم\r\nکریمی",یادداشت,\\.,\\\\,\n'
    '09121234569,"\x00\x00",\x00,,,\n'
).encode()


def test_hostile_text_is_stored_as_written_and_nul_is_dropped(session: Session) -> None:
    """Quotes, tabs, newlines, backslashes (COPY's escapes), Persian and NUL
    (which PostgreSQL text cannot hold) through the staging table."""
    campaign = make_campaign(session)
    result = lead_import.import_leads(
        session, HOSTILE_CSV, campaign_id=campaign.id, filename="hostile.csv"
    )
    assert (result.rows_imported, result.rows_rejected) == (3, 0)
    customers = {
        customer.phone_e164: customer
        for customer in session.scalars(select(Customer).order_by(Customer.id))
    }
    ali = customers["+989121234567"]
    assert (ali.first_name, ali.last_name) == ('Ali \\ "quoted"', "Tab")
    maryam = customers["+989121234568"]
    assert (maryam.first_name, maryam.last_name) == ("مریم", "کریمی")
    assert (customers["+989121234569"].first_name, customers["+989121234569"].last_name) == (
        "",
        "",
    )
    fields = {
        lead.customer_id: lead.fields
        for lead in session.scalars(select(Lead).where(Lead.lead_list_id == result.id))
    }
    assert fields[ali.id] == {
        "notes": "line one",
        "tab here": "a\\tb",
        "back\\slash": "\\N",
        "nulcol": "xy",
        "source_line": 2,
    }
    assert fields[maryam.id] == {
        "notes": "یادداشت",
        "tab here": "\\.",
        "back\\slash": "\\\\",
        "source_line": 4,  # the line it starts on: Ali's notes took two
    }
    changes = session.scalars(
        select(LeadStateChange.reason).where(LeadStateChange.lead_id.in_(select(Lead.id)))
    ).all()
    assert changes == ["imported"] * 3
    # the NULs are gone, and the report says from which rows and columns
    # (the header's first: its "nul\x00col")
    assert [(w["line"], w["params"]) for w in result.report["warnings"]] == [
        (1, {"columns": '"nulcol"'}),
        (2, {"columns": '"name", "nulcol"'}),
        (6, {"columns": '"name", "notes"'}),
    ]


def test_nul_in_the_header_row_is_reported_on_its_line(session: Session) -> None:
    campaign = make_campaign(session)
    result = lead_import.import_leads(
        session,
        b"List of May\nphone,na\x00me\n09121234567,Ali\x00\n",
        campaign_id=campaign.id,
        filename="leads.csv",
    )
    assert result.rows_imported == 1
    assert [(w["line"], w["text"], w["params"]) for w in result.report["warnings"]] == [
        (2, "NUL characters were removed from the column names %(columns)s", {"columns": '"name"'}),
        (3, "NUL characters were removed from %(columns)s", {"columns": '"name"'}),
    ]
    assert result.report["counts"]["warnings"] == 2
