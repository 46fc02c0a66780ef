"""Piano-roll view of the note level: hand-built rolls, exact round trips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from composer.representation.note_context import N_COND
from composer.representation.pianoroll import (MELODY_RANGE, PIANO_RANGE, PitchRange, notes_to_roll, roll_to_notes,
                                               roll_to_track, score_to_roll, song_roll, split_roll)
from composer.score import Note, Score, Track

R = PitchRange(60, 72)


def test_hand_built_roll():
    # a C held 3 steps from step 0, then two Ds of one step each at steps 4 and 5
    notes = np.array([[0, 3, 60, 90], [4, 1, 62, 80], [5, 1, 62, 80]])
    roll = notes_to_roll(notes, 8, R)
    assert roll.shape == (8, 2, 12) and roll.dtype == bool
    expected = np.zeros((8, 2, 12), dtype=bool)
    expected[0, 0, 0] = True
    expected[0:3, 1, 0] = True
    expected[4, 0, 2] = expected[5, 0, 2] = True
    expected[4:6, 1, 2] = True
    assert np.array_equal(roll, expected)
    back = roll_to_notes(roll, R, velocity=7)
    assert back.tolist() == [[0, 3, 60, 7], [4, 1, 62, 7], [5, 1, 62, 7]]


def test_round_trip_random_notes_exact():
    rng = np.random.default_rng(0)
    rows = []
    for pitch in range(R.low, R.high):
        t = int(rng.integers(0, 4))
        while t < 60:
            d = int(rng.integers(1, 6))
            rows.append((t, d, pitch, 64))
            t += d + int(rng.integers(0, 3))   # gaps of 0 steps make repeated notes
    notes = np.array(rows, dtype=np.int32)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    back = roll_to_notes(notes_to_roll(notes, 70, R), R, velocity=64)
    assert np.array_equal(back, notes)


def test_window_and_folding():
    notes = np.array([[2, 6, 61, 80], [9, 2, 47, 80], [9, 2, 90, 80]])
    win = notes_to_roll(notes, 4, R, start_step=4)       # steps 4..7
    assert not win[:, 0, 1].any() and win[:, 1, 1].all()  # sustain, no onset: began before
    folded = roll_to_notes(notes_to_roll(notes, 12, R), R)
    assert sorted(folded[:, 2].tolist()) == [61, 66, 71]  # 47 -> 71, 90 -> 66
    assert np.array_equal(R.fold(np.array([59, 60, 71, 72, 35])), [71, 60, 71, 60, 71])


def test_float_roll_threshold_and_orphan_sustain():
    roll = np.full((4, 2, 12), -1.0)
    roll[1, 0, 3] = roll[1, 1, 3] = roll[2, 1, 3] = 0.9
    roll[0:2, 1, 5] = 0.9                                 # sustain without onset: ignored
    assert roll_to_notes(roll, R, threshold=0.0).tolist() == [[1, 2, 63, 80]]


def test_score_track_round_trip():
    track = Track("Melody", 73, False, (Note(0, 240, 64, 90), Note(240, 120, 67, 70),
                                        Note(480, 960, 72, 80)))
    score = Score(tracks=(track,))
    roll = score_to_roll(score, "Melody", MELODY_RANGE, transpose=-4)
    assert roll.shape == (12, 2, 48)
    back = roll_to_track(roll, MELODY_RANGE, "Melody", 73, 480, transpose=4, velocity=80)
    assert [(n.start_tick, n.duration_ticks, n.pitch) for n in back.notes] == \
        [(0, 240, 64), (240, 120, 67), (480, 960, 72)]


def test_song_roll_split_roll_inverse():
    mel = np.array([[0, 4, 67, 90], [4, 4, 69, 90]], dtype=np.int32)
    acc = np.array([[0, 8, 36, 70], [0, 8, 55, 70], [0, 8, 60, 70]], dtype=np.int32)
    roll = song_roll(mel, acc, 16, shift=-2)
    assert roll.shape == (16, 2, MELODY_RANGE.n_pitches + PIANO_RANGE.n_pitches)
    m2, a2 = split_roll(roll, shift=-2)
    assert m2[:, :3].tolist() == mel[:, :3].tolist()
    assert a2[:, :3].tolist() == acc[:, :3].tolist()


@pytest.mark.data
def test_prepared_song_round_trip():
    prepared = Path(__file__).resolve().parents[1] / ".prepared" / "pop909"
    if not (prepared / "split.json").is_file():
        pytest.skip("prepared POP909 not built")
    from composer.data.example import load_split
    from composer.representation.note_context import example_context
    ex = load_split(prepared, "valid")[0]
    ctx, shift = example_context(ex)
    roll = song_roll(ex.melody, ex.accompaniment, ctx.n_steps, shift)
    mel, _ = split_roll(roll, shift)
    assert ctx.features().shape == (ctx.n_steps, N_COND)
    # every melody onset survives (pitches may be folded by octaves)
    assert len(mel) == len(np.unique(ex.melody[:, [0, 2]], axis=0))
