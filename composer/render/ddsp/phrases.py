"""How a rendered melody joins its notes (issue 21, item 3): clicks at note boundaries and
legato where notes touch.  Measured on any renderer's audio, so the learned timbres and the
SoundFont are judged alike (``benchmarks/bench_timbre_phrases.py``, docs/EVAL.md).

* **Clicks.** A click is a jump between neighbouring samples far larger than the sound around
  it.  For every boundary (a note's start or end) the largest sample-to-sample jump within
  +-:data:`JOIN_WINDOW_S` of it is divided by the largest jump in the middle half of the
  neighbouring notes (the steady sound of the same instrument at the same level).  A ratio
  above :data:`CLICK_RATIO` is counted as a click: a step of amplitude A jumps by A, while a
  tone's own largest jump is its amplitude times 2 pi f / sample rate summed over partials,
  so a real discontinuity reads several times the steady sound's figure.
* **Legato.** Where a note of another pitch starts within :data:`TOUCH_S` of the previous
  note's end (a repeated pitch is meant to be re-attacked), the dip
  is how far the A-weighted loudness falls around the join (the lowest frame within +-20 ms)
  below the quieter of the two notes' levels 20-60 ms either side.  A join under
  :data:`LEGATO_DIP_DB` is legato: no gap or re-attack is heard.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JOIN_WINDOW_S = 0.01
CLICK_RATIO = 2.0
TOUCH_S = 0.02
LEGATO_DIP_DB = 3.0
MIN_INSIDE_S = 0.1
"""Notes shorter than this have no "middle" to compare a boundary with."""


@dataclass(frozen=True)
class Joins:
    """Per-boundary click ratios and per-touching-join loudness dips (dB) of one rendering."""

    click_ratios: np.ndarray
    legato_dips_db: np.ndarray

    @property
    def clicks(self) -> int:
        return int((self.click_ratios > CLICK_RATIO).sum())

    @property
    def legato_share(self) -> float:
        d = self.legato_dips_db
        return float((d < LEGATO_DIP_DB).mean()) if len(d) else float("nan")


def _peak_jump(jumps: np.ndarray, a: int, b: int) -> float:
    a, b = max(a, 0), min(b, len(jumps))
    return float(jumps[a:b].max()) if b > a else 0.0


def measure_joins(audio: np.ndarray, sample_rate: int, notes: list[tuple[float, float]],
                  pitches: list[int] | None = None) -> Joins:
    """``audio`` mono float [n]; ``notes`` (start_s, end_s) of a monophonic line, in order;
    ``pitches`` their MIDI pitches (None: every touching join counts for legato)."""
    from composer.render.ddsp.spectral import a_weighted_loudness

    x = np.asarray(audio, dtype=np.float64)
    jumps = np.abs(np.diff(x))
    if pitches is None:
        pitches = list(range(len(notes)))          # all different
    order = sorted(range(len(notes)), key=lambda i: notes[i])
    notes, pitches = [notes[i] for i in order], [pitches[i] for i in order]
    inside = []
    for s, e in notes:
        if e - s >= MIN_INSIDE_S:
            q = (e - s) / 4
            inside.append(_peak_jump(jumps, int((s + q) * sample_rate), int((e - q) * sample_rate)))
        else:
            inside.append(None)
    w = int(JOIN_WINDOW_S * sample_rate)
    ratios = []
    for i, (s, e) in enumerate(notes):
        for t, neighbours in ((s, (i - 1, i)), (e, (i, i + 1))):
            refs = [inside[j] for j in neighbours
                    if 0 <= j < len(notes) and inside[j] is not None and inside[j] > 0
                    and (j == i or abs(notes[j][0] - e) < TOUCH_S or abs(notes[j][1] - s) < TOUCH_S)]
            if not refs:
                continue
            c = int(t * sample_rate)
            ratios.append(_peak_jump(jumps, c - w, c + w) / max(refs))
    hop = sample_rate // 100
    # A ~23 ms window (1024 points at 44.1 kHz): short enough to see a re-attack's dip, which
    # the 2048-point loudness of the timbre analysis would smear over 46-85 ms.
    n_fft = 2 ** int(round(np.log2(0.023 * sample_rate)))
    ld = a_weighted_loudness(x.astype(np.float32), sample_rate, hop, n_fft)
    dips = []
    for (s0, e0), (s1, e1), p0, p1 in zip(notes, notes[1:], pitches, pitches[1:]):
        if not (0 <= s1 - e0 <= TOUCH_S) or p0 == p1 or e0 - s0 < 0.08 or e1 - s1 < 0.08:
            continue
        f = int(round(s1 * 100))
        before, around, after = ld[max(f - 6, 0):max(f - 2, 0)], ld[max(f - 2, 0):f + 3], ld[f + 2:f + 6]
        if len(before) == 0 or len(after) == 0 or len(around) == 0:
            continue
        level = min(float(before.mean()), float(after.mean()))
        dips.append(max(0.0, level - float(around.min())))
    return Joins(np.asarray(ratios, np.float64), np.asarray(dips, np.float64))


__all__ = ["Joins", "measure_joins", "CLICK_RATIO", "LEGATO_DIP_DB", "TOUCH_S", "JOIN_WINDOW_S"]
