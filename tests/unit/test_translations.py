"""Every message in the code has a Persian translation, and the compiled
catalogs are the ones the .po files describe."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "callcenter" / "translations"


def _catalog(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def test_every_message_in_the_code_is_translated_to_persian(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {message.id for message in read_po(handle) if message.id}
    persian = {message.id: message.string for message in _catalog("fa") if message.id}
    untranslated = sorted(str(m) for m in wanted if not persian.get(m))
    assert untranslated == [], "run `make translations` and translate these"


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_compiled_catalog_matches_its_po_file(locale: str) -> None:
    expected = io.BytesIO()
    write_mo(expected, _catalog(locale))
    expected.seek(0)
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    wanted = read_mo(expected)
    assert {m.id: m.string for m in compiled if m.id} == {m.id: m.string for m in wanted if m.id}
