"""Keys per phrase for a melody read from a file (``composer arrange`` with no key signature, or
one the melody contradicts; composer/harmonise.py ``phrase_keys``), against POP909's annotated
keys per bar.

For each song of the split: its real melody, phrases read from the melody as arrange reads
them (``melody_form``), and the song's key estimated from the whole melody; the one-key
estimate (every bar in the song's key) and the per-phrase estimate (``phrase_keys`` at
``--cost``) are compared with the annotation:

* ``bar_acc``: share of bars whose estimated tonic and mode are the annotated ones (mean over
  songs), also over the songs with an annotated change only;
* ``changes``: key changes per song, estimated and annotated;
* ``false``: songs with no annotated change that get one; ``found``: songs with an annotated
  change that get one.

With ``--fit`` the chords are chosen as arrange chooses them (16 chord-level draws in one batch,
seed = the song's index, best per phrase) under each estimate's keys, and the strong-beat
chord-tone share of benchmarks/harmonise_fit.py is given over all songs and over the songs whose
keys differ (the other songs' draws are the same under both).

    .venv/bin/python -m benchmarks.harmonise_keys [--split test] [--cost 4] [--fit] [--sweep]

Writes benchmarks/results/harmonise_keys_<split>.json.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import print_table, write_results


def estimates(ex, cost: float):
    """(phrases, one-key per bar, per-phrase per bar) for a SongExample, keys as 12 * mode + tonic."""
    from composer.harmonise import _melody_key, melody_form, phrase_keys

    phrases = melody_form(ex.melody, ex.n_bars, ex.steps_per_bar)
    tonic, mode = _melody_key(ex.melody)
    one = np.full(ex.n_bars, 12 * mode + tonic)
    t, m = phrase_keys(ex.melody, phrases, ex.steps_per_bar, (tonic, mode), cost=cost)
    return phrases, one, 12 * np.asarray(m) + np.asarray(t)


def _changes(keys: np.ndarray) -> str:
    """``G major -> A major (bar 57)`` for keys per bar (12 * mode + tonic)."""
    from composer.data.example import MODES
    from composer.spelling import key_signature_name

    parts = [key_signature_name(int(keys[0]) % 12, MODES[int(keys[0]) // 12])]
    for bar in np.flatnonzero(keys[1:] != keys[:-1]) + 1:
        parts.append(f"{key_signature_name(int(keys[bar]) % 12, MODES[int(keys[bar]) // 12])} (bar {bar + 1})")
    return " -> ".join(parts)


def key_figures(songs, cost: float) -> dict[str, float]:
    acc = {"one": [], "phrase": []}
    acc_mod = {"one": [], "phrase": []}
    changes = {"one": [], "phrase": [], "annotated": []}
    false = found = 0
    for ex in songs:
        _, one, per = estimates(ex, cost)
        real = 12 * ex.key_mode.astype(int) + ex.key_tonic.astype(int)
        annotated = int((real[1:] != real[:-1]).sum())
        changes["annotated"].append(annotated)
        for name, est in (("one", one), ("phrase", per)):
            acc[name].append(float(np.mean(est == real)))
            changes[name].append(int((est[1:] != est[:-1]).sum()))
            if annotated:
                acc_mod[name].append(acc[name][-1])
        made = changes["phrase"][-1] > 0
        if made or annotated:
            print(f"{ex.song_id}: annotated {_changes(real)}; estimated {_changes(per)}", flush=True)
        false += bool(made and not annotated)
        found += bool(made and annotated)
    n_mod = sum(c > 0 for c in changes["annotated"])
    out = {f"bar_acc {k}": float(np.mean(v)) for k, v in acc.items()}
    out |= {f"bar_acc modulating {k}": float(np.mean(v)) if v else float("nan") for k, v in acc_mod.items()}
    out |= {f"changes per song {k}": float(np.mean(v)) for k, v in changes.items()}
    out |= {"songs": len(songs), "songs modulating": n_mod, "false modulations": false,
            "songs one key": len(songs) - n_mod, "modulations found": found}
    return out


def fit_figures(songs, cost: float) -> dict[str, float]:
    from composer.form import FormPlan
    from composer.harmonise import DEFAULT_CANDIDATES, choose_chords
    from composer.levels.chords import ChordLevel, sample_chord_candidates
    from composer.metrics.song import chord_tone_strong_beats
    from composer.options import parse_meter
    from composer.pipeline import CHORD_VARIATION, default_models_dir

    level = ChordLevel.from_pretrained(default_models_dir() / "chords")
    fits = {"one": [], "phrase": []}
    differ = {"one": [], "phrase": []}
    start = time.perf_counter()
    for i, ex in enumerate(songs):
        phrases, one, per = estimates(ex, cost)
        meter = parse_meter(f"{ex.meter[0]}/{ex.meter[1]}")
        got = {}
        for name, keys in (("one", one), ("phrase", per)):
            if name == "phrase" and np.array_equal(one, per):
                got[name] = got["one"]
                continue
            plan = FormPlan(tuple(phrases), tuple(int(k % 12) for k in keys), tuple(int(k // 12) for k in keys))
            drawn = sample_chord_candidates(level, plan, ex.beats_per_bar, k=DEFAULT_CANDIDATES,
                                            generator=torch.Generator().manual_seed(i), variation=CHORD_VARIATION)
            grid = choose_chords(drawn, ex.melody, plan, meter)[0]
            got[name] = chord_tone_strong_beats(ex.to_score().replace(chords=grid.to_symbols()))
        for name in fits:
            fits[name].append(got[name])
            if not np.array_equal(one, per):
                differ[name].append(got[name])
        print(f"{i + 1}/{len(songs)} {ex.song_id} {time.perf_counter() - start:.0f} s", flush=True)
    out = {f"chord_tone_strong_beats {k}": float(np.nanmean(v)) for k, v in fits.items()}
    out |= {f"chord_tone_strong_beats keys differ {k}": float(np.nanmean(v)) if v else float("nan")
            for k, v in differ.items()}
    out["songs keys differ"] = len(differ["one"])
    return out


def main(argv: list[str] | None = None) -> int:
    from composer.data.example import load_split
    from composer.harmonise import MODULATION_COST

    p = argparse.ArgumentParser()
    p.add_argument("--split", default="test")
    p.add_argument("--prepared", default=".prepared/pop909")
    p.add_argument("--cost", type=float, default=MODULATION_COST)
    p.add_argument("--fit", action="store_true", help="also choose chords under each estimate (slow)")
    p.add_argument("--sweep", action="store_true", help="key figures at costs 1 to 16")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    songs = load_split(args.prepared, args.split)
    if args.sweep:
        for cost in (1, 2, 3, 3.5, 4, 4.5, 5, 6, 8, 12, 16):
            f = key_figures(songs, cost)
            print(f"cost {cost:>4}: bar_acc {f['bar_acc phrase']:.3f} (one key {f['bar_acc one']:.3f}), "
                  f"changes/song {f['changes per song phrase']:.3f} (annotated {f['changes per song annotated']:.3f}), "
                  f"false {f['false modulations']}/{f['songs one key']}, "
                  f"found {f['modulations found']}/{f['songs modulating']}")
    figures = key_figures(songs, args.cost)
    if args.fit:
        figures |= fit_figures(songs, args.cost)
    print_table([(k, f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in figures.items()])
    write_results(f"harmonise_keys_{args.split}", {"cost": args.cost, **figures})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
