"""Set-level measures: overlapping areas of pooled note distributions, and copying of
training melodies, with the per-song inputs that they pool.

* Distributions: :func:`distribution_features` per song, pooled per set and compared with
  :func:`overlapping_area` (histogram OA); the headline mean is over
  :data:`HEADLINE_DISTRIBUTIONS`.
* Copying: :func:`longest_copied_runs` (transposition-invariant melody bar runs, hashed),
  or :func:`longest_runs_from_codes` on each song's :func:`melody_bar_codes`, computed once.

:func:`composer.metrics.song.song_metrics` computes a song's distribution samples and bar
codes with its per-song figures, from the same :class:`~composer.metrics.view.SongView`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import muspy
import numpy as np

from composer.metrics.view import (SongView, _key_changes, _measure_resolution, _melody_intervals,
                                   _muspy_or_nan, _one_voice, _ramp, song_view, to_muspy)
from composer.score import Score


# ---------------------------------------------------------------------------- distributions
@dataclass(frozen=True, eq=False)
class DistributionFeatures:
    """Per-song samples pooled into the distributions compared with OA.

      pitch:              int64 [n_notes], MIDI pitch of every pitched note.
      duration:           int64 [n_notes], note length in 16th steps (>= 1).
      ioi:                int64 [n_onsets - 1], steps between successive distinct onsets.
      notes_per_bar:      int64 [n_bars], onsets per bar.
      polyphony:          int64 [n_active_steps], pitches sounding at each step where any does.
      pc_entropy_per_bar: float64 [n_bars_with_notes], muspy's pitch-class entropy (bits) of
                          the notes starting in each bar.
      groove_consistency: float64 [0 or 1], the song's muspy groove consistency.
      empty_beat_rate:    float64 [0 or 1], the song's muspy empty-beat rate.
      melody_duration:    int64 [n_melody_onsets], melody note lengths in 16th steps (>= 1),
                          the melody as one voice (:func:`melody_median_duration`).
      melody_pitch:       int64 [n_melody_onsets], MIDI pitch of each of those notes: the
                          register the tune sits in (:func:`melody_median_pitch`).
      phrase_length:      int64 [n_sections], the length in bars of every section.
      melody_interval:    int64 [n_intervals], the signed interval in semitones from each
                          melody note to the next in its section, one voice
                          (:func:`composer.metrics.song.melody_interval_step`).
      label_bigram:       int64 [n_sections - 1], each pair of successive section labels
                          as one code (:func:`label_code` of the first * 64 + of the second).
      key_change:         int64 [n_changes], each key change as one code: the move of the
                          tonic up in semitones (0..11) * 4 + mode before * 2 + mode after
                          (0 major, 1 minor): where the key goes, as real songs' keys go.
    """

    pitch: np.ndarray
    duration: np.ndarray
    ioi: np.ndarray
    notes_per_bar: np.ndarray
    polyphony: np.ndarray
    pc_entropy_per_bar: np.ndarray
    groove_consistency: np.ndarray
    empty_beat_rate: np.ndarray
    melody_duration: np.ndarray
    melody_pitch: np.ndarray
    phrase_length: np.ndarray
    melody_interval: np.ndarray
    label_bigram: np.ndarray
    key_change: np.ndarray


def label_code(label: str) -> int:
    """A section label as 0..63: a-z 0-25, A-Z 26-51, anything else 52 (one bin)."""
    if "a" <= label <= "z":
        return ord(label) - ord("a")
    if "A" <= label <= "Z":
        return 26 + ord(label) - ord("A")
    return 52


HEADLINE_DISTRIBUTIONS = ("pitch", "duration", "ioi", "notes_per_bar", "polyphony",
                          "pc_entropy_per_bar", "groove_consistency", "empty_beat_rate")
"""The distributions whose OA mean is ``composer eval``'s headline (kept as it was before
the melody and form distributions came, so that headlines stay comparable)."""

DISTRIBUTIONS = HEADLINE_DISTRIBUTIONS + ("melody_duration", "melody_pitch", "phrase_length",
                                          "melody_interval", "label_bigram", "key_change")
"""Every distribution compared by OA, fields of :class:`DistributionFeatures`."""

HISTOGRAM_BINS: dict[str, np.ndarray] = {
    # Integer features: one bin per value, the last bin holds everything above.
    "pitch": np.arange(-0.5, 128.5),
    "duration": np.arange(0.5, 65.5),
    "ioi": np.arange(0.5, 65.5),
    "notes_per_bar": np.arange(-0.5, 65.5),
    "polyphony": np.arange(0.5, 17.5),
    # Continuous features: fixed bins over their whole range.
    "pc_entropy_per_bar": np.linspace(0.0, math.log2(12), 25),
    "groove_consistency": np.linspace(0.0, 1.0, 21),
    "empty_beat_rate": np.linspace(0.0, 1.0, 21),
    # Melody durations in the values a lead sheet uses: 1, 2, 3, 4, 5-6, 7-8, 9-12, 13-16
    # and 17+ sixteenths (dotted and tied values share a bin with their neighbours).
    "melody_duration": np.array([0.5, 1.5, 2.5, 3.5, 4.5, 6.5, 8.5, 12.5, 16.5, 64.5]),
    # Melody pitches: one bin per MIDI pitch, so a tune an octave off its register scores low.
    "melody_pitch": np.arange(-0.5, 128.5),
    # Phrase lengths: one bin per bar up to 32, the last open.
    "phrase_length": np.arange(0.5, 33.5),
    # Melodic intervals: one bin per semitone from two octaves down to two up, both ends open.
    "melody_interval": np.arange(-24.5, 25.5),
    # Label pairs and key moves: one bin per code.
    "label_bigram": np.arange(-0.5, 64 * 64 + 0.5),
    "key_change": np.arange(-0.5, 48.5),
}
"""Bin edges of the OA histogram of each distribution (values beyond the last edge are
counted in the last bin)."""


def _polyphony_steps(notes: np.ndarray) -> np.ndarray:
    """int64 [n_active], distinct pitches sounding at each step where any sounds."""
    if not len(notes):
        return np.zeros(0, np.int64)
    steps = np.repeat(notes[:, 0], notes[:, 1]) + _ramp(notes[:, 1])
    cells = np.unique(steps * 128 + np.repeat(notes[:, 2], notes[:, 1]))
    return np.bincount(cells // 128)[np.unique(cells // 128)]


def _entropy_rows(counts: np.ndarray) -> np.ndarray:
    """float64 [rows], Shannon entropy in bits of each row of counts (rows summing to 0 dropped)."""
    counts = counts[counts.sum(axis=1) > 0]
    prob = counts / counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(prob * np.log2(prob), axis=1)


def _distribution_features(view: SongView, music: muspy.Music) -> DistributionFeatures:
    notes = view.notes
    onsets = np.unique(notes[:, 0])
    if view.n_bars:
        per_bar = np.bincount(view.bar_of(notes[:, 0]), minlength=view.n_bars) if len(notes) \
            else np.zeros(view.n_bars, np.int64)
        pc_counts = np.zeros((view.n_bars, 12))
        if len(notes):
            np.add.at(pc_counts, (view.bar_of(notes[:, 0]), notes[:, 2] % 12), 1.0)
    else:
        per_bar, pc_counts = np.zeros(0, np.int64), np.zeros((0, 12))
    groove = _muspy_or_nan(muspy.groove_consistency, music, _measure_resolution(view))
    empty = _muspy_or_nan(muspy.empty_beat_rate, music)
    scalar = lambda x: np.array([x]) if not math.isnan(x) else np.zeros(0)  # noqa: E731
    _, melody_duration, melody_pitch = _one_voice(view.melody)
    return DistributionFeatures(
        pitch=notes[:, 2].copy(),
        duration=notes[:, 1].copy(),
        ioi=np.diff(onsets),
        notes_per_bar=per_bar.astype(np.int64),
        polyphony=_polyphony_steps(notes),
        pc_entropy_per_bar=_entropy_rows(pc_counts),
        groove_consistency=scalar(groove),
        empty_beat_rate=scalar(empty),
        melody_duration=melody_duration,
        melody_pitch=melody_pitch.astype(np.int64),
        phrase_length=np.array([s.n_bars for s in view.sections], np.int64),
        melody_interval=_melody_intervals(view),
        label_bigram=np.array([label_code(a.label) * 64 + label_code(b.label)
                               for a, b in zip(view.sections, view.sections[1:])], np.int64),
        key_change=_key_change_codes(view),
    )


def _key_change_codes(view: SongView) -> np.ndarray:
    changes = _key_changes(view)
    return ((changes[:, 2] - changes[:, 0]) % 12) * 4 + changes[:, 1] * 2 + changes[:, 3]


def distribution_features(score: Score) -> DistributionFeatures:
    """The samples of ``score`` that go into the set-level OA comparison."""
    view = song_view(score)
    return _distribution_features(view, to_muspy(view))


def overlapping_area(a: np.ndarray, b: np.ndarray, bins: np.ndarray) -> float:
    """Overlapping area 0..1 of the normalised histograms of samples ``a`` and ``b``:
    ``sum(min(p, q))`` over the bins with edges ``bins`` (values outside are clipped into
    the first/last bin).  1 for identical distributions, 0 for disjoint ones, NaN when
    either sample is empty.  Polyffusion integrates the minimum of two Gaussian KDEs
    instead; fixed histograms give exact 1 and 0 and need no bandwidth."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not len(a) or not len(b):
        return math.nan
    lo, hi = bins[0], bins[-1]
    p, _ = np.histogram(np.clip(a, lo, hi), bins)
    q, _ = np.histogram(np.clip(b, lo, hi), bins)
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


# ---------------------------------------------------------------------------- copying
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)


def melody_bar_codes(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """Transposition-invariant codes of each bar's melody, for :func:`longest_copied_runs`.

    Returns (code, link), uint64 [n_bars] and int64 [n_bars]: ``code`` hashes the notes
    starting in the bar as (onset step in bar, duration steps, pitch - the bar's first
    pitch), 0 for a bar without melody onsets; ``link`` is the bar's first pitch minus the
    first pitch of the previous bar with onsets (0 for the first such bar and for bars
    without onsets), so that a run of bars is equal up to one transposition exactly when
    codes and inner links are equal."""
    return _bar_codes(song_view(score))


def _bar_codes(view: SongView) -> tuple[np.ndarray, np.ndarray]:
    code = np.zeros(view.n_bars, np.uint64)
    link = np.zeros(view.n_bars, np.int64)
    mel = view.melody
    if not len(mel) or not view.n_bars:
        return code, link
    bar = view.bar_of(mel[:, 0])
    new = np.ones(len(mel), bool)
    new[1:] = bar[1:] != bar[:-1]
    first_idx = np.nonzero(new)[0]
    rank = np.arange(len(mel)) - np.repeat(first_idx, np.diff(np.append(first_idx, len(mel))))
    first_pitch = mel[first_idx, 2]
    rel = mel[:, 2] - np.repeat(first_pitch, np.diff(np.append(first_idx, len(mel))))
    pos = mel[:, 0] - view.bar_start[bar]
    note_code = ((pos.astype(np.uint64) * np.uint64(1 << 20))
                 + (np.minimum(mel[:, 1], 4095).astype(np.uint64) * np.uint64(1 << 8))
                 + (rel + 128).astype(np.uint64) + np.uint64(1))
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(int(rank.max()) + 1, _HASH_BASE, np.uint64))
        bar_hash = np.add.reduceat(note_code * powers[rank], first_idx)
        # Mixing in the note count keeps bar codes distinct from 0 and from their prefixes.
        bar_hash = bar_hash * _HASH_BASE + np.diff(np.append(first_idx, len(mel))).astype(np.uint64)
    bars_with = bar[first_idx]
    code[bars_with] = np.where(bar_hash == 0, np.uint64(1), bar_hash)
    link[bars_with[1:]] = np.diff(first_pitch)
    return code, link


def _window_hashes(codes: Sequence[tuple[np.ndarray, np.ndarray]]):
    """Concatenate songs' bar codes: (code uint64 [N], link uint64 [N], song int64 [N])."""
    code = np.concatenate([c for c, _ in codes]) if codes else np.zeros(0, np.uint64)
    link = np.concatenate([lk for _, lk in codes]) if codes else np.zeros(0, np.int64)
    song = np.concatenate([np.full(len(c), i, np.int64) for i, (c, _) in enumerate(codes)]) \
        if codes else np.zeros(0, np.int64)
    return code, (link + 1024).astype(np.uint64), song


def longest_runs_from_codes(gen_codes, train_codes) -> np.ndarray:
    """int64 [len(gen_codes)]: longest run of bars of each generated song equal (up to one
    transposition) to a run of bars of one training song, from the songs'
    :func:`melody_bar_codes` (lists of (code, link) pairs).  A run starts and ends on bars
    with melody onsets; bars without onsets (rests, held notes) may lie inside a run when
    the training run has them at the same places."""
    g_code, g_link, g_song = _window_hashes(gen_codes)
    t_code, t_link, t_song = _window_hashes(train_codes)
    best = np.zeros(len(gen_codes), np.int64)
    mix = np.uint64(0xFF51AFD7ED558CCD)
    with np.errstate(over="ignore"):
        # What bar p adds to a window that started before it: its code and its link
        # (a bar without onsets adds a constant, so that it matches only its like).
        g_ext = (np.where(g_code == 0, mix, g_code) * _HASH_BASE) ^ (g_link * mix)
        t_ext = (np.where(t_code == 0, mix, t_code) * _HASH_BASE) ^ (t_link * mix)
    # Live windows of length k: start positions and hashes H_k, where H_1 = code and
    # H_k = H_{k-1} * B + ext[start + k - 1].  Only windows whose hash occurs on the other
    # side stay alive, so both sets shrink to the few real matches after a step or two.
    g_pos = np.nonzero(g_code)[0]
    t_pos = np.nonzero(t_code)[0]
    g_hash, t_hash = g_code[g_pos], t_code[t_pos]
    k = 1
    with np.errstate(over="ignore"):
        while len(g_pos) and len(t_pos):
            g_hit = np.isin(g_hash, t_hash)
            if not g_hit.any():
                break
            t_hit = np.isin(t_hash, g_hash)
            g_pos, g_hash = g_pos[g_hit], g_hash[g_hit]
            t_pos, t_hash = t_pos[t_hit], t_hash[t_hit]
            # A run counts up to its last bar with onsets; k only grows, so this keeps the
            # longest.
            ends_melodic = g_code[g_pos + k - 1] != 0
            best[g_song[g_pos[ends_melodic]]] = k
            g_pos, g_hash = _extend(g_pos, g_hash, k, g_ext, g_song)
            t_pos, t_hash = _extend(t_pos, t_hash, k, t_ext, t_song)
            k += 1
    return best


def _extend(pos, hashes, k, ext, song):
    """Windows [pos, pos + k) grown by bar pos + k where it is in the same song."""
    nxt = pos + k
    ok = nxt < len(song)
    ok[ok] &= song[nxt[ok]] == song[pos[ok]]
    return pos[ok], hashes[ok] * _HASH_BASE + ext[nxt[ok]]


def longest_copied_runs(generated: Sequence[Score], train: Sequence[Score]) -> np.ndarray:
    """int64 [len(generated)]: for each generated song, the longest run of consecutive bars
    whose melody equals (up to one transposition for the whole run) a run of bars of one
    training song.  Runs start and end on bars with melody onsets; bars without onsets may
    lie inside a run where the training run has them too.  Equality is decided by 64-bit
    polynomial hashes of per-bar (onset, duration, interval) signatures."""
    return longest_runs_from_codes([_bar_codes(song_view(s)) for s in generated],
                         [_bar_codes(song_view(s)) for s in train])


__all__ = ["DistributionFeatures", "label_code", "HEADLINE_DISTRIBUTIONS", "DISTRIBUTIONS", "HISTOGRAM_BINS",
           "distribution_features", "overlapping_area", "melody_bar_codes", "longest_copied_runs",
           "longest_runs_from_codes"]
