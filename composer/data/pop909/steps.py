"""The MIDI's own 16th-step grid (the phase the notes were played to) and the MIDI notes
moved from it onto the HSA grid."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.grid import STEPS_PER_BEAT
from composer.score import RESOLUTION, Score

TICKS_PER_STEP = RESOLUTION // STEPS_PER_BEAT  # 120 ticks: one 16th at 480 PPQ
OFFGRID_TICKS = 30
"""An onset this many ticks or more from its nearest 16th is off the grid (a triplet...)."""


def quantise_ticks(ticks: np.ndarray, origin_tick: int) -> np.ndarray:
    """Ticks (480 PPQ) -> nearest 16th step counted from ``origin_tick`` (int64, may be < 0)."""
    return np.floor((np.asarray(ticks, dtype=np.int64) - origin_tick) / TICKS_PER_STEP + 0.5).astype(np.int64)


def grid_phase(onset_ticks: np.ndarray) -> int:
    """The tick phase (0..119) of the 16th grid the MIDI notes were played to: the phase
    that puts the most onsets near a grid line (weighted by closeness, within 20 ticks).  The beat times of
    beat_midi.txt are not used for this: for some songs they sit a fraction of a beat off
    the notes (see docs/DATA.md)."""
    if not len(onset_ticks):
        return 0
    hist = np.bincount(np.asarray(onset_ticks, np.int64) % TICKS_PER_STEP, minlength=TICKS_PER_STEP)
    # A triangular kernel 41 ticks wide: peaks at the centre of the onsets' cluster.
    window = np.zeros(TICKS_PER_STEP, dtype=np.int64)
    for d in range(-20, 21):
        window += (21 - abs(d)) * np.roll(hist, -d)
    return int(np.argmax(window))


def offgrid_share(onset_ticks: np.ndarray, origin_tick: int) -> float:
    """Share of onsets OFFGRID_TICKS or more from the 16th grid at ``origin_tick`` (0 if none)."""
    if not len(onset_ticks):
        return 0.0
    resid = np.abs((onset_ticks - origin_tick) - quantise_ticks(onset_ticks, origin_tick) * TICKS_PER_STEP)
    return float((resid >= OFFGRID_TICKS).mean())


@dataclass(frozen=True)
class MidiSteps:
    """The MIDI's 16th steps: step 0 at ``origin_tick`` (480 PPQ), ``n_steps`` of them (the
    last onset and 64 beats more, room for the alignment's offsets); ``tempo_map`` places
    the seconds of the text files (``chord_midi.txt``, ``key_audio.txt``) on them."""

    origin_tick: int
    n_steps: int
    tempo_map: Score

    @classmethod
    def of(cls, onset_ticks: np.ndarray, origin_tick: int, tempo_map: Score) -> "MidiSteps":
        end_step = int(quantise_ticks(np.array([max(int(onset_ticks.max(initial=0)), 0)]), origin_tick)[0])
        return cls(origin_tick, end_step + 64 * STEPS_PER_BEAT, tempo_map)

    def step_of_seconds(self, seconds: float) -> int:
        return int(quantise_ticks(np.array([self.tempo_map.seconds_to_tick(seconds)]), self.origin_tick)[0])


def notes_to_grid(rows: np.ndarray, origin_tick: int, inv: np.ndarray, n_steps: int
                  ) -> tuple[np.ndarray, int]:
    """MIDI notes int64 [n, 4] (start_tick, end_tick, pitch, vel) -> grid notes int32 [k, 4]
    (start_step, dur_steps, pitch, vel) through the MIDI-step -> grid-step map ``inv``, and
    the number of notes dropped (onset on a step HSA removed, or outside the song).  The
    duration is kept in steps (a note is not cut where the map jumps)."""
    if not len(rows):
        return np.zeros((0, 4), np.int32), 0
    on = quantise_ticks(rows[:, 0], origin_tick)
    off = quantise_ticks(rows[:, 1], origin_tick)
    dur = np.maximum(off - on, 1)
    ok = (on >= 0) & (on < len(inv))
    start = np.full(len(rows), -1, np.int64)
    start[ok] = inv[on[ok]]
    keep = (start >= 0) & (start < n_steps)
    start, dur = start[keep], dur[keep]
    dur = np.minimum(dur, n_steps - start)
    out = np.stack([start, dur, rows[keep, 2], np.clip(rows[keep, 3], 1, 127)], 1).astype(np.int32)
    return out, int((~keep).sum())


def clean_notes(notes: np.ndarray) -> np.ndarray:
    """Sort, drop exact duplicates (same step and pitch, keeping the loudest), and cut a
    note short where the next note of the same pitch starts (quantisation can make them
    overlap)."""
    if not len(notes):
        return notes.reshape(0, 4)
    order = np.lexsort((-notes[:, 3], notes[:, 0], notes[:, 2]))  # by pitch, start, loudest first
    notes = notes[order]
    keep = np.ones(len(notes), bool)
    keep[1:] = ~((notes[1:, 2] == notes[:-1, 2]) & (notes[1:, 0] == notes[:-1, 0]))
    notes = notes[keep].copy()
    same_next = np.zeros(len(notes), bool)
    same_next[:-1] = notes[1:, 2] == notes[:-1, 2]
    nxt = np.zeros(len(notes), np.int64)
    nxt[:-1] = notes[1:, 0]
    cut = same_next & (notes[:, 0] + notes[:, 1] > nxt)
    notes[cut, 1] = nxt[cut] - notes[cut, 0]
    notes = notes[notes[:, 1] >= 1]
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))].astype(np.int32)


__all__ = ["TICKS_PER_STEP", "MidiSteps", "clean_notes", "grid_phase", "notes_to_grid", "offgrid_share",
           "quantise_ticks"]
