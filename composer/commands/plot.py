"""``composer plot``: draw a MIDI file as a piano roll PNG (melody, accompaniment, bass,
drums; sections, chords and bar numbers).

    composer plot SONG.mid -o song.png [--width 1600] [--height 560] [--title TEXT] [--force]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.commands import output_path
from composer.errors import quote_path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plot", help="draw a MIDI file as a piano roll (PNG)",
        description="Draw any MIDI file as a piano roll: the melody, accompaniment, bass and drums "
                    "in their own colours, section names and boundaries and chord symbols along "
                    "the top, bar numbers below.  Tracks are recognised by name and content, not "
                    "by position.")
    p.add_argument("input", type=Path, help="MIDI file (.mid)")
    p.add_argument("-o", "--output", type=output_path, required=True, help="image file to write (.png)")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels (default 1600)")
    p.add_argument("--height", type=int, default=560, help="image height in pixels (default 560)")
    p.add_argument("--title", default=None, help="title above the roll (default: the song's title "
                                                 "or the file name)")
    p.add_argument("--force", action="store_true", help="overwrite an existing image")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from composer.io.atomic import check_writable  # noqa: PLC0415
    from composer.io.midi import read_midi  # noqa: PLC0415
    from composer.limits import check_song_limits  # noqa: PLC0415
    from composer.plot import PlotError, check_size, draw_score  # noqa: PLC0415

    # Every cheap check before reading and drawing, so that a bad option writes nothing.
    output = check_writable(args.output, args.force)
    if output.suffix.lower() != ".png":
        raise PlotError(f"{output}: the image is a PNG; name it .png")
    check_size(args.width, args.height)
    score = read_midi(args.input)
    # As export: refused before drawing, whatever the few bytes of the file claim.
    check_song_limits(score, args.input, "composer plot draws")
    title = args.title if args.title is not None else (score.title or args.input.name)
    image = draw_score(score, output, width_px=args.width, height_px=args.height, title=title)
    print(f"wrote {quote_path(output)} ({image.width_px}x{image.height_px} px, "
          f"{sum(len(t.notes) for t in score.tracks)} notes, {score.n_bars} bars)")
    return 0
