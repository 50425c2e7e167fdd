import pytest

from callcenter.leadfiles import locale_hint, normalize_text, normalize_title, split_full_name


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("آقا", "آقای"),
        ("اقای", "آقای"),
        ("جناب", "آقای"),
        ("جناب آقای", "آقای"),
        ("خانم", "خانم"),
        ("بانو", "خانم"),
        ("سرکار خانم", "خانم"),
        ("دکتر", "دکتر"),
        ("Mr.", "Mr"),
        ("MR", "Mr"),
        ("Mrs.", "Ms"),
        ("miss", "Ms"),
        ("Ms", "Ms"),
        ("Dr.", "Dr"),
        ("Prof.", "Prof."),
        ("", ""),
    ],
)
def test_titles(raw, title):
    assert normalize_title(raw) == title


@pytest.mark.parametrize(
    ("full", "parts"),
    [
        ("آقای علی رضایی", ("آقای", "علی", "رضایی")),
        ("جناب آقای محمد رضا احمدی", ("آقای", "محمد رضا", "احمدی")),
        ("سید مهدی موسوی", ("", "سید مهدی", "موسوی")),
        ("علی حسینی نژاد", ("", "علی", "حسینی نژاد")),
        ("Dr. Jane Roe", ("Dr", "Jane", "Roe")),
        ("Mary Ann Smith", ("", "Mary Ann", "Smith")),
        ("Smith, John", ("", "John", "Smith")),
        ("خانم  کریمی", ("خانم", "", "کریمی")),
    ],
)
def test_full_name_split(full, parts):
    assert split_full_name(full) == parts


def test_locale_hint_from_script():
    assert locale_hint("علی", "رضایی") == "fa"
    assert locale_hint("John", "") == "en"
    assert locale_hint("", "") is None


def test_text_normalisation():
    assert normalize_text(" علي\u0640 \u200fكريمي ۱۲٣ ") == "علی کریمی 123"
    assert normalize_text("می\u200c\u200cخواهم \u200c") == "می\u200cخواهم"
