"""``composer export``: a MIDI song as a MusicXML lead sheet and piano score for notation programs.

    composer export SONG.mid -o song.musicxml [--lead-sheet song.pdf] [--chord-track out.mid] [--force]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.commands import output_path
from composer.tracks import MELODY


def check_musicxml_path(path: Path, force: bool) -> Path:
    """The output path checked before any work: ``.musicxml``/``.xml``, writable (--force)."""
    from composer.errors import NotationError  # noqa: PLC0415
    from composer.io.atomic import check_writable  # noqa: PLC0415
    from composer.io.musicxml import MUSICXML_SUFFIXES  # noqa: PLC0415

    if Path(path).suffix.lower() not in MUSICXML_SUFFIXES:
        raise NotationError(f"{path}: a MusicXML file ends in .musicxml or .xml "
                            "(compressed .mxl is not written)")
    return check_writable(path, force)


def run(args: argparse.Namespace) -> int:
    from composer.errors import NotationError  # noqa: PLC0415
    from composer.io.atomic import check_writable  # noqa: PLC0415
    from composer.io.midi import read_midi  # noqa: PLC0415
    from composer.io.musicxml import ENGRAVED_SUFFIXES, write_lead_sheet, write_musicxml  # noqa: PLC0415
    from composer.limits import check_song_limits  # noqa: PLC0415

    if args.output is None and args.lead_sheet is None and args.chord_track is None:
        raise NotationError("give -o song.musicxml, --lead-sheet song.pdf or --chord-track song.mid (or several)")
    out = check_musicxml_path(args.output, args.force) if args.output is not None else None
    pad = None
    if args.chord_track is not None:
        if Path(args.chord_track).suffix.lower() not in (".mid", ".midi"):
            raise NotationError(f"{args.chord_track}: the song with a chord track is a MIDI file (.mid)")
        pad = check_writable(args.chord_track, args.force)
    sheet = None
    if args.lead_sheet is not None:
        if Path(args.lead_sheet).suffix.lower() not in ENGRAVED_SUFFIXES:
            raise NotationError(f"{args.lead_sheet}: a lead sheet is written as .pdf, .svg or .png")
        sheet = check_writable(args.lead_sheet, args.force)
    score = read_midi(args.input)
    # The limits render applies, and those of the work done per bar, before that work:
    # a few crafted bytes can claim a billion bars.
    check_song_limits(score, args.input, "composer export writes")
    lead = find_lead(score)
    if pad is not None and not score.chords:    # refused before anything is written
        raise NotationError(f"{args.input}: no chord symbols to play on a chord track (a \"Chords\" track of "
                            "chord names, as `composer generate` writes)")
    if sheet is not None and lead is None:    # refused before anything is written
        raise NotationError(f"{args.input}: no melody found for a lead sheet (a track named {MELODY}, or the "
                            "highest single line beside other parts)")
    if out is not None:
        write_musicxml(score, out, lead)
        print(f"wrote {out}: {len(score.sections)} sections, {len(score.chords)} chord symbols, "
              f"{score.n_bars} bars; lead sheet: "
              + (repr(score.tracks[lead].name) if lead is not None else "none (no melody found; every track on its staves)"))
    if pad is not None:
        from composer.io.midi import CHORD_PAD_NAME, write_midi  # noqa: PLC0415
        write_midi(score, pad, chord_track=True)
        print(f"wrote {pad}: the song with a {CHORD_PAD_NAME!r} track playing its {len(score.chords)} chords")
    if sheet is not None:
        pages = write_lead_sheet(score, sheet, lead)
        print(f"wrote {', '.join(str(p) for p in pages)}: the lead sheet of {score.tracks[lead].name!r}, "
              f"{len(score.chords)} chord symbols, {score.n_bars} bars")
    return 0


def find_lead(score) -> int | None:
    """Index of the track written as the lead sheet: the melody by the one rule of the plot
    and the metrics (:func:`composer.tracks.melody_index`: the track named "Melody", else the
    highest single line among two or more pitched tracks), None when there is none (a
    piano, bass and drums file keeps every note on its own staves)."""
    from composer.tracks import melody_index  # noqa: PLC0415

    return melody_index(score)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="write a MIDI song as MusicXML (lead sheet with chord symbols + piano)",
        description="Write a MIDI file as MusicXML for MuseScore, Dorico, Finale or Sibelius: the "
                    "melody as a lead sheet with chord symbols, rehearsal marks per section, key, "
                    "tempo and meter, the piano on a grand staff, the bass on its own staff, other "
                    "instruments each on a staff fit for them, drums on a percussion staff.  The melody "
                    f"is the track named {MELODY}, else the highest single line beside other parts; a file "
                    "without one keeps every track's notes.  Notes are written on the 16th grid; a "
                    "warning names any staff that does not show every note.")
    p.add_argument("input", type=Path, help="MIDI file (.mid), e.g. one written by `composer generate`")
    p.add_argument("-o", "--output", type=output_path, default=None, help="MusicXML file to write (.musicxml)")
    p.add_argument("--lead-sheet", type=output_path, default=None, metavar="FILE.pdf",
                   help="also (or only) engrave the lead sheet, the melody with chord symbols and rehearsal "
                        "marks on one staff, as .pdf, .svg or .png (one file a page), with MuseScore 3")
    p.add_argument("--chord-track", type=output_path, default=None, metavar="FILE.mid",
                   help="also (or only) write the song as MIDI with a played chord track (a soft pad "
                        "holding each chord's notes) that DAWs play and every MIDI library reads")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)
