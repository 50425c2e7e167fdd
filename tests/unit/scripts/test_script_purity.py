"""The script engine, dates and scheduling are used by services and workers
alike, so they import no web framework or database layer."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("flask", "sqlalchemy", "alembic", "redis", "psycopg", "callcenter.models")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_pure_modules_import_no_web_or_database_code():
    files = [
        *sorted((ROOT / "scripts").glob("*.py")),
        ROOT / "callcenter" / "dates.py",
        *sorted((ROOT / "callcenter" / "scheduling").glob("*.py")),
    ]
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_script_engine_loads_without_the_web_stack():
    check = (
        "import sys, scripts; scripts.load_builtin_scripts(); "
        "assert not {'flask', 'sqlalchemy'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True)
