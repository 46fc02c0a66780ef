"""Piano rolls on the 16th-note grid: the note level's view of a Score / SongExample.

A roll is a numpy array, **time-major**, ``bool [n_steps, 2, n_pitches]``:

* axis 0: 16th-note steps from the start of the song (a step is ``resolution // 4`` ticks);
* axis 1: channel 0 = *onset* (a note starts at this step), channel 1 = *sustain* (a note
  sounds during this step, its onset step included);
* axis 2: pitches ``low .. high - 1`` of a :class:`PitchRange` (MIDI numbers).

Two channels make repeated notes unambiguous: a C held for two steps and two Cs of one
step each have the same sustain row and differ in the onset row.  Decoding
(:func:`roll_to_notes`) starts a note at every onset and extends it over the following
steps while the sustain channel stays on and no new onset of the same pitch comes.  So
any set of on-grid notes inside the range that never overlap at the same pitch comes back
exactly (the round-trip tests check this).  Pitches outside the range are folded by
octaves into it (so a transposed song keeps every note, in another octave).

Notes are exchanged as ``int32 [n_notes, 4]`` arrays with columns ``(start_step,
duration_steps, pitch, velocity)``, the layout of :class:`composer.data.example.SongExample`.

The note level's joint roll (:func:`song_roll`) puts the melody's :data:`MELODY_RANGE`
pitches before the accompaniment's :data:`PIANO_RANGE` ones; what it is conditioned on is
:mod:`composer.representation.note_context`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.grid import STEPS_PER_BEAT
from composer.score import Note, Score, Track


@dataclass(frozen=True)
class PitchRange:
    """MIDI pitches ``low`` (inclusive) to ``high`` (exclusive); ``high - low`` >= 12."""

    low: int
    high: int

    @property
    def n_pitches(self) -> int:
        return self.high - self.low

    def fold(self, pitch: np.ndarray) -> np.ndarray:
        """Pitches (int array) moved by whole octaves into the range."""
        pitch = np.asarray(pitch, dtype=np.int64)
        below = pitch < self.low
        pitch = np.where(below, pitch + 12 * ((self.low - pitch + 11) // 12), pitch)
        above = pitch >= self.high
        return np.where(above, pitch - 12 * ((pitch - self.high) // 12 + 1), pitch)


MELODY_RANGE = PitchRange(48, 96)
"""Melody pitches after transposing the song to C: C3..B6 (48 pitches)."""

PIANO_RANGE = PitchRange(24, 96)
"""Accompaniment pitches after transposing the song to C: C1..B6 (72 pitches)."""


def notes_to_roll(notes: np.ndarray, n_steps: int, prange: PitchRange,
                  start_step: int = 0) -> np.ndarray:
    """Notes ``int [n, 4]`` (start_step, duration_steps, pitch, velocity) -> roll.

    Returns ``bool [n_steps, 2, prange.n_pitches]`` covering song steps ``start_step ..
    start_step + n_steps - 1``.  A note that began before ``start_step`` and still sounds
    shows as sustain without onset (what a window in the middle of a song sees).  Pitches
    out of range are folded by octaves; durations below 1 count as 1.
    """
    roll = np.zeros((n_steps, 2, prange.n_pitches), dtype=bool)
    notes = np.asarray(notes).reshape(-1, 4)
    if not len(notes):
        return roll
    start = notes[:, 0].astype(np.int64) - start_step
    end = start + np.maximum(notes[:, 1].astype(np.int64), 1)
    pitch = prange.fold(notes[:, 2]) - prange.low
    keep = (end > 0) & (start < n_steps)
    start, end, pitch = start[keep], end[keep], pitch[keep]
    on = (start >= 0)
    roll[start[on], 0, pitch[on]] = True
    s = np.clip(start, 0, n_steps)
    e = np.clip(end, 0, n_steps)
    # Sustain spans: mark +1 at the start and -1 at the end of each span, then cumulate.
    diff = np.zeros((n_steps + 1, prange.n_pitches), dtype=np.int32)
    np.add.at(diff, (s, pitch), 1)
    np.add.at(diff, (e, pitch), -1)
    roll[:, 1, :] = np.cumsum(diff, axis=0)[:n_steps] > 0
    return roll


def roll_to_notes(roll: np.ndarray, prange: PitchRange, velocity: int = 80,
                  threshold: float = 0.5, start_step: int = 0) -> np.ndarray:
    """Roll ``[n_steps, 2, n_pitches]`` (bool, or float thresholded at ``threshold``) -> notes.

    Returns ``int32 [n, 4]`` (start_step, duration_steps, pitch, velocity), sorted by start
    then pitch, start steps offset by ``start_step``.  A note starts at every onset and lasts
    while the sustain channel stays on at the following steps and no new onset of the same
    pitch comes; an onset without sustain lasts one step.  Sustain without a preceding
    onset is ignored (it belongs to a note that began before the roll).
    """
    roll = np.asarray(roll)
    if roll.dtype != bool:
        roll = roll > threshold
    n_steps = roll.shape[0]
    onset, sustain = roll[:, 0, :], roll[:, 1, :]
    rows = []
    steps, pitches = np.nonzero(onset)
    for s, p in zip(steps.tolist(), pitches.tolist()):
        e = s + 1
        while e < n_steps and sustain[e, p] and not onset[e, p]:
            e += 1
        rows.append((s + start_step, e - s, p + prange.low, velocity))
    if not rows:
        return np.zeros((0, 4), dtype=np.int32)
    out = np.asarray(rows, dtype=np.int32)
    return out[np.lexsort((out[:, 2], out[:, 0]))]


def ticks_per_step(resolution: int) -> int:
    """Ticks of one 16th-note step (resolution must be divisible by 4)."""
    if resolution % STEPS_PER_BEAT:
        raise ValueError(f"resolution {resolution} is not divisible by {STEPS_PER_BEAT}")
    return resolution // STEPS_PER_BEAT


def track_to_notes(track: Track, resolution: int) -> np.ndarray:
    """A Track's notes quantised to the 16th grid: ``int32 [n, 4]`` (start_step,
    duration_steps >= 1, pitch, velocity), onsets and ends rounded to the nearest step."""
    step = ticks_per_step(resolution)
    rows = []
    for n in track.notes:
        s = int(round(n.start_tick / step))
        e = max(s + 1, int(round(n.end_tick / step)))
        rows.append((s, e - s, n.pitch, n.velocity))
    return np.asarray(rows, dtype=np.int32).reshape(-1, 4)


def notes_to_track(notes: np.ndarray, name: str, program: int, resolution: int) -> Track:
    """``int [n, 4]`` step notes -> a Track (ticks at ``resolution``)."""
    step = ticks_per_step(resolution)
    return Track(name, program, False, tuple(
        Note(int(s) * step, int(d) * step, int(p), int(v)) for s, d, p, v in np.asarray(notes)))


def score_to_roll(score: Score, track: str, prange: PitchRange, n_steps: int | None = None,
                  transpose: int = 0) -> np.ndarray:
    """One track of a Score as a roll ``bool [n_steps, 2, n_pitches]``.

    ``n_steps`` defaults to the score's length in steps; ``transpose`` (semitones) is added
    to every pitch before folding into ``prange``.
    """
    notes = track_to_notes(score.track(track), score.resolution)
    if transpose and len(notes):
        notes[:, 2] += transpose
    if n_steps is None:
        n_steps = -(-score.end_tick // ticks_per_step(score.resolution))
    return notes_to_roll(notes, n_steps, prange)


def roll_to_track(roll: np.ndarray, prange: PitchRange, name: str, program: int,
                  resolution: int, transpose: int = 0, velocity: int = 80) -> Track:
    """Inverse of :func:`score_to_roll` for one track: ``transpose`` is added to every pitch."""
    notes = roll_to_notes(roll, prange, velocity)
    if transpose and len(notes):
        notes[:, 2] += transpose
    return notes_to_track(notes, name, program, resolution)


def song_roll(melody: np.ndarray, accompaniment: np.ndarray, n_steps: int, shift: int = 0,
              start_step: int = 0) -> np.ndarray:
    """Melody and accompaniment notes (``int [n, 4]`` step arrays) -> the note level's
    joint roll ``bool [n_steps, 2, MELODY_RANGE.n_pitches + PIANO_RANGE.n_pitches]``
    (melody pitches first), every pitch moved by ``shift`` semitones first."""
    def moved(notes):
        notes = np.array(notes, dtype=np.int64).reshape(-1, 4)
        notes[:, 2] += shift
        return notes
    return np.concatenate([notes_to_roll(moved(melody), n_steps, MELODY_RANGE, start_step),
                           notes_to_roll(moved(accompaniment), n_steps, PIANO_RANGE, start_step)],
                          axis=2)


def split_roll(roll: np.ndarray, shift: int = 0, start_step: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`song_roll`: (melody, accompaniment) notes ``int32 [n, 4]`` with
    ``shift`` subtracted from every pitch (velocity column 80)."""
    m = MELODY_RANGE.n_pitches
    mel = roll_to_notes(roll[:, :, :m], MELODY_RANGE, start_step=start_step)
    acc = roll_to_notes(roll[:, :, m:], PIANO_RANGE, start_step=start_step)
    mel[:, 2] -= shift
    acc[:, 2] -= shift
    return mel, acc


N_ROLL_PITCHES = MELODY_RANGE.n_pitches + PIANO_RANGE.n_pitches
"""Pitches of the joint roll: 48 melody + 72 accompaniment = 120."""


__all__ = ["PitchRange", "MELODY_RANGE", "PIANO_RANGE", "N_ROLL_PITCHES", "notes_to_roll", "roll_to_notes",
           "ticks_per_step", "track_to_notes", "notes_to_track", "score_to_roll", "roll_to_track", "song_roll",
           "split_roll"]
