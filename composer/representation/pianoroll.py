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


__all__ = ["STEPS_PER_BEAT", "PitchRange", "MELODY_RANGE", "PIANO_RANGE", "notes_to_roll",
           "roll_to_notes", "ticks_per_step", "track_to_notes", "notes_to_track", "score_to_roll",
           "roll_to_track"]


# ---------------------------------------------------------------------- note-level condition
from composer.form import Phrase, phrase_type_of  # noqa: E402
from composer.score import CHORD_QUALITIES, QUALITY_NAMES  # noqa: E402

N_PHRASE_TYPES = 6
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
    from composer.form import parse_form
    shift = reference_shift(example.key_tonic)
    ctx = NoteContext(example.steps_per_bar, shift_pitch_classes(example.key_tonic, shift),
                      np.asarray(example.key_mode, dtype=np.int64),
                      shift_pitch_classes(example.chord_root, shift),
                      np.asarray(example.chord_quality, dtype=np.int64),
                      shift_pitch_classes(example.chord_bass, shift), parse_form(example.form))
    return ctx, shift


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

__all__ += ["COND_LAYOUT", "N_COND", "CHORD_CHANNELS", "NoteContext", "reference_shift",
            "shift_pitch_classes", "example_context", "song_roll", "split_roll", "N_ROLL_PITCHES"]
