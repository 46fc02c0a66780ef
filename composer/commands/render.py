"""``composer render``: a MIDI file to normalised audio (WAV/FLAC/MP3), optionally stems.

    composer render IN.mid -o OUT.wav [--soundfont PATH] [--program TRACK=N ...]
        [--timbre TRACK=sf:PROGRAM|TRACK=ddsp:NAME ...] [--gain TRACK=DB|TRACK=mute ...]
        [--no-balance] [--stems DIR] [--sample-rate 44100|48000]
        [--loudness -14] [--bit-depth 16|24] [--force]
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from composer.commands import output_path
from composer.errors import RenderError, quote_path
from composer.mastering import DEFAULT_CEILING_DBFS, DEFAULT_LOUDNESS_LUFS
from composer.tracks import MELODY, PIANO

if TYPE_CHECKING:
    from composer.io.audio import WriteReport
    from composer.render.mix import MixLevels, Mixer, TimbreOption, TrackTimbre
    from composer.score import Score

SAMPLE_RATES = (44100, 48000)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render", help="render a MIDI file to audio with a General MIDI SoundFont (FluidSynth)",
        description="Render a MIDI file to a loudness-normalised WAV, FLAC or MP3 with FluidSynth. "
                    "Tracks keep their General MIDI programs unless --program/--timbre says otherwise.")
    p.add_argument("input", type=Path, help="MIDI file (.mid)")
    p.add_argument("-o", "--output", type=output_path, required=True, help="audio file: .wav, .flac or .mp3")
    p.add_argument("--soundfont", type=Path, default=None,
                   help="an .sf2/.sf3 SoundFont (default: the bundled FluidR3 Mono GM)")
    p.add_argument("--program", action="append", default=[], metavar="TRACK=N",
                   help="play TRACK (name or 0-based index) with GM program N (0..127); repeatable")
    add_timbre_argument(p, "applied after --program")
    add_gain_arguments(p)
    p.add_argument("--stems", type=Path, default=None, metavar="DIR",
                   help="also write one file per track into DIR (same gain as the mix)")
    p.add_argument("--sample-rate", type=int, default=44100, choices=SAMPLE_RATES)
    p.add_argument("--loudness", type=float, default=DEFAULT_LOUDNESS_LUFS, metavar="LUFS",
                   help=f"integrated loudness target in LUFS (default {DEFAULT_LOUDNESS_LUFS:g}); peaks stay "
                        f"under {DEFAULT_CEILING_DBFS:g} dBFS")
    p.add_argument("--no-normalise", action="store_true", help="write FluidSynth's level unchanged")
    p.add_argument("--no-limiter", action="store_true",
                   help="reach the loudness by scaling only (a peaky song then ends quieter), "
                        "not with the look-ahead peak limiter")
    p.add_argument("--bit-depth", type=int, default=16, choices=(16, 24), help="WAV/FLAC bit depth")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def add_timbre_argument(parser: argparse.ArgumentParser, note: str = "") -> None:
    """The ``--timbre TRACK=sf:PROGRAM|TRACK=ddsp:NAME`` option (``composer render`` and
    ``composer generate``), collected into ``args.timbre``."""
    parser.add_argument(
        "--timbre", action="append", default=[], metavar="TRACK=KIND:VALUE",
        help="per-track timbre: TRACK=sf:PROGRAM (General MIDI program 0..127 on the SoundFont) or "
             "TRACK=ddsp:NAME (a learned timbre, see `composer timbres`); TRACK is a track name "
             f"({MELODY}, {PIANO}, ...) or 0-based index; repeatable" + (f"; {note}" if note else ""))


def add_gain_arguments(parser: argparse.ArgumentParser) -> None:
    """``--gain TRACK=DB`` and ``--no-balance`` (``composer render`` and ``composer generate``)."""
    parser.add_argument(
        "--gain", action="append", default=[], metavar="TRACK=DB",
        help=f"per-track gain in dB after the balance, e.g. {MELODY}=-3 or {PIANO}=+2, or TRACK=mute; "
             "TRACK is a track name or 0-based index; repeatable")
    parser.add_argument(
        "--no-balance", action="store_true",
        help=f"leave every track at its renderer's level (by default the lead, a track named {MELODY}, "
             "is set 4 dB over the loudest other track)")


def mix_levels(args: argparse.Namespace) -> MixLevels:
    """The MixLevels that ``--gain`` and ``--no-balance`` ask for (checked: one line if bad)."""
    from composer.render.mix import MixLevels, parse_gain_options  # noqa: PLC0415

    levels = MixLevels(gains=parse_gain_options(args.gain))
    return replace(levels, lead_over_band_db=None) if args.no_balance else levels


def prepare_mixer(options: Sequence[TimbreOption], soundfont: Path | None = None) -> Mixer:
    """A Mixer whose SoundFont is checked and whose non-"sf" timbres (``ddsp:NAME``) are
    already loaded, so that a missing SoundFont or an unknown timbre fails before any slow
    work (composing, rendering) and before anything is written."""
    from composer.render.mix import Mixer  # noqa: PLC0415
    from composer.render.soundfont import SoundFontRenderer  # noqa: PLC0415

    mixer = Mixer(SoundFontRenderer(soundfont))
    for option in options:
        if option.timbre.kind != "sf":
            mixer.renderer_for(option.timbre)
    return mixer


def write_mix(score: Score, output: Path, mixer: Mixer, timbres: Sequence[TrackTimbre], *,
              sample_rate: int = 44100, target_lufs: float | None = -14.0, limit: bool = True,
              bit_depth: int = 16, force: bool = False, levels: MixLevels | None = None) -> WriteReport:
    """Render ``score`` with one timbre per track and write the loudness-normalised mix to
    ``output`` (atomically: nothing is left there if rendering fails), with a progress bar
    on a terminal; prints one ``wrote ...`` line.  ``levels``: the balance and per-track gains
    (default: the lead 4 dB over the band)."""
    from composer.io.audio import write_normalised_blocks  # noqa: PLC0415

    rate = sample_rate
    bar = _progress(mixer.soundfont.estimate_samples(score, rate), rate)

    def tracked(blocks):
        for block in blocks:
            bar.update(round(len(block) / rate, 3))
            yield block

    with bar:
        report = write_normalised_blocks(output, tracked(mixer.render_blocks(score, rate, timbres, levels)), rate, 2,
                                         target_lufs=target_lufs, limit=limit, bit_depth=bit_depth,
                                         force=force)
    limited = report.plan.max_reduction_db
    print(f"wrote {quote_path(report.path)} ({report.n_samples / rate:.1f} s, {rate} Hz, "
          f"{report.lufs_after:.1f} LUFS, peak {report.peak_after:.2f}"
          + (f", peaks limited by up to {limited:.1f} dB)" if limited > 0.05 else ")"))
    return report


def _progress(total_samples: int, sample_rate: int):
    from tqdm import tqdm  # noqa: PLC0415

    # disable=None: a bar on a terminal, nothing when stderr is a pipe or a log file.
    return tqdm(total=round(total_samples / sample_rate, 1), unit="s", unit_scale=False,
                desc="rendering", disable=None, file=sys.stderr,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]")


def run(args: argparse.Namespace) -> int:
    from composer.io.atomic import all_or_nothing, check_writable, make_folder  # noqa: PLC0415
    from composer.io.audio import audio_format  # noqa: PLC0415
    from composer.io.midi import read_midi  # noqa: PLC0415
    from composer.render.mix import (parse_program_options, parse_timbre_options, resolve_gains,  # noqa: PLC0415
                                     resolve_timbres)

    from composer.limits import check_loudness  # noqa: PLC0415
    from composer.render.base import check_render_limits  # noqa: PLC0415
    from composer.render.stems import stem_paths as stem_files, write_stems  # noqa: PLC0415

    # Check every cheap thing before the slow render, so a bad option costs nothing.
    output = check_writable(args.output, args.force)
    audio_format(output, args.bit_depth)
    if not args.no_normalise:
        check_loudness(args.loudness)
    options = parse_program_options(args.program) + parse_timbre_options(args.timbre)
    levels = mix_levels(args)
    if args.stems is not None:
        if args.stems.exists() and not args.stems.is_dir():
            raise RenderError(f"--stems {args.stems} is a file; give a folder")
        if not args.stems.parent.is_dir():
            raise RenderError(f"folder {args.stems.parent} does not exist; create it first")
    mixer = prepare_mixer(options, args.soundfont)
    score = check_render_limits(read_midi(args.input))
    timbres = resolve_timbres(score, options)
    resolve_gains(score, levels.gains)  # a --gain for a track the file lacks: refused before rendering
    stem_paths = []
    if args.stems is not None:
        stem_paths = stem_files(args.stems, [t.name for t in score.tracks], output.suffix)
        for path in stem_paths:
            if args.stems.is_dir():  # (else the folder is made after the mix)
                check_writable(path, args.force)  # a folder or a device there is refused too
            if os.path.realpath(path) == os.path.realpath(output):
                raise RenderError(f"stem {path} would overwrite -o {output}; give another --stems folder")
    rate = args.sample_rate
    # All or nothing: a stem that cannot be written (a full disk, /proc/stems) removes the
    # mix and the stems written before it, and the folder if this run made it.
    with all_or_nothing() as written:
        if args.stems is not None and make_folder(args.stems, "--stems"):
            written.append(args.stems)
        report = write_mix(score, output, mixer, timbres, sample_rate=rate,
                           target_lufs=None if args.no_normalise else args.loudness,
                           limit=not args.no_limiter, bit_depth=args.bit_depth, force=args.force,
                           levels=levels)
        written.append(output)
        if stem_paths:
            stems = mixer.render_stems(score, rate, timbres, levels)
            # The mix's gain envelope, so that the stems add up to the mix in a DAW (render/stems.py).
            write_stems(stems, report.plan, args.stems, output.suffix, bit_depth=args.bit_depth,
                        force=args.force, written=written)
            print(f"wrote {len(stems)} stems to {quote_path(args.stems)}")
    return 0

