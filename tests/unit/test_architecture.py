"""The import rules of style.md are import-linter contracts (pyproject.toml,
[tool.importlinter]); `make lint` runs them, and so does the test suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(LINT_IMPORTS), "--no-cache"]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(
        command,
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_broken_contract_fails(tmp_path: Path) -> None:
    """The same kind of contract on a tree where the core imports a UI."""
    for package, source in {
        "core": "from ui import views\n",
        "ui": "",
    }.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(source)
    (tmp_path / "ui" / "views.py").write_text("")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["core", "ui"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "core never imports a UI"\n'
        'type = "forbidden"\nsource_modules = ["core"]\nforbidden_modules = ["ui"]\n'
    )
    result = lint_imports(tmp_path, config)
    assert result.returncode == 1
    assert "core never imports a UI" in result.stdout and "BROKEN" in result.stdout


def test_the_uis_templates_do_not_use_each_others_files() -> None:
    """Python imports are import-linter's; templates name blueprints in url_for."""
    crossings = [
        f"{template.relative_to(ROOT)} uses {other}"
        for ui, other in (("agent_ui", "supervisor"), ("supervisor", "agent_ui"))
        for template in (ROOT / ui / "templates").rglob("*.html")
        if f"'{other}." in template.read_text(encoding="utf-8")
        or f'"{other}.' in template.read_text(encoding="utf-8")
    ]
    assert crossings == []
