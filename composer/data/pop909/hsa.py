"""One song of the HSA release on its bar grid: chords per beat, the melody and both
annotators' phrase labels, made to agree on one bar count."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.data.pop909.chords import chords_per_beat
from composer.data.pop909.labels import parse_chord_file, parse_melody, read_lines, read_one_line
from composer.data.pop909.phrases import MAX_LABEL_REPAIR_BARS, choose_n_bars, label_bars, repair_form
from composer.errors import DataError, FormError
from composer.grid import STEPS_PER_BEAT

BEATS_PER_BAR = {2: 4, 3: 3}
"""index.xlsx ``num_beats_per_measure`` -> quarter beats per bar (2 is a 4/4 song, docs/DATA.md)."""
MIN_BARS = 4


@dataclass(frozen=True, eq=False)
class HsaSong:
    """What the HSA files say about one song, on its grid of ``n_bars`` bars from bar 0.

    chord:  int8 [n_bars * beats_per_bar, 3] (root, quality, bass) per beat, -1 = none.
    melody: int32 [n, 3] (start_step, duration_steps, pitch) from ``melody.txt``.
    forms:  annotator 1 and 2's phrase strings, each covering exactly ``n_bars``.
    form_repairs: bars each annotator's string was trimmed or extended by, -1 where it did not
    fit and the other annotator's reading stands in (``note`` says so)."""

    beats_per_bar: int
    n_bars: int
    chord: np.ndarray
    melody: np.ndarray
    forms: tuple[str, str]
    form_repairs: tuple[int, int]
    note: str

    @property
    def n_steps(self) -> int:
        return self.n_bars * self.beats_per_bar * STEPS_PER_BEAT


def read_hsa_song(hsa_dir: Path, meter: tuple[int, int]) -> HsaSong:
    """Read a song's HSA folder; ``meter`` is its index.xlsx (beats per measure, quavers per
    beat).  Raises DataError (the song's drop reason) when the files do not give a grid."""
    events = parse_chord_file(read_lines(hsa_dir / "finalized_chord.txt"))
    chord_beats = sum(e.duration_beats for e in events)
    melody = parse_melody(read_lines(hsa_dir / "melody.txt"))
    labels = (read_one_line(hsa_dir / "human_label1.txt"), read_one_line(hsa_dir / "human_label2.txt"))
    bpb = BEATS_PER_BAR.get(meter[0])
    if bpb is None:
        raise DataError(f"unsupported meter in index.xlsx: {meter[0]} beats per measure")
    n_bars = choose_n_bars(chord_beats, bpb, *labels)
    if n_bars < MIN_BARS:
        raise DataError(f"only {n_bars} bars of chords")
    forms, repairs, note = _fit_labels(labels, n_bars, math.ceil(chord_beats / bpb - 1e-9))
    return HsaSong(bpb, n_bars, chords_per_beat(events, n_bars * bpb), melody, forms, repairs, note)


def _fit_labels(labels: tuple[str, str], n_bars: int, chord_bars: int
                ) -> tuple[tuple[str, str], tuple[int, int], str]:
    """Both label strings repaired to ``n_bars`` (:func:`repair_form`), the bars each was
    changed by, and a note when one annotator's reading stands in for the other's."""
    forms, repairs = [], []
    for text in labels:
        try:
            forms.append(repair_form(text, n_bars))
            repairs.append(abs(n_bars - label_bars(text)))
        except FormError:
            forms.append(None)
            repairs.append(-1)
    if forms[0] is None and forms[1] is None:
        sums = [label_bars(t) for t in labels]
        raise DataError(f"phrase labels cover {sums[0]} / {sums[1]} bars, the chord grid "
                        f"{chord_bars} (more than {MAX_LABEL_REPAIR_BARS} bars apart)")
    note = ""
    if forms[0] is None or forms[1] is None:
        # One annotator counted bars in another meter: keep the reading that fits for both.
        bad = 1 if forms[0] is None else 2
        note = f"human_label{bad} does not fit the grid; the other annotator's reading is used for both"
        forms = [forms[2 - bad]] * 2
    return (forms[0], forms[1]), (repairs[0], repairs[1]), note


__all__ = ["BEATS_PER_BAR", "HsaSong", "read_hsa_song"]
