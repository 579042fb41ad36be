"""``make bench``: run every ``tests/performance/bench_*.py`` module in turn, each in its own process.

Benchmarks print ratios against a baseline measured in the same run; they are not pass/fail gates.
Run one alone with ``python -m tests.performance.bench_catalog`` or ``make bench ONLY=catalog``.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    """Run the benchmarks (all, or those named in ``ONLY``, comma-separated) and report failures."""
    only = {name.strip() for name in os.environ.get("ONLY", "").split(",") if name.strip()}
    folder = Path(__file__).parent
    failures = 0
    for module in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if not module.name.startswith("bench_"):
            continue
        if only and module.name.removeprefix("bench_") not in only:
            continue
        print(f"\n=== {module.name} ===", flush=True)
        started = time.perf_counter()
        # each benchmark in its own process: moto worlds, caches and the environment of one must not
        # leak into the next (and one broken benchmark must not hide the others)
        result = subprocess.run([sys.executable, "-m", f"tests.performance.{module.name}"], check=False)
        if result.returncode != 0:
            failures += 1
            print(f"!! {module.name} failed (exit {result.returncode})", flush=True)
        print(f"=== {module.name} took {time.perf_counter() - started:.1f} s ===", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
