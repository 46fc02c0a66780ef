"""Hand-built Scores for the metric and eval tests (16th-note steps of 120 ticks)."""
from __future__ import annotations

from composer.score import (ChordSymbol, KeySignature, Note, Score, Section, TimeSignature,
                            Track)

STEP = 120  # ticks per 16th at resolution 480


def notes(rows, offset_steps: int = 0) -> tuple[Note, ...]:
    """Notes from (start_step, duration_steps, pitch) rows."""
    return tuple(Note((offset_steps + s) * STEP, d * STEP, p) for s, d, p in rows)


def song(melody_bars=None, accompaniment_bars=None, sections=(), chords=(), meter=(4, 4),
         key=(0, "major"), melody_name="Melody") -> Score:
    """A Score from per-bar note lists (each bar a list of (step in bar, duration steps,
    pitch)), sections as (label, n_bars), chords as (start_step, duration_steps, root,
    quality) and a key (tonic, mode) or None."""
    bar_steps = meter[0] * 16 // meter[1]
    tracks = []
    for name, bars in ((melody_name, melody_bars), ("Piano", accompaniment_bars)):
        if bars is not None:
            tracks.append(Track(name, 0, False, tuple(
                n for b, rows in enumerate(bars) for n in notes(rows, b * bar_steps))))
    secs, bar = [], 0
    for label, n in sections:
        secs.append(Section(bar, n, label))
        bar += n
    return Score(
        time_signatures=(TimeSignature(0, *meter),),
        key_signatures=() if key is None else (KeySignature(0, *key),),
        sections=tuple(secs),
        chords=tuple(ChordSymbol(s * STEP, d * STEP, r, q, r) for s, d, r, q in chords),
        tracks=tuple(tracks),
    ).validate()
