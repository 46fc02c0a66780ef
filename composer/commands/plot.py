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
    p.add_argument("--drums", action="store_true",
                   help="draw the drum part as a grid instead (a row per kit piece, a column per 16th, "
                        "darker = louder; blue lines at section starts)")
    p.add_argument("--bars", default=None, metavar="A-B",
                   help="with --drums: the bars to draw, 1-based and inclusive (default 1-8)")
    p.add_argument("--beside", type=Path, default=None, metavar="OTHER.mid",
                   help="with --drums: also draw OTHER's drums below (e.g. a Groove MIDI performance)")
    p.add_argument("--beside-bars", default=None, metavar="A-B",
                   help="the bars of --beside to draw (default: as many as --bars, from bar 1)")
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
    if args.drums or args.bars or args.beside or args.beside_bars:
        return _run_drums(args, output)
    score = read_midi(args.input)
    # As export: refused before drawing, whatever the few bytes of the file claim.
    check_song_limits(score, args.input, "composer plot draws")
    title = args.title if args.title is not None else (score.title or args.input.name)
    image = draw_score(score, output, width_px=args.width, height_px=args.height, title=title)
    print(f"wrote {quote_path(output)} ({image.width_px}x{image.height_px} px, "
          f"{sum(len(t.notes) for t in score.tracks)} notes, {score.n_bars} bars)")
    return 0


def _bar_range(text: str | None, default: tuple[int, int], option: str) -> tuple[int, int]:
    """"A-B" (1-based, inclusive) -> (A, B); one PlotError line otherwise."""
    from composer.plot import PlotError  # noqa: PLC0415

    if text is None:
        return default
    try:
        a, b = (int(x) for x in text.split("-"))
    except ValueError:
        raise PlotError(f"{option} {text!r}: write the bars as A-B, e.g. 1-8") from None
    if not 1 <= a <= b or b - a >= 64:
        raise PlotError(f"{option} {text!r}: bars from 1, first <= last, at most 64 bars")
    return a, b


def _drum_grid(path: Path, bars: tuple[int, int], what: str):
    """The DrumGrid of bars ``bars`` of the drum tracks of the MIDI file ``path``."""
    from composer.io.midi import read_midi  # noqa: PLC0415
    from composer.levels.drums import drum_meter, song_sections  # noqa: PLC0415
    from composer.limits import check_song_limits  # noqa: PLC0415
    from composer.plot import DrumGrid, PlotError  # noqa: PLC0415
    from composer.representation.drums import bars_from_track  # noqa: PLC0415
    from composer.score import Track  # noqa: PLC0415
    from composer.tracks import DRUMS  # noqa: PLC0415

    score = read_midi(path)
    check_song_limits(score, path, "composer plot draws")
    drums = [n for t in score.tracks if t.is_drum for n in t.notes]
    if not drums:
        raise PlotError(f"{quote_path(path)} has no drum track to draw")
    _, spb, bar_ticks = drum_meter(score)
    n_song = -(-score.end_tick // bar_ticks)
    a, b = bars
    if a > n_song:
        raise PlotError(f"{what}: {quote_path(path)} has {n_song} bars, not {a}")
    b = min(b, n_song)
    vel, _ = bars_from_track(Track(DRUMS, 0, True, tuple(drums)), score.resolution, spb, n_song)
    starts = tuple(s.start_bar - (a - 1) for s in song_sections(score, n_song, bar_ticks)
                   if a - 1 < s.start_bar < b) if score.sections else ()
    return DrumGrid(f"{path.name}, bars {a}-{b}", vel[a - 1:b], spb, a, starts)


def _run_drums(args: argparse.Namespace, output: Path) -> int:
    from composer.plot import PlotError, draw_drum_grids  # noqa: PLC0415

    if not args.drums:
        raise PlotError("--bars, --beside and --beside-bars draw drums: add --drums")
    bars = _bar_range(args.bars, (1, 8), "--bars")
    grids = [_drum_grid(args.input, bars, "--bars")]
    if args.beside is not None:
        n = bars[1] - bars[0]
        grids.append(_drum_grid(args.beside, _bar_range(args.beside_bars, (1, 1 + n), "--beside-bars"),
                                "--beside-bars"))
    elif args.beside_bars is not None:
        raise PlotError("--beside-bars needs --beside OTHER.mid")
    draw_drum_grids(grids, output, width_px=args.width, height_px=args.height, title=args.title)
    print(f"wrote {quote_path(output)} ({args.width}x{args.height} px, drums of {len(grids)} "
          f"file{'s' if len(grids) > 1 else ''})")
    return 0
