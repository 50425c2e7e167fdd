"""Every message in the code has a Persian translation, and the compiled
catalogs are the ones the .po files describe."""

from __future__ import annotations

import ast
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


# Persian text may keep these as they are: protocol words and names a reader
# sees the same in both languages.
SAME_IN_PERSIAN = frozenset({"OPTIONS"})

# Where a user-facing error is raised; its text must be marked with N_ so the
# reader's language can carry it (callcenter.errors.DomainError.shown).
RAISING_MODULES = (
    "callcenter/services",
    "callcenter/auth",
    "callcenter/states.py",
    "callcenter/calling_windows.py",
    "callcenter/campaigns",
    "callcenter/admin",
    "agent_ui",
    "supervisor",
)
# Exceptions no user reads: programming errors and the import worker's own.
INTERNAL_EXCEPTIONS = frozenset(
    {
        "AssertionError",
        "ImportLost",
        "KeyError",
        "LookupError",
        "NotImplementedError",
        "RuntimeError",
        "SystemExit",
        "TypeError",
        "ValueError",
    }
)


def _wanted_messages(tmp_path: Path) -> set[tuple[str | None, str]]:
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
            "-k",
            "N_",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {(message.context, str(message.id)) for message in read_po(handle) if message.id}


def _translations(locale: str) -> dict[tuple[str | None, str], str | None]:
    return {
        (message.context, str(message.id)): None if message.fuzzy else str(message.string)
        for message in _catalog(locale)
        if message.id
    }


def test_every_message_in_the_code_is_translated_to_persian(tmp_path: Path) -> None:
    persian = _translations("fa")
    untranslated = sorted(
        f"{context or ''}|{text}"
        for context, text in _wanted_messages(tmp_path)
        if not persian.get((context, text))
        or (persian[(context, text)] == text and text not in SAME_IN_PERSIAN)
    )
    assert untranslated == [], (
        "run `make translations` and translate these (empty, fuzzy or left in English)"
    )


def test_every_message_in_the_code_is_in_the_english_catalog(tmp_path: Path) -> None:
    english = _translations("en")
    missing = sorted(
        f"{context or ''}|{text}"
        for context, text in _wanted_messages(tmp_path)
        if (context, text) not in english or english[(context, text)] is None
    )
    assert missing == [], "run `make translations`: these are missing or fuzzy in en"


@pytest.mark.parametrize(
    "catalog",
    ["messages.pot", "fa/LC_MESSAGES/messages.po", "en/LC_MESSAGES/messages.po"],
)
def test_the_catalog_names_files_that_exist(catalog: str) -> None:
    """A module split or renamed leaves its name in the `#:` references
    until the catalog is extracted again."""
    with (TRANSLATIONS / catalog).open("rb") as handle:
        referenced = {path for message in read_po(handle) for path, _ in message.locations}
    gone = sorted(path for path in referenced if not (ROOT / path).is_file())
    assert gone == [], "run `make translations`: the catalog names files that are gone"


def _raised_texts(source: str, where: str) -> list[str]:
    """`raise X("text")` (or an f-string, or text joined with +) whose text
    is not marked with N_."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        name = ast.unparse(node.exc.func).rsplit(".", 1)[-1]
        if name in INTERNAL_EXCEPTIONS or not node.exc.args:
            continue
        first = node.exc.args[0]
        written = any(
            isinstance(part, ast.JoinedStr)
            or (isinstance(part, ast.Constant) and isinstance(part.value, str))
            for part in ast.walk(first)
        )
        marked = isinstance(first, ast.Call) and ast.unparse(first.func) == "N_"
        if written and not marked:
            found.append(f"{where}:{node.lineno} {ast.unparse(node.exc)[:80]}")
    return found


def test_errors_users_read_are_marked_for_translation() -> None:
    unmarked = []
    for place in RAISING_MODULES:
        root = ROOT / place
        for path in sorted([root] if root.suffix == ".py" else root.rglob("*.py")):
            unmarked.extend(
                _raised_texts(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
            )
    assert unmarked == [], "wrap the text in N_() with %(name)s placeholders"


def test_the_scan_finds_an_unmarked_error_text() -> None:
    sample = (
        "def f(name):\n"
        "    raise Conflict(f'{name} is taken')\n"
        "def g():\n"
        "    raise Conflict(N_('taken'))\n"
        "def h(problems):\n"
        "    raise InvalidInput('invalid: ' + '; '.join(problems))\n"
        "def i():\n"
        "    raise ValueError('programming error')\n"
    )
    assert [line.split()[0] for line in _raised_texts(sample, "sample.py")] == [
        "sample.py:2",
        "sample.py:6",
    ]


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_compiled_catalog_matches_its_po_file(locale: str) -> None:
    expected = io.BytesIO()
    write_mo(expected, _catalog(locale))
    expected.seek(0)
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    wanted = read_mo(expected)
    assert {m.id: m.string for m in compiled if m.id} == {m.id: m.string for m in wanted if m.id}
