"""Run every benchmark module (``python -m benchmarks [NAME ...]``)."""
import importlib
import pkgutil
import sys
from pathlib import Path

here = Path(__file__).parent
wanted = set(sys.argv[1:])
for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
    if not info.name.startswith("bench_"):
        continue
    if wanted and info.name.removeprefix("bench_") not in wanted and info.name not in wanted:
        continue
    print(f"== {info.name}", flush=True)
    importlib.import_module(f"benchmarks.{info.name}").main()
