"""``composer generate``: a whole song, form -> chords -> melody -> accompaniment -> drums, as a
DAW-ready MIDI file.

    composer generate [--form STR] [--bars N] [--key "A minor"] [--tempo BPM] [--meter 4/4]
        [--seed S] [--steps K] [--models DIR] [--audio song.wav [--timbre TRACK=ddsp:NAME ...]]
        [--force] -o song.mid
"""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.commands import level_progress, output_path
from composer.commands.render import add_gain_arguments, add_timbre_argument
from composer.errors import RenderError, quote_path
from composer.form import MAX_SONG_BARS
from composer.limits import MAX_STEPS, MAX_TEMPO_BPM, MIN_TEMPO_BPM
from composer.options import DRAWN_TEMPO_BPM, SUPPORTED_METERS
from composer.seeds import random_seed
# GENERATED_TRACKS: the tracks that Composer.compose writes, in order (Bass unless --no-bass,
# Drums unless --no-drums or the models have no drum level): --timbre options are checked
# against them before composing, so that a misspelt track costs nothing ("Piano=..." names
# both hands).
from composer.tracks import BASS, DRUMS, GENERATED_TRACKS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate", help="write a whole song (form -> chords -> melody -> accompaniment -> drums) to a MIDI file",
        description="Write a whole song with the cascade of diffusion models and save it as a "
                    "DAW-ready MIDI file (section markers, chord symbols, key, tempo; tracks "
                    f"{', '.join(GENERATED_TRACKS)}).  Every option is optional; what is given is kept exactly. "
                    "Prints the form it used and the seed that reproduces the song.")
    p.add_argument("-o", "--output", type=output_path, required=True, help="MIDI file to write (.mid)")
    p.add_argument("--form", default=None,
                   help="form string, e.g. i4A8B8A8B8o4 (letter + bars; i intro, o outro, A verse, "
                        "B chorus...); '?N' leaves N bars to the model, a final '*' the rest")
    p.add_argument("--bars", type=int, default=None, help=f"song length in bars (1..{MAX_SONG_BARS})")
    p.add_argument("--chords", default=None, metavar="CHART",
                   help='a chord chart to write the song over, kept exactly: "| C | Am | F G | C |" '
                        "(one chord per equal part of a bar, %% repeats a bar, N.C. none); its bars are "
                        "the song's, its key is estimated unless --key")
    p.add_argument("--key", default=None, help='key of the whole song, e.g. "A minor", "Eb major"')
    p.add_argument("--tempo", type=float, default=None,
                   help=f"tempo in bpm, {MIN_TEMPO_BPM:g}..{MAX_TEMPO_BPM:g} (default: chosen by the seed, "
                        f"{DRAWN_TEMPO_BPM[0]}..{DRAWN_TEMPO_BPM[1]})")
    p.add_argument("--meter", default=SUPPORTED_METERS[0],
                   help=f"{SUPPORTED_METERS[0]} (default), {', '.join(SUPPORTED_METERS[1:-1])} or {SUPPORTED_METERS[-1]}")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed, 0 .. 2**32 - 1 (default: random, printed)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"sampler steps of every level but the drums, 1..{MAX_STEPS} (default 20 form, "
                        "20 chords, 16 melody, 12 accompaniment; time grows with the steps)")
    p.add_argument("--models", type=Path, default=None,
                   help="folder with form/, chords/, melody/, notes/ and drums/ (default: the "
                        "shipped models, or $COMPOSER_MODELS)")
    p.add_argument("--no-bass", action="store_true", help=f"leave out the {BASS} track derived from the chords")
    p.add_argument("--no-drums", action="store_true",
                   help=f"leave out the {DRUMS} track (channel 10, GM kit) of the drum level")
    p.add_argument("--humanize", action="store_true",
                   help="seeded human timing (about 8 ms) and dynamics; off: every note on the 16th grid")
    p.add_argument("--audio", type=output_path, default=None,
                   help="also render the song to this audio file (.wav/.flac/.mp3), loudness-normalised, "
                        "with the bundled SoundFont or the --timbre given")
    add_timbre_argument(p, "needs --audio; the MIDI file keeps its General MIDI programs")
    add_gain_arguments(p)
    p.add_argument("--musicxml", type=output_path, default=None,
                   help="also write the song as MusicXML (.musicxml): lead sheet with chord symbols "
                        "and the piano on a grand staff, for MuseScore and other notation programs")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from composer.commands.midi import check_midi_name
    from composer.io.atomic import check_distinct, check_writable
    from composer.options import read_options
    from composer.pipeline import Composer

    # Every cheap check first: a bad option costs nothing and writes nothing.  The outputs
    # come first of all: a typo in a path should not wait for the other checks.
    out = check_midi_name(check_writable(args.output, args.force), "-o")
    audio_out = check_writable(args.audio, args.force) if args.audio is not None else None
    check_distinct(output=out, audio=audio_out)
    if args.musicxml is not None:
        from composer.commands.export import check_musicxml_path
        check_musicxml_path(args.musicxml, args.force)
    if args.timbre and audio_out is None:
        raise RenderError("--timbre sets how the audio sounds; add --audio FILE.wav "
                          "(the MIDI file keeps its General MIDI programs)")
    # Read once: the parsed form, key and meter travel down to the cascade, which does not read
    # them again.
    song = read_options(args.form, args.bars, args.key, args.tempo, args.meter, args.steps, seed=args.seed)
    meter = song.meter
    if args.chords is not None:  # read before composing: a bad chart costs nothing
        from composer.chart import ChartError, parse_chart
        chart_bars = parse_chart(args.chords, meter.beats_per_bar).n_bars
        if args.bars is not None and args.bars != chart_bars:
            raise ChartError(f"the chords have {chart_bars} bars but --bars says {args.bars}: leave out --bars")
        args.bars = chart_bars  # (for the audio length check below)
    mixer = options = None
    from composer.commands.render import mix_levels
    levels = mix_levels(args)  # --gain checked before composing
    if args.gain and audio_out is None:
        raise RenderError("--gain sets the audio's mix; add --audio FILE.wav")
    if audio_out is not None:
        _check_audio_length(song.form, args.bars, args.tempo, meter.beats_per_bar)
        mixer, options = _prepare_audio(args, audio_out)
    seed = random_seed() if args.seed is None else args.seed
    composer = Composer.from_pretrained(args.models)

    with level_progress() as progress:
        if args.chords is not None:
            from composer.chart import compose_from_chart
            score = compose_from_chart(composer, args.chords, form=song.form, key=song.key, tempo=args.tempo,
                                       meter=song.meter, seed=seed, steps=args.steps, progress=progress,
                                       bass=not args.no_bass, humanize=args.humanize, drums=not args.no_drums)
        else:
            score = composer.compose(form=song.form, bars=args.bars, key=song.key, tempo=args.tempo,
                                     meter=song.meter, seed=seed, steps=args.steps, progress=progress,
                                     bass=not args.no_bass, humanize=args.humanize,
                                     drums=not args.no_drums)
    from composer.io.midi import write_midi
    from composer.form import format_form
    from composer.form import Phrase

    form = format_form([Phrase(s.label, s.n_bars) for s in score.sections])
    keys = ", ".join(str(k) for k in score.key_signatures)
    write_midi(score, out)
    n_bars = sum(s.n_bars for s in score.sections)
    print(f"form {form} ({n_bars} bar{'' if n_bars == 1 else 's'}), key {keys}, "
          f"tempo {score.tempos[0].bpm:.0f} bpm, seed {seed}")
    print("sections: " + " | ".join(f"{s.name} ({s.n_bars})" for s in score.sections))
    print(f"wrote {quote_path(out)}")
    if args.musicxml is not None:
        from composer.io.musicxml import write_musicxml
        write_musicxml(score, args.musicxml)
        print(f"wrote {quote_path(args.musicxml)}")
    if audio_out is not None:
        from composer.commands.render import write_mix
        from composer.render.mix import resolve_timbres

        write_mix(score, audio_out, mixer, resolve_timbres(score, options), force=args.force,
                  levels=levels)
    return 0


def _check_audio_length(form, bars: int | None, tempo: float | None, beats_per_bar: int) -> None:
    """Refuse, before composing, a song that could be too long to render: the most bars the
    options allow (``form`` parsed, or None) at their tempo (None: the slowest a song draws)
    against :data:`composer.limits.MAX_RENDER_SECONDS`."""
    from composer.form import MAX_SONG_BARS
    from composer.limits import MAX_RENDER_SECONDS
    from composer.options import DRAWN_TEMPO_BPM

    if bars is None and form is not None:
        bars = None if form.open_end else form.n_bars
    n_bars = MAX_SONG_BARS if bars is None else bars
    tempo = float(DRAWN_TEMPO_BPM[0]) if tempo is None else float(tempo)
    seconds = n_bars * beats_per_bar * 60.0 / tempo
    if seconds > MAX_RENDER_SECONDS:
        fits = int(MAX_RENDER_SECONDS * tempo / 60.0 / beats_per_bar)
        raise RenderError(f"--audio renders at most {MAX_RENDER_SECONDS:g} s of music, and "
                          f"{'up to ' if bars is None else ''}{n_bars} bars at {tempo:g} bpm last "
                          f"{seconds:.0f} s: give --bars {fits} or fewer, or a faster --tempo")


def _prepare_audio(args: argparse.Namespace, audio_out: Path):
    """(Mixer, timbre options) for ``--audio``, with the format, the timbre options, the
    tracks they name and the SoundFont and timbres they need all checked before composing."""
    from composer.commands.render import prepare_mixer
    from composer.io.audio import audio_format
    from composer.render.mix import parse_gain_options, parse_timbre_options, resolve_gains, resolve_timbres
    from composer.score import Score, Track

    audio_format(audio_out)
    options = parse_timbre_options(args.timbre)
    names = tuple(n for n in GENERATED_TRACKS if not (n == BASS and args.no_bass)
                  and not (n == DRUMS and args.no_drums))
    resolve_timbres(Score(tracks=tuple(Track(name, is_drum=name == DRUMS) for name in names)), options)
    resolve_gains(Score(tracks=tuple(Track(name) for name in names)), parse_gain_options(args.gain))
    return prepare_mixer(options), options
