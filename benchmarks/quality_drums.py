"""The drum level on the cascade's songs, judged against the Groove MIDI test split.

    python -m benchmarks.quality_drums --songs out/eval/cascade --out out/eval/drums
    composer eval out/eval/drums --reference .prepared/groove@test --train .prepared/groove@train

Song i of ``--songs`` (sorted; its own drums removed) gets drums from the shipped drum level
with seed i, as `composer drums` writes them; the seconds per song are printed.  Then the
table of `composer eval` with the Groove test split as reference and the train split as the
real-vs-real ceiling of the OA rows, and the same table for the valid split in place of the
generated songs (the real-vs-real baseline of every row).  Last, the fill density of the train
split's performances in the styles a song's drummer plays (``SONG_STYLES``): the figure the
fill settings of ``composer/levels/drums.py`` were chosen against.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from composer.evaluation_drums import evaluate_drums, groove_pieces
from composer.io.midi import read_midi, write_midi
from composer.levels.drums import SONG_STYLES, DrumLevel, add_drums
from composer.metrics.drums import drum_measures
from composer.pipeline import level_generators

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--songs", type=Path, required=True, help="folder of generated songs (MIDI)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--models", type=Path, default=REPO / "models")
    p.add_argument("--groove", default=str(REPO / ".prepared" / "groove"))
    p.add_argument("--n", type=int, default=100)
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    level = DrumLevel.from_pretrained(args.models / "drums")
    args.out.mkdir(parents=True, exist_ok=True)
    files = sorted(args.songs.glob("*.mid"))[:args.n]
    seconds = 0.0
    for i, f in enumerate(files):
        score = read_midi(f)
        score = score.replace(tracks=tuple(t for t in score.tracks if not t.is_drum))
        t0 = time.perf_counter()
        score = add_drums(level, score, level_generators(i)["drums"])
        seconds += time.perf_counter() - t0
        write_midi(score, args.out / f.name)
    print(f"{len(files)} songs, drums {seconds / max(1, len(files)):.3f} s per song")
    ref = f"{args.groove}@test"
    print(evaluate_drums(str(args.out), ref, f"{args.groove}@train").format_table(markdown=True))
    print()
    print(evaluate_drums(f"{args.groove}@valid", ref, f"{args.groove}@train").format_table(markdown=True))
    train = drum_measures(groove_pieces(f"{args.groove}@train", SONG_STYLES))
    print(f"\ntrain split, {', '.join(SONG_STYLES)} only: fill density, phrase end / other bars "
          f"{train.fill_density_ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
