"""A 64-bar song, form string to MIDI bytes, with the shipped models: median wall time, the
time of each level, and the peak memory of the process (target <= 3 s, <= 1 GB, 2-core CPU; issue 19).

Runs in a child process so the peak memory is this benchmark's alone:
``python -m benchmarks pipeline`` (or ``make bench``).
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import print_table, write_results

FORM = "i4A8B8A8B8b4A8B8o8"   # 64 bars, the shape of a pop song
REPEATS = 5
MODELS = Path(__file__).resolve().parents[1] / "models"


def _child() -> dict:
    import torch

    from composer.io.midi import midi_bytes
    from composer.pipeline import Composer

    composer = Composer.from_pretrained(MODELS)
    totals, levels = [], {"form": [], "chords": [], "melody": [], "notes": [], "drums": [],
                                 "score+midi": []}
    for i in range(REPEATS + 1):
        marks: dict[str, float] = {}
        start = time.perf_counter()

        def progress(level: str, done: int, total: int) -> None:
            marks[level] = time.perf_counter()

        score = composer.compose(form=FORM, key="C major", tempo=100, seed=i, progress=progress)
        data = midi_bytes(score)
        end = time.perf_counter()
        assert score.n_bars == 64 and len(data) > 1000
        if i == 0:
            continue   # warm-up
        totals.append(end - start)
        levels["form"].append(marks["form"] - start)
        levels["chords"].append(marks["chords"] - marks["form"])
        before_notes = marks.get("melody", marks["chords"])     # no melody level: notes follow chords
        levels["melody"].append(before_notes - marks["chords"])
        levels["notes"].append(marks["notes"] - before_notes)
        # the drums run on the finished Score, so their time includes the arrangement's
        levels["drums"].append(marks.get("drums", marks["notes"]) - marks["notes"])
        levels["score+midi"].append(end - marks.get("drums", marks["notes"]))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"form": FORM, "bars": 64, "repeats": REPEATS, "threads": torch.get_num_threads(),
            "median_s": statistics.median(totals),
            "level_median_s": {k: statistics.median(v) for k, v in levels.items()},
            "peak_rss_mb": peak_mb, "target_s": 3.0, "target_peak_mb": 1024}


def main() -> None:
    if not all((MODELS / n / "model.safetensors").is_file() for n in ("form", "chords", "notes")):
        print("  skipped: models/form, models/chords and models/notes are not all present")
        return
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_pipeline", "--child"],
                          capture_output=True, text=True, check=True)
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    write_results("pipeline", rows)
    table = [("64-bar song, form -> MIDI (median)", f"{rows['median_s']:.2f} s (target <= 3 s)")]
    table += [(f"  {k}", f"{v:.2f} s") for k, v in rows["level_median_s"].items()]
    table.append(("peak memory (RSS)", f"{rows['peak_rss_mb']:.0f} MB (target <= 1024 MB)"))
    print_table(table)


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(_child()))
    else:
        main()
