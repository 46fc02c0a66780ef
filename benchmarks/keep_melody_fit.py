"""New chords under the user's melody: ``Composer.regenerate(keep_melody=True, level="chords")``
on harmonised POP909 melodies (README, "The app's API").

For each of the first ``--songs`` POP909 test songs: its melody alone (with its sections and
key signatures, as a file would bring them) is harmonised by ``Composer.arrange`` (seed = the
song's index, no drums), then its middle section with melody is regenerated at level "chords"
with the melody kept: with the default 16 draws to choose from, and with 1 (the chord level's
draw alone, no choice).  Reported per song: the chord-tone fit of the melody in that section
(:func:`composer.harmonise.chord_fit`, melody time on chord tones, strong beats twice) before
and after, whether the Melody track is the same note for note (and the user's), and whether
every track and chord outside the section is unchanged.

    .venv/bin/python -m benchmarks.keep_melody_fit [--songs 5] [--prepared .prepared/pop909]

Writes benchmarks/results/keep_melody_fit.json.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import print_table, write_results


def main(argv: list[str] | None = None) -> int:
    from composer.band import grid_from_score
    from composer.data.example import load_split
    from composer.harmonise import chord_fit, melody_steps
    from composer.options import parse_meter
    from composer.pipeline import Composer
    from composer.representation.pianoroll import ticks_per_step

    p = argparse.ArgumentParser()
    p.add_argument("--songs", type=int, default=5)
    p.add_argument("--prepared", default=".prepared/pop909")
    args = p.parse_args(argv)
    composer = Composer.from_pretrained()
    torch.set_num_threads(1)
    songs = load_split(args.prepared, "test")[:args.songs]
    rows, out = [], []
    for i, ex in enumerate(songs):
        t0 = time.perf_counter()
        full = ex.to_score()
        user = full.replace(tracks=(full.track("Melody"),), chords=())
        song = composer.arrange(user, seed=i, drums=False)
        meter = parse_meter(f"{ex.meter[0]}/{ex.meter[1]}")
        bpb = ex.beats_per_bar
        n_bars = sum(s.n_bars for s in song.sections)
        lead = melody_steps(song.track("Melody").notes, ticks_per_step(song.resolution))[0]
        secs = sorted(song.sections)
        sung = [j for j, s in enumerate(secs) if s.label.isupper()]
        j = sung[len(sung) // 2]
        a, b = secs[j].start_bar, secs[j].start_bar + secs[j].n_bars
        lo, hi = a * bpb * song.resolution, b * bpb * song.resolution

        def fit(score) -> float:
            f, w = chord_fit(grid_from_score(score, n_bars, bpb), lead, meter)
            return float(f[a:b].sum() / max(w[a:b].sum(), 1e-9))

        def outside(score) -> dict:
            return {t.name: tuple(n for n in t.notes if not lo <= n.start_tick < hi) for t in score.tracks}

        row = {"song": ex.song_id, "section": f"{secs[j].name} (bars {a + 1}-{b})", "before": fit(song)}
        for k in (16, 1):
            new = composer.regenerate(song, section=j, level="chords", seed=100 + i, keep_melody=True, candidates=k)
            row[f"after K={k}"] = fit(new)
            row[f"melody kept K={k}"] = (new.track("Melody") == song.track("Melody")
                                         and new.track("Melody").notes == user.track("Melody").notes)
            beats = np.r_[0:a * bpb, b * bpb:n_bars * bpb]     # (a chord across the edge is cut there)
            same = [np.array_equal(getattr(grid_from_score(new, n_bars, bpb), f)[beats],
                                   getattr(grid_from_score(song, n_bars, bpb), f)[beats])
                    for f in ("root", "quality", "bass")]
            row[f"outside kept K={k}"] = outside(new) == outside(song) and all(same)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        out.append(row)
        print(row, flush=True)
    for name in ("before", "after K=16", "after K=1"):
        rows.append((f"mean fit {name}", f"{np.mean([r[name] for r in out]):.3f}"))
    print_table(rows)
    write_results("keep_melody_fit", {"songs": out, "means": dict(rows)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
