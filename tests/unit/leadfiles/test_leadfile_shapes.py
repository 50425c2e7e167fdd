"""Lead files as people have them: title rows, the data on another sheet, a
workbook renamed .csv, Persian delimiters and column names, broken quotes,
junk cells."""

import io

import openpyxl
import pytest

from callcenter.leadfiles import (
    Field,
    LeadFileError,
    ParsedLead,
    ReadOptions,
    RowError,
    RowErrorCode,
    open_lead_file,
    preview_lead_file,
)


def read(data: bytes, **kwargs):
    with open_lead_file(data, **kwargs) as leads:
        return leads, list(leads)


def phones(results):
    return [r.phone_e164 for r in results if isinstance(r, ParsedLead)]


def workbook(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_title_row_and_blank_lines_above_the_header_are_skipped():
    text = "لیست مشتریان نمایشگاه پاییز\n\n,,\nنام,موبایل\nعلی,09121234567\nمریم,09351234567\n"
    leads, results = read(text.encode(), filename="leads.csv")
    assert leads.header_line == 4 and leads.delimiter == ","
    assert phones(results) == ["+989121234567", "+989351234567"]
    assert [r.line for r in results] == [5, 6]


def test_the_first_sheet_with_a_phone_column_is_read():
    data = workbook(
        ("راهنما", [["این فایل را ویرایش نکنید"], ["تاریخ", "۱۴۰۳/۰۷/۰۱"]]),
        ("مشتریان", [["فهرست مشتریان"], [], ["نام", "تلفن ثابت"], ["علی", "02188776655"]]),
    )
    leads, results = read(data, filename="leads.xlsx")
    assert (leads.sheet, leads.sheets, leads.header_line) == ("مشتریان", ["راهنما", "مشتریان"], 3)
    assert phones(results) == ["+982188776655"]


def test_a_chosen_sheet_and_header_line_win_over_detection():
    data = workbook(
        ("A", [["phone"], ["09121234567"]]),
        ("B", [["note"], ["mobile", "name"], ["09351234567", "Sara"]]),
    )
    leads, results = read(data, sheet="B", header_line=2)
    assert (leads.sheet, leads.header_line) == ("B", 2)
    assert phones(results) == ["+989351234567"]
    with pytest.raises(LeadFileError, match="line 9 is empty"):
        read(data, sheet="B", header_line=9)


def test_a_workbook_renamed_csv_is_read_as_a_workbook():
    data = workbook(("Sheet1", [["Mobile", "Name"], ["09121234567", "Ali"]]))
    leads, results = read(data, filename="export.csv")
    assert str(leads.format) == "xlsx"
    assert phones(results) == ["+989121234567"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1256"])
def test_arabic_semicolon_delimiter_in_every_encoding(encoding):
    text = "نام؛تلفن ثابت؛موبایل\r\nعلی؛02188776655؛09121234567\r\nرضا؛؛09351234567\r\n"
    if encoding == "cp1256":  # Windows-1256 has the Arabic yeh only
        text = text.replace("ی", "ي")
    leads, results = read(text.encode(encoding))
    assert leads.delimiter == "؛"
    first, second = results
    # the first phone column holds the number dialled; the second is kept
    assert first.phone_e164 == "+982188776655"
    assert first.extra["other_phones"] == "09121234567"
    assert first.phone2_e164 == "+989121234567"
    assert second.phone_e164 == "+989351234567"


@pytest.mark.parametrize("header", ["تلفن ثابت", "تلفن منزل", "Landline", "Home Phone", "تلفن۲"])
def test_landline_and_second_number_headers_are_phone_columns(header):
    leads, results = read(f"name,{header}\nAli,02188776655\n".encode())
    assert leads.columns.phones == (1,)
    assert phones(results) == ["+982188776655"]


def test_an_unclosed_quote_is_one_bad_row_not_the_next_ten():
    rows = [f"Name{i},0912123{i:04d}" for i in range(10)]
    text = "name,phone\n" + '"Ali,09120000000\n' + "\n".join(rows) + "\n"
    _, results = read(text.encode())
    bad = results[0]
    assert isinstance(bad, RowError) and bad.code is RowErrorCode.UNREADABLE
    assert bad.line == 2 and "never closed" in bad.reason and '"\\"Ali' not in bad.reason
    assert len(phones(results)) == 10
    assert [r.line for r in results[1:]] == list(range(3, 13))
    assert results[1].raw["name"] == "Name0"


def test_an_unclosed_quote_before_rows_with_quoted_cells_is_one_bad_row():
    text = 'name,phone\n"Ali,09120000000\n"Sara",09121234567\n"Reza","09351234567"\n'
    _, results = read(text.encode())
    assert [r.line for r in results] == [2, 3, 4]
    assert results[0].code is RowErrorCode.UNREADABLE
    assert phones(results) == ["+989121234567", "+989351234567"]
    assert results[1].raw["name"] == "Sara"


def test_a_quoted_cell_with_quotes_inside_over_two_lines_is_one_cell():
    _, results = read(b'name,notes,phone\nAli,"said ""hi""\nand ""bye""",09121234567\n')
    (lead,) = results
    assert lead.notes == 'said "hi" and "bye"'


def test_an_unclosed_quote_on_the_last_line_is_reported():
    _, results = read(b'name,phone\nAli,09121234567\n"Sara,09351234567\n')
    assert phones(results) == ["+989121234567"]
    assert results[1].code is RowErrorCode.UNREADABLE and results[1].line == 3


def test_a_quoted_cell_over_two_lines_is_still_one_cell():
    _, results = read(b'name,address,phone\nAli,"12 Main St\nApt 4",09121234567\n')
    (lead,) = results
    assert lead.address == "12 Main St Apt 4" and lead.line == 2


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_a_junk_cell_is_quoted_cut_in_the_reason(size):
    _, results = read(f"name,phone\nAli,{'x' * size}\nSara,09121234567\n".encode())
    bad, good = results
    assert isinstance(bad, RowError) and len(bad.reason) < 200
    cell = bad.message.params["cell"]
    assert len(cell) == 62 and cell.startswith('"') and cell.endswith('xx…"')
    assert good.phone_e164 == "+989121234567"


def test_a_cell_larger_than_csv_allows_is_one_bad_row():
    junk = '"' + "y" * 300_000 + '"'
    _, results = read(f"name,phone\n{junk},09121234567\nSara,09351234567\n".encode())
    assert results[0].code is RowErrorCode.UNREADABLE and len(results[0].reason) < 200
    assert phones(results) == ["+989351234567"]


def test_reasons_keep_their_text_and_values_apart_for_translation():
    _, results = read(b"name,phone\nAli,12345\n")
    (bad,) = results
    assert bad.message.text == "too short for %(region)s: %(cell)s"
    assert dict(bad.message.params) == {"region": "IR", "cell": '"12345"'}


def test_no_phone_column_says_which_columns_there_are_cut():
    long_name = "ستون " * 40
    with pytest.raises(LeadFileError) as caught:
        read(f"name,{long_name}\nAli,x\n".encode())
    assert caught.value.text.startswith("no phone column")
    assert len(caught.value.message) < 400


def test_a_column_mapped_to_extra_is_kept_not_guessed():
    leads, results = read(b"name,phone,city\nAli,09121234567,Tehran\n", mapping={"city": "extra"})
    assert Field.CITY not in leads.columns.fields
    assert results[0].extra == {"city": "Tehran"}


def test_the_preview_shows_columns_fields_and_the_first_rows():
    text = "گزارش\nنام؛موبایل؛تلفن ثابت؛رنگ\n" + "".join(
        f"نفر{i}؛0912123{i:04d}؛؛آبی\n" for i in range(15)
    )
    text += "بد؛123؛؛\n"
    shown = preview_lead_file(text.encode(), filename="x.csv")
    assert (shown.delimiter, shown.delimiter_name, shown.header_line) == (
        "؛",
        "arabic-semicolon",
        2,
    )
    assert [(c.name, c.field, c.second_phone) for c in shown.columns] == [
        ("نام", Field.FIRST_NAME, False),
        ("موبایل", Field.PHONE, False),
        ("تلفن ثابت", Field.PHONE, True),
        ("رنگ", None, False),
    ]
    assert len(shown.rows) == 10 and shown.rows[0].cells[0] == "نفر0"
    assert shown.error is None


def test_the_preview_of_a_file_without_a_header_shows_its_rows_and_why():
    shown = preview_lead_file(b"a,b\nAli,09121234567\n", options=ReadOptions(delimiter=","))
    assert shown.error is not None and shown.error.text.startswith("no phone column")
    assert shown.header_line == 1 and [row.line for row in shown.rows] == [2]
    assert [(c.name, c.field) for c in shown.columns] == [("a", None), ("b", None)]
    below = preview_lead_file(b"title\nAli,09121234567\n", options=ReadOptions(header_line=2))
    assert below.header_line == 2 and [c.name for c in below.columns] == ["Ali", "09121234567"]
    # choosing the phone column reads it
    chosen = preview_lead_file(b"a,b\nAli,09121234567\n", mapping={"b": "phone"})
    assert chosen.error is None and chosen.rows[0].problem is None
