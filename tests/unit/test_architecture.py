"""The import rules of style.md, checked on the source so a violation fails CI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("agent_ui", "supervisor")


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def _violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in _imports(package)
        if module.split(".")[0] in forbidden
    ]


def test_core_never_imports_dialer_or_features() -> None:
    assert _violations("callcenter", ("dialer", *FEATURES)) == []


@pytest.mark.parametrize("feature", FEATURES)
def test_features_do_not_import_each_other_or_the_dialer(feature: str) -> None:
    others = tuple(name for name in FEATURES if name != feature)
    assert _violations(feature, (*others, "dialer")) == []


@pytest.mark.parametrize("feature", FEATURES)
def test_features_never_write_models_directly(feature: str) -> None:
    """Views go through callcenter.services; they may not import models or the DB layer."""
    direct = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in _imports(feature)
        if module.startswith(("callcenter.models", "callcenter.db", "sqlalchemy"))
    ]
    assert direct == []


def test_scripts_engine_is_pure() -> None:
    assert _violations("scripts", ("flask", "sqlalchemy", "callcenter", "dialer")) == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from dialer.worker import run\nimport agent_ui.views\n")
    tree = ast.parse(module.read_text())
    names = [
        n.module if isinstance(n, ast.ImportFrom) else n.names[0].name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    assert [name.split(".")[0] for name in names] == ["dialer", "agent_ui"]
