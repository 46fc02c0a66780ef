"""The HSA grid against the original MIDI: a piecewise-constant offset in 16th steps.

HSA removed or inserted whole beats where the original MIDI has irregular bars, so the
offset between the two grids is constant over stretches and jumps by whole beats between
them; :func:`align_steps` finds it by a small Viterbi search over the offsets that the
melodies (``melody.txt`` against the MIDI ``MELODY`` track) and the chord roots agree on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.grid import STEPS_PER_BEAT

OFFSET_CHANGE_COST = 6.0
"""Viterbi cost of changing the MIDI-to-grid beat offset, in units of one unmatched note."""


@dataclass(frozen=True)
class Alignment:
    """Grid step s (16ths from bar 0 of the HSA grid) is MIDI step ``s + offset_steps[s // 4]``
    (MIDI steps are 16ths from the MIDI origin tick); ``offset_steps`` is int64 [n_beats],
    constant over a grid beat."""

    offset_steps: np.ndarray
    melody_match: float   # share of melody.txt onsets matched by the aligned MIDI melody
    n_offset_changes: int

    def midi_to_grid_step(self, n_midi_steps: int) -> np.ndarray:
        """int64 [n_midi_steps]: the grid step each MIDI step lands on, -1 where none (steps
        HSA removed).  Where HSA inserted steps, a MIDI step keeps its first grid step."""
        inv = np.full(n_midi_steps, -1, dtype=np.int64)
        grid = np.arange(len(self.offset_steps) * STEPS_PER_BEAT)
        midi_step = grid + np.repeat(self.offset_steps, STEPS_PER_BEAT)
        for g, m in zip(grid, midi_step):
            if 0 <= m < n_midi_steps and inv[m] < 0:
                inv[m] = g
        return inv


def _onset_roll(steps: np.ndarray, pitches: np.ndarray, n_steps: int, origin: int = 0) -> np.ndarray:
    """int16 [n_steps]: pitch of an onset per step (the highest if several), 0 = none."""
    roll = np.zeros(n_steps, dtype=np.int16)
    idx = steps + origin
    ok = (idx >= 0) & (idx < n_steps)
    np.maximum.at(roll, idx[ok], pitches[ok].astype(np.int16))
    return roll


def align_steps(grid_melody: np.ndarray, midi_mel_steps: np.ndarray, midi_mel_pitch: np.ndarray,
                grid_chord_root: np.ndarray, midi_chord_root: np.ndarray, n_beats: int,
                n_candidates: int = 16) -> Alignment:
    """Piecewise-constant offset, in 16th steps, from the HSA grid to the MIDI step grid.

    grid_melody: int32 [n, 3] (start_step, duration_steps, pitch) from melody.txt.
    midi_mel_steps / midi_mel_pitch: int64 [m] onsets of the MIDI MELODY track in steps from
    the MIDI origin, and their pitches.  grid_chord_root: int [n_beats] chord root per grid
    beat (-1 = none); midi_chord_root: int [n_midi_steps] root per MIDI step from
    chord_midi.txt (-1 = none).

    Cost of grid beat j at offset o: melody onsets left unmatched on either side within the
    beat (an onset matches one of equal pitch at the same step) + 0.5 when the chord root at
    the beat's first step differs.  A change of offset costs OFFSET_CHANGE_COST.  The
    candidates are the ``n_candidates`` offsets with the most melody matches over the song.
    """
    spb = STEPS_PER_BEAT
    n_steps = n_beats * spb
    grid_roll = _onset_roll(grid_melody[:, 0].astype(np.int64), grid_melody[:, 2], n_steps)
    grid_on = grid_roll > 0
    lo = min(int(midi_mel_steps.min(initial=0)), 0) - 64
    hi = max(int(midi_mel_steps.max(initial=0)), len(midi_chord_root)) + 64
    pad = n_steps + 64
    origin = -lo  # index of MIDI step 0 in the padded arrays
    midi_roll = _onset_roll(midi_mel_steps, midi_mel_pitch, hi - lo + pad, origin)
    midi_chord = np.full(hi - lo + pad, -2, dtype=np.int64)
    midi_chord[origin:origin + len(midi_chord_root)] = midi_chord_root

    def window(arr: np.ndarray, o: int, fill: int) -> np.ndarray:
        start = origin + o
        seg = np.full(n_steps, fill, dtype=arr.dtype)
        a, b = max(start, 0), min(start + n_steps, len(arr))
        if b > a:
            seg[a - start:b - start] = arr[a:b]
        return seg

    # Vote for offsets with every pair of equal-pitch onsets (a cross-correlation).
    offsets = np.arange(lo, hi - n_steps // 2 + 1)
    votes = np.zeros(len(offsets), dtype=np.int64)
    g_steps, g_pitch = np.nonzero(grid_on)[0], grid_roll[grid_on]
    for pitch in np.unique(g_pitch):
        gs = g_steps[g_pitch == pitch]
        ms = midi_mel_steps[midi_mel_pitch == pitch]
        if len(gs) and len(ms):
            d = (ms[:, None] - gs[None, :]).ravel() - lo
            d = d[(d >= 0) & (d < len(votes))]
            votes += np.bincount(d, minlength=len(votes))[:len(votes)]
    cand = offsets[np.argsort(-votes, kind="stable")[:n_candidates]]
    costs = np.zeros((n_beats, len(cand)))
    matched = np.zeros((n_beats, len(cand)))
    for k, o in enumerate(cand):
        seg = window(midi_roll, int(o), 0)
        match = (grid_on & (seg == grid_roll)).reshape(n_beats, spb).sum(1)
        unmatched = grid_on.reshape(n_beats, spb).sum(1) + (seg > 0).reshape(n_beats, spb).sum(1) - 2 * match
        mroot = window(midi_chord, int(o), -2)[::spb]
        costs[:, k] = unmatched + np.where(mroot == grid_chord_root, 0.0, 0.5)
        matched[:, k] = match
    # Viterbi: keep the offset for free, switch to the best one so far for a fixed cost.
    n_c = len(cand)
    acc = costs[0].copy()
    back = np.zeros((n_beats, n_c), dtype=np.int64)
    for j in range(1, n_beats):
        best = int(np.argmin(acc))
        switch = acc[best] + OFFSET_CHANGE_COST
        stay = acc <= switch
        back[j] = np.where(stay, np.arange(n_c), best)
        acc = np.where(stay, acc, switch) + costs[j]
    path = np.zeros(n_beats, dtype=np.int64)
    path[-1] = int(np.argmin(acc))
    for j in range(n_beats - 1, 0, -1):
        path[j - 1] = back[j, path[j]]
    offset = cand[path].astype(np.int64)
    n_grid_onsets = int(grid_on.sum())
    share = float(matched[np.arange(n_beats), path].sum() / n_grid_onsets) if n_grid_onsets else 0.0
    return Alignment(offset, share, int(np.count_nonzero(np.diff(offset))))


__all__ = ["OFFSET_CHANGE_COST", "Alignment", "align_steps"]
