"""A Score as numpy arrays on the 16th-note grid (:class:`SongView`), read by every metric.

Every metric works on the 16th-note grid: onsets and ends are rounded to the nearest
16th (``STEPS_PER_BEAT`` steps per quarter note) and a note lasts at least one step.
Drum tracks are ignored everywhere.  The melody is the track that
:func:`composer.tracks.classify_tracks` calls the melody (the one rule of the plot, MusicXML and
the metrics: the track named "Melody", else the highest monophonic-ish one), if any; the
accompaniment is every other non-drum track (:attr:`SongView.hands` leaves out the bass
tracks of the same rule as well).

Besides the view and its ``muspy.Music`` twin (:func:`to_muspy`), this module holds the
few helpers that the per-song metrics (:mod:`composer.metrics.song`) and the set-level
features (:mod:`composer.metrics.sets`) share, so that neither imports the other's
internals: the melody as one voice, per-note step ramps, and muspy calls that give NaN
for a song without notes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import muspy
import numpy as np

from composer.grid import STEPS_PER_BEAT  # every metric reads the 16th-note grid
from composer.score import QUALITY_NAMES, Score, Section
from composer.tracks import MELODY, classify_tracks, is_bass


# ---------------------------------------------------------------------------- the view
@dataclass(frozen=True, eq=False)
class SongView:
    """A Score as numpy arrays on the 16th-note grid (built once, read by every metric).

    Fields:
      n_bars:        bars of the song (``Score.n_bars``).
      bar_start:     int64 [n_bars + 1], step of each barline; the last is the song's end.
      bar_numerator, bar_denominator: int64 [n_bars], the meter of each bar.
      melody:        int64 [n, 3], columns (start_step, duration_steps >= 1, pitch),
                     sorted by start then pitch.
      accompaniment: int64 [m, 3], same columns, every other non-drum track.
      accompaniment_bass: bool [m], True for the accompaniment notes of a bass track
                     (:func:`composer.tracks.is_bass`; the cascade writes one, POP909 has none).
      chord_start, chord_end: int64 [c], steps of each chord symbol, sorted.
      chord_id:      int64 [c], root * 10_000 + quality index * 100 + bass (identity).
      chord_mask:    bool [c, 12], pitch classes of each chord, bass included.
      key_tonic, key_mode, key_step: int64 [k], the key signatures (mode 0 major, 1 minor)
                     and their steps; empty when the Score has none.
      sections:      the Score's sections (bars).
    """

    n_bars: int
    bar_start: np.ndarray
    bar_numerator: np.ndarray
    bar_denominator: np.ndarray
    melody: np.ndarray
    accompaniment: np.ndarray
    accompaniment_bass: np.ndarray
    chord_start: np.ndarray
    chord_end: np.ndarray
    chord_id: np.ndarray
    chord_mask: np.ndarray
    key_tonic: np.ndarray
    key_mode: np.ndarray
    key_step: np.ndarray
    sections: tuple[Section, ...]

    @property
    def notes(self) -> np.ndarray:
        """int64 [n + m, 3]: melody and accompaniment together, sorted by start."""
        both = np.concatenate([self.melody, self.accompaniment])
        return both[np.lexsort((both[:, 2], both[:, 0]))]

    @property
    def steps_per_bar(self) -> np.ndarray:
        """int64 [n_bars], length of each bar in steps."""
        return np.diff(self.bar_start)

    @property
    def hands(self) -> np.ndarray:
        """int64 [h, 3]: the accompaniment without the Bass track (what a pianist plays)."""
        return self.accompaniment[~self.accompaniment_bass]

    def bar_of(self, steps: np.ndarray) -> np.ndarray:
        """int64 [len(steps)], the bar holding each step (steps >= 0); steps past the end
        count in the last bar."""
        bars = np.searchsorted(self.bar_start, steps, side="right") - 1
        return np.minimum(bars, max(self.n_bars - 1, 0))


def _to_steps(ticks: np.ndarray, resolution: int) -> np.ndarray:
    return np.rint(np.asarray(ticks, np.float64) * STEPS_PER_BEAT / resolution).astype(np.int64)


def _note_array(tracks, resolution: int, flag=None) -> tuple[np.ndarray, np.ndarray]:
    """(notes int64 [n, 3] as in :class:`SongView`, bool [n]: ``flag(track)`` of each
    note's track, False without ``flag``), sorted by start then pitch."""
    flags = [bool(flag and flag(t)) for t in tracks]  # once per track, not per note
    rows = [(n.start_tick, n.end_tick, n.pitch, f) for t, f in zip(tracks, flags) for n in t.notes]
    if not rows:
        return np.zeros((0, 3), np.int64), np.zeros(0, bool)
    raw = np.asarray(rows, np.int64)
    start = _to_steps(raw[:, 0], resolution)
    end = _to_steps(raw[:, 1], resolution)
    out = np.stack([start, np.maximum(end - start, 1), raw[:, 2]], axis=1)
    order = np.lexsort((out[:, 2], out[:, 0]))
    return out[order], raw[order, 3].astype(bool)


def melody_and_accompaniment(score: Score):
    """(melody tracks, accompaniment tracks) of ``score`` by the rule in the module docstring."""
    pitched = [(t, role) for t, role in zip(score.tracks, classify_tracks(score)) if role != "drums"]
    melody = [t for t, role in pitched if role == "melody"]
    return melody, [t for t, role in pitched if role != "melody"]


def song_view(score: Score) -> SongView:
    """Convert ``score`` once into the arrays every metric reads."""
    res = score.resolution
    mel_tracks, acc_tracks = melody_and_accompaniment(score)
    n_bars = score.n_bars
    bar_ticks = np.array([score.bar_to_tick(b) for b in range(n_bars + 1)], np.int64)
    meters = sorted(score.time_signatures)
    if meters:
        m_ticks = np.array([m.tick for m in meters])
        idx = np.maximum(np.searchsorted(m_ticks, bar_ticks[:-1], side="right") - 1, 0)
        num = np.array([meters[i].numerator for i in idx], np.int64)
        den = np.array([meters[i].denominator for i in idx], np.int64)
    else:
        num = np.full(n_bars, 4, np.int64)
        den = np.full(n_bars, 4, np.int64)
    chords = score.chords
    if chords:
        c_start = _to_steps([c.start_tick for c in chords], res)
        c_end = np.maximum(_to_steps([c.end_tick for c in chords], res), c_start + 1)
        c_id = np.array([c.root * 10_000 + QUALITY_NAMES.index(c.quality) * 100 + c.bass
                         for c in chords], np.int64)
        c_mask = np.zeros((len(chords), 12), bool)
        for i, c in enumerate(chords):
            c_mask[i, list(c.pitch_classes)] = True
    else:
        c_start = c_end = c_id = np.zeros(0, np.int64)
        c_mask = np.zeros((0, 12), bool)
    keys = score.key_signatures
    accompaniment, accompaniment_bass = _note_array(acc_tracks, res, is_bass)
    return SongView(
        n_bars=n_bars,
        bar_start=_to_steps(bar_ticks, res),
        bar_numerator=num,
        bar_denominator=den,
        melody=_note_array(mel_tracks, res)[0],
        accompaniment=accompaniment,
        accompaniment_bass=accompaniment_bass,
        chord_start=c_start, chord_end=c_end, chord_id=c_id, chord_mask=c_mask,
        key_tonic=np.array([k.tonic for k in keys], np.int64),
        key_mode=np.array([0 if k.mode == "major" else 1 for k in keys], np.int64),
        key_step=_to_steps([k.tick for k in keys], res) if keys else np.zeros(0, np.int64),
        sections=tuple(score.sections),
    )


def to_muspy(view: SongView) -> muspy.Music:
    """The song as a ``muspy.Music`` at resolution ``STEPS_PER_BEAT`` (16th notes), with the
    melody and the accompaniment as two tracks, for muspy's metrics."""
    tracks = []
    for name, notes in ((MELODY, view.melody), ("Accompaniment", view.accompaniment)):
        tracks.append(muspy.Track(name=name, notes=[
            muspy.Note(time=int(s), pitch=int(p), duration=int(d), velocity=64)
            for s, d, p in notes.tolist()]))
    return muspy.Music(resolution=STEPS_PER_BEAT, tracks=tracks)


# ---------------------------------------------------------------------------- shared helpers
# Used by the per-song metrics (song.py) and by the set-level features (sets.py) alike.
def _ramp(lengths: np.ndarray) -> np.ndarray:
    """int64 [sum(lengths)]: 0..l-1 for each l in ``lengths`` (lengths >= 1)."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


def _one_voice(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes as one voice: (onset steps, durations in steps >= 1, top pitch), int64
    [k] each, one entry per distinct onset.  Notes starting together count once (the
    longest duration, the highest pitch), and each duration is cut at the next onset,
    since a sung line moves on when its next note starts."""
    if not len(notes):
        z = np.zeros(0, np.int64)
        return z, z, z
    onset, first = np.unique(notes[:, 0], return_index=True)
    longest = np.maximum.reduceat(notes[:, 1], first)
    top = np.maximum.reduceat(notes[:, 2], first)
    gap = np.append(np.diff(onset), np.iinfo(np.int64).max)
    return onset, np.minimum(longest, gap), top


def _section_index(view: SongView, steps: np.ndarray) -> np.ndarray:
    """int64 [len(steps)]: the index of the section holding each step, -1 outside every
    section (all 0 for a song without sections)."""
    if not view.sections:
        return np.zeros(len(steps), np.int64)
    starts = np.array([view.bar_start[min(s.start_bar, view.n_bars)] for s in view.sections], np.int64)
    ends = np.array([view.bar_start[min(s.start_bar + s.n_bars, view.n_bars)] for s in view.sections],
                    np.int64)
    idx = np.searchsorted(starts, steps, side="right") - 1
    ok = (idx >= 0) & (steps < ends[np.maximum(idx, 0)])
    return np.where(ok, idx, -1)


def _melody_intervals(view: SongView) -> np.ndarray:
    """int64 [k]: the signed intervals (semitones) between successive notes of the melody
    as one voice (:func:`_one_voice`), rests between them included, but not across a
    section boundary (a new section is a new breath, not an interval)."""
    onset, _, top = _one_voice(view.melody)
    if len(onset) < 2:
        return np.zeros(0, np.int64)
    section = _section_index(view, onset)
    same = (section[1:] == section[:-1]) & (section[1:] >= 0)
    return np.diff(top)[same]


def _key_changes(view: SongView) -> np.ndarray:
    """int64 [k, 4]: (tonic before, mode before, tonic after, mode after) of every key
    signature that changes the key (a repeated signature is no change)."""
    keys = list(zip(view.key_tonic.tolist(), view.key_mode.tolist()))
    return np.array([(a[0], a[1], b[0], b[1]) for a, b in zip(keys, keys[1:]) if a != b],
                    np.int64).reshape(-1, 4)


def _muspy_or_nan(fn, music: muspy.Music, *args) -> float:
    if not any(len(t.notes) for t in music.tracks):
        return math.nan
    return float(fn(music, *args))


def _measure_resolution(view: SongView) -> int:
    """Steps per bar of the first meter (muspy's groove needs one constant bar length)."""
    return int(view.steps_per_bar[0]) if view.n_bars else STEPS_PER_BEAT * 4


__all__ = ["STEPS_PER_BEAT", "SongView", "song_view", "to_muspy", "melody_and_accompaniment"]
