"""Tiny synthetic SongExamples for the form and chord level tests (no dataset needed).

Every song has the form of a pop song (intro, A and B phrases, outro), one key, and a fixed
progression per label: A = I V vi IV, B = IV V iii vi, two beats per chord; i/o/b = I.
So a model that has learnt them has a known answer.
"""
from __future__ import annotations

import numpy as np

from composer.data.example import SongExample
from composer.form import parse_form

PROGRESSIONS = {  # (scale degree in semitones, quality index) per half bar, 4 bars
    "A": [(0, 0), (0, 0), (7, 0), (7, 0), (9, 1), (9, 1), (5, 0), (5, 0)],
    "B": [(5, 0), (5, 0), (7, 0), (7, 0), (4, 1), (4, 1), (9, 1), (9, 1)],
}
FORMS = ("i4A8B8A8B8o4", "i2A8A8B8B8o2", "A8B8A8B8A8", "i4A8B8b4A8B8o4", "i4A4B4A4B4o4")


def synthetic_song(index: int, tonic: int = 0, form: str | None = None) -> SongExample:
    form = form or FORMS[index % len(FORMS)]
    phrases = parse_form(form)
    n_bars = sum(p.n_bars for p in phrases)
    root, quality = [], []
    for p in phrases:
        prog = PROGRESSIONS.get(p.label, [(0, 0)] * 8)
        for bar in range(p.n_bars):
            for beat in range(4):
                deg, q = prog[(bar % 4) * 2 + beat // 2]
                root.append((tonic + deg) % 12)
                quality.append(q)
    root_a = np.array(root, dtype=np.int8)
    return SongExample(
        song_id=f"syn{index:03d}", tempo_bpm=100.0, meter=(4, 4), beats_per_bar=4, n_bars=n_bars,
        form=form, form_alt=form, key_tonic=np.full(n_bars, tonic, np.int8),
        key_mode=np.zeros(n_bars, np.int8), chord_root=root_a,
        chord_quality=np.array(quality, dtype=np.int8), chord_bass=root_a.copy(),
        melody=np.zeros((0, 4), np.int32), accompaniment=np.zeros((0, 4), np.int32)).check()


def synthetic_songs(n: int) -> list[SongExample]:
    return [synthetic_song(i, tonic=(5 * i) % 12) for i in range(n)]
