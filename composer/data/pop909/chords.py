"""Chords per beat on the HSA grid, and how well the notes sit on them: the chord-tone
share (the alignment figure of docs/DATA.md) and the whole-beat chord shift some songs need."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from composer.data.pop909.labels import ChordEvent
from composer.grid import STEPS_PER_BEAT
from composer.score import CHORD_QUALITIES, QUALITY_NAMES

MAX_CHORD_SHIFT_BEATS = 2
MIN_CHORD_SHIFT_GAIN = 0.05
"""The chords are moved by a whole number of beats (at most MAX_CHORD_SHIFT_BEATS) when that
raises the accompaniment's chord-tone share by at least this much."""


def chords_per_beat(events: Sequence[ChordEvent], n_beats: int) -> np.ndarray:
    """int8 [n_beats, 3] (root, quality, bass) per quarter beat: the chord that covers the
    larger part of each beat (events start at beat 0 and follow each other); -1 = none."""
    out = np.full((n_beats, 3), -1, dtype=np.int8)
    cover = np.zeros(n_beats)
    start = 0.0
    for ev in events:
        end = start + ev.duration_beats
        first, last = int(math.floor(start)), int(math.ceil(end))
        for beat in range(max(first, 0), min(last, n_beats)):
            share = min(end, beat + 1) - max(start, beat)
            if share > cover[beat] + 1e-9:
                cover[beat] = share
                out[beat] = (ev.root, ev.quality, ev.bass)
        start = end
    return out


def shift_chords(chord: np.ndarray, beats: int) -> np.ndarray:
    """Chords int8 [n_beats, 3] moved ``beats`` later (earlier if negative); beats left
    empty get no chord (-1)."""
    if beats == 0:
        return chord
    out = np.full_like(chord, -1)
    if beats > 0:
        out[beats:] = chord[:len(chord) - beats]
    else:
        out[:beats] = chord[-beats:]
    return out


def chord_tone_share(notes: np.ndarray, chord: np.ndarray, shift_beats: int = 0) -> float:
    """Share of note duration (in 16th steps) on chord tones of the chord annotated at each
    step; steps without a chord are left out.  ``notes`` int [n, 4] (start, dur, pitch, vel);
    ``chord`` int8 [n_beats, 3].  ``shift_beats`` moves the chords later by whole beats
    (the misaligned control).  NaN when no note step has a chord."""
    n_beats = len(chord)
    chord = shift_chords(chord, shift_beats)
    tone = np.zeros((n_beats, 12), dtype=bool)
    has = chord[:, 0] >= 0
    for b in np.nonzero(has)[0]:
        root, q, bass = (int(x) for x in chord[b])
        for iv in CHORD_QUALITIES[QUALITY_NAMES[q]]:
            tone[b, (root + iv) % 12] = True
        tone[b, bass] = True
    if not len(notes):
        return float("nan")
    starts, durs = notes[:, 0].astype(np.int64), notes[:, 1].astype(np.int64)
    idx = np.repeat(np.arange(len(notes)), durs)
    steps = np.repeat(starts, durs) + (np.arange(durs.sum()) - np.repeat(np.cumsum(durs) - durs, durs))
    beats = steps // STEPS_PER_BEAT
    ok = (beats >= 0) & (beats < n_beats)
    beats, pcs = beats[ok], notes[idx[ok], 2] % 12
    with_chord = has[beats]
    if not with_chord.any():
        return float("nan")
    return float(tone[beats[with_chord], pcs[with_chord]].mean())


def fit_chord_shift(accompaniment: np.ndarray, chord: np.ndarray) -> tuple[np.ndarray, int]:
    """HSA's chords sit a whole beat or two off the notes in a few songs (docs/DATA.md): the
    chords moved by the shift that puts the most accompaniment time on chord tones, and that
    shift in beats, when it gains at least MIN_CHORD_SHIFT_GAIN; else the chords and 0."""
    shares = {k: chord_tone_share(accompaniment, chord, k)
              for k in range(-MAX_CHORD_SHIFT_BEATS, MAX_CHORD_SHIFT_BEATS + 1)}
    valid = {k: v for k, v in shares.items() if v == v}
    shift = max(valid, key=lambda k: (valid[k], -abs(k))) if valid else 0
    if shift and valid[shift] - valid.get(0, 0.0) >= MIN_CHORD_SHIFT_GAIN:
        return shift_chords(chord, shift), shift
    return chord, 0


__all__ = ["MAX_CHORD_SHIFT_BEATS", "MIN_CHORD_SHIFT_GAIN", "chord_tone_share", "chords_per_beat",
           "fit_chord_shift", "shift_chords"]
