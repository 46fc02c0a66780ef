"""``composer drums SONG.mid -o OUT.mid``: a drummer for any MIDI file.

    composer drums song.mid -o song_drums.mid [--seed S] [--meter 4/4] [--style rock]
        [--humanize] [--replace] [--models DIR] [--steps K] [--force]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.commands import output_path
from composer.errors import ComposerError, quote_path
from composer.seeds import random_seed
from composer.tracks import DRUMS


def register(subparsers: argparse._SubParsersAction) -> None:
    from composer.representation.drums import STYLES
    p = subparsers.add_parser(
        "drums", help="add a drum track (GM kit, channel 10) to any MIDI file",
        description=f"Add a {DRUMS} track written by the drum level to a MIDI file: its tempo and "
                    "meter from the file, its sections from the file's markers (without markers, "
                    "from repeats in its notes); a groove per section, a crash on each section's "
                    "downbeat, a fill before each new section, light where the band plays less.  "
                    "Everything else in the file is kept.  Prints the seed that writes the same drums again.")
    p.add_argument("song", type=Path, metavar="SONG", help="MIDI file to add drums to")
    p.add_argument("-o", "--output", type=output_path, required=True, help="MIDI file to write (.mid)")
    p.add_argument("--seed", type=int, default=None, help="random seed, 0 .. 2**32 - 1 (default: random, printed)")
    p.add_argument("--meter", default=None,
                   help="read the song in this meter (4/4, 3/4, 2/4, 6/8) instead of its own "
                        "time signature (for files whose time signature is wrong)")
    p.add_argument("--style", default=None, choices=STYLES,
                   help="the drummer's style (default: drawn by the seed from rock, pop, soul, funk, hiphop)")
    p.add_argument("--humanize", action="store_true",
                   help="each hit at the drummers' own timing from the data; off: every hit on its 16th")
    p.add_argument("--replace", action="store_true", help="replace the song's drum tracks (default: refuse a song that has drums)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps, 1..100 (default 12)")
    p.add_argument("--models", type=Path, default=None,
                   help="folder with drums/ (default: the shipped models, or $COMPOSER_MODELS)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from composer.commands.midi import check_midi_name
    from composer.io.atomic import check_distinct, check_writable
    from composer.io.midi import read_midi, write_midi
    from composer.limits import check_seed, check_song_limits, check_steps

    out = check_midi_name(check_writable(args.output, args.force), "-o")
    check_distinct(song=args.song, output=out)
    if args.seed is not None:
        check_seed(args.seed)
    if args.steps is not None:
        check_steps(args.steps)
    if args.meter is not None and args.meter.strip() not in ("4/4", "3/4", "2/4", "6/8"):
        raise ComposerError(f"--meter {args.meter!r}: drums are written in 4/4, 3/4, 2/4 or 6/8")
    score = read_midi(args.song)
    check_song_limits(score, args.song, "composer drums writes")
    drums = [t.name for t in score.tracks if t.is_drum and t.notes]
    if drums and not args.replace:
        raise ComposerError(f"{quote_path(args.song)} already has drums (track {drums[0]!r}); "
                            "--replace writes new ones in their place")
    if args.replace:
        score = score.replace(tracks=tuple(t for t in score.tracks if not t.is_drum))
    if not any(t.notes for t in score.tracks):
        raise ComposerError(f"{quote_path(args.song)} has no notes to play drums to")
    import torch

    from composer.levels.drums import DEFAULT_STEPS, DrumLevel, add_drums, drum_meter
    from composer.io.checkpoint import default_models_dir
    from composer.pipeline import level_generators
    drum_meter(score, args.meter)   # a meter the level cannot write: one line before loading
    folder = (args.models if args.models is not None else default_models_dir()) / "drums"
    if not folder.is_dir():
        raise ComposerError(f"{folder} does not exist; --models must hold a trained drums/ model")
    level = DrumLevel.from_pretrained(folder)
    torch.set_num_threads(1)   # one bar is 16 tokens: a second thread costs more than it gives
    seed = random_seed() if args.seed is None else args.seed
    new = add_drums(level, score, level_generators(seed)["drums"], humanize=args.humanize,
                    steps=args.steps or DEFAULT_STEPS, meter=args.meter, style=args.style)
    write_midi(new, out)
    hits = len(new.tracks[-1].notes)
    print(f"drums: {hits} hits over {len(new.sections) or 'no'} marked sections, seed {seed}")
    print(f"wrote {quote_path(out)}")
    return 0
