"""The note level's condition: hand-built contexts, channel by channel."""
from __future__ import annotations

import numpy as np
import pytest

from composer.form import parse_form
from composer.representation.note_context import CHORD_CHANNELS, COND_LAYOUT, N_COND, NoteContext, reference_shift


def test_reference_shift_keeps_register():
    assert reference_shift(np.array([9, 9, 9, 2])) == 3        # A -> C, up 3
    assert reference_shift(np.array([4] * 8)) == -4            # E -> C, down 4
    assert reference_shift(np.array([6])) == -6


def _context() -> NoteContext:
    n_bars, bpb = 4, 4
    root = np.array([0] * 4 + [7] * 4 + [9] * 2 + [-1] * 2 + [5] * 4)
    return NoteContext(16, np.zeros(n_bars, int), np.zeros(n_bars, int), root,
                       np.where(root >= 0, 0, -1), root.copy(), parse_form("A2B2"))


def test_condition_channels():
    ctx = _context()
    f = ctx.features()
    assert f.shape == (64, N_COND) and f.dtype == np.float32
    assert sum(w for _, w in COND_LAYOUT) == N_COND
    # bar 0: C major chord -> chroma C, E, G; bass C
    assert np.nonzero(f[0, 0:12])[0].tolist() == [0, 4, 7] and f[0, 12] == 1
    # G major at bar 1 (relative chroma D, G, B), changes on its first step only
    assert np.nonzero(f[16, 0:12])[0].tolist() == [2, 7, 11]
    assert f[16, 25] == 1 and f[17, 25] == 0 and f[20, 25] == 0
    # no chord at beats 10-11
    assert f[40:48, 24].sum() == 0 and f[40:48, 0:24].sum() == 0
    # phrase type A for bars 0-1, B for bars 2-3; first/last bar flags
    assert f[0, 39] == 1 and f[32, 40] == 1
    assert f[0, 45] == 1 and f[16, 46] == 1 and f[16, 45] == 0
    # step-in-bar one-hot and steps to the phrase end
    assert f[5, 50 + 5] == 1 and f[31, 66] == pytest.approx(1 / 64)
    # a window computes the same values as the whole song
    assert np.array_equal(ctx.features(1, 2), f[16:48])
    assert CHORD_CHANNELS == slice(0, 26)
