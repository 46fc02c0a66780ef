"""`composer eval` speed on 100 songs: median wall time of loading + every metric.

The 100 "generated" songs are real prepared POP909 songs written as MIDI files (the speed
of the metrics does not depend on who wrote the notes), read back through
composer.io.midi like a folder of generated songs.  Two cases:

* quick:    100 songs against the test split as reference (what a training run would do);
* baseline: 100 songs against the train split as reference and as training set for the
            copying check (the train split is read once, as `composer eval` does).

The copying check is also timed against a plain dictionary-based longest-common-run
table (the obvious implementation), which must return the same runs, on the 100 songs
and on a degenerate output (64 bars of the commonest training bar, 100 times).

Needs the prepared dataset (.prepared/pop909, or $PREPARED); without it the benchmark
says so and writes nothing.  Results go to benchmarks/results/eval.json.
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks.common import median_seconds, print_table, write_results

ROOT = Path(__file__).resolve().parents[1]
PREPARED = Path(os.environ.get("PREPARED", ROOT / ".prepared" / "pop909"))
N_SONGS = 100
REPEATS = 3


def naive_runs(gen_codes, train_codes) -> list[int]:
    """Longest copied run per generated song by a dict of training bars and a run-length
    table per position (the peer of the hashed search in composer.metrics), with the same
    rules: runs start and end on bars with onsets, bars without onsets match their like."""
    index = defaultdict(list)
    for song, (code, _) in enumerate(train_codes):
        for bar, c in enumerate(code.tolist()):
            if c:
                index[c].append((song, bar))
    out = []
    for code, link in gen_codes:
        best, prev = 0, {}
        for bar, c in enumerate(code.tolist()):
            cur = {}
            if c:
                for song, t_bar in index.get(c, ()):
                    run = prev.get((song, t_bar - 1))
                    linked = run is not None and train_codes[song][1][t_bar] == link[bar]
                    cur[(song, t_bar)] = run + 1 if linked else 1
                    best = max(best, cur[(song, t_bar)])
            else:
                for (song, t_bar), run in prev.items():
                    t_code = train_codes[song][0]
                    if t_bar + 1 < len(t_code) and t_code[t_bar + 1] == 0:
                        cur[(song, t_bar + 1)] = run + 1
            prev = cur
        out.append(best)
    return out


def wall_and_cpu(fn, repeats: int, warmup: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of ``fn()``: on a shared
    machine the CPU time says what the work costs, the wall time what a user waits."""
    cpu = []

    def timed():
        start = time.process_time()
        fn()
        cpu.append(time.process_time() - start)

    wall = median_seconds(timed, repeats, warmup)
    return wall, statistics.median(cpu[warmup:])


def main() -> None:
    if not (PREPARED / "split.json").is_file():
        print(f"  skipped: {PREPARED} is not a prepared dataset (build it with "
              "`composer data pop909`)")
        return
    from composer.data.example import SongExample
    from composer.evaluation import evaluate_sets, load_songs
    from composer.io.midi import write_midi
    from composer.metrics import longest_runs_from_codes, melody_bar_codes

    split = json.loads((PREPARED / "split.json").read_text())
    ids = (split["train"] + split["valid"] + split["test"])[:N_SONGS]
    with tempfile.TemporaryDirectory() as folder:
        gen_dir = Path(folder) / "generated"
        gen_dir.mkdir()
        for song_id in ids:
            write_midi(SongExample.load(PREPARED / "songs" / f"{song_id}.npz").to_score(),
                       gen_dir / f"{song_id}.mid")
        n_notes = sum(len(t.notes) for s in load_songs(str(gen_dir)).scores for t in s.tracks)

        def quick():
            evaluate_sets(load_songs(str(gen_dir)), load_songs(f"{PREPARED}@test"))

        def baseline():
            train = load_songs(f"{PREPARED}@train")
            evaluate_sets(load_songs(str(gen_dir)), train, train)

        quick_s, quick_cpu = wall_and_cpu(quick, REPEATS, warmup=1)
        baseline_s, baseline_cpu = wall_and_cpu(baseline, REPEATS, warmup=0)

        # Copying alone, hashed windows against the plain run table (same answers), in two
        # regimes: the 100 songs themselves (mostly training songs: long copies), and a
        # degenerate model output (64 bars of the commonest training bar, 100 times).
        gen_codes = [melody_bar_codes(s) for s in load_songs(str(gen_dir)).scores]
        train_codes = [melody_bar_codes(s) for s in load_songs(f"{PREPARED}@train").scores]
        counts = Counter(int(c) for code, _ in train_codes for c in code.tolist() if c)
        common = np.uint64(counts.most_common(1)[0][0])
        repetitive = [(np.full(64, common, np.uint64), np.zeros(64, np.int64))] * N_SONGS
        copy = {}
        for case, codes in (("songs", gen_codes), ("repetitive", repetitive)):
            hashed = longest_runs_from_codes(codes, train_codes).tolist()
            start = time.perf_counter()
            naive = naive_runs(codes, train_codes)
            naive_s = time.perf_counter() - start
            if hashed != naive:
                raise AssertionError(f"hashed and naive copy runs differ ({case})")
            hashed_s = median_seconds(lambda: longest_runs_from_codes(codes, train_codes), 5)
            copy[case] = (hashed_s, naive_s)

    rows = {
        "n_generated": len(ids),
        "n_generated_notes": n_notes,
        "n_reference_test": len(split["test"]),
        "n_train": len(split["train"]),
        "quick_s": quick_s,
        "quick_cpu_s": quick_cpu,
        "baseline_s": baseline_s,
        "baseline_cpu_s": baseline_cpu,
        "copy_songs_hashed_s": copy["songs"][0],
        "copy_songs_naive_s": copy["songs"][1],
        "copy_repetitive_hashed_s": copy["repetitive"][0],
        "copy_repetitive_naive_s": copy["repetitive"][1],
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }
    print_table([
        ("songs", f"{len(ids)} generated ({n_notes} notes) as MIDI files"),
        ("quick", f"{quick_s:.1f} s wall, {quick_cpu:.1f} s CPU vs test split "
                  f"({len(split['test'])} songs), median of {REPEATS}"),
        ("baseline", f"{baseline_s:.1f} s wall, {baseline_cpu:.1f} s CPU vs train split "
                     f"({len(split['train'])} songs) as reference and training set, "
                     f"median of {REPEATS}"),
        *[(f"copying, {case}", f"{h * 1e3:.0f} ms hashed vs {n * 1e3:.0f} ms plain run "
                                f"table (plain / hashed = {n / h:.1f}), same runs")
          for case, (h, n) in copy.items()],
        ("load", f"1-min load average {rows['load_average_1min']:.1f} on {os.cpu_count()} cores"),
    ])
    write_results("eval", rows)


if __name__ == "__main__":
    main()
