"""`sib demo` wall time and peak memory, against writing its synthetic data alone, in the same run.

    .venv/bin/python benchmarks/bench_demo.py [--repeat 3]

The demo must finish within 60 s on a 2-core machine.  Its absolute time
drifts with the machine's load, so the report also gives the ratio to a
baseline measured alternately in the same run: generating the same synthetic
files (no store, no validation, no statistics, no PDFs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATE_ONLY = (
    "import sys; from pathlib import Path; sys.path.insert(0, {root!r}); "
    "from examples.synthetic import GENERATORS, generate; "
    "[generate(c, Path('data')) for c in GENERATORS]"
)


def timed(command: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of a child process."""
    start = time.perf_counter()
    wrapper = [sys.executable, "-c",
               "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", *command]
    rss = subprocess.run(wrapper, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()
    return time.perf_counter() - start, int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sib = str(Path(sys.executable).parent / "sib")
    demo, base = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            demo.append(timed([sib, "demo"], Path(tmp)))
        with tempfile.TemporaryDirectory() as tmp:
            base.append(timed([sys.executable, "-c", GENERATE_ONLY.format(root=str(ROOT))], Path(tmp)))
    t_demo, t_base = statistics.median(t for t, _ in demo), statistics.median(t for t, _ in base)
    print(json.dumps({
        "repeat": args.repeat, "demo_seconds": round(t_demo, 2), "generate_only_seconds": round(t_base, 2),
        "time_ratio_demo_to_generate_only": round(t_demo / t_base, 2),
        "peak_rss_mib_demo": round(statistics.median(m for _, m in demo) / 1024, 1),
        "peak_rss_mib_generate_only": round(statistics.median(m for _, m in base) / 1024, 1),
        "within_60_seconds": t_demo < 60,
    }, indent=2))


if __name__ == "__main__":
    main()
