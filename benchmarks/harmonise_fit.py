"""How well ``composer arrange`` harmonises a real melody (README, "Start from your own music").

For each POP909 test song: its real melody over its real form and keys is harmonised by
composer/harmonise.py from one batch of 16 chord-level draws (seed = the song's index), keeping
per phrase the best of the first K draws (K = 1 is the chord level unguided) or, for
comparison, the best whole draw; and the figures are set beside the real chords':

* ``chord_tone_strong_beats`` (composer.metrics): share of strong-beat melody onsets on a tone
  of the chord under them;
* ``fit``: the share the harmoniser maximises (:func:`composer.harmonise.chord_fit`, melody
  time on chord tones, strong beats twice);
* ``root_agree`` / ``pc_jaccard``: per beat where both have a chord, the share with the real
  chord's root, and the mean overlap (intersection / union) of the two chords' pitch classes.

    .venv/bin/python -m benchmarks.harmonise_fit [--songs 74] [--prepared .prepared/pop909]

Writes benchmarks/results/harmonise_fit.json.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from benchmarks.common import print_table, write_results

KS = (1, 2, 4, 8, 16)


def main(argv: list[str] | None = None) -> int:
    from composer.data.example import load_split
    from composer.form import FormPlan, parse_form
    from composer.harmonise import choose_chords, chord_fit, chord_tones
    from composer.levels.chords import ChordLevel, sample_chord_candidates
    from composer.metrics.song import chord_tone_strong_beats
    from composer.io.checkpoint import default_models_dir
    from composer.options import Meter, parse_meter
    from composer.pipeline import CHORD_VARIATION
    from composer.representation.harmony import ChordGrid

    p = argparse.ArgumentParser()
    p.add_argument("--songs", type=int, default=74)
    p.add_argument("--prepared", default=".prepared/pop909")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    level = ChordLevel.from_pretrained(default_models_dir() / "chords")
    songs = load_split(args.prepared, "test")[:args.songs]
    rows: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    def figures(name: str, grid: ChordGrid, ex, real: ChordGrid, meter: Meter) -> None:
        score = ex.to_score().replace(chords=grid.to_symbols())
        add(f"{name} chord_tone_strong_beats", chord_tone_strong_beats(score))
        fit, weight = chord_fit(grid, ex.melody, meter)
        add(f"{name} fit", float(fit.sum() / max(weight.sum(), 1e-9)))
        both = (grid.root >= 0) & (real.root >= 0)
        add(f"{name} root_agree", float(np.mean(grid.root[both] == real.root[both])) if both.any() else math.nan)
        a, b = chord_tones(grid)[both], chord_tones(real)[both]
        add(f"{name} pc_jaccard", float(np.mean((a & b).sum(1) / np.maximum((a | b).sum(1), 1)))
            if both.any() else math.nan)

    start = time.perf_counter()
    for i, ex in enumerate(songs):
        meter = parse_meter(f"{ex.meter[0]}/{ex.meter[1]}")
        plan = FormPlan(parse_form(ex.form), tuple(int(t) for t in ex.key_tonic),
                        tuple(int(m) for m in ex.key_mode))
        real = ChordGrid.from_example(ex)
        figures("real", real, ex, real, meter)
        drawn = sample_chord_candidates(level, plan, ex.beats_per_bar, k=max(KS),
                                        generator=torch.Generator().manual_seed(i), variation=CHORD_VARIATION)
        for k in KS:
            figures(f"K={k} per phrase", choose_chords(drawn[:k], ex.melody, plan, meter)[0], ex, real, meter)
        whole = [chord_fit(g, ex.melody, meter)[0].sum() for g in drawn[:8]]
        figures("K=8 whole song", drawn[int(np.argmax(whole))], ex, real, meter)
        print(f"{i + 1}/{len(songs)} {ex.song_id} {time.perf_counter() - start:.0f} s", flush=True)
    means = {name: float(np.nanmean(v)) for name, v in rows.items()}
    print_table([(name, f"{value:.3f}") for name, value in means.items()])
    write_results("harmonise_fit", {"songs": len(songs), "means": means})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
