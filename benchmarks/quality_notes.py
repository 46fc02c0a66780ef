"""Generate the songs that `composer eval` judges against the real test split.

    python -m benchmarks.quality_notes --out out/eval/generated [--n 100] [--real-chords]
    composer eval out/eval/generated --reference .prepared/pop909@test --train .prepared/pop909@train

Song i takes the form (annotator 1), main key, tempo and meter of test song ``i % n_test``
and seed i.  By default the whole cascade runs (form given exactly, chords from the chord
level, melody and accompaniment from theirs).  ``--nothing`` gives the cascade nothing but
the seed (form, length, key and tempo its own), the way `composer generate` runs bare.  ``--real-chords`` keeps the test song's own chords and
keys and runs the note level alone, which judges the note level by itself.  No Bass track
is written, since the real songs have none (the metrics pool every non-melody track).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from composer.data.example import load_split
from composer.form import FormPlan, parse_form
from composer.io.midi import write_midi
from composer.levels.melody import MelodyLevel
from composer.levels.notes import NoteLevel
from composer.options import SUPPORTED_METERS
from composer.pipeline import Composer
from composer.representation.harmony import ChordGrid
from composer.score import PITCH_CLASS_NAMES

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=REPO / ".prepared" / "pop909")
    p.add_argument("--models", type=Path, default=REPO / "models")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--start", type=int, default=0, help="first song number (to extend a set: --start 60 --n 100)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--variation", type=float, default=None)
    p.add_argument("--melody-guidance", type=float, default=None)
    p.add_argument("--melody-rest-bias", type=float, default=None,
                   help="shift of the melody's rest logit (composer/levels/melody.py DEFAULT_REST_BIAS)")
    p.add_argument("--line-weight", type=float, default=None,
                   help="weight of the melody's line prior (default: the model's; 0 = the net alone)")
    p.add_argument("--chord-variation", type=float, default=None,
                   help="how far returning phrases' chords move from their first statement")
    p.add_argument("--guidance", type=float, nargs="+", default=None,
                   help="note-level guidance scale: one for all, or melody and accompaniment")
    p.add_argument("--real-chords", action="store_true")
    p.add_argument("--nothing", action="store_true", help="compose from the seed alone")
    p.add_argument("--split", default="test", help="songs whose forms, keys and tempi are used "
                   "(tune settings on 'valid', report on 'test')")
    args = p.parse_args(argv)
    test = load_split(args.data, args.split)
    if args.real_chords:
        melody = args.models / "melody"
        composer = Composer(None, None, NoteLevel.from_pretrained(args.models / "notes"),
                            melody_level=MelodyLevel.from_pretrained(melody) if melody.is_dir() else None)
    else:
        composer = Composer.from_pretrained(args.models)
    if args.variation is not None:
        composer.variation = args.variation
    if args.melody_rest_bias is not None:
        composer.melody_rest_bias = args.melody_rest_bias
    if args.line_weight is not None:
        composer.melody_line_weight = args.line_weight
    if args.chord_variation is not None:
        composer.chord_variation = args.chord_variation
    if args.melody_guidance is not None:
        composer.melody_guidance = args.melody_guidance
    if args.guidance is not None:
        composer.guidance = args.guidance[0] if len(args.guidance) == 1 else tuple(args.guidance[:2])
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i in range(args.start, args.n):
        ex = test[i % len(test)]
        meter = f"{ex.meter[0]}/{ex.meter[1]}"
        meter = meter if meter in SUPPORTED_METERS else "4/4"
        if args.nothing:
            score = composer.compose(seed=i, steps=args.steps, bass=False)
        elif args.real_chords:
            plan = FormPlan(parse_form(ex.form), tuple(int(t) for t in ex.key_tonic),
                            tuple(int(m) for m in ex.key_mode))
            score = composer.compose_over(plan, ChordGrid.from_example(ex), meter=meter,
                                          tempo=ex.tempo_bpm, seed=i, steps=args.steps, bass=False)
        else:
            tonic = int(np.bincount(ex.key_tonic.astype(int), minlength=12).argmax())
            mode = int(np.round(ex.key_mode[ex.key_tonic == tonic].mean()))
            key = f"{PITCH_CLASS_NAMES[tonic]} {'minor' if mode else 'major'}"
            score = composer.compose(form=ex.form, key=key, tempo=ex.tempo_bpm, meter=meter, seed=i,
                                     steps=args.steps, bass=False)
        write_midi(score, args.out / (f"gen_{i:03d}.mid" if args.nothing else f"gen_{i:03d}_{ex.song_id}.mid"))
        print(f"{i + 1}/{args.n} {ex.song_id} {ex.form} {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
