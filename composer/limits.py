"""The limits composer enforces on what a user gives it, in one place.

Each is checked before any long work starts (composing, rendering, training) and breaking
one is a single :class:`~composer.errors.ComposerError` line.  The README's "Limits" section
states these numbers and ``tests/test_reliability.py`` checks that it says the same.
"""
from __future__ import annotations

import math
import operator

from composer.errors import ComposerError

MIN_TEMPO_BPM = 20.0
"""Slowest tempo composed.  MIDI stores a tempo as 24-bit microseconds per quarter note, so
nothing below 60e6 / (2**24 - 1) = 3.58 bpm can be written at all; 20 bpm keeps the longest
song (512 bars of 4/4) at 102 minutes."""
MAX_TEMPO_BPM = 400.0
"""Fastest tempo composed (a 16th note is then 37.5 ms)."""

MAX_SEED = 2**32 - 1
"""Seeds are 0 .. 2**32 - 1 (numpy's generators take no negative seed; torch's take 64 bits)."""

MAX_STEPS = 100
"""Most sampler steps per level (``--steps``).  Time grows linearly with the steps and the
note level dominates: 100 steps take about 7x the default (defaults now 20 form, 20 chords,
16 melody, 12 accompaniment).  Measured before the melody level existed, for a 64-bar song
on the shared 2-core machine: 32 s at 12 steps, 217 s at 100 (about 2 s and 15 s on an idle
one)."""

MAX_RENDER_SECONDS = 3600.0
"""Longest song rendered to audio, in seconds of music (the release tail comes on top).
An hour of 48 kHz stereo is 1.4 GB in the float32 spill file the normaliser keeps while
it measures loudness, and 0.7 GB as a 16-bit WAV."""
MAX_RENDER_NOTES = 500_000
"""Most notes rendered to audio in one song (a POP909 song has about 3,000)."""

MIN_LOUDNESS_LUFS = -60.0
MAX_LOUDNESS_LUFS = 0.0
"""Range of ``--loudness`` targets (the BS.1770 gate ignores anything under -70 LUFS)."""

MAX_SONG_BARS_DRAWN = 2048
"""Most bars ``composer export`` writes and ``composer plot`` draws (4x the longest song
composed; an hour of 4/4 at 136 bpm).  Both do work for every bar, and a bar count comes
cheap from a few bytes: one note at tick 2**31 at 480 PPQ is 1.1 million bars, and MusicXML
takes about 5 ms a bar here (2,048 empty bars: 11 s)."""
MAX_SECTIONS = 1024
"""Most sections (markers) in a song exported or drawn (a POP909 song has about 10)."""
MAX_CHORDS = 16_384
"""Most chord symbols in a song exported or drawn (8 a bar over the longest song drawn)."""
MAX_TEMPO_CHANGES = 10_000
"""Most tempo changes in a song exported or drawn (a rubato file has hundreds)."""
MAX_TRACKS = 256
"""Most tracks in a song exported, drawn or measured (FluidSynth's 256 channels are the most
render plays; a MusicXML part each, 65,535 of them did not end)."""

MAX_MODEL_PARAMETERS = 500_000_000
"""Most parameters a model folder's config.json may ask for (2 GB of float32 weights; the
shipped note model has about 4 million)."""
MAX_CONFIG_BYTES = 1_000_000
"""Largest config.json read from a model folder."""


def _whole_number_in(value: object, low: int, high: int) -> int | None:
    """``value`` as an int when it is a whole number (int, numpy integer; not a bool, 1.5 or
    "7") within ``low .. high``, else None."""
    if isinstance(value, bool):
        return None
    try:
        number = operator.index(value)
    except TypeError:
        return None
    return number if low <= number <= high else None


def check_seed(seed: int, option: str = "--seed") -> int:
    """``seed`` as an int in 0 .. :data:`MAX_SEED`, else one ComposerError line."""
    value = _whole_number_in(seed, 0, MAX_SEED)
    if value is None:
        raise ComposerError(f"{option} must be a whole number from 0 to {MAX_SEED:,} "
                            f"(2**32 - 1), not {_short(seed)}")
    return value


def check_tempo(tempo: float, option: str = "--tempo") -> float:
    """``tempo`` in bpm within MIN_TEMPO_BPM .. MAX_TEMPO_BPM, else one ComposerError line."""
    try:
        value = float(tempo)
    except (TypeError, ValueError):
        value = math.nan
    if not (MIN_TEMPO_BPM <= value <= MAX_TEMPO_BPM):
        raise ComposerError(f"{option} must be {MIN_TEMPO_BPM:g} to {MAX_TEMPO_BPM:g} bpm "
                            f"(what a song can be played at), not {_short(value)}")
    return value


def check_steps(steps: int, option: str = "--steps") -> int:
    """``steps`` within 1 .. MAX_STEPS, else one ComposerError line."""
    value = _whole_number_in(steps, 1, MAX_STEPS)
    if value is None:
        raise ComposerError(f"{option} must be 1 to {MAX_STEPS} (time grows with the steps: "
                            f"{MAX_STEPS} takes about 7x the default), not {_short(steps)}")
    return value


def check_loudness(lufs: float, option: str = "--loudness") -> float:
    """A finite loudness target within MIN/MAX_LOUDNESS_LUFS, else one ComposerError line."""
    try:
        value = float(lufs)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and MIN_LOUDNESS_LUFS <= value <= MAX_LOUDNESS_LUFS):
        raise ComposerError(f"{option} must be {MIN_LOUDNESS_LUFS:g} to {MAX_LOUDNESS_LUFS:g} LUFS "
                            f"(-14 is the streaming level), not {_short(value)}")
    return value


def check_song_limits(score, name: object, what: str) -> None:
    """One ComposerError line if ``score`` (read from ``name``) is beyond what ``what``
    (``"composer export writes"``...) handles: the render limits (seconds of music and notes,
    :data:`MAX_RENDER_SECONDS`, :data:`MAX_RENDER_NOTES`) and those of the work done per bar,
    section, chord and tempo change.  Checked before any of that work starts; every count
    here is cheap, whatever the ticks (a note at tick 2**48 is one subtraction away)."""
    n_notes = sum(len(t.notes) for t in score.tracks)
    counts = ((len(score.tracks), MAX_TRACKS, "tracks"),
              (n_notes, MAX_RENDER_NOTES, "notes"), (len(score.sections), MAX_SECTIONS, "sections"),
              (len(score.chords), MAX_CHORDS, "chord symbols"),
              (len(score.tempos), MAX_TEMPO_CHANGES, "tempo changes"))
    for count, most, noun in counts:
        if count > most:
            raise ComposerError(f"{name} has {count:,} {noun}; {what} at most {most:,}")
    bars = score.n_bars
    if bars > MAX_SONG_BARS_DRAWN:
        raise ComposerError(f"{name} lasts {bars:,} bars ({score.end_tick:,} ticks at {score.resolution} "
                            f"per quarter note); {what} at most {MAX_SONG_BARS_DRAWN:,} bars")
    seconds = score.duration_seconds
    if seconds > MAX_RENDER_SECONDS:
        raise ComposerError(f"{name} lasts {seconds:,.0f} s; {what} at most {MAX_RENDER_SECONDS:,.0f} s "
                            f"({MAX_RENDER_SECONDS / 60:g} minutes) of music")


def _short(value) -> str:
    """A user's value as short text: repr for floats (400.0001 stays 400.0001, 1e-300 stays
    1e-300), and a huge integer cut to its first digits rather than printed whole."""
    if isinstance(value, float):
        return repr(value)
    if not isinstance(value, int):
        text = repr(value)
        return text if len(text) <= 24 else text[:21] + "..."
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"


__all__ = ["MIN_TEMPO_BPM", "MAX_TEMPO_BPM", "MAX_SEED", "MAX_STEPS", "MAX_RENDER_SECONDS",
           "MAX_RENDER_NOTES", "MIN_LOUDNESS_LUFS", "MAX_LOUDNESS_LUFS", "MAX_MODEL_PARAMETERS",
           "MAX_CONFIG_BYTES", "MAX_SONG_BARS_DRAWN", "MAX_SECTIONS", "MAX_CHORDS", "MAX_TEMPO_CHANGES",
           "MAX_TRACKS", "check_seed", "check_song_limits", "check_tempo", "check_steps", "check_loudness"]
