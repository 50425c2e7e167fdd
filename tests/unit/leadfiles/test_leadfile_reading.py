import io
from datetime import datetime

import openpyxl
import pytest

from callcenter.leadfiles import (
    LeadFileError,
    ParsedLead,
    RowError,
    RowErrorCode,
    open_lead_file,
)


def read(data: bytes, **kwargs):
    with open_lead_file(data, **kwargs) as leads:
        return leads, list(leads)


def by_line(results):
    return {result.line: result for result in results}


def test_ugly_persian_csv_with_bom_semicolons_blank_lines_and_multiline_fields():
    text = (
        "نام;نام‌خانوادگی;موبایل;عنوان;شرکت;رنگ محبوب\r\n"
        'علي;رضايي;۰۹۱۲۱۲۳۴۵۶۷;آقا;"شرکت\r\nالف";آبی\r\n'
        "\r\n"
        "مریم;کریمی;٠٩٣٥١٢٣٤٥٦٧;بانو;ب;\r\n"
        ";;12345;;;\r\n"
        "Jane;Roe;+98 912 123 4567;Mrs.;ACME;red\r\n"
    )
    leads, results = read("\ufeff".encode() + text.encode())
    assert (leads.encoding, leads.delimiter, leads.format) == ("utf-8-sig", ";", "csv")
    rows = by_line(results)
    assert set(rows) == {2, 5, 6, 7}
    first = rows[2]
    assert isinstance(first, ParsedLead)
    assert (first.title, first.first_name, first.last_name) == ("آقای", "علی", "رضایی")
    assert first.company == "شرکت الف"
    assert first.extra == {"رنگ محبوب": "آبی"}
    assert (first.locale, first.timezone) == ("fa", "Asia/Tehran")
    assert rows[5].phone_e164 == "+989351234567" and rows[5].title == "خانم"
    assert rows[6].code is RowErrorCode.INVALID_PHONE and "too short" in rows[6].reason
    assert rows[7].code is RowErrorCode.DUPLICATE and rows[7].duplicate_of == 2
    assert rows[7].lead.title == "Ms"
    assert (leads.stats.rows, leads.stats.leads, leads.stats.errors) == (4, 2, 2)


def test_english_headers_tabs_extra_and_ragged_rows():
    text = (
        "Full Name\tMobile Number\tE-mail\tPriority\tTimeZone\tSource\n"
        "Mr. John Smith\t09121234567\tJOHN@Example.com \t2\tEurope/London\tweb\n"
        "Ana Lopez\t09351234567\tnot-an-email\thigh\tMars/Base\n"
        "Bo\t09361234567\t\t3.0\t\tfair\tsurplus\n"
    )
    leads, results = read(text.encode())
    assert leads.delimiter == "\t"
    john, ana, bo = results
    assert (john.title, john.first_name, john.last_name) == ("Mr", "John", "Smith")
    assert (john.email, john.priority, john.timezone, john.locale) == (
        "john@example.com",
        2,
        "Europe/London",
        "en",
    )
    assert john.extra == {"Source": "web"}
    assert ana.email is None and ana.priority is None and ana.timezone == "Asia/Tehran"
    assert any("6 cells" in str(w) or "5 cells" in str(w) for w in ana.warnings)
    assert any("email" in str(w) for w in ana.warnings)
    assert bo.priority == 3 and bo.extra == {"Source": "fair", "column_7": "surplus"}
    assert bo.raw["column_7"] == "surplus"


def test_nul_characters_are_removed_and_the_row_says_where():
    text = (
        "phone,first name,notes\n"
        "0912\x001234567,Ali\x00,ok\n"
        "09351234567,Sara,x\x00\x00y,more\x00\n"
        "09361234567,Bo,\n"
    )
    _, (ali, sara, bo) = read(text.encode())
    assert (ali.phone_e164, ali.first_name) == ("+989121234567", "Ali")
    assert [str(w) for w in ali.warnings] == [
        'NUL characters were removed from "phone", "first name"'
    ]
    assert (sara.notes, sara.extra) == ("xy", {"column_4": "more"})
    assert 'NUL characters were removed from "notes", "column_4"' in map(str, sara.warnings)
    assert bo.warnings == ()


def test_nul_characters_in_the_header_are_removed_and_the_header_says_where():
    text = "phone,first na\x00me,\x00,notes\n09121234567,Ali,x,ok\n"
    leads, (ali,) = read(text.encode())
    assert leads.columns.header == ("phone", "first name", "column_3", "notes")
    assert [str(w) for w in leads.header_warnings] == [
        'NUL characters were removed from the column names "first name", "column_3"'
    ]
    assert (ali.first_name, ali.warnings) == ("Ali", ())
    clean, _ = read(b"phone,name\n09121234567,Ali\n")
    assert clean.header_warnings == ()


def test_cp1256_file_is_decoded_and_reported():
    # Windows-1256 has no Persian yeh/kaf: such files carry the Arabic letters.
    text = "نام,تلفن\r\nعلي,09121234567\r\nكاظم,09351234567\r\n"
    leads, results = read(text.encode("cp1256"))
    assert leads.encoding == "cp1256"
    assert [r.first_name for r in results] == ["علی", "کاظم"]


def test_utf16_with_bom():
    leads, results = read("phone|name\n09121234567|Ali\n".encode("utf-16"))
    assert (leads.encoding, leads.delimiter) == ("utf-16", "|")
    assert results[0].phone_e164 == "+989121234567"


def test_explicit_mapping_wins_and_alternative_phone_columns():
    text = "Cell #,Tel,Name\n,021 8888 1234,Ali Rezaei\nbad,09121234567,Sara\n"
    leads, results = read(text.encode(), mapping={"cell #": "phone"})
    assert leads.columns.phones == (0, 1)
    landline, mobile = results
    assert (landline.phone_e164, landline.phone_type) == ("+982188881234", "fixed_line")
    assert mobile.phone_e164 == "+989121234567"


def test_several_numbers_in_one_cell():
    _, results = read(b"tel\n09121234567 - 09351234567\n")
    assert results[0].phone_e164 == "+989121234567"
    assert results[0].extra["other_phones"] == "09351234567"
    assert results[0].phone2_e164 == "+989351234567"


def test_missing_phone_column_is_a_file_error():
    with pytest.raises(LeadFileError, match=r'no phone column.*"name", "city"'):
        open_lead_file(b"name,city\nAli,Tehran\n")


def test_bad_mapping_and_empty_file_are_file_errors():
    with pytest.raises(LeadFileError, match="unknown field"):
        open_lead_file(b"a\n1\n", mapping={"a": "mobile"})
    with pytest.raises(LeadFileError, match="not a column"):
        open_lead_file(b"a\n1\n", mapping={"b": "phone"})
    with pytest.raises(LeadFileError, match="empty"):
        open_lead_file(b"\n\n")
    with pytest.raises(LeadFileError, match="xls"):
        open_lead_file(b"\xd0\xcf\x11\xe0rest")


def test_row_without_phone_is_reported_not_fatal():
    _, results = read(b"phone,name\n,Ali\n09121234567,Sara\n")
    assert isinstance(results[0], RowError) and results[0].code is RowErrorCode.MISSING_PHONE
    assert results[1].last_name == "Sara"  # a one-word full name is what we greet them by


def test_dedupe_can_be_left_to_the_service():
    data = b"phone\n09121234567\n+989121234567\n"
    _, results = read(data, dedupe=False)
    assert [r.line for r in results if isinstance(r, ParsedLead)] == [2, 3]


def test_file_object_is_not_closed(tmp_path):
    stream = io.BytesIO(b"phone\n09121234567\n")
    with open_lead_file(stream) as leads:
        list(leads)
    assert not stream.closed
    path = tmp_path / "leads.csv"
    path.write_bytes(b"phone\n09121234567\n")
    with open_lead_file(path) as leads:
        assert len(list(leads)) == 1


def make_xlsx(rows, *, gap_before=None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Leads"
    for index, row in enumerate(rows, start=1):
        if gap_before and index >= gap_before:
            index += 1
        for column, value in enumerate(row, start=1):
            sheet.cell(row=index, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_numeric_phones_dates_and_blank_rows():
    data = make_xlsx(
        [
            ["نام و نام خانوادگی", "شماره همراه", "تاریخ ثبت", "اولویت"],
            ["خانم سارا احمدی", 9121234567, datetime(2024, 3, 1), 1],
            ["Mr Bob Brown", 989351234567.0, datetime(2024, 3, 2, 14, 30), 2.0],
            ["Date Phone", datetime(2024, 1, 2), None, None],
            ["آقای رضا", "۰۲۱-۸۸۸۸-۱۲۳۴", None, None],
        ],
        gap_before=4,
    )
    leads, results = read(data, filename="leads.xlsx")
    assert (leads.format, leads.sheet, leads.encoding) == ("xlsx", "Leads", None)
    rows = by_line(results)
    assert set(rows) == {2, 3, 5, 6}
    assert (rows[2].phone_e164, rows[2].title, rows[2].last_name) == (
        "+989121234567",
        "خانم",
        "احمدی",
    )
    assert rows[2].extra == {"تاریخ ثبت": "2024-03-01"} and rows[2].priority == 1
    assert rows[3].phone_e164 == "+989351234567" and rows[3].priority == 2
    assert rows[3].extra == {"تاریخ ثبت": "2024-03-02T14:30:00"}
    assert isinstance(rows[5], RowError) and "date" in rows[5].reason
    assert (rows[6].phone_type, rows[6].title, rows[6].last_name) == ("fixed_line", "آقای", "رضا")


def test_xlsx_without_phone_column_and_unknown_sheet():
    data = make_xlsx([["name"], ["Ali"]])
    with pytest.raises(LeadFileError, match="no phone column"):
        open_lead_file(data)
    with pytest.raises(LeadFileError, match='no sheet named "Other"'):
        open_lead_file(make_xlsx([["phone"]]), sheet="Other")


def _with_member(xlsx: bytes, name: str, content: bytes) -> bytes:
    """The workbook with one more (or a replaced) ZIP member, deflated."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for member in source.infolist():
            if member.filename != name:
                target.writestr(member, source.read(member))
        target.writestr(name, content)
    return out.getvalue()


def test_an_xlsx_that_inflates_past_the_bound_is_refused_before_it_is_read():
    from callcenter.leadfiles import readers

    bomb = _with_member(
        make_xlsx([["phone"], ["09121234567"]]),
        "xl/padding.bin",
        bytes(readers.MAX_XLSX_INFLATED_BYTES + 1),
    )
    assert len(bomb) < 2 * 1024 * 1024  # a small upload
    with pytest.raises(LeadFileError, match="unpacks to"):
        read(bomb, filename="leads.xlsx")


def test_a_sheet_of_blank_rows_past_the_bound_is_refused(monkeypatch):
    from callcenter.leadfiles import readers

    monkeypatch.setattr(readers, "MAX_ROWS", 50)
    blank_rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t></t></is></c></row>' for n in range(2, 60)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row>'
        f"{blank_rows}</sheetData></worksheet>"
    )
    data = _with_member(make_xlsx([["phone"]]), "xl/worksheets/sheet1.xml", sheet.encode())
    with pytest.raises(LeadFileError, match="more than 50 rows"):
        read(data, filename="leads.xlsx")


def test_columns_past_the_bound_are_not_read(monkeypatch):
    from callcenter.leadfiles import readers

    monkeypatch.setattr(readers, "MAX_COLUMNS", 3)
    wide = make_xlsx(
        [["phone", "first_name", "last_name", "x" * 10], ["09121234567", "Sara", "Ahmadi", "y"]]
    )
    _, results = read(wide, filename="leads.xlsx")
    assert [r.phone_e164 for r in results if isinstance(r, ParsedLead)] == ["+989121234567"]
    with pytest.raises(LeadFileError, match="4 cells, more than 3"):
        read(b"phone,a,b,c\n09121234567,1,2,3\n", filename="leads.csv")
