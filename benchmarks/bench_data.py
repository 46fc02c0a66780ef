"""POP909 builder speed: median seconds to build one song, the estimated whole-set build
time on two workers, and the time of a cached re-run of the prepared set.

Needs ../shared/data (POP909); without it the benchmark says so and writes nothing.
Results go to benchmarks/results/data.json.  (The issue asks for the whole build of the
863 songs in under 10 minutes on this 2-core machine.)
"""
from __future__ import annotations

import time
from pathlib import Path

from benchmarks.common import median_seconds, print_table, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PREPARED = Path(__file__).resolve().parents[1] / ".prepared" / "pop909"
SONGS = [f"{i:03d}" for i in range(1, 60, 3)]  # 20 songs spread over the first 60 ids
REPEATS = 3


def main() -> None:
    if not (DATA / "POP909-Dataset").is_dir():
        print(f"  skipped: {DATA} has no POP909-Dataset (POP909 data not found)")
        return
    import json

    from composer.data.pop909 import build_pop909, build_song, cache_key, find_sources

    sources = find_sources(DATA, SONGS)
    n_total = len(find_sources(DATA))
    per_batch = median_seconds(lambda: [build_song(s) for s in sources], REPEATS)
    per_song = per_batch / len(sources)
    rows = {
        "n_songs_timed": len(sources),
        "seconds_per_song": per_song,
        "n_songs_in_set": n_total,
        "estimated_build_seconds_2_workers": per_song * n_total / 2,
    }
    report = json.loads((PREPARED / "report.json").read_text()) if (PREPARED / "report.json").is_file() else {}
    if report:
        rows["last_full_build_seconds"] = report["build_seconds"]
    # Time the cached re-run only when the prepared set is current (never rebuild it here).
    if report.get("cache_key") == cache_key(find_sources(DATA)):
        start = time.perf_counter()
        rep = build_pop909(DATA, PREPARED)
        rows["cached_rerun_seconds"] = time.perf_counter() - start
        rows["cached_rerun_was_cached"] = rep.cached
    path = write_results("data", rows)
    print_table([(k, f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in rows.items()])
    print(f"  -> {path}")


if __name__ == "__main__":
    main()
