"""The note level's condition: what the melody and accompaniment nets know about each 16th.

A :class:`NoteContext` holds a song's keys, chords (per beat) and phrases, transposed so
that its most common key tonic is C (:func:`reference_shift`).  Its features are float32
``[n_steps, N_COND]``, time-major, channels as in :data:`COND_LAYOUT`; the rolls it
conditions are those of :mod:`composer.representation.pianoroll`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.form import PHRASE_TYPES, Phrase, parse_form, phrase_type_of
from composer.grid import STEPS_PER_BEAT
from composer.score import CHORD_QUALITIES, QUALITY_NAMES

N_PHRASE_TYPES = len(PHRASE_TYPES)
COND_LAYOUT = (
    ("chord_chroma", 12),   # pitch classes of the beat's chord, relative to the song's reference tonic
    ("chord_bass", 12),     # its bass pitch class, one-hot
    ("has_chord", 1),       # 1 when a chord sounds on this beat
    ("chord_change", 1),    # 1 on the first step of a new chord
    ("key_tonic", 12),      # the bar's key tonic, relative, one-hot
    ("key_minor", 1),       # 1 for a minor key
    ("phrase_type", N_PHRASE_TYPES),  # A, B, other melodic, intro, outro, other non-melodic
    ("phrase_pos", 5),      # first bar, last bar, second-to-last bar, fraction through, phrase start step
    ("bar_step", 16),       # step within the bar, one-hot (a 3/4 bar uses the first 12)
    ("to_end", 1),          # steps left in the phrase / 64, clipped to 1: where cadences fall
)
"""Channels of the note level's condition, in order, with their widths."""
N_COND = sum(w for _, w in COND_LAYOUT)
CHORD_CHANNELS = slice(0, 26)
"""The chord channels (chroma, bass, has_chord, chord_change): dropped together for
classifier-free guidance."""


@dataclass(frozen=True, eq=False)
class NoteContext:
    """What the note level is conditioned on, for a whole song, already transposed so that
    the song's reference key tonic is C (see :func:`reference_shift`).

    steps_per_bar: 16 for 4/4, 12 for 3/4.
    key_tonic:     int [n_bars], pitch class relative to the reference tonic.
    key_mode:      int [n_bars], 0 = major, 1 = minor.
    chord_root / chord_quality / chord_bass: int [n_beats], relative pitch classes and
                   index into QUALITY_NAMES; -1 = no chord.
    phrases:       the form, phrases in order, covering exactly n_bars.
    """

    steps_per_bar: int
    key_tonic: np.ndarray
    key_mode: np.ndarray
    chord_root: np.ndarray
    chord_quality: np.ndarray
    chord_bass: np.ndarray
    phrases: tuple[Phrase, ...]

    @property
    def n_bars(self) -> int:
        return int(len(self.key_tonic))

    @property
    def n_steps(self) -> int:
        return self.n_bars * self.steps_per_bar

    def features(self, start_bar: int = 0, n_bars: int | None = None) -> np.ndarray:
        """Condition of bars ``start_bar .. start_bar + n_bars - 1``: float32
        ``[n_bars * steps_per_bar, N_COND]``, time-major, channels as in COND_LAYOUT."""
        if n_bars is None:
            n_bars = self.n_bars - start_bar
        spb = self.steps_per_bar
        s0, n = start_bar * spb, n_bars * spb
        steps = np.arange(s0, s0 + n)
        beat = steps // STEPS_PER_BEAT
        bar = steps // spb
        out = np.zeros((n, N_COND), dtype=np.float32)
        # chords, per beat
        table = np.zeros((len(QUALITY_NAMES), 12), dtype=np.float32)
        for q, name in enumerate(QUALITY_NAMES):
            table[q, list(CHORD_QUALITIES[name])] = 1
        root = self.chord_root[beat].astype(np.int64)
        qual = self.chord_quality[beat].astype(np.int64)
        bass = self.chord_bass[beat].astype(np.int64)
        has = (root >= 0) & (qual >= 0)
        idx = np.nonzero(has)[0]
        rolled = table[qual[idx]]
        cols = (np.arange(12)[None, :] - root[idx, None]) % 12
        out[idx, 0:12] = np.take_along_axis(rolled, cols, axis=1)
        hb = idx[bass[idx] >= 0]
        out[hb, 12 + bass[hb]] = 1
        out[:, 24] = has
        prev = np.concatenate([[-2], (root * 1000 + qual * 20 + bass)[:-1]])
        cur = root * 1000 + qual * 20 + bass
        first_of_beat = steps % STEPS_PER_BEAT == 0
        change = (cur != prev) & first_of_beat & has
        if s0 > 0 and n:
            b0 = (s0 - 1) // STEPS_PER_BEAT
            before = int(self.chord_root[b0]) * 1000 + int(self.chord_quality[b0]) * 20 + int(self.chord_bass[b0])
            change[0] = bool(first_of_beat[0] and has[0] and cur[0] != before)
        out[:, 25] = change
        # key, per bar
        out[np.arange(n), 26 + self.key_tonic[bar].astype(np.int64) % 12] = 1
        out[:, 38] = self.key_mode[bar]
        # phrase, per bar
        ptype = np.zeros(self.n_bars, dtype=np.int64)
        pfirst = np.zeros(self.n_bars, dtype=np.int64)
        plen = np.ones(self.n_bars, dtype=np.int64)
        b = 0
        for ph in self.phrases:
            ptype[b:b + ph.n_bars] = phrase_type_of(ph.label)
            pfirst[b:b + ph.n_bars] = b
            plen[b:b + ph.n_bars] = ph.n_bars
            b += ph.n_bars
        in_phrase = bar - pfirst[bar]
        length = plen[bar]
        out[np.arange(n), 39 + ptype[bar]] = 1
        o = 39 + N_PHRASE_TYPES
        out[:, o] = in_phrase == 0
        out[:, o + 1] = in_phrase == length - 1
        out[:, o + 2] = in_phrase == length - 2
        out[:, o + 3] = (steps - pfirst[bar] * spb) / (length * spb)
        out[:, o + 4] = steps == pfirst[bar] * spb
        out[np.arange(n), o + 5 + steps % spb % 16] = 1
        out[:, o + 21] = np.minimum(1.0, ((pfirst[bar] + length) * spb - steps) / 64.0)
        return out


def reference_shift(key_tonic: np.ndarray) -> int:
    """Semitones that move the song's most common key tonic to C by the smaller way
    (-5..+6), keeping the register: e.g. A -> +3, E -> -4."""
    counts = np.bincount(np.asarray(key_tonic, dtype=np.int64) % 12, minlength=12)
    tonic = int(np.argmax(counts))
    return -tonic if tonic <= 6 else 12 - tonic


def shift_pitch_classes(pcs: np.ndarray, shift: int) -> np.ndarray:
    """Pitch classes moved by ``shift`` semitones, with -1 (none) kept as -1."""
    pcs = np.asarray(pcs, dtype=np.int64)
    return np.where(pcs >= 0, (pcs + shift) % 12, -1)


def example_context(example) -> tuple[NoteContext, int]:
    """A SongExample's NoteContext and the shift (semitones) that took it to C."""
    shift = reference_shift(example.key_tonic)
    ctx = NoteContext(example.steps_per_bar, shift_pitch_classes(example.key_tonic, shift),
                      np.asarray(example.key_mode, dtype=np.int64),
                      shift_pitch_classes(example.chord_root, shift),
                      np.asarray(example.chord_quality, dtype=np.int64),
                      shift_pitch_classes(example.chord_bass, shift), parse_form(example.form))
    return ctx, shift


__all__ = ["COND_LAYOUT", "N_COND", "CHORD_CHANNELS", "NoteContext", "reference_shift", "shift_pitch_classes",
           "example_context"]
