"""Measures of drum parts: pure functions of drum bars (see :mod:`composer.representation.drums`).

A :class:`DrumPiece` is what is measured: a drum part's bars with where its sections start
and which bars end a phrase before a new section (a fill's place).  A song gives one piece
(its sections from its markers); a Groove MIDI beat performance gives one piece that is one
section, a fill performance one whose fill bars are its phrase ends.  The measures pool the
bars of a whole set (:func:`drum_measures`), so a set of songs and a set of performances
compare bar for bar:

* hits per bar, in groove bars (bars that play and do not end a phrase before a new section);
* OA of onset positions: per drum, the overlapping area of the histograms of the 16ths its
  hits fall on in groove bars, averaged with the reference's share of hits as weights;
* groove consistency: muspy's measure (1 - the Hamming distance of consecutive bars' onset
  vectors over the bar's 16ths, any drum) within sections, groove bars only;
* fill density: snare and tom hits per bar in phrase-ending bars over the same in groove bars;
* crash on section starts: share of section-starting bars (that play) with a crash on the
  downbeat;
* kick on beat 1: share of groove bars with a kick on the downbeat;
* velocity OA: overlapping area of the velocity histograms (bins of 8) of all hits.

Every value is NaN where it is undefined (no groove bar, no phrase end...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from composer.representation.drums import CRASH, FILL_DRUMS, KICK, MAX_STEPS, N_DRUMS
VELOCITY_BINS = np.arange(0, 129, 8)


@dataclass(frozen=True)
class DrumPiece:
    """velocity: uint8 [n_bars, 16, N_DRUMS] (0 = no hit); steps_per_bar: 16ths per bar;
    sections: (start bar, bars) spans in which the pattern should hold; ends: bool [n_bars],
    bars that end a phrase before a new section; starts: bars that begin a section."""

    velocity: np.ndarray
    steps_per_bar: int
    sections: tuple[tuple[int, int], ...]
    ends: np.ndarray
    starts: tuple[int, ...]

    @property
    def n_bars(self) -> int:
        return len(self.velocity)

    def groove_bars(self) -> np.ndarray:
        """bool [n_bars]: bars that play and do not end a phrase."""
        return (self.velocity.reshape(self.n_bars, -1) > 0).any(axis=1) & ~self.ends


@dataclass(frozen=True)
class DrumMeasures:
    """The pooled figures of one set and what the OAs need (histograms)."""

    hits_per_bar: float
    groove_consistency: float
    fill_density_ratio: float
    crash_on_section_starts: float
    kick_on_beat_1: float
    onset_hist: np.ndarray      # float [N_DRUMS, 16] hit counts by 16th, groove bars
    velocity_hist: np.ndarray   # float [16] hit counts by velocity bin
    n_bars: int


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def drum_measures(pieces: Sequence[DrumPiece]) -> DrumMeasures:
    hits, n_groove = 0.0, 0
    cons: list[float] = []
    fill_hits, n_ends, groove_fill_hits = 0.0, 0, 0.0
    crash, n_starts = 0, 0
    kick = 0
    onset = np.zeros((N_DRUMS, MAX_STEPS))
    vel_hist = np.zeros(len(VELOCITY_BINS) - 1)
    n_bars = 0
    for p in pieces:
        on = p.velocity > 0
        groove = p.groove_bars()
        n_bars += p.n_bars
        hits += float(on[groove].sum())
        n_groove += int(groove.sum())
        kick += int(on[groove, 0, KICK].sum())
        onset += on[groove].sum(axis=0).T
        fill_now = on[:, :, FILL_DRUMS].sum(axis=(1, 2))
        fill_hits += float(fill_now[p.ends].sum())
        n_ends += int(p.ends.sum())
        groove_fill_hits += float(fill_now[groove].sum())
        for s in p.starts:
            if 0 <= s < p.n_bars and on[s].any():
                n_starts += 1
                crash += int(on[s, 0, CRASH])
        any_on = on[:, :p.steps_per_bar].any(axis=2)
        for a, n in p.sections:
            for b in range(a, min(a + n, p.n_bars) - 1):
                if groove[b] and groove[b + 1]:
                    cons.append(1.0 - float(np.mean(any_on[b] != any_on[b + 1])))
        v = p.velocity[on].astype(np.float64)
        vel_hist += np.histogram(v, VELOCITY_BINS)[0]
    return DrumMeasures(
        hits_per_bar=_ratio(hits, n_groove),
        groove_consistency=float(np.mean(cons)) if cons else float("nan"),
        fill_density_ratio=_ratio(_ratio(fill_hits, n_ends), _ratio(groove_fill_hits, n_groove)),
        crash_on_section_starts=_ratio(crash, n_starts),
        kick_on_beat_1=_ratio(kick, n_groove),
        onset_hist=onset, velocity_hist=vel_hist, n_bars=n_bars)


def _hist_oa(a: np.ndarray, b: np.ndarray) -> float:
    """Overlapping area of two histograms given as counts (NaN if either is empty)."""
    if a.sum() <= 0 or b.sum() <= 0:
        return float("nan")
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def onset_position_oa(generated: DrumMeasures, reference: DrumMeasures) -> float:
    """Mean over drums of the OA of their onset-position histograms, weighted by the
    reference's share of each drum's hits (a drum the generated set never plays scores 0)."""
    weights = reference.onset_hist.sum(axis=1)
    if weights.sum() <= 0:
        return float("nan")
    oas = []
    for d in range(N_DRUMS):
        if weights[d] <= 0:
            oas.append(0.0)
            continue
        oa = _hist_oa(generated.onset_hist[d], reference.onset_hist[d])
        oas.append(0.0 if np.isnan(oa) else oa)
    return float(np.dot(oas, weights) / weights.sum())


def velocity_oa(generated: DrumMeasures, reference: DrumMeasures) -> float:
    return _hist_oa(generated.velocity_hist, reference.velocity_hist)


__all__ = ["DrumPiece", "DrumMeasures", "drum_measures", "onset_position_oa", "velocity_oa",
           "FILL_DRUMS", "VELOCITY_BINS"]
