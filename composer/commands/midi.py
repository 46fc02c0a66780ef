"""``composer inspect`` and ``composer convert``: look into MIDI files and rewrite them DAW-ready.

    composer inspect FILE.mid [--json]
    composer convert IN.mid OUT.mid [--force]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from composer.commands import output_path
from composer.errors import escape_controls, quote_path
from composer.score import Score

N_CHORDS_SHOWN = 8
"""Chords listed by ``inspect`` before it says how many more there are."""
MAX_DELTA_TICKS = 2**28 - 1
"""Largest delta time a MIDI file can hold (a 4-byte variable-length quantity)."""
MIDI_SUFFIXES = (".mid", ".midi")
"""File names a MIDI file is written under (a DAW picks the format from the name)."""


def check_midi_name(path: Path, option: str = "OUTPUT") -> Path:
    """``path`` if its name ends in .mid or .midi, else one ComposerError line (a MIDI file
    written as song.wav opens nowhere and looks like the audio)."""
    from composer.errors import ComposerError  # noqa: PLC0415

    if path.suffix.lower() not in MIDI_SUFFIXES:
        raise ComposerError(f"{option} {path.name} is written as MIDI: give it a .mid or .midi name"
                            + (" (audio comes from `composer render` or --audio)"
                               if path.suffix.lower() in (".wav", ".flac", ".mp3") else ""))
    return path


@dataclass(frozen=True)
class TrackSummary:
    name: str
    program: int
    is_drum: bool
    n_notes: int


@dataclass(frozen=True)
class TimedValue:
    """A value (bpm, meter "3/4", key "A minor", chord "Am7/G") from ``tick`` on."""

    tick: int
    value: str | float


@dataclass(frozen=True)
class SectionSummary:
    start_bar: int
    n_bars: int
    label: str
    name: str


@dataclass(frozen=True)
class MidiSummary:
    """What ``composer inspect`` reports about one Score.  Times in seconds and bars;
    tempos in quarter-note bpm with their start tick."""

    resolution: int
    duration_seconds: float
    n_bars: int
    title: str
    tracks: tuple[TrackSummary, ...]
    tempos: tuple[TimedValue, ...]
    meters: tuple[TimedValue, ...]
    keys: tuple[TimedValue, ...]
    sections: tuple[SectionSummary, ...]
    n_chords: int
    first_chords: tuple[TimedValue, ...]


def summarize(score: Score) -> MidiSummary:
    from composer.spelling import chord_text  # noqa: PLC0415

    return MidiSummary(
        resolution=score.resolution,
        duration_seconds=round(score.duration_seconds, 3),
        n_bars=score.n_bars,
        title=score.title,
        tracks=tuple(TrackSummary(t.name, t.program, t.is_drum, len(t.notes)) for t in score.tracks),
        tempos=tuple(TimedValue(t.tick, round(t.bpm, 3)) for t in score.tempos),
        meters=tuple(TimedValue(m.tick, str(m)) for m in score.time_signatures),
        keys=tuple(TimedValue(k.tick, str(k)) for k in score.key_signatures),
        sections=tuple(SectionSummary(s.start_bar, s.n_bars, s.label, s.name) for s in score.sections),
        n_chords=len(score.chords),
        first_chords=tuple(TimedValue(c.start_tick, chord_text(c, score.key_at(c.start_tick)))
                           for c in score.chords[:N_CHORDS_SHOWN]),
    )


def _listing(items, shown: int = 6) -> str:
    """``"a, b, c ... (+N more)"`` for the first ``shown`` of ``items``."""
    items = list(items)
    text = ", ".join(items[:shown])
    if len(items) > shown:
        text += f" ... (+{len(items) - shown} more, {len(items)} in all)"
    return text


def format_summary(summary: MidiSummary, path: Path) -> str:
    # A file name, title or marker may hold a newline or a terminal escape: escaped, so the
    # listing stays the listing it says it is (track names are shown with repr()).
    lines = [f"{quote_path(path)}: {escape_controls(summary.title) or '(untitled)'}",
             f"  duration   {summary.duration_seconds:.2f} s, {summary.n_bars} bars "
             f"(resolution {summary.resolution} ticks per quarter)"]
    lines.append("  tempo      " + (_listing(f"{t.value:g} bpm @{t.tick}" for t in summary.tempos)
                                    or "none (120 bpm by default)"))
    lines.append("  meter      " + (_listing(f"{m.value} @{m.tick}" for m in summary.meters)
                                    or "none (4/4 by default)"))
    lines.append("  key        " + (_listing(f"{k.value} @{k.tick}" for k in summary.keys) or "none"))
    sections = (f"{escape_controls(s.name or s.label)} ({escape_controls(s.label)}, bar {s.start_bar}, "
                f"{s.n_bars} bar{'s' * (s.n_bars != 1)})" for s in summary.sections)
    lines.append("  sections   " + (_listing(sections, 12) or "none"))
    chords = ", ".join(f"{c.value} @{c.tick}" for c in summary.first_chords)
    if summary.n_chords > len(summary.first_chords):
        chords += f" ... ({summary.n_chords} in all)"
    lines.append("  chords     " + (chords or "none"))
    lines.append(f"  tracks     {len(summary.tracks)}")
    for t in summary.tracks:
        kind = "drums" if t.is_drum else f"program {t.program}"
        lines.append(f"    {t.name!r:<24} {kind:<12} {t.n_notes} notes")
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    from composer.io.midi import read_midi  # noqa: PLC0415

    summary = summarize(read_midi(args.file))
    if args.json:
        print(json.dumps({"file": str(args.file), **asdict(summary)}, indent=2, ensure_ascii=False))
    else:
        print(format_summary(summary, args.file))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from composer.io.atomic import check_writable  # noqa: PLC0415
    from composer.io.midi import read_midi, write_midi  # noqa: PLC0415

    from composer.errors import MidiError  # noqa: PLC0415
    from composer.io.midi import WRITE_RESOLUTION  # noqa: PLC0415

    output = check_midi_name(check_writable(args.output, args.force))
    score = read_midi(args.input)
    # A delta time in a MIDI file has at most 28 bits; at the 480 PPQ written, a song longer
    # than that (one 2**28-tick note at 1 PPQ is) could not be read back.
    if score.end_tick * WRITE_RESOLUTION // score.resolution > MAX_DELTA_TICKS:
        raise MidiError(f"{args.input} lasts {score.end_tick:,} ticks at {score.resolution} PPQ, longer "
                        f"than a MIDI file at {WRITE_RESOLUTION} PPQ can hold ({MAX_DELTA_TICKS:,} ticks)")
    write_midi(score, output)
    n_notes = sum(len(t.notes) for t in score.tracks)
    print(f"wrote {quote_path(output)}: {len(score.tracks)} tracks, {n_notes} notes, "
          f"{len(score.tempos)} tempo changes")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect", help="show a MIDI file's tracks, tempo, meter, key, sections and chords",
        description="Print a MIDI file's tracks (name, program, drums, note count), duration, "
                    "tempos, meters, keys, sections (markers) and chords.")
    p.add_argument("file", type=Path, help="MIDI file (.mid), type 0 or 1")
    p.add_argument("--json", action="store_true", help="print the same as JSON")
    p.set_defaults(func=run_inspect)

    p = subparsers.add_parser(
        "convert", help="rewrite any MIDI file as a DAW-ready type 1 file at 480 PPQ",
        description="Rewrite a MIDI file as DAW-ready SMF type 1 at 480 PPQ: conductor track, one "
                    "named track per instrument on its own channel, every note, program and tempo "
                    "change kept.")
    p.add_argument("input", type=Path, help="MIDI file to read (type 0 or 1)")
    p.add_argument("output", type=output_path, help="MIDI file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.set_defaults(func=run_convert)
