"""How fast `sib` starts: `sib --help` and `sib contract list --json` on a small store, against `python -c pass`,
each the median of N fresh processes, alternated in the same run.

    .venv/bin/python benchmarks/bench_cli_start.py [--repeat 10]

The aims (issue 20): `sib --help` within 0.3 s and `contract list --json` within 0.6 s.  Absolute times drift
with the machine's load, so the report also gives each as a ratio to a bare interpreter's start measured
alternately in the same run, and what each run imported (modules, and whether pandas, SQLAlchemy or alembic).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIB = [sys.executable, "-c", "import sys; sys.path.insert(0, %r); from api.cli import run; run()" % str(ROOT)]
HEAVY = ("pandas", "numpy", "sqlalchemy", "alembic", "statsmodels", "weasyprint", "matplotlib")


def seconds(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def imported(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, object]:
    """The modules a command's process held at its end: how many, and which heavy ones."""
    probe = ("import atexit, sys; sys.path.insert(0, %r)\n"
             "atexit.register(lambda: sys.__stderr__.write('MODULES ' + ' '.join(sys.modules) + '\\n'))\n"
             "from api.cli import run; sys.argv = ['sib', *%r]; run()" % (str(ROOT), args))
    err = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True).stderr
    names = next((line[8:].split() for line in err.splitlines() if line.startswith("MODULES ")), [])
    return {"modules": len(names), "heavy": [h for h in HEAVY if h in names]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{folder / 'sib.db'}", SIB_KEY_FILE=str(folder / "sib.key"))
        subprocess.run([*SIB, "init"], env=env, cwd=folder, check=True, capture_output=True)
        subprocess.run([*SIB, "contract", "load", str(ROOT / "examples" / "hasselby_school.yaml")], env=env,
                       cwd=folder, check=True, capture_output=True)
        runs: dict[str, list[float]] = {"pass": [], "help": [], "contract_list": []}
        commands = {"pass": [sys.executable, "-c", "pass"], "help": [*SIB, "--help"],
                    "contract_list": [*SIB, "contract", "list", "--json"]}
        for _ in range(options.repeat):
            for name, command in commands.items():
                runs[name].append(seconds(command, env, folder))
        medians = {name: statistics.median(times) for name, times in runs.items()}
        report = {
            "repeat": options.repeat,
            "median_seconds": {k: round(v, 3) for k, v in medians.items()},
            "over_bare_python_seconds": {k: round(medians[k] - medians["pass"], 3) for k in ("help", "contract_list")},
            "ratio_to_bare_python": {k: round(medians[k] / medians["pass"], 1) for k in ("help", "contract_list")},
            "within_aim": {"help_0.3s": medians["help"] <= 0.3, "contract_list_0.6s": medians["contract_list"] <= 0.6},
            "imports": {"help": imported(["--help"], env, folder),
                        "contract_list": imported(["contract", "list", "--json"], env, folder)},
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
