"""``make bench``: run every ``tests/performance/bench_*.py`` module's ``main()`` in turn.

Benchmarks print ratios against a baseline measured in the same run; they are not pass/fail gates.
Run one alone with ``python -m tests.performance.bench_catalog`` or ``make bench ONLY=catalog``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

from tests.support import environment


def main() -> int:
    """Run the benchmarks (all, or those named in ``ONLY``, comma-separated) and report failures."""
    environment.apply()
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
        try:
            importlib.import_module(f"tests.performance.{module.name}").main()
        except Exception as exc:  # one broken benchmark must not hide the others
            failures += 1
            print(f"!! {module.name} failed: {exc!r}", flush=True)
        print(f"=== {module.name} took {time.perf_counter() - started:.1f} s ===", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
