"""The key of every bar: key spans from POP909-CL's human-checked key signatures or from
``key_audio.txt``, placed on the MIDI steps and carried through the alignment to the bars.

A key code is ``tonic + 12 * mode`` (mode 0 = major, 1 = minor, as MODES)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from composer.data.example import MODES
from composer.data.pop909.labels import parse_label_key, read_lines, read_one_line
from composer.data.pop909.steps import MidiSteps, quantise_ticks
from composer.errors import DataError, MidiError
from composer.grid import STEPS_PER_BEAT
from composer.io.midi import read_midi
from composer.score import RESOLUTION

MIN_CL_MATCH = 0.9
"""POP909-CL key changes are used when its notes match the original's this well."""
CL_CHORD_TRACK = "chords"  # POP909-CL's chord-symbol track: its notes are no performance
CL_NEAR_TICKS = 30  # a CL onset this close to a moved original onset matches it
KeySpan = tuple[int, int, int]
"""(first MIDI step, end MIDI step, key code)."""


def key_spans_audio(path: Path, to_step: Callable[[float], int]) -> list[KeySpan]:
    """``key_audio.txt`` (``start_s end_s Key:mode``) -> (first MIDI step, end MIDI step,
    key code = tonic + 12 * mode) per segment; unreadable lines are skipped."""
    spans = []
    for line in read_lines(path):
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            tonic, mode = parse_label_key(parts[2])
            spans.append((to_step(float(parts[0])), to_step(float(parts[1])), tonic + 12 * mode))
        except (ValueError, DataError):
            continue
    return spans


def analyzed_key(hsa_dir: Path) -> int:
    """First key of the HSA folder's ``analyzed_key.txt`` as a key code, -1 if unreadable."""
    m = re.match(r"[A-G][#b]*:(maj|min)", read_one_line(hsa_dir / "analyzed_key.txt"))
    if not m:
        return -1
    tonic, mode = parse_label_key(m.group(0))
    return tonic + 12 * mode


def cl_key_spans(cl_path: Path, midi_rows: np.ndarray, origin_tick: int) -> tuple[list[KeySpan], float]:
    """Key changes of a POP909-CL file placed on the original MIDI's step grid.

    POP909-CL re-wrote each song on its own tick line (start-beat shifts, its own tempo);
    its notes are the original notes moved by one constant tick offset, found here by a
    vote over equal-pitch onset pairs.  ``midi_rows`` are the original's notes, int64
    [n, 4] rows starting (start_tick, end_tick, pitch) at 480 PPQ.  Returns the spans and the
    share of the original's onsets that the offset matches within CL_NEAR_TICKS ticks (the
    spans are empty when the file has no key signature)."""
    try:
        cl = read_midi(cl_path)
    except MidiError as err:
        raise DataError(str(err)) from None
    # Floored to 480 PPQ, not rounded like the original's notes (tracks.py): a tick either
    # way is inside the vote's 10-tick bins, and flooring keeps the prepared set as built.
    res = cl.resolution
    keys = sorted((k.tick * RESOLUTION // res, k.tonic + 12 * MODES.index(k.mode)) for k in cl.key_signatures)
    onsets = [(n.start_tick * RESOLUTION // res, n.pitch)
              for t in cl.tracks if t.name != CL_CHORD_TRACK for n in t.notes]
    if not onsets or not keys or not len(midi_rows):
        return [], 0.0
    cl_on = np.array(onsets, dtype=np.int64)
    offset = _cl_offset(cl_on, midi_rows)
    spans = []
    for k, (tick, code) in enumerate(keys):
        start = int(quantise_ticks(np.array([tick - offset]), origin_tick)[0]) if k else -10**9
        end = (int(quantise_ticks(np.array([keys[k + 1][0] - offset]), origin_tick)[0])
               if k + 1 < len(keys) else 10**9)
        spans.append((start, end, code))
    return spans, _cl_match(cl_on, midi_rows, offset) / len(midi_rows)


def _cl_offset(cl_on: np.ndarray, midi_rows: np.ndarray) -> int:
    """The CL-minus-original tick offset with the most equal-pitch onset pairs, to 10 ticks
    (the centre of the winning bin), within +-20000 ticks."""
    hist = np.zeros(4001, dtype=np.int64)  # offsets -20000..20000 ticks in 10-tick bins
    for pitch in np.unique(cl_on[:, 1]):
        a = cl_on[cl_on[:, 1] == pitch, 0]
        b = midi_rows[midi_rows[:, 2] == pitch, 0]
        if len(a) and len(b):
            d = (a[:, None] - b[None, :]).ravel()
            d = d[np.abs(d) <= 20000]
            hist += np.bincount((d + 20000) // 10, minlength=4001)[:4001]
    return int(np.argmax(hist)) * 10 - 20000 + 5


def _cl_match(cl_on: np.ndarray, midi_rows: np.ndarray, offset: int) -> int:
    """How many of the original's onsets have a CL onset of the same pitch at ``offset``
    (counted on the original's side: CL files hold extra notes for some songs)."""
    matched = 0
    for pitch in np.unique(midi_rows[:, 2]):
        a = np.sort(midi_rows[midi_rows[:, 2] == pitch, 0]) + offset
        b = np.sort(cl_on[cl_on[:, 1] == pitch, 0])
        if len(b):
            i = np.clip(np.searchsorted(b, a), 0, len(b) - 1)
            near = np.minimum(np.abs(b[i] - a), np.abs(b[np.maximum(i - 1, 0)] - a))
            matched += int((near <= CL_NEAR_TICKS).sum())
    return matched


def keys_per_bar(spans: Sequence[KeySpan], inv: np.ndarray, n_bars: int, bpb: int,
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


@dataclass(frozen=True, eq=False)
class BarKeys:
    """The key code of each bar, int64 [n_bars], and where it came from."""

    codes: np.ndarray
    source: str             # "POP909-CL" or "key_audio"
    cl_match: float         # NaN without a POP909-CL file
    agreement_with_audio: float  # share of bars whose key_audio.txt key is the chosen one


def bar_keys(key_audio: Path, hsa_dir: Path, cl_midi: Path | None, midi_rows: np.ndarray,
             steps: MidiSteps, inv: np.ndarray, n_bars: int, bpb: int) -> BarKeys:
    """POP909-CL's key changes where its file matches the original well (MIN_CL_MATCH), else
    ``key_audio.txt``'s segments; bars no span reaches take ``analyzed_key.txt``'s key."""
    audio_spans = key_spans_audio(key_audio, steps.step_of_seconds)
    fallback = analyzed_key(hsa_dir)
    if fallback < 0:
        fallback = audio_spans[0][2] if audio_spans else 0
    audio_keys = keys_per_bar(audio_spans, inv, n_bars, bpb, fallback)
    codes, source, cl_match = audio_keys, "key_audio", float("nan")
    if cl_midi is not None:
        cl_spans, cl_match = cl_key_spans(cl_midi, midi_rows, steps.origin_tick)
        if cl_spans and cl_match >= MIN_CL_MATCH:
            codes, source = keys_per_bar(cl_spans, inv, n_bars, bpb, fallback), "POP909-CL"
    return BarKeys(codes, source, cl_match, float(np.mean(codes == audio_keys)))


__all__ = ["MIN_CL_MATCH", "BarKeys", "KeySpan", "analyzed_key", "bar_keys", "cl_key_spans",
           "key_spans_audio", "keys_per_bar"]
