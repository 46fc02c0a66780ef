"""The chord level's view of a song: a chord per beat, relative to the bar's key.

:class:`ChordGrid` holds a chord per beat (root, quality, bass; -1 = no chord).  As a tensor
(``to_chord_array`` / ``from_chord_array``) it is float32 ``[CHORD_CHANNELS, 4 * n_bars]``,
channels-first, time-major, four slots per bar (one per quarter-note beat in 4/4; other
meters are mapped onto the four slots, see :func:`slot_of_beat`), every channel in {-1, +1}:

======= =================================================================
0..11   root, relative to the bar's key tonic (scale degree in semitones), one-hot
12..27  quality one-hot: the 15 of QUALITY_NAMES, then 27 = no chord
28..39  bass, relative to the root (0 = root position), one-hot
======= =================================================================

No chord has every root and bass channel at -1.  Relative roots make the model key-free
(POP909's 800-odd songs then teach every key at once); the absolute chord comes back with
the bar's tonic.

The condition of the chord net is per bar, float32 ``[COND_CHANNELS, n_bars]``
(:func:`chord_condition`): phrase type and label letter, phrase start / end, the bar's place
in its phrase and in the song, how many times the label has occurred, the mode and key
changes.  Label and place in phrase are what let the net give same-label phrases the same
harmony: bar 3 of the second A attends to bar 3 of the first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from composer.form import PHRASE_TYPES, FormPlan, phrase_type_of
from composer.score import QUALITY_NAMES, ChordSymbol

SLOTS_PER_BAR = 4
N_QUALITIES = len(QUALITY_NAMES)
ROOT = 0
QUALITY = 12
NO_CHORD = QUALITY + N_QUALITIES       # 27
BASS = NO_CHORD + 1                    # 28
CHORD_CHANNELS = BASS + 12             # 40

LETTERS = ("A", "B", "C", "D", "X", "i", "o", "b", "x", "c")
"""Label letters with their own condition channel; others share 'other upper/lower'."""
N_LETTERS = len(LETTERS) + 2
COND_CHANNELS = len(PHRASE_TYPES) + N_LETTERS + 2 + 8 + 3 + 2 + 8 + 1   # 42


class ChordsPerBeat(Protocol):
    """What :meth:`ChordGrid.from_example` reads: a prepared song's chord arrays
    (``composer.data.example.SongExample`` has them; representation does not import data)."""

    # Read-only members, so that a frozen dataclass satisfies the protocol.
    @property
    def chord_root(self) -> np.ndarray: ...
    @property
    def chord_quality(self) -> np.ndarray: ...
    @property
    def chord_bass(self) -> np.ndarray: ...
    @property
    def beats_per_bar(self) -> int: ...


@dataclass(frozen=True, eq=False)
class ChordGrid:
    """A chord per beat.

    root, bass: int8 [n_beats], pitch classes 0..11, -1 = no chord.
    quality:    int8 [n_beats], index into QUALITY_NAMES, -1 = no chord.
    beats_per_bar: quarter-note beats per bar (4 for 4/4).
    """

    root: np.ndarray
    quality: np.ndarray
    bass: np.ndarray
    beats_per_bar: int = 4

    @property
    def n_beats(self) -> int:
        return len(self.root)

    @property
    def n_bars(self) -> int:
        return self.n_beats // self.beats_per_bar

    @classmethod
    def from_example(cls, example: ChordsPerBeat) -> "ChordGrid":
        return cls(example.chord_root.astype(np.int8), example.chord_quality.astype(np.int8),
                   example.chord_bass.astype(np.int8), example.beats_per_bar)

    def to_symbols(self, resolution: int = 480) -> tuple[ChordSymbol, ...]:
        """Merge runs of equal beats into ChordSymbols (ticks at ``resolution`` per beat)."""
        out = []
        beat = 0
        while beat < self.n_beats:
            key = (int(self.root[beat]), int(self.quality[beat]), int(self.bass[beat]))
            end = beat + 1
            while end < self.n_beats and (int(self.root[end]), int(self.quality[end]),
                                          int(self.bass[end])) == key:
                end += 1
            if key[0] >= 0 and key[1] >= 0:
                out.append(ChordSymbol(beat * resolution, (end - beat) * resolution, key[0],
                                       QUALITY_NAMES[key[1]], key[2] if key[2] >= 0 else key[0]))
            beat = end
        return tuple(out)

    def equals(self, other: "ChordGrid") -> bool:
        return (self.beats_per_bar == other.beats_per_bar and np.array_equal(self.root, other.root)
                and np.array_equal(self.quality, other.quality) and np.array_equal(self.bass, other.bass))


def slot_of_beat(beat_in_bar: int, beats_per_bar: int) -> int:
    """The slot (0..3) a beat of a ``beats_per_bar`` bar reads from: beats spread evenly over
    the four slots (3/4: slots 0, 1, 2; 6 beats: 0, 0, 1, 2, 2, 3)."""
    return beat_in_bar * SLOTS_PER_BAR // beats_per_bar


def beat_of_slot(slot: int, beats_per_bar: int) -> int:
    """The beat a slot is filled from when a song is put onto the four-slot grid: the first
    beat that reads that slot, else the beat before (3/4: slots 0..3 <- beats 0, 1, 2, 2), so
    that grid -> array -> grid is exact for up to four beats per bar."""
    beats = [b for b in range(beats_per_bar) if slot_of_beat(b, beats_per_bar) == slot]
    if beats:
        return beats[0]
    return beat_of_slot(slot - 1, beats_per_bar) if slot > 0 else 0


def to_chord_array(grid: ChordGrid, key_tonic: np.ndarray) -> np.ndarray:
    """float32 [CHORD_CHANNELS, 4 * n_bars]; ``key_tonic`` int [n_bars]."""
    n_bars = grid.n_bars
    slots = np.arange(SLOTS_PER_BAR * n_bars)
    bars = slots // SLOTS_PER_BAR
    beats = bars * grid.beats_per_bar + np.array([beat_of_slot(s, grid.beats_per_bar)
                                                  for s in range(SLOTS_PER_BAR)])[slots % SLOTS_PER_BAR]
    root = grid.root[beats].astype(np.int64)
    quality = grid.quality[beats].astype(np.int64)
    bass = grid.bass[beats].astype(np.int64)
    has = (root >= 0) & (quality >= 0)
    x = -np.ones((CHORD_CHANNELS, len(slots)), dtype=np.float32)
    tonic = np.asarray(key_tonic, dtype=np.int64)[bars]
    cols = np.nonzero(has)[0]
    x[ROOT + (root[cols] - tonic[cols]) % 12, cols] = 1.0
    x[QUALITY + quality[cols], cols] = 1.0
    bass_rel = np.where(bass[cols] >= 0, bass[cols] - root[cols], 0) % 12
    x[BASS + bass_rel, cols] = 1.0
    x[NO_CHORD, ~has] = 1.0
    return x


def from_chord_array(x: np.ndarray, key_tonic: np.ndarray, beats_per_bar: int = 4) -> ChordGrid:
    """Decode a (generated) float [CHORD_CHANNELS, 4 * n_bars] array: argmax per group."""
    x = np.asarray(x, dtype=np.float32)
    n_bars = x.shape[1] // SLOTS_PER_BAR
    n_beats = n_bars * beats_per_bar
    beats = np.arange(n_beats)
    bars = beats // beats_per_bar
    slots = bars * SLOTS_PER_BAR + np.array([slot_of_beat(b, beats_per_bar)
                                             for b in range(beats_per_bar)])[beats % beats_per_bar]
    cols = x[:, slots]
    quality = np.argmax(cols[QUALITY:NO_CHORD + 1], axis=0)
    none = quality == N_QUALITIES
    tonic = np.asarray(key_tonic, dtype=np.int64)[bars]
    root = (np.argmax(cols[ROOT:ROOT + 12], axis=0) + tonic) % 12
    bass = (root + np.argmax(cols[BASS:BASS + 12], axis=0)) % 12
    root = np.where(none, -1, root).astype(np.int8)
    bass = np.where(none, -1, bass).astype(np.int8)
    quality = np.where(none, -1, quality).astype(np.int8)
    return ChordGrid(root, quality, bass, beats_per_bar)


def _letter_index(label: str) -> int:
    if label in LETTERS:
        return LETTERS.index(label)
    return len(LETTERS) if label.isupper() else len(LETTERS) + 1


def chord_condition(plan: FormPlan) -> np.ndarray:
    """float32 [COND_CHANNELS, n_bars]: what the chord net knows about each bar."""
    n = plan.n_bars
    c = np.zeros((COND_CHANNELS, n), dtype=np.float32)
    row = 0
    bars = np.arange(n)
    counts: dict[str, int] = {}
    starts = plan.phrase_starts()
    for phrase, start in zip(plan.phrases, starts):
        counts[phrase.label] = counts.get(phrase.label, 0) + 1
        cols = slice(start, start + phrase.n_bars)
        within = np.arange(phrase.n_bars, dtype=np.float32)
        c[phrase_type_of(phrase.label), cols] = 1.0
        c[len(PHRASE_TYPES) + _letter_index(phrase.label), cols] = 1.0
        base = len(PHRASE_TYPES) + N_LETTERS
        c[base, start] = 1.0                              # phrase start
        c[base + 1, start + phrase.n_bars - 1] = 1.0      # phrase end (cadence)
        ang = within[None, :] * np.pi / np.array([1, 2, 4, 8], dtype=np.float32)[:, None]
        c[base + 2:base + 6, cols] = np.sin(ang)          # bar in phrase, periods 2..16
        c[base + 6:base + 10, cols] = np.cos(ang)
        c[base + 10, cols] = phrase.n_bars / 16.0
        c[base + 11, cols] = (phrase.n_bars - 1 - within) / 16.0   # bars to the phrase end
        c[base + 12, cols] = min(counts[phrase.label], 4) / 4.0     # k-th occurrence of the label
    row = len(PHRASE_TYPES) + N_LETTERS + 13
    mode = np.asarray(plan.key_mode, dtype=np.float32)
    tonic = np.asarray(plan.key_tonic)
    c[row] = 2 * mode - 1
    c[row + 1, 1:] = (tonic[1:] != tonic[:-1]) | (mode[1:] != mode[:-1])
    ang = bars[None, :] / (1000.0 ** (np.arange(4)[:, None] / 4))
    c[row + 2:row + 6] = np.sin(ang)
    c[row + 6:row + 10] = np.cos(ang)
    c[row + 10] = bars / max(1, n - 1)
    return c


__all__ = ["ChordGrid", "to_chord_array", "from_chord_array", "chord_condition", "slot_of_beat",
           "beat_of_slot", "CHORD_CHANNELS", "COND_CHANNELS", "SLOTS_PER_BAR", "ROOT", "QUALITY",
           "NO_CHORD", "BASS", "LETTERS"]
