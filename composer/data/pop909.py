"""POP909 -> prepared training songs (:class:`~composer.data.example.SongExample`).

The bar grid is that of the hierarchical-structure-analysis (HSA) release of POP909
(Dai, Zhang, Dannenberg 2020): ``finalized_chord.txt`` (chords, durations in beats) and
``melody.txt`` (melody on the 16th grid) start at bar 0 of a regular grid whose downbeats
fall on barlines, and the phrase labels ``human_label1.txt`` / ``human_label2.txt`` count
bars on the same grid.  The accompaniment (``PIANO`` + ``BRIDGE`` tracks of the original
``NNN.mid``) is placed on that grid by a beat-level alignment of the MIDI ``MELODY`` track
(and of ``chord_midi.txt``) against ``melody.txt`` (and ``finalized_chord.txt``): HSA removed
or inserted whole beats where the original MIDI has irregular bars, so the offset between
the two grids is piecewise constant, found by a small Viterbi search (:func:`align_steps`).

Every decision, and the numbers that back it, is in ``docs/DATA.md``.

Entry point: :func:`build_pop909` (the CLI ``composer data pop909`` calls it).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from composer.data.example import MODES, STEPS_PER_BEAT, SongExample
from composer.errors import DataError, FormError
from composer.form import Phrase, format_form, parse_form
from composer.io.atomic import discard_temp, forget_temp, make_temp_dir
from composer.score import CHORD_QUALITIES, QUALITY_NAMES, RESOLUTION, Score, TempoChange

BUILDER_VERSION = "pop909-v1"
"""Bumped by hand when the output format changes; the cache key also hashes this file."""

TICKS_PER_STEP = RESOLUTION // STEPS_PER_BEAT  # 120 ticks: one 16th at 480 PPQ
MAX_LABEL_REPAIR_BARS = 2
"""A label string may be trimmed or extended by at most this many bars at its end."""
MIN_MELODY_MATCH = 0.5
"""Songs whose aligned MIDI melody matches fewer of melody.txt's onsets than this are dropped."""
MAX_OFFGRID_SHARE = 0.15
"""Songs with more than this share of onsets far (>= 30 ticks) from the 16th grid are dropped
(triplet / compound-meter subdivisions that a 16th grid cannot hold)."""
OFFSET_CHANGE_COST = 6.0
"""Viterbi cost of changing the MIDI-to-grid beat offset, in units of one unmatched note."""
MIN_CL_MATCH = 0.9
"""POP909-CL key changes are used when its notes match the original's this well."""
MAX_CHORD_SHIFT_BEATS = 2
MIN_CHORD_SHIFT_GAIN = 0.05
"""The chords are moved by a whole number of beats (at most MAX_CHORD_SHIFT_BEATS) when that
raises the accompaniment's chord-tone share by at least this much."""
DEFAULT_VELOCITY = 80
SPLIT_SHARES = {"test": 1, "valid": 1}  # of 10 hash buckets; the rest is train


# ====================================================================== small parsers
_NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_DEGREE = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 2, 11: 5, 13: 9}
_CHORD_LINE = re.compile(r"^\s*(\S.*?)\s*\[([^\]]*)\]\s*(.*?)\s*$")


def pitch_class(name: str) -> int:
    """``"C"`` -> 0, ``"F#"`` -> 6, ``"Db"`` -> 1, ``"Cb"`` -> 11.  Raises DataError."""
    name = name.strip()
    if not name or name[0].upper() not in _NOTE_PC:
        raise DataError(f"not a note name: {name!r}")
    pc = _NOTE_PC[name[0].upper()]
    for ch in name[1:]:
        if ch == "#":
            pc += 1
        elif ch == "b":
            pc -= 1
        else:
            raise DataError(f"not a note name: {name!r}")
    return pc % 12


def degree_interval(degree: str) -> int:
    """Harte bass degree (``"3"``, ``"b7"``, ``"#4"``) -> semitones above the root, 0..11."""
    m = re.fullmatch(r"([b#]*)(\d+)", degree.strip())
    if not m or int(m.group(2)) not in _DEGREE:
        raise DataError(f"not a chord degree: {degree!r}")
    shift = m.group(1).count("#") - m.group(1).count("b")
    return (_DEGREE[int(m.group(2))] + shift) % 12


def quality_from_intervals(intervals: Iterable[int]) -> int:
    """Index into QUALITY_NAMES of the chord vocabulary entry that best covers ``intervals``.

    ``intervals`` are semitones above the root (0..11).  An exact match wins; otherwise the
    largest vocabulary chord whose intervals are all present (extensions such as 9ths,
    11ths and 13ths are dropped: ``maj9`` -> ``maj7``, ``min11`` -> ``min7``,
    ``sus4(b7,9)`` -> ``sus4(b7)``); ties go to the earlier, plainer quality.  -1 when no
    vocabulary chord fits (e.g. a bare fifth).
    """
    have = frozenset(i % 12 for i in intervals) | {0}
    best, best_size = -1, 0
    for index, name in enumerate(QUALITY_NAMES):
        ivs = frozenset(CHORD_QUALITIES[name])
        if ivs == have:
            return index
        if ivs <= have and len(ivs) > best_size:
            best, best_size = index, len(ivs)
    return best


_EXTENSION_BASE = {"maj9": "maj7", "maj11": "maj7", "maj13": "maj7", "9": "7", "11": "7", "13": "7",
                   "min9": "min7", "min11": "min7", "min13": "min7", "": "maj"}


def quality_from_name(text: str) -> int:
    """Harte quality text -> index into QUALITY_NAMES, -1 if it does not reduce to one.

    Extensions are dropped: ``maj(9)`` -> ``maj``, ``min7(11)`` -> ``min7``, ``maj9`` ->
    ``maj7``, ``13`` -> ``7``, ``sus4(b7,9)`` and the cut-off ``sus4(b7`` -> ``sus4(b7)``."""
    text = text.strip()
    if text in CHORD_QUALITIES:
        return QUALITY_NAMES.index(text)
    if text.startswith("sus4(b7"):
        return QUALITY_NAMES.index("sus4(b7)")
    base = text.split("(")[0]
    base = _EXTENSION_BASE.get(base, base)
    return QUALITY_NAMES.index(base) if base in CHORD_QUALITIES else -1


@dataclass(frozen=True)
class ChordEvent:
    """One line of ``finalized_chord.txt``: a chord lasting ``duration_beats`` quarter beats.

    ``root``/``bass`` are pitch classes and ``quality`` an index into QUALITY_NAMES; all
    three are -1 for "no chord" (``N``) or a chord outside the vocabulary."""

    root: int
    quality: int
    bass: int
    duration_beats: float


def parse_chord_line(line: str) -> ChordEvent | None:
    """Parse ``"B:maj7/3 [3, 6, 10, 11] 11 2"`` (name, chord tones, root, beats).

    Root, quality and bass degree come from the name (extensions dropped, see
    :func:`quality_from_name`): the listed tones are wrong for some qualities (every
    ``maj7`` lists a minor seventh, while the accompaniment plays the major seventh 128
    times as long, docs/DATA.md).  Only a name that reduces to no vocabulary chord is read
    from its tones (:func:`quality_from_intervals`).  ``N`` lines have no root field
    (``N [] 4``).
    Returns None for a blank line; raises DataError for a malformed one.
    """
    if not line.strip():
        return None
    m = _CHORD_LINE.match(line)
    if not m:
        raise DataError(f"bad chord line {line.strip()!r}: expected 'name [tones] root beats'")
    name, tones_text, rest = m.groups()
    numbers = rest.split()
    try:
        duration = float(numbers[-1])
        tones = [int(t) for t in tones_text.replace(",", " ").split()]
    except (IndexError, ValueError):
        raise DataError(f"bad chord line {line.strip()!r}: expected 'name [tones] root beats'") from None
    if not duration > 0:
        raise DataError(f"bad chord line {line.strip()!r}: duration must be positive")
    if name.startswith("N") or ":" not in name:
        return ChordEvent(-1, -1, -1, duration)
    root_name, _, quality_text = name.partition(":")
    root = pitch_class(root_name)
    bass = root
    if "/" in quality_text:
        quality_text, _, degree = quality_text.rpartition("/")
        try:
            bass = (root + degree_interval(degree)) % 12
        except DataError:
            bass = root
    quality = quality_from_name(quality_text)
    if quality < 0:
        quality = quality_from_intervals((t - root) % 12 for t in tones)
    if quality < 0:
        return ChordEvent(-1, -1, -1, duration)
    return ChordEvent(root, quality, bass, duration)


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


def parse_key(text: str) -> tuple[int, int]:
    """``"Gb:maj"`` -> (6, 0); ``"C#:min"`` -> (1, 1).  (tonic pitch class, mode index)."""
    m = re.fullmatch(r"\s*([A-G][#b]*):(maj|min)\S*\s*", text)
    if not m:
        raise DataError(f"not a key: {text!r}")
    return pitch_class(m.group(1)), 0 if m.group(2) == "maj" else 1


def parse_melody(lines: Iterable[str]) -> np.ndarray:
    """``melody.txt`` (``pitch duration_16ths`` per line, pitch 0 = rest) -> int32 [n, 3]
    rows (start_step, duration_steps, pitch) of the sounding notes, from step 0."""
    rows, step = [], 0
    for line in lines:
        if not line.strip():
            continue
        parts = line.split()
        try:
            pitch, dur = int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            raise DataError(f"bad melody line {line.strip()!r}: expected 'pitch duration'") from None
        if dur < 0 or not 0 <= pitch < 128:
            raise DataError(f"bad melody line {line.strip()!r}: pitch 0..127, duration >= 0")
        if pitch > 0 and dur > 0:
            rows.append((step, dur, pitch))
        step += dur
    return np.array(rows, dtype=np.int32).reshape(-1, 3)


def repair_form(text: str, n_bars: int, max_change: int = MAX_LABEL_REPAIR_BARS) -> str:
    """Make a phrase string cover exactly ``n_bars`` by changing its last phrase(s).

    Too long: the last phrase is shortened (a phrase shortened to 0 is removed and the
    rest taken from the one before).  Too short: the last phrase is lengthened.  At most
    ``max_change`` bars may be added or removed, else FormError.
    """
    phrases = list(parse_form(text))
    diff = n_bars - sum(p.n_bars for p in phrases)
    if abs(diff) > max_change:
        raise FormError(f"form {text!r} covers {n_bars - diff} bars, the grid {n_bars} "
                        f"(more than {max_change} bars apart)")
    if diff > 0:
        phrases[-1] = Phrase(phrases[-1].label, phrases[-1].n_bars + diff)
    while diff < 0:
        last = phrases.pop()
        take = min(last.n_bars, -diff)
        diff += take
        if last.n_bars > take:
            phrases.append(Phrase(last.label, last.n_bars - take))
    return format_form(phrases)


def _label_bars(text: str) -> int:
    try:
        return sum(p.n_bars for p in parse_form(text))
    except FormError:
        return -1


def choose_n_bars(chord_beats: float, beats_per_bar: int, label1: str, label2: str) -> int:
    """Bars of a song on the HSA grid.

    The chord annotation runs ``chord_beats`` beats from bar 0, often with a few trailing
    beats or bars after the music; the phrase labels end with the music.  Candidates are
    ``ceil(chord_beats / beats_per_bar)`` and the three counts below it; the one needing the
    least label repair (sum over both annotators, counting only annotators within
    MAX_LABEL_REPAIR_BARS) wins, ties going to the longer.  Without any usable label, the
    whole bars of chords.
    """
    top = math.ceil(chord_beats / beats_per_bar - 1e-9)
    sums = [b for b in (_label_bars(label1), _label_bars(label2)) if b > 0]
    best, best_cost = int(math.floor(chord_beats / beats_per_bar + 1e-9)), None
    for n in range(top, max(top - 4, 0), -1):
        fits = [abs(b - n) for b in sums if abs(b - n) <= MAX_LABEL_REPAIR_BARS]
        if not fits:
            continue
        cost = (-len(fits), sum(fits))
        if best_cost is None or cost < best_cost:
            best, best_cost = n, cost
    return best


def quantise_ticks(ticks: np.ndarray, origin_tick: int) -> np.ndarray:
    """Ticks (480 PPQ) -> nearest 16th step counted from ``origin_tick`` (int64, may be < 0)."""
    return np.floor((np.asarray(ticks, dtype=np.int64) - origin_tick) / TICKS_PER_STEP + 0.5).astype(np.int64)


# ====================================================================== MIDI
@dataclass(frozen=True)
class MidiSong:
    """The parts of an original POP909 MIDI file the builder needs.

    ``tracks`` maps a track name to int64 [n, 4] rows (start_tick, end_tick, pitch, velocity);
    ``tempos`` are the file's tempo changes.  Ticks are rescaled to 480 per quarter (a few
    POP909 files are written at 960); ``ticks_per_beat`` is the file's own resolution."""

    tracks: dict
    tempos: tuple[TempoChange, ...]
    ticks_per_beat: int


def read_midi(path: Path) -> MidiSong:
    import mido
    try:
        mid = mido.MidiFile(path)
    except Exception as err:  # mido raises many types for bad files
        raise DataError(f"cannot read {path}: {err}") from None
    tracks: dict = {}
    tempos = []
    ppq = mid.ticks_per_beat
    if ppq <= 0:
        raise DataError(f"{path}: SMPTE time division is not supported")

    def scaled(t: int) -> int:
        return t if ppq == RESOLUTION else (t * RESOLUTION + ppq // 2) // ppq

    for track in mid.tracks:
        tick = 0
        open_notes: dict = {}
        rows = []
        name = ""
        for msg in track:
            tick += msg.time
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "set_tempo":
                tempos.append(TempoChange(scaled(tick), msg.tempo))
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((scaled(tick), msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                stack = open_notes.get((msg.channel, msg.note))
                if stack:
                    start, vel = stack.pop(0)  # first on, first off for repeated pitches
                    rows.append((start, scaled(tick), msg.note, vel))
        if name:
            arr = np.array(sorted(rows), dtype=np.int64).reshape(-1, 4)
            tracks[name] = np.concatenate([tracks[name], arr]) if name in tracks else arr
    if not tempos or tempos[0].tick > 0:
        tempos.insert(0, TempoChange(0, 500000))
    return MidiSong(tracks, tuple(sorted(set(tempos))), mid.ticks_per_beat)


# ====================================================================== alignment
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


# ====================================================================== one song
@dataclass(frozen=True)
class SongResult:
    """What building one song gave: kept (with its figures) or dropped (with a reason)."""

    song_id: str
    kept: bool
    reason: str = ""
    n_bars: int = 0
    beats_per_bar: int = 0
    melody_match: float = float("nan")
    offset_changes: int = 0
    offgrid_share: float = float("nan")
    melody_chord_tone: float = float("nan")
    accomp_chord_tone: float = float("nan")
    melody_chord_tone_shifted: float = float("nan")
    accomp_chord_tone_shifted: float = float("nan")
    n_key_changes: int = 0
    key_source: str = ""
    key_agreement_with_audio: float = float("nan")
    cl_match: float = float("nan")
    chord_shift_beats: int = 0
    form_repaired: int = 0
    form_alt_repaired: int = 0
    notes_dropped: int = 0
    notes: str = ""


@dataclass(frozen=True)
class SongSources:
    """Paths of one song's input files."""

    song_id: str
    midi: Path
    chord_midi: Path
    key_audio: Path
    hsa_dir: Path
    meter: tuple[int, int]  # index.xlsx (num_beats_per_measure, num_quavers_per_beat)
    cl_midi: Path | None = None  # POP909-CL/POP909_processed/NNN.mid (key changes), optional

    def files(self) -> list[Path]:
        """The files a song needs (``cl_midi`` is optional and not listed)."""
        return [self.midi, self.chord_midi, self.key_audio,
                *(self.hsa_dir / n for n in ("finalized_chord.txt", "melody.txt", "human_label1.txt",
                                              "human_label2.txt", "analyzed_key.txt"))]


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


def _notes_to_grid(rows: np.ndarray, origin_tick: int, inv: np.ndarray, n_steps: int
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


def _clean_notes(notes: np.ndarray) -> np.ndarray:
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


def _weighted_median_bpm(tempos: Sequence[TempoChange], end_tick: int) -> float:
    ticks = [t.tick for t in tempos] + [max(end_tick, tempos[-1].tick + 1)]
    spans = np.diff(ticks).clip(min=0).astype(float)
    bpm = np.array([t.bpm for t in tempos])
    if spans.sum() <= 0:
        return float(bpm[0])
    order = np.argsort(bpm)
    cum = np.cumsum(spans[order])
    return float(round(bpm[order][np.searchsorted(cum, cum[-1] / 2)], 2))


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from None


def build_song(src: SongSources) -> tuple[SongResult, SongExample | None]:
    """Build one song; never raises for a data problem (it becomes a drop reason)."""
    try:
        return _build_song(src)
    except (DataError, FormError) as err:
        return SongResult(src.song_id, False, reason=str(err)), None


def _drop(sid: str, reason: str, **kw) -> tuple[SongResult, None]:
    return SongResult(sid, False, reason=reason, **kw), None


def _build_song(src: SongSources) -> tuple[SongResult, SongExample | None]:
    sid = src.song_id
    for f in src.files():
        if not f.is_file():
            return _drop(sid, f"missing file {f.name}")
    # ---- grid: chords, melody and labels of the HSA release
    events = [e for e in (parse_chord_line(l) for l in _read_lines(src.hsa_dir / "finalized_chord.txt")) if e]
    chord_beats = sum(e.duration_beats for e in events)
    grid_melody = parse_melody(_read_lines(src.hsa_dir / "melody.txt"))
    label1 = "".join(_read_lines(src.hsa_dir / "human_label1.txt")).strip()
    label2 = "".join(_read_lines(src.hsa_dir / "human_label2.txt")).strip()
    bpb = {2: 4, 3: 3}.get(src.meter[0])
    if bpb is None:
        return _drop(sid, f"unsupported meter in index.xlsx: {src.meter[0]} beats per measure")
    n_bars = choose_n_bars(chord_beats, bpb, label1, label2)
    if n_bars < 4:
        return _drop(sid, f"only {n_bars} bars of chords")
    forms, repaired = [], []
    for text in (label1, label2):
        try:
            forms.append(repair_form(text, n_bars))
            repaired.append(abs(n_bars - sum(p.n_bars for p in parse_form(text))))
        except FormError:
            forms.append(None)
            repaired.append(-1)
    if forms[0] is None and forms[1] is None:
        sums = [_label_bars(t) for t in (label1, label2)]
        return _drop(sid, f"phrase labels cover {sums[0]} / {sums[1]} bars, the chord grid "
                          f"{math.ceil(chord_beats / bpb - 1e-9)} (more than {MAX_LABEL_REPAIR_BARS} bars apart)")
    note = ""
    if forms[0] is None or forms[1] is None:
        # One annotator counted bars in another meter: keep the reading that fits for both.
        bad = 1 if forms[0] is None else 2
        note = f"human_label{bad} does not fit the grid; the other annotator's reading is used for both"
        forms = [forms[2 - bad]] * 2
    n_beats = n_bars * bpb
    n_steps = n_beats * STEPS_PER_BEAT
    chord = chords_per_beat(events, n_beats)

    # ---- MIDI step grid: 16ths at the phase the notes were played to
    midi = read_midi(src.midi)
    if "MELODY" not in midi.tracks or "PIANO" not in midi.tracks:
        return _drop(sid, "MIDI file lacks a MELODY or PIANO track")
    tempo_score = Score(tempos=midi.tempos)
    mel_rows = midi.tracks["MELODY"]
    acc_rows = np.concatenate([midi.tracks["PIANO"], midi.tracks.get("BRIDGE", np.zeros((0, 4), np.int64))])
    all_on = np.concatenate([mel_rows[:, 0], acc_rows[:, 0]])
    origin = grid_phase(all_on)
    all_resid = np.abs((all_on - origin) - quantise_ticks(all_on, origin) * TICKS_PER_STEP)
    offgrid = float((all_resid >= 30).mean()) if len(all_on) else 0.0
    if offgrid > MAX_OFFGRID_SHARE:
        return _drop(sid, f"{offgrid:.0%} of onsets lie 30 or more ticks off the 16th grid "
                          f"(triplets / compound meter)", offgrid_share=round(offgrid, 4))
    mel_steps = quantise_ticks(mel_rows[:, 0], origin)
    end_step = int(quantise_ticks(np.array([max(int(all_on.max(initial=0)), 0)]), origin)[0])
    n_midi_steps = end_step + 64 * STEPS_PER_BEAT

    def to_step(seconds: float) -> int:
        return int(quantise_ticks(np.array([tempo_score.seconds_to_tick(seconds)]), origin)[0])

    # MIDI chord roots per MIDI step (chord_midi.txt, seconds), for the alignment only
    midi_chord_root = np.full(n_midi_steps, -1, np.int64)
    for line in _read_lines(src.chord_midi):
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            s0, s1 = to_step(float(parts[0])), to_step(float(parts[1]))
            root = -1 if parts[2].startswith("N") else pitch_class(parts[2].split(":")[0])
        except (ValueError, DataError):
            continue
        midi_chord_root[max(s0, 0):max(min(s1, n_midi_steps), 0)] = root

    al = align_steps(grid_melody, mel_steps, mel_rows[:, 2], chord[:, 0].astype(np.int64),
                     midi_chord_root, n_beats)
    if al.melody_match < MIN_MELODY_MATCH:
        return _drop(sid, f"the MIDI melody matches only {al.melody_match:.0%} of melody.txt onsets "
                          f"at the best alignment", melody_match=round(al.melody_match, 4))
    inv = al.midi_to_grid_step(n_midi_steps)

    # ---- accompaniment: PIANO + BRIDGE on the grid
    accomp, dropped = _notes_to_grid(acc_rows, origin, inv, n_steps)
    accomp = _clean_notes(accomp)

    # ---- melody: melody.txt, velocities from the aligned MIDI melody
    mgrid, _ = _notes_to_grid(mel_rows, origin, inv, n_steps)
    vel_of = {(int(s), int(p)): int(v) for s, _, p, v in mgrid}
    gm = grid_melody[grid_melody[:, 0] < n_steps]
    vels = np.array([vel_of.get((int(s), int(p)), 0) for s, _, p in gm], dtype=np.int32)
    fallback = int(np.median(vels[vels > 0])) if (vels > 0).any() else DEFAULT_VELOCITY
    vels[vels == 0] = fallback
    melody = np.zeros((len(gm), 4), np.int32)
    if len(gm):
        melody[:, 0], melody[:, 2], melody[:, 3] = gm[:, 0], gm[:, 2], vels
        melody[:, 1] = np.minimum(gm[:, 1], n_steps - gm[:, 0])
    melody = _clean_notes(melody)

    # ---- keys per bar: key_audio.txt segments (seconds) placed on the grid
    # ---- chords vs notes: a whole-beat shift of HSA's chords in a few songs (docs/DATA.md)
    shares = {k: chord_tone_share(accomp, chord, k)
              for k in range(-MAX_CHORD_SHIFT_BEATS, MAX_CHORD_SHIFT_BEATS + 1)}
    valid = {k: v for k, v in shares.items() if v == v}
    chord_shift = max(valid, key=lambda k: (valid[k], -abs(k))) if valid else 0
    if chord_shift and valid[chord_shift] - valid.get(0, 0.0) >= MIN_CHORD_SHIFT_GAIN:
        chord = shift_chords(chord, chord_shift)
    else:
        chord_shift = 0

    # ---- keys per bar: POP909-CL's human-checked key changes, else key_audio.txt
    audio_spans = key_spans_audio(src.key_audio, to_step)
    fallback = _analyzed_key(src.hsa_dir)
    if fallback < 0:
        fallback = audio_spans[0][2] if audio_spans else 0
    audio_keys = keys_per_bar(audio_spans, inv, n_bars, bpb, fallback)
    bar_key, key_source, cl_match = audio_keys, "key_audio", float("nan")
    if src.cl_midi is not None:
        cl_spans, cl_match = cl_key_spans(src.cl_midi, np.concatenate([mel_rows, acc_rows]), origin)
        if cl_spans and cl_match >= MIN_CL_MATCH:
            bar_key, key_source = keys_per_bar(cl_spans, inv, n_bars, bpb, fallback), "POP909-CL"
    key_tonic, key_mode = (bar_key % 12).astype(np.int8), (bar_key // 12).astype(np.int8)
    n_changes = int(np.count_nonzero(np.diff(bar_key)))
    key_agree = float(np.mean(bar_key == audio_keys))

    last_tick = origin + (n_steps + int(al.offset_steps[-1])) * TICKS_PER_STEP
    tempo_bpm = _weighted_median_bpm(midi.tempos, last_tick)
    example = SongExample(
        song_id=sid, tempo_bpm=tempo_bpm, meter=(bpb, 4), beats_per_bar=bpb, n_bars=n_bars,
        form=forms[0], form_alt=forms[1], key_tonic=key_tonic, key_mode=key_mode,
        chord_root=chord[:, 0].copy(), chord_quality=chord[:, 1].copy(), chord_bass=chord[:, 2].copy(),
        melody=melody, accompaniment=accomp).check()
    result = SongResult(
        sid, True, n_bars=n_bars, beats_per_bar=bpb, melody_match=round(al.melody_match, 4),
        offset_changes=al.n_offset_changes, offgrid_share=round(offgrid, 4),
        melody_chord_tone=_r(chord_tone_share(melody, chord)),
        accomp_chord_tone=_r(chord_tone_share(accomp, chord)),
        melody_chord_tone_shifted=_r(chord_tone_share(melody, chord, 1)),
        accomp_chord_tone_shifted=_r(chord_tone_share(accomp, chord, 1)),
        n_key_changes=n_changes, key_source=key_source, key_agreement_with_audio=_r(key_agree),
        cl_match=_r(cl_match), chord_shift_beats=chord_shift, form_repaired=repaired[0], form_alt_repaired=repaired[1],
        notes_dropped=dropped, notes=note)
    return result, example


def _r(x: float) -> float:
    return round(x, 4) if x == x else x


def key_spans_audio(path: Path, to_step: Callable[[float], int]) -> list[tuple[int, int, int]]:
    """``key_audio.txt`` (``start_s end_s Key:mode``) -> (first MIDI step, end MIDI step,
    key code = tonic + 12 * mode) per segment; unreadable lines are skipped."""
    spans = []
    for line in _read_lines(path):
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            tonic, mode = parse_key(parts[2])
            spans.append((to_step(float(parts[0])), to_step(float(parts[1])), tonic + 12 * mode))
        except (ValueError, DataError):
            continue
    return spans


def parse_midi_key(name: str) -> tuple[int, int]:
    """A MIDI key-signature name as mido writes it (``"Eb"``, ``"C#m"``) -> (tonic, mode)."""
    minor = name.endswith("m")
    return pitch_class(name[:-1] if minor else name), int(minor)


def cl_key_spans(cl_path: Path, midi_rows: np.ndarray, origin_tick: int
                 ) -> tuple[list[tuple[int, int, int]], float]:
    """Key changes of a POP909-CL file placed on the original MIDI's step grid.

    POP909-CL re-wrote each song on its own tick line (start-beat shifts, its own tempo);
    its notes are the original notes moved by one constant tick offset, found here by a
    vote over equal-pitch onset pairs.  Returns the spans (first MIDI step, end MIDI step,
    key code) and the share of the original's onsets that the offset matches within 30
    ticks (the spans
    are empty when the file has no key signature)."""
    import mido
    try:
        cl = mido.MidiFile(cl_path)
    except Exception as err:  # mido raises many types for bad files
        raise DataError(f"cannot read {cl_path}: {err}") from None
    ppq = cl.ticks_per_beat
    keys, onsets = [], []
    for track in cl.tracks:
        tick, name = 0, ""
        for msg in track:
            tick += msg.time
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "key_signature":
                keys.append((tick * RESOLUTION // ppq, msg.key))
            elif msg.type == "note_on" and msg.velocity > 0 and name != "chords":
                onsets.append((tick * RESOLUTION // ppq, msg.note))
    if not onsets or not keys or not len(midi_rows):
        return [], 0.0
    cl_on = np.array(onsets, dtype=np.int64)
    votes: dict = {}
    hist = np.zeros(4001, dtype=np.int64)  # offsets -20000..20000 ticks in 10-tick bins
    for pitch in np.unique(cl_on[:, 1]):
        a = cl_on[cl_on[:, 1] == pitch, 0]
        b = midi_rows[midi_rows[:, 2] == pitch, 0]
        if len(a) and len(b):
            d = (a[:, None] - b[None, :]).ravel()
            d = d[np.abs(d) <= 20000]
            hist += np.bincount((d + 20000) // 10, minlength=4001)[:4001]
    offset = int(np.argmax(hist)) * 10 - 20000 + 5
    # Share of the original's onsets that have a CL onset of the same pitch at the offset
    # (CL files hold extra notes for some songs, so the share is taken on the original's side).
    matched = 0
    for pitch in np.unique(midi_rows[:, 2]):
        a = np.sort(midi_rows[midi_rows[:, 2] == pitch, 0]) + offset
        b = np.sort(cl_on[cl_on[:, 1] == pitch, 0])
        if len(b):
            i = np.clip(np.searchsorted(b, a), 0, len(b) - 1)
            near = np.minimum(np.abs(b[i] - a), np.abs(b[np.maximum(i - 1, 0)] - a))
            matched += int((near <= 30).sum())
    keys.sort()
    spans = []
    for k, (tick, name) in enumerate(keys):
        try:
            tonic, mode = parse_midi_key(name)
        except DataError:
            continue
        start = int(quantise_ticks(np.array([tick - offset]), origin_tick)[0]) if k else -10**9
        end = (int(quantise_ticks(np.array([keys[k + 1][0] - offset]), origin_tick)[0])
               if k + 1 < len(keys) else 10**9)
        spans.append((start, end, tonic + 12 * mode))
    return spans, matched / len(midi_rows)


def keys_per_bar(spans: Sequence[tuple[int, int, int]], inv: np.ndarray, n_bars: int, bpb: int,
                 fallback: int) -> np.ndarray:
    """Key code (tonic + 12 * mode) per bar, int64 [n_bars].

    ``spans`` are (first MIDI step, end MIDI step, key code); ``inv`` maps MIDI steps to
    grid steps (-1 = removed).  Each grid beat takes the key of the span holding its MIDI
    step; beats no span reaches take the nearest reached beat's key (``fallback`` when none
    is reached); each bar takes the key of most of its beats (the earlier key on a tie)."""
    n_beats = n_bars * bpb
    beat_key = np.full(n_beats, -1, np.int64)
    for m0, m1, code in spans:
        m0, m1 = max(m0, 0), min(m1, len(inv))
        if m1 > m0:
            g = inv[m0:m1]
            g = g[(g >= 0) & (g < n_beats * STEPS_PER_BEAT)] // STEPS_PER_BEAT
            beat_key[g] = code
    known = np.nonzero(beat_key >= 0)[0]
    if not len(known):
        return np.full(n_bars, fallback, np.int64)
    idx = np.arange(n_beats)
    pos = np.clip(np.searchsorted(known, idx), 0, len(known) - 1)
    prev = np.clip(pos - 1, 0, len(known) - 1)
    nearest = np.where(np.abs(known[pos] - idx) <= np.abs(known[prev] - idx), known[pos], known[prev])
    per_bar = beat_key[nearest].reshape(n_bars, bpb)
    out = np.empty(n_bars, np.int64)
    for bar, row in enumerate(per_bar):
        counts = np.bincount(row, minlength=24)
        # a tie (a key change half-way through the bar) goes to the key the bar starts in
        out[bar] = next(k for k in row if counts[k] == counts.max())
    return out


def _analyzed_key(hsa_dir: Path) -> int:
    """First key of analyzed_key.txt as a key code, -1 if unreadable."""
    text = "".join(_read_lines(hsa_dir / "analyzed_key.txt")).strip()
    m = re.match(r"[A-G][#b]*:(maj|min)", text)
    if not m:
        return -1
    tonic, mode = parse_key(m.group(0))
    return tonic + 12 * mode


# ====================================================================== the whole set
def song_split(song_id: str) -> str:
    """Deterministic split of a song id: bucket = sha256(id) mod 10; 0 -> test, 1 -> valid,
    2..9 -> train (80/10/10 in expectation, stable when songs are added or dropped)."""
    bucket = int(hashlib.sha256(song_id.encode()).hexdigest(), 16) % 10
    if bucket < SPLIT_SHARES["test"]:
        return "test"
    if bucket < SPLIT_SHARES["test"] + SPLIT_SHARES["valid"]:
        return "valid"
    return "train"


def make_split(song_ids: Iterable[str]) -> dict:
    out = {"train": [], "valid": [], "test": []}
    for sid in sorted(song_ids):
        out[song_split(sid)].append(sid)
    return out


def read_meters(index_xlsx: Path) -> dict:
    """song id -> (num_beats_per_measure, num_quavers_per_beat) from POP909's index.xlsx."""
    try:
        import openpyxl
        wb = openpyxl.load_workbook(index_xlsx, read_only=True)
        rows = list(wb.active.iter_rows(values_only=True))
    except Exception as err:  # openpyxl raises many types for bad files
        raise DataError(f"cannot read {index_xlsx}: {err}") from None
    head = [str(h) for h in rows[0]]
    try:
        i_id, i_b, i_q = (head.index(n) for n in ("song_id", "num_beats_per_measure", "num_quavers_per_beat"))
    except ValueError:
        raise DataError(f"{index_xlsx} lacks song_id / num_beats_per_measure / num_quavers_per_beat") from None
    out = {}
    for row in rows[1:]:
        if row[i_id] is None:
            continue
        out[f"{int(row[i_id]):03d}"] = (int(row[i_b]), int(row[i_q]))
    return out


def find_sources(root: Path, song_ids: Sequence[str] | None = None) -> list[SongSources]:
    """The songs under a data root holding ``POP909-Dataset/`` and
    ``hierarchical-structure-analysis/`` (see docs/DATA.md).  Raises DataError if absent."""
    pop = root / "POP909-Dataset" / "POP909"
    hsa = root / "hierarchical-structure-analysis" / "POP909"
    for d in (pop, hsa):
        if not d.is_dir():
            raise DataError(f"{d} not found: --root must be the folder holding POP909-Dataset/ "
                            "and hierarchical-structure-analysis/")
    meters = read_meters(pop / "index.xlsx")
    ids = sorted(d.name for d in pop.iterdir() if d.is_dir() and d.name.isdigit())
    if song_ids is not None:
        wanted = set(song_ids)
        ids = [i for i in ids if i in wanted]
    cl = root / "POP909-CL" / "POP909_processed"
    return [SongSources(i, pop / i / f"{i}.mid", pop / i / "chord_midi.txt", pop / i / "key_audio.txt",
                        hsa / i, meters.get(i, (0, 0)),
                        cl / f"{i}.mid" if (cl / f"{i}.mid").is_file() else None) for i in ids]


def cache_key(sources: Sequence[SongSources]) -> str:
    """Hash of the builder's code, the output format and every input file's size and mtime."""
    h = hashlib.sha256()
    h.update(BUILDER_VERSION.encode())
    for mod in (Path(__file__), Path(__file__).with_name("example.py")):
        h.update(mod.read_bytes())
    for src in sources:
        h.update(f"{src.song_id}{src.meter}".encode())
        for f in src.files() + ([src.cl_midi] if src.cl_midi else []):
            try:
                st = f.stat()
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                h.update(f"{f.name}:missing".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class BuildReport:
    """Summary of a build (also written, with per-song rows, to report.json)."""

    out: Path
    n_songs: int
    n_kept: int
    dropped: tuple[tuple[str, str], ...]
    medians: dict
    seconds: float
    cached: bool


def _median(values: Iterable[float]) -> float:
    vals = [v for v in values if v == v]
    return round(float(np.median(vals)), 4) if vals else float("nan")


def _build_one(args: tuple[SongSources, str]) -> SongResult:
    src, songs_dir = args
    result, example = build_song(src)
    if example is not None:
        example.save(Path(songs_dir) / f"{src.song_id}.npz")
    return result


def build_pop909(root: str | os.PathLike, out: str | os.PathLike, workers: int = 2, force: bool = False,
                 song_ids: Sequence[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Build the prepared POP909 set into ``out`` (songs/, split.json, report.json).

    The build goes to a temporary folder beside ``out`` and is renamed into place, so a
    reader never sees a half-built set.  If ``out`` already holds a build with the same
    cache key (code + inputs), nothing is done unless ``force``.  ``out`` must be absent,
    empty or an earlier build of this command (its report.json says so), else DataError:
    ``force`` rebuilds a build, it never deletes a folder that is not one.
    """
    t0 = time.perf_counter()
    root, out = Path(root), Path(out)
    _check_out(out)
    sources = find_sources(root, song_ids)
    if not sources:
        raise DataError(f"no POP909 songs found under {root}")
    key = cache_key(sources)
    report_file = out / "report.json"
    if out.exists():
        if not out.is_dir():
            raise DataError(f"{out} exists and is not a folder")
        previous = None
        if report_file.is_file():
            try:
                previous = json.loads(report_file.read_text())
            except (OSError, ValueError):
                previous = None
        ours = _is_build(previous)
        if ours and previous.get("cache_key") == key and not force and (out / "split.json").is_file():
            return BuildReport(out, previous["n_songs"], previous["n_kept"],
                               tuple((d["song_id"], d["reason"]) for d in previous["dropped"]),
                               previous["medians"], time.perf_counter() - t0, True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, f"{out.name}.build")
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the build is an ordinary folder
    try:
        songs_dir = tmp / "songs"
        songs_dir.mkdir()
        jobs = [(s, str(songs_dir)) for s in sources]
        results: list[SongResult] = []
        if workers <= 1:
            for i, job in enumerate(jobs):
                results.append(_build_one(job))
                if progress:
                    progress(i + 1, len(jobs))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for i, res in enumerate(pool.map(_build_one, jobs, chunksize=4)):
                    results.append(res)
                    if progress:
                        progress(i + 1, len(jobs))
        kept = [r for r in results if r.kept]
        dropped = [r for r in results if not r.kept]
        split = make_split(r.song_id for r in kept)
        medians = {
            "melody_chord_tone": _median(r.melody_chord_tone for r in kept),
            "accomp_chord_tone": _median(r.accomp_chord_tone for r in kept),
            "melody_chord_tone_shifted_1_beat": _median(r.melody_chord_tone_shifted for r in kept),
            "accomp_chord_tone_shifted_1_beat": _median(r.accomp_chord_tone_shifted for r in kept),
            "melody_match": _median(r.melody_match for r in kept),
        }
        seconds = time.perf_counter() - t0
        report = {
            "builder": BUILDER_VERSION, "cache_key": key, "root": str(root),
            "n_songs": len(results), "n_kept": len(kept), "n_dropped": len(dropped),
            "split_sizes": {k: len(v) for k, v in split.items()},
            "medians": medians, "build_seconds": round(seconds, 1),
            "dropped": [{"song_id": r.song_id, "reason": r.reason} for r in dropped],
            "songs": [asdict(r) for r in results],
        }
        (tmp / "split.json").write_text(json.dumps(split, indent=1) + "\n")
        (tmp / "report.json").write_text(json.dumps(_no_nan(report), indent=1, allow_nan=False) + "\n")
        _swap_into_place(tmp, out)
    except BaseException:
        discard_temp(tmp)
        raise
    return BuildReport(out, len(results), len(kept), tuple((r.song_id, r.reason) for r in dropped),
                       medians, seconds, False)


def _is_build(report) -> bool:
    """Whether a parsed report.json is one this command wrote."""
    return isinstance(report, dict) and str(report.get("builder", "")).startswith("pop909")


def _check_out(out: Path) -> None:
    """Refuse an ``out`` that exists and is neither empty nor a build of this command: not
    even ``force`` replaces it, so a typo in --out cannot delete someone's folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    try:
        report = json.loads((out / "report.json").read_text())
    except (OSError, ValueError):
        report = None
    if not _is_build(report) and any(out.iterdir()):
        raise DataError(f"{out} exists and is not a POP909 build (no report.json written by "
                        "`composer data pop909`); choose another --out or empty it yourself")


def _no_nan(value):
    """The report as strict JSON: NaN (a figure that is undefined for a song) -> null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with two renames (the old build is removed afterwards)."""
    old = None
    if out.exists():
        old = make_temp_dir(out.parent, f"{out.name}.old")
        os.rmdir(old)
        os.replace(out, old)
    os.replace(tmp, out)
    forget_temp(tmp)
    if old is not None:
        discard_temp(old)


__all__ = ["build_pop909", "build_song", "find_sources", "parse_chord_line", "repair_form",
           "quantise_ticks", "make_split", "song_split", "chord_tone_share", "BuildReport",
           "SongResult", "SongSources", "ChordEvent", "align_steps", "Alignment"]
