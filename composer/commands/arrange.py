"""``composer arrange``: a song under your melody: chords, accompaniment, bass and drums written
for the melody of a MIDI file, its notes kept exactly (composer/harmonise.py).

    composer arrange melody.mid [--form STR] [--key "A minor"] [--tempo BPM] [--meter 4/4]
        [--seed S] [--steps K] [--candidates K] [--models DIR] [--no-bass] [--no-drums]
        [--humanize] [--force] -o song.mid
"""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.commands import level_progress, output_path
from composer.errors import quote_path
from composer.limits import MAX_TEMPO_BPM, MIN_TEMPO_BPM
from composer.options import SUPPORTED_METERS
from composer.seeds import random_seed
from composer.tracks import BASS, DRUMS, MELODY


def register(subparsers: argparse._SubParsersAction) -> None:
    from composer.harmonise import DEFAULT_CANDIDATES, MAX_CANDIDATES  # noqa: PLC0415

    p = subparsers.add_parser(
        "arrange", help="write chords, accompaniment, bass and drums under the melody of a MIDI file",
        description="Harmonise and arrange your melody: the cascade chooses chords that fit it from "
                    "the chord level's draws, writes the piano with the melody known, then bass and "
                    f"drums.  The melody is the track named '{MELODY}', else the highest "
                    "one-note-at-a-time track (a file of one line: that line); its notes are kept "
                    "exactly.  Meter, tempo, key and form come from the file unless given.")
    p.add_argument("input", type=Path, help="MIDI file with the melody (.mid)")
    p.add_argument("-o", "--output", type=output_path, required=True, help="MIDI file to write (.mid)")
    p.add_argument("--form", default=None,
                   help="form over the file's bars, e.g. i4A8B8A8o4 (default: the file's section "
                        "markers, else phrases of 8 bars over the melody)")
    p.add_argument("--key", default=None,
                   help='key, e.g. "A minor" (default: the file\'s key signature when the melody agrees '
                        "with it, else estimated from the melody)")
    p.add_argument("--tempo", type=float, default=None,
                   help=f"tempo in bpm, {MIN_TEMPO_BPM:g}..{MAX_TEMPO_BPM:g} (default: the file's)")
    p.add_argument("--meter", default=None,
                   help=f"{', '.join(SUPPORTED_METERS[:-1])} or {SUPPORTED_METERS[-1]} (default: the file's)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps of the chord and accompaniment levels")
    p.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES,
                   help=f"chord-level draws to choose the chords from, 1..{MAX_CANDIDATES} "
                        f"(default {DEFAULT_CANDIDATES}; 1: no choosing)")
    p.add_argument("--models", type=Path, default=None, help="folder with the levels (default: the shipped models)")
    p.add_argument("--no-bass", action="store_true", help=f"leave out the {BASS} track derived from the chords")
    p.add_argument("--no-drums", action="store_true", help=f"leave out the {DRUMS} track of the drum level")
    p.add_argument("--humanize", action="store_true",
                   help="seeded human timing and dynamics for the band (the melody stays as played)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from composer.commands.midi import check_midi_name
    from composer.harmonise import MAX_CANDIDATES, ArrangeError, describe_arrangement, read_lead
    from composer.io.atomic import check_writable
    from composer.io.midi import read_midi, write_midi
    from composer.limits import check_song_limits
    from composer.options import read_options
    from composer.pipeline import Composer
    from composer.tracks import lead_index

    # Every cheap check before the models load: a bad option or file costs nothing, writes nothing.
    out = check_midi_name(check_writable(args.output, args.force), "-o")
    if not 1 <= args.candidates <= MAX_CANDIDATES:
        raise ArrangeError(f"--candidates must be 1 to {MAX_CANDIDATES}, not {args.candidates}")
    score = read_midi(args.input)
    check_song_limits(score, quote_path(args.input), "composer arrange reads")
    if lead_index(score) is None and score.chords:
        return _over_file_chords(args, score, out)
    lead = read_lead(score, args.form, args.key, args.tempo, args.meter)   # read once, handed to arrange
    read_options(None, None, None, None, lead.meter, args.steps, seed=args.seed)
    seed = random_seed() if args.seed is None else args.seed
    composer = Composer.from_pretrained(args.models)
    with level_progress() as progress:
        song = composer.arrange(score, form=args.form, key=args.key, tempo=args.tempo, meter=args.meter,
                                seed=seed, steps=args.steps, progress=progress, bass=not args.no_bass,
                                humanize=args.humanize, drums=not args.no_drums, candidates=args.candidates,
                                lead=lead)
    write_midi(song, out)
    for line in describe_arrangement(lead, song, seed):
        print(line)
    print(f"wrote {quote_path(out)}")
    return 0


def _over_file_chords(args: argparse.Namespace, score, out: Path) -> int:
    """A file with chords (a Chords track or chord markers) and no melody: the melody and the
    rest written over its chords, kept exactly (as ``generate --chords`` does over a chart)."""

    from composer.chart import compose_from_chart, file_chords
    from composer.form import Phrase, format_form
    from composer.io.midi import write_midi
    from composer.options import read_options
    from composer.pipeline import Composer

    grid, meter, file_tempo = file_chords(score, args.meter)
    tempo = args.tempo if args.tempo is not None else file_tempo
    read_options(args.form, None, args.key, tempo, meter, args.steps, seed=args.seed)
    seed = random_seed() if args.seed is None else args.seed
    composer = Composer.from_pretrained(args.models)
    with level_progress() as progress:
        song = compose_from_chart(composer, grid, form=args.form, key=args.key, tempo=tempo, meter=meter, seed=seed,
                                  steps=args.steps, progress=progress, bass=not args.no_bass,
                                  humanize=args.humanize, drums=not args.no_drums)
    write_midi(song, out)
    form = format_form([Phrase(s.label, s.n_bars) for s in song.sections])
    print(f"form {form} ({grid.n_bars} bars), key {', '.join(str(k) for k in song.key_signatures)}, "
          f"tempo {tempo:.0f} bpm, seed {seed}")
    print(f"no melody in the file: a melody and the rest written over its {len(score.chords)} chords, kept")
    print(f"wrote {quote_path(out)}")
    return 0
