"""The CLI starts at once: `import api.cli` (what `sib --help` runs) and `sib contract list` load none of the
heavy libraries; each command imports its own tools when it runs.  An import graph, not a timing: the times are
in benchmarks/bench_cli_start.py and docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "scipy", "statsmodels", "weasyprint", "matplotlib", "openpyxl", "sqlalchemy", "alembic",
         "sqlmodel", "pydantic", "fastapi")


def loaded_by(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}\nimport json; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=cwd, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    modules = loaded_by("import api.cli")
    assert [m for m in HEAVY if m in modules] == []
    engine = sorted(m for m in modules if m.startswith(("contracts.", "outcomes.", "evaluation.", "payments.", "store.")))
    assert engine == ["payments.money"]  # Decimal rounding, for the formats of numbers in words


def test_help_lists_every_command_without_loading_them(capsys: pytest.CaptureFixture[str]) -> None:
    modules = loaded_by("from api.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert [m for m in HEAVY if m in modules] == []


def test_listing_contracts_needs_the_database_driver_and_nothing_of_the_models(tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'sib.db'}", SIB_KEY_FILE=str(tmp_path / "sib.key"))
    sib = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from api.cli import run; run()"]
    subprocess.run([*sib, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([*sib, "contract", "load", str(ROOT / "examples" / "hasselby_school.yaml")], env=env, cwd=tmp_path,
                   check=True, capture_output=True)
    listed = subprocess.run([*sib, "contract", "list", "--json"], env=env, cwd=tmp_path, check=True,
                            capture_output=True, text=True)
    assert [c["id"] for c in json.loads(listed.stdout)["contracts"]] == ["hasselby-school"]
    modules = loaded_by("from api.cli import main; main(['contract', 'list', '--json'])", env, tmp_path)
    assert "sqlalchemy" in modules  # it reads the store ...
    assert [m for m in ("pandas", "numpy", "alembic", "sqlmodel", "store.tables", "contracts.model")
            if m in modules] == []  # ... with SQLAlchemy's core alone


def test_the_schema_head_read_from_the_files_is_alembic_s(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from store.db import DEFAULT_URL, alembic_config, current_revision, head_revision, init_store, make_engine

    assert head_revision() == ScriptDirectory.from_config(alembic_config(DEFAULT_URL)).get_current_head()
    url = f"sqlite:///{tmp_path / 'sib.db'}"
    engine = make_engine(url)
    assert current_revision(engine) is None  # never initialised
    init_store(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
