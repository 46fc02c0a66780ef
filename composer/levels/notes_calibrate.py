"""Calibrate the note level's decoding thresholds on the validation split (the last step of
the note level's recipe, after ``composer train notes``)::

    python -m composer.levels.notes_calibrate --model models/notes --data .prepared/pop909

Samples ``--songs`` validation songs under their own forms, keys and chords (seeded), and
stores in the model's config.json, under "decoding", the thresholds that give the sampled
rolls the note density of the real ones (:func:`composer.levels.notes.calibrate_decoding`).
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from composer.data.example import load_split
from composer.levels.notes import DEFAULT_STEPS, NoteLevel, calibrate_decoding, sample_notes
from composer.representation.pianoroll import example_context, song_roll


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/notes"))
    p.add_argument("--data", type=Path, default=Path(".prepared/pop909"))
    p.add_argument("--songs", type=int, default=12)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    level = NoteLevel.from_pretrained(args.model)
    raws, reals = [], []
    for i, ex in enumerate(load_split(args.data, "valid")[:args.songs]):
        ctx, shift = example_context(ex)
        raws.append(sample_notes(level, ctx, torch.Generator().manual_seed(i), steps=args.steps))
        reals.append(song_roll(ex.melody, ex.accompaniment, ctx.n_steps, shift))
    decoding = calibrate_decoding(raws, reals)
    path = args.model / "config.json"
    config = json.loads(path.read_text())
    config["decoding"] = asdict(decoding)
    config["decoding_calibration"] = {"split": "valid", "songs": len(raws), "steps": args.steps}
    tmp = path.with_name("config.json.tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    print(json.dumps(asdict(decoding)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
