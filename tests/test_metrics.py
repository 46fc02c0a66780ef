"""Known answers for every metric in composer.metrics, on hand-built Scores."""
from __future__ import annotations

import dataclasses
import math

import muspy
import numpy as np
import pytest

from composer import metrics as M
from composer.score import Note, Score, Track
from eval_fixtures import STEP, notes, song

# Two bars' worth of material that share nothing: pitch classes {0, 2, 4} on steps 0, 4, 8,
# 12 against {1, 3, 6, 8} on steps 2, 6, 10, 14; chords C-E-G on step 0 against C#-F# on 8.
X_MEL = [(0, 4, 60), (4, 4, 62), (8, 4, 64), (12, 4, 60)]
Y_MEL = [(2, 4, 61), (6, 4, 63), (10, 4, 66), (14, 2, 68)]
X_ACC = [(0, 16, 48), (0, 16, 52), (0, 16, 55)]
Y_ACC = [(8, 8, 49), (8, 8, 54)]
ABAB = [("A", 4), ("B", 4), ("A", 4), ("B", 4)]


def phrases(*contents, bars=4):
    """Melody and accompaniment bars: each content (mel, acc) repeated ``bars`` times."""
    mel = [m for m, _ in contents for _ in range(bars)]
    acc = [a for _, a in contents for _ in range(bars)]
    return mel, acc


def c_major_chords(n_bars):
    return [(16 * b, 16, 0, "maj") for b in range(n_bars)]


# ---------------------------------------------------------------------------- structure
def test_exact_repeats_give_ratio_three():
    # A B A B with A and B unrelated: same-label pairs 1, the four A-B pairs 0,
    # so the ratio is 1 / (2 / 6) = 3.
    mel, acc = phrases((X_MEL, X_ACC), (Y_MEL, Y_ACC), (X_MEL, X_ACC), (Y_MEL, Y_ACC))
    s = song(mel, acc, ABAB)
    assert M.structure_ratio_melody(s) == pytest.approx(3.0)
    assert M.structure_ratio_accompaniment(s) == pytest.approx(3.0)


def test_labels_that_never_repeat_in_content_give_zero():
    # Labelled A B A B but the content is X X Z Z: same-label pairs are unrelated (0),
    # the pairs (A1, B1) and (A2, B2) identical, so 0 / (2 / 6) = 0.
    mel, acc = phrases((X_MEL, X_ACC), (X_MEL, X_ACC), (Y_MEL, Y_ACC), (Y_MEL, Y_ACC))
    s = song(mel, acc, ABAB)
    assert M.structure_ratio_melody(s) == pytest.approx(0.0)
    assert M.structure_ratio_accompaniment(s) == pytest.approx(0.0)


def test_uniform_song_gives_ratio_one():
    mel, acc = phrases(*[(X_MEL, X_ACC)] * 4)
    s = song(mel, acc, ABAB)
    assert M.structure_ratio_melody(s) == pytest.approx(1.0)
    assert M.structure_ratio_accompaniment(s) == pytest.approx(1.0)


def test_half_similar_phrases():
    # A1 = X, A2 = X with the pitches of Y (same onsets, unrelated pitch classes): 0.5.
    # B = Y both times: 1.  Cross pairs: A1-B 0, A2-B (pitch classes alike, onsets not)
    # 0.5 twice.  same = 0.75, all = (0.5 + 1 + 0 + 0 + 0.5 + 0.5) / 6 = 0.4167.
    x_with_y_pitches = [(s, d, p) for (s, d, _), (_, _, p) in zip(X_MEL, Y_MEL)]
    mel = [X_MEL] * 4 + [Y_MEL] * 4 + [x_with_y_pitches] * 4 + [Y_MEL] * 4
    s = song(mel, None, ABAB)
    assert M.structure_ratio_melody(s) == pytest.approx(0.75 / (2.5 / 6))


def test_structure_undefined_without_pairs():
    mel, acc = phrases((X_MEL, X_ACC), (Y_MEL, Y_ACC), (X_MEL, X_ACC), (Y_MEL, Y_ACC))
    never_same_label = song(mel, acc, [("A", 4), ("B", 4), ("C", 4), ("D", 4)])
    assert math.isnan(M.structure_ratio_melody(never_same_label))
    assert math.isnan(M.structure_ratio_accompaniment(never_same_label))
    no_sections = song(mel, acc)
    assert math.isnan(M.structure_ratio_melody(no_sections))
    one_phrase = song(mel, acc, [("A", 16)])
    assert math.isnan(M.structure_ratio_accompaniment(one_phrase))


def test_melody_ratio_skips_phrases_without_melody():
    # i4 A4 A4: the intro has no melody and is left out of the melody ratio (A-A only: 1),
    # but the accompaniment ratio compares all three phrases.
    mel = [[]] * 4 + [X_MEL] * 8
    acc = [Y_ACC] * 4 + [X_ACC] * 8
    s = song(mel, acc, [("i", 4), ("A", 4), ("A", 4)])
    assert M.structure_ratio_melody(s) == pytest.approx(1.0)
    # Accompaniment: A-A 1, i-A 0 twice -> 1 / (1 / 3) = 3.
    assert M.structure_ratio_accompaniment(s) == pytest.approx(3.0)


def test_odd_phrase_lengths_pad_the_last_segment():
    mel = [X_MEL] * 3 + [Y_MEL] * 3 + [X_MEL] * 3
    s = song(mel, None, [("A", 3), ("B", 3), ("A", 3)])
    # Pairs: A-A 1, A-B 0, B-A 0 -> 1 / (1 / 3) = 3.
    assert M.structure_ratio_melody(s) == pytest.approx(3.0)


# ---------------------------------------------------------------------------- cadence
QUARTERS_ON_C = [(0, 4, 60), (4, 4, 64), (8, 4, 67), (12, 4, 60)]


def test_cadence_at_every_phrase_end_and_nowhere_else():
    whole_c = [(0, 16, 60)]
    mel = ([QUARTERS_ON_C] * 3 + [whole_c]) * 2
    s = song(mel, None, [("A", 4), ("A", 4)], chords=c_major_chords(8))
    assert M.cadence_phrase_end(s) == 1.0
    assert M.cadence_elsewhere(s) == 0.0


def test_long_final_note_off_the_chord_is_no_cadence():
    mel = [QUARTERS_ON_C] * 3 + [[(0, 16, 62)]] + [QUARTERS_ON_C] * 3 + [[(0, 16, 60)]]
    s = song(mel, None, [("A", 4), ("B", 4)], chords=c_major_chords(8))
    assert M.cadence_phrase_end(s) == 0.5
    # A half-note chord tone inside a phrase is a cadence elsewhere (1 of 6 bars).
    mel[1] = [(0, 8, 62), (8, 8, 64)]  # of two equally long notes the later one decides
    s = song(mel, None, [("A", 4), ("B", 4)], chords=c_major_chords(8))
    assert M.cadence_elsewhere(s) == pytest.approx(1 / 6)


def test_phrase_end_without_onset_uses_held_note():
    # The final bar of each phrase only holds the previous bar's note (32 steps long).
    mel = [QUARTERS_ON_C, QUARTERS_ON_C, [(0, 32, 64)], []] * 2
    s = song(mel, None, [("A", 4), ("A", 4)], chords=c_major_chords(8))
    assert M.cadence_phrase_end(s) == 1.0


def test_cadence_undefined_without_chords_or_melodic_phrases():
    mel = [QUARTERS_ON_C] * 4
    assert math.isnan(M.cadence_phrase_end(song(mel, None, [("A", 4)])))
    assert math.isnan(M.cadence_elsewhere(song(mel, None, [("i", 4)], chords=c_major_chords(4))))


# ---------------------------------------------------------------------------- harmony
def test_melody_entirely_on_chord_tones():
    mel = [[(0, 4, 60), (4, 4, 64), (8, 4, 67), (12, 4, 72)]] * 4
    assert M.chord_tone_strong_beats(song(mel, None, chords=c_major_chords(4))) == 1.0


def test_only_strong_beats_count():
    # Strong beats (steps 0 and 8 of 4/4) on D and F, weak beats on chord tones: 0.
    mel = [[(0, 4, 62), (4, 4, 64), (8, 4, 65), (12, 4, 67)]] * 2
    assert M.chord_tone_strong_beats(song(mel, None, chords=c_major_chords(2))) == 0.0
    # Half of the strong-beat notes on chord tones: 0.5.
    mel = [[(0, 4, 60), (4, 4, 64), (8, 4, 65), (12, 4, 67)]] * 2
    assert M.chord_tone_strong_beats(song(mel, None, chords=c_major_chords(2))) == 0.5


def test_strong_beats_in_three_four():
    # 3/4: only the downbeat is strong, so the D on step 8 does not count.
    mel = [[(0, 4, 60), (8, 4, 62)]] * 2
    chords = [(12 * b, 12, 0, "maj") for b in range(2)]
    assert M.chord_tone_strong_beats(song(mel, None, chords=chords, meter=(3, 4))) == 1.0


def test_chord_tones_undefined_without_chords():
    assert math.isnan(M.chord_tone_strong_beats(song([QUARTERS_ON_C], None)))


def test_chord_changes_per_bar():
    # One chord symbol per bar: C C G G C C G G -> 3 changes over 8 bars.
    roots = [0, 0, 7, 7, 0, 0, 7, 7]
    chords = [(16 * b, 16, r, "maj") for b, r in enumerate(roots)]
    s = song([QUARTERS_ON_C] * 8, None, chords=chords)
    assert M.chord_changes_per_bar(s) == pytest.approx(3 / 8)
    assert math.isnan(M.chord_changes_per_bar(song([QUARTERS_ON_C], None)))


def test_diatonic_chord_share():
    # C major: C (in key) for one bar, D major (F# outside) for one bar -> 0.5.
    chords = [(0, 16, 0, "maj"), (16, 16, 2, "maj")]
    assert M.diatonic_chord_share(song([QUARTERS_ON_C] * 2, None, chords=chords)) == 0.5
    # A minor: E major holds G#, the raised 7th of harmonic minor -> diatonic.
    chords = [(0, 16, 9, "min"), (16, 16, 4, "maj"), (32, 16, 5, "maj"), (48, 16, 4, "7")]
    assert M.diatonic_chord_share(song([[]] * 4, None, chords=chords, key=(9, "minor"))) == 1.0
    # Without a key signature the best-fitting scale (C major, from the melody) is used.
    chords = [(0, 48, 0, "maj"), (48, 16, 6, "maj")]
    mel = [[(0, 4, 60), (4, 4, 62), (8, 4, 64), (12, 4, 65)]] * 4
    assert M.diatonic_chord_share(song(mel, None, chords=chords, key=None)) == 0.75
    assert math.isnan(M.diatonic_chord_share(song(mel, None)))


def test_scale_consistency_from_muspy():
    c_major = [[(0, 2, p) for p in (60, 62, 64, 65, 67, 69, 71)]]
    assert M.scale_consistency(song(c_major, None)) == 1.0
    chromatic = [[(i, 1, 60 + i) for i in range(12)]]
    assert M.scale_consistency(song(chromatic, None)) == pytest.approx(7 / 12)


# ---------------------------------------------------------------------------- texture
def test_pitch_class_entropy():
    chromatic = [[(i, 1, 60 + i) for i in range(12)]]
    assert M.pitch_class_entropy(song(chromatic, None)) == pytest.approx(math.log2(12))
    octaves = [[(0, 4, 48), (4, 4, 60), (8, 4, 72)]]
    assert M.pitch_class_entropy(song(octaves, None)) == 0.0


def test_groove_consistency():
    # muspy counts length // bar + 1 bars, so a song ending on a barline gets one empty bar
    # more: four equal bars of 4 onsets -> 3 equal pairs and one pair 4 apart: 1 - 4 / 64.
    assert M.groove_consistency(song([QUARTERS_ON_C] * 4, None)) == 1 - 4 / 64
    # Bars alternate onsets on steps 0, 4, 8, 12 and 2, 6, 10, 14: three neighbour pairs
    # differ in 8 of 16 positions, the last bar against the empty one in 4: 1 - 28 / 64.
    offbeats = [(2, 2, 60), (6, 2, 60), (10, 2, 60), (14, 2, 60)]
    assert M.groove_consistency(song([QUARTERS_ON_C, offbeats] * 2, None)) == 1 - 28 / 64
    # A song that does not end on a barline: 2 bars + one onset; pairs (0,1) equal, (1,2)
    # differ in 3 positions -> 1 - 3 / 32.
    s = song([QUARTERS_ON_C, QUARTERS_ON_C, [(0, 1, 60)]], None)
    assert M.groove_consistency(s) == 1 - 3 / 32
    assert math.isnan(M.groove_consistency(song([[(0, 4, 60)]], None)))


def test_empty_beat_rate():
    assert M.empty_beat_rate(song([QUARTERS_ON_C] * 2, None)) == 0.0
    # Notes on beat 1 and beat 4 only (16th notes): muspy counts beats 0..length // 4 and
    # marks a note's beats start // 4 .. end // 4, so beats 0, 3, 4 of 5 are filled.
    s = song([[(0, 1, 60), (12, 4, 60)]], None)
    assert M.empty_beat_rate(s) == pytest.approx(1 - 3 / 5)


def test_polyphony():
    s = song([[(0, 16, 72)]], [[(0, 16, 48), (0, 16, 52), (0, 16, 55)]])
    assert M.polyphony(s) == 4.0
    # Two steps of 2 pitches, two of 1: (2 + 2 + 1 + 1) / 4.
    s = song([[(0, 4, 72)]], [[(0, 2, 48)]])
    assert M.polyphony(s) == pytest.approx(1.5)


def test_muspy_figures_of_two_hand_built_bars():
    # Bar 1: C4 E4 G4 C4 in quarters over a C3 + G3 half note; bar 2: one G4 on beat 4.  A
    # drum on every 16th (C#, side stick) must change nothing: a counted drum would add a
    # pitch class, break the scale, fill every groove position and every beat.
    s = song([QUARTERS_ON_C, [(12, 4, 67)]], [[(0, 8, 48), (0, 8, 55)]])
    drums = Track("Drums", 0, True, notes([(i, 1, 37) for i in range(32)]))
    s = dataclasses.replace(s, tracks=s.tracks + (drums,))
    # Pitch classes of the 7 notes: C (60, 60, 48), E (64), G (67, 67, 55).
    h = -(2 * 3 / 7 * math.log2(3 / 7) + 1 / 7 * math.log2(1 / 7))
    assert M.pitch_class_entropy(s) == pytest.approx(h)
    assert M.scale_consistency(s) == 1.0
    # muspy's bars (it counts length // 16 + 1 = 3): onsets {0, 4, 8, 12} | {12} | {};
    # neighbours differ in 3 and 1 of 16 positions.
    assert M.groove_consistency(s) == 1 - 4 / 32
    # muspy's beats 0..8 (length // 4 + 1 = 9), a note marking beats start // 4 ..
    # end // 4: the first bar marks 0-4, the G 7-8, so beats 5 and 6 are empty.
    assert M.empty_beat_rate(s) == pytest.approx(2 / 9)
    # Steps 0-7 sound 3 pitches, 8-15 one, 28-31 one: 36 pitch-steps over 20 steps.
    assert M.polyphony(s) == pytest.approx(36 / 20)
    assert M.distribution_features(s).polyphony.tolist() == [3] * 8 + [1] * 12


def test_everything_is_nan_for_an_empty_song():
    empty = Score(tracks=(Track("Melody"),))
    for name in M.SONG_METRICS:
        assert math.isnan(getattr(M, name)(empty)), name
    values = M.song_metrics(empty).values
    assert all(math.isnan(v) for v in values)


def test_melody_track_choice():
    lead = Track("lead", 0, False, (Note(0, 480, 72),))
    melody = Track("MELODY", 0, False, (Note(0, 480, 60),))
    drums = Track("Drums", 0, True, (Note(0, 480, 36),))
    mel, acc = M.melody_and_accompaniment(Score(tracks=(drums, lead, melody)))
    assert [t.name for t in mel] == ["MELODY"] and [t.name for t in acc] == ["lead"]
    # One pitched track is accompaniment by the one rule (composer.tracks): no melody to judge.
    mel, acc = M.melody_and_accompaniment(Score(tracks=(drums, lead)))
    assert mel == [] and [t.name for t in acc] == ["lead"]


def test_song_metrics_agree_with_single_functions():
    mel, acc = phrases((X_MEL, X_ACC), (Y_MEL, Y_ACC), (X_MEL, X_ACC), (Y_MEL, Y_ACC))
    s = song(mel, acc, ABAB, chords=c_major_chords(16))
    all_at_once = M.song_metrics(s)
    for name in M.SONG_METRICS:
        np.testing.assert_equal(all_at_once[name], getattr(M, name)(s))


# ---------------------------------------------------------------------------- distributions
def test_distribution_features_by_hand():
    s = song([[(0, 4, 60), (4, 4, 62)], [(0, 8, 64)]], [[(0, 8, 48)], []])
    f = M.distribution_features(s)
    assert sorted(f.pitch.tolist()) == [48, 60, 62, 64]
    assert sorted(f.duration.tolist()) == [4, 4, 8, 8]
    assert f.ioi.tolist() == [4, 12]          # onsets 0, 4, 16
    assert f.notes_per_bar.tolist() == [3, 1]
    assert sorted(f.polyphony.tolist()) == [1] * 8 + [2] * 8
    # Bar 1 holds pitch classes C, C, D -> entropy of (2/3, 1/3); bar 2 one note -> 0.
    expected = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    np.testing.assert_allclose(f.pc_entropy_per_bar, [expected, 0.0])


def test_per_bar_entropy_matches_muspy_bar_by_bar():
    rng = np.random.default_rng(0)
    bars = [[(int(s), 1, int(p)) for s, p in zip(range(0, 16, 2), rng.integers(48, 84, 8))]
            for _ in range(4)]
    f = M.distribution_features(song(bars, None))
    for b, rows in enumerate(bars):
        music = muspy.Music(resolution=4, tracks=[muspy.Track(notes=[
            muspy.Note(time=s, pitch=p, duration=d) for s, d, p in rows])])
        assert f.pc_entropy_per_bar[b] == pytest.approx(muspy.pitch_class_entropy(music))


def test_overlapping_area():
    bins = M.HISTOGRAM_BINS["pitch"]
    a = np.array([60, 62, 64, 64])
    assert M.overlapping_area(a, a, bins) == 1.0
    assert M.overlapping_area(a, a[::-1].copy(), bins) == 1.0
    assert M.overlapping_area(a, np.array([70, 71]), bins) == 0.0
    assert M.overlapping_area(np.array([60, 60]), np.array([60, 61]), bins) == 0.5
    assert math.isnan(M.overlapping_area(a, np.zeros(0), bins))
    # Values past the last edge fall into the last bin.
    dur = M.HISTOGRAM_BINS["duration"]
    assert M.overlapping_area(np.array([100]), np.array([64]), dur) == 1.0
    # Continuous features: the right edge (1.0) is inside the last bin.
    unit = M.HISTOGRAM_BINS["groove_consistency"]
    assert M.overlapping_area(np.array([1.0]), np.array([0.99]), unit) == 1.0


# ---------------------------------------------------------------------------- copying
def random_melody(rng, n_bars, pitches=(55, 80), grid=(1, 2, 4)):
    bars = []
    for _ in range(n_bars):
        step, rows = 0, []
        while step < 16:
            d = int(rng.choice(grid))
            rows.append((step, d, int(rng.integers(*pitches))))
            step += d
        bars.append(rows)
    return bars


def transpose(bars, k):
    return [[(s, d, p + k) for s, d, p in rows] for rows in bars]


def test_copied_song_runs_its_whole_length():
    rng = np.random.default_rng(1)
    train = [random_melody(rng, 12) for _ in range(3)]
    copied = transpose(train[1], 5)
    runs = M.longest_copied_runs([song(copied, None)], [song(t, None) for t in train])
    assert runs.tolist() == [12]


def test_copy_runs_break_at_changes():
    rng = np.random.default_rng(2)
    train = random_melody(rng, 10)
    one_bar_changed = [list(b) for b in train]
    one_bar_changed[6] = [(0, 16, 50)]
    two_transpositions = transpose(train[:4], 2) + transpose(train[4:], -3)
    with_gap = train[:3] + [[]] + train[4:]
    unrelated = random_melody(np.random.default_rng(3), 10, grid=(3, 5))
    runs = M.longest_copied_runs(
        [song(b, None) for b in (one_bar_changed, two_transpositions, with_gap, unrelated)],
        [song(train, None)])
    assert runs.tolist() == [6, 6, 6, 0]


def brute_force_runs(gen_bars, train_bars_list):
    """Longest transposition-invariant run by direct comparison (the reference answer):
    runs start and end on bars with onsets; bars without onsets match only each other."""
    def sig(rows):
        if not rows:
            return None, None
        rows = sorted(rows)
        return tuple((s, d, p - rows[0][2]) for s, d, p in rows), rows[0][2]

    g = [sig(b) for b in gen_bars]
    best = 0
    for train in train_bars_list:
        t = [sig(b) for b in train]
        for i in range(len(g)):
            for j in range(len(t)):
                if g[i][0] is None or g[i][0] != t[j][0]:
                    continue
                shift = g[i][1] - t[j][1]
                length = 0
                while i + length < len(g) and j + length < len(t):
                    (gs, gp), (ts, tp) = g[i + length], t[j + length]
                    if gs != ts or (gs is not None and gp - tp != shift):
                        break
                    length += 1
                    if gs is not None:
                        best = max(best, length)
    return best


def test_copy_runs_match_brute_force_on_repetitive_material():
    # A tiny alphabet makes many partial matches, so hashing has to get runs exactly right.
    rng = np.random.default_rng(4)
    vocab = [[(0, 8, 60), (8, 8, 62)], [(0, 8, 60), (8, 8, 64)], [(0, 16, 60)], []]
    def draw(n):
        return [transpose([vocab[int(rng.integers(len(vocab)))]], int(rng.integers(-2, 3)))[0]
                for _ in range(n)]
    train = [draw(30) for _ in range(3)]
    gens = [draw(20) for _ in range(8)]
    runs = M.longest_copied_runs([song(g, None) for g in gens], [song(t, None) for t in train])
    assert runs.tolist() == [brute_force_runs(g, train) for g in gens]
    assert max(runs) >= 2  # the test exercises runs longer than a bar


def test_copied_song_with_rests_and_held_notes_runs_its_whole_length():
    rng = np.random.default_rng(6)
    bars = random_melody(rng, 10)
    bars[3] = []                      # a bar of rest
    bars[6] = [(0, 32, 64)]           # a note held over the next bar ...
    bars[7] = []                      # ... which has no onset
    train = [[[]] * 4 + bars]         # the training song has a 4-bar intro without melody
    runs = M.longest_copied_runs([song(transpose(bars, -7), None)], [song(t, None) for t in train])
    assert runs.tolist() == [10]
    # Trailing bars without onsets do not lengthen a run.
    runs = M.longest_copied_runs([song(bars[:3] + [[]] * 3, None)], [song(t, None) for t in train])
    assert runs.tolist() == [3]


def test_no_copying_without_training_melody():
    rng = np.random.default_rng(5)
    runs = M.longest_copied_runs([song(random_melody(rng, 4), None)], [song([[]] * 4, None)])
    assert runs.tolist() == [0]


# ---------------------------------------------------------------------------- melody
def with_track(score, name, rows):
    """``score`` with one more pitched track ``name`` of (start_step, duration_steps, pitch)."""
    return dataclasses.replace(score, tracks=score.tracks + (Track(name, 0, False, notes(rows)),))


def test_four_half_notes_fill_the_melody():
    s = song([[(0, 8, 60), (8, 8, 62)], [(0, 8, 64), (8, 8, 65)]], None)
    assert M.melody_sounding_share(s) == 1.0
    assert M.melody_rests_per_8_bars(s) == 0.0
    assert M.melody_notes_per_bar(s) == 2.0
    assert M.melody_median_duration(s) == 8.0
    assert M.melody_above_accompaniment(s) == 1.0  # no accompaniment: above


def test_melody_rests_of_a_beat_or_more():
    # Silence on steps 4-8 (a beat: a rest), 14-16 (half a beat: none) and 20-32 (a rest
    # after the last note): 2 rests in 2 bars = 8 per 8 bars.
    s = song([[(0, 4, 60), (8, 4, 62), (12, 2, 64)], [(0, 4, 65)]], None)
    assert M.melody_rests_per_8_bars(s) == 8.0
    assert M.melody_sounding_share(s) == pytest.approx(14 / 32)
    assert M.melody_notes_per_bar(s) == 2.0
    assert M.melody_median_duration(s) == 4.0  # durations 4, 4, 2, 4


def test_melody_line_counts_melodic_sections_only():
    # i1 A2 x1 A1: the intro's and the interlude's notes are not counted.  Melodic bars 1, 2
    # and 4: a rest at the start of bar 1 (4 steps), one from step 8 of bar 2 to the end of
    # the section (8), one after the note of bar 4 (14): 3 rests in 3 bars.
    mel = [[(0, 16, 60)], [(4, 12, 62)], [(0, 8, 64)], [(0, 16, 67)], [(0, 2, 65)]]
    s = song(mel, None, [("i", 1), ("A", 2), ("x", 1), ("A", 1)])
    assert M.melody_sounding_share(s) == pytest.approx((12 + 8 + 2) / 48)
    assert M.melody_rests_per_8_bars(s) == pytest.approx(3 * 8 / 3)
    assert M.melody_notes_per_bar(s) == 1.0
    # The median duration is over the whole song: 16, 12, 8, 16, 2.
    assert M.melody_median_duration(s) == 12.0
    # A rest running over the boundary of two melodic sections counts once.
    s = song([[(0, 8, 60)], [(8, 8, 62)]], None, [("A", 1), ("B", 1)])
    assert M.melody_rests_per_8_bars(s) == 8 / 2


def test_melody_line_undefined_without_melodic_sections():
    s = song([QUARTERS_ON_C] * 2, None, [("i", 1), ("o", 1)])
    assert math.isnan(M.melody_sounding_share(s))
    assert math.isnan(M.melody_rests_per_8_bars(s))
    assert math.isnan(M.melody_notes_per_bar(s))
    assert M.melody_median_duration(s) == 4.0  # the notes are still melody notes
    # A melodic section without melody: all silence, one rest, no notes.
    s = song([[], QUARTERS_ON_C], None, [("A", 1), ("o", 1)])
    assert M.melody_sounding_share(s) == 0.0
    assert M.melody_rests_per_8_bars(s) == 8.0
    assert M.melody_notes_per_bar(s) == 0.0
    assert math.isnan(M.melody_median_duration(song([[]], [[(0, 4, 48)]])))


def test_melody_is_taken_as_one_voice():
    # Two notes start together (the longer one counts) and are cut at the next onset.
    s = song([[(0, 8, 60), (0, 4, 64), (4, 2, 67), (6, 10, 65)]], None)
    assert M.melody_notes_per_bar(s) == 3.0
    assert M.melody_median_duration(s) == 4.0   # durations 4, 2, 10
    assert M.distribution_features(s).melody_duration.tolist() == [4, 2, 10]
    # The register: the highest pitch of each onset (64 over 60), median of 64, 67, 65.
    assert M.distribution_features(s).melody_pitch.tolist() == [64, 67, 65]
    assert M.melody_median_pitch(s) == 65.0
    assert math.isnan(M.melody_median_pitch(song([[]], [[(0, 4, 48)]])))


def test_melody_above_accompaniment():
    # Onset 0: 72 over 62 (above); 4: 60 under the held 62; 8: nothing sounds (above);
    # 12: 50 over 48 (above).
    mel = [[(0, 4, 72), (4, 4, 60), (8, 4, 64), (12, 4, 50)]]
    s = song(mel, [[(0, 8, 62), (12, 4, 48)]])
    assert M.melody_above_accompaniment(s) == 0.75
    # A unison is not above; the Bass track is accompaniment too.
    assert M.melody_above_accompaniment(song(mel, [[(0, 4, 72)]])) == 0.75
    assert M.melody_above_accompaniment(with_track(s, "Bass", [(8, 4, 66)])) == 0.5


# ---------------------------------------------------------------------------- recurrence
def test_identical_segments_four_bars_apart_recur_fully():
    # Segments: bars 0-1 (X Y), 2-3 (silent: not counted), 4-5 (X Y again).
    s = song([X_MEL, Y_MEL, [], [], X_MEL, Y_MEL], None)
    assert M.recurrence_best_similarity(s) == pytest.approx(1.0)
    assert M.recurrence_near_copy_share(s) == 1.0


def test_recurrence_of_partly_similar_segments():
    # Segment 0 = X X; segment 2 = X with Y's pitches, then X: same onsets (cosine 1),
    # pitch-class counts 2a against a + b with a, b disjoint, |a|^2 = 6, |b|^2 = 4:
    # cosine |a| / sqrt(|a|^2 + |b|^2) = sqrt(0.6).  Segment 1 (bars 2-3) has no segment
    # 4 bars away and is left out.
    x_with_y_pitches = [(s, d, p) for (s, d, _), (_, _, p) in zip(X_MEL, Y_MEL)]
    s = song([X_MEL, X_MEL, Y_MEL, Y_MEL, x_with_y_pitches, X_MEL], None)
    assert M.recurrence_best_similarity(s) == pytest.approx(0.5 * (1 + math.sqrt(0.6)))
    assert M.recurrence_near_copy_share(s) == 0.0
    # Neighbouring copies do not count: X X X X has segments 0 and 1 only, 2 bars apart.
    assert math.isnan(M.recurrence_best_similarity(song([X_MEL] * 4, None)))


def test_recurrence_takes_the_best_of_several():
    # Segments 0 (X X), 1 (Y Y), 2 (X X), 3 (Y Y): each has its copy 4 bars away, and
    # segment 0's other candidate (segment 3, 6 bars away) is unrelated.
    s = song([X_MEL, X_MEL, Y_MEL, Y_MEL] * 2, None)
    assert M.recurrence_best_similarity(s) == 1.0
    # X X Y Y Y Y Y Y: the pairs 4 or more bars apart are (0, 2), (0, 3) and (1, 3).
    # Segment 0 finds only Y Y (0), 1 and 3 find each other (1), 2 finds only 0 (0).
    s = song([X_MEL, X_MEL, Y_MEL, Y_MEL, Y_MEL, Y_MEL, Y_MEL, Y_MEL], None)
    assert M.recurrence_best_similarity(s) == pytest.approx(0.5)
    assert M.recurrence_near_copy_share(s) == 0.5


def test_return_note_match():
    # A2 B2 A2 A1 x1 x1: the second A keeps its first bar (4 of 8 notes) and moves the
    # second an octave up; the third A is the first bar again (4 of 4).  Pooled: 8 / 12.
    up = [(s, d, p + 12) for s, d, p in X_MEL]
    mel = [X_MEL, X_MEL, Y_MEL, Y_MEL, X_MEL, up, X_MEL, Y_MEL, X_MEL]
    form = [("A", 2), ("B", 2), ("A", 2), ("A", 1), ("x", 1), ("x", 1)]
    assert M.return_note_match(song(mel, None, form)) == pytest.approx(8 / 12)
    # Shifted by one step, the same pitches do not match.
    late = [(s + 1, d, p) for s, d, p in X_MEL]
    mel = [X_MEL, Y_MEL, late, Y_MEL]
    assert M.return_note_match(song(mel, None, [("A", 1), ("B", 1), ("A", 1), ("B", 1)])) == 0.5
    assert math.isnan(M.return_note_match(song([X_MEL, Y_MEL], None, [("A", 1), ("B", 1)])))
    assert math.isnan(M.return_note_match(song([X_MEL, []], None, [("A", 1), ("A", 1)])))


# ---------------------------------------------------------------------------- form
def form_song(form):
    return song([QUARTERS_ON_C] * sum(n for _, n in form), None, form)


def test_form_same_length_share():
    assert M.form_same_length_share(form_song([("A", 8), ("B", 8), ("A", 4)])) == 0.0
    assert M.form_same_length_share(form_song([("A", 8), ("B", 8), ("A", 8), ("B", 4)])) == 0.5
    # Lower-case labels count too: the intro returns as long as it was.
    assert M.form_same_length_share(form_song([("i", 4), ("A", 8), ("i", 4)])) == 1.0
    assert math.isnan(M.form_same_length_share(form_song([("A", 4), ("B", 4)])))
    assert M.distribution_features(form_song([("A", 8), ("B", 8), ("A", 4)])) \
        .phrase_length.tolist() == [8, 8, 4]


@pytest.mark.parametrize("form, placed", [
    ("i A B o", 1.0), ("i i A o o", 1.0), ("A B", 1.0), ("i i", 1.0),
    ("A i B", 0.0), ("i A i", 0.0), ("A o B", 0.0), ("o A", 0.0),
])
def test_form_intro_outro_placed(form, placed):
    s = form_song([(label, 1) for label in form.split()])
    assert M.form_intro_outro_placed(s) == placed


def test_form_undefined_without_sections_and_song_bars():
    s = song([QUARTERS_ON_C] * 3, None)
    assert math.isnan(M.form_intro_outro_placed(s))
    assert M.song_bars(s) == 3.0
    assert M.song_bars(form_song([("A", 8), ("B", 4)])) == 12.0


# ---------------------------------------------------------------------------- the line
def test_line_intervals_shares_and_spans():
    # Bar 1 (A): C4 D4 D4 C5 -> +2, 0, +10; bar 2 (A): G3 A3 -> +2 within the section,
    # and C5 -> G3 (-17) across the bar line of the same section; bar 3 (B): E4 F4 -> the
    # interval from A3 to E4 crosses a section boundary and does not count; +1.
    mel = [[(0, 4, 60), (4, 4, 62), (8, 4, 62), (12, 4, 72)],
           [(0, 8, 55), (8, 8, 57)],
           [(0, 8, 64), (8, 8, 65)]]
    s = song(mel, None, [("A", 2), ("B", 1)])
    assert M.distribution_features(s).melody_interval.tolist() == [2, 0, 10, -17, 2, 1]
    assert M.melody_interval_over_octave(s) == pytest.approx(1 / 6)
    assert M.melody_interval_over_fifth(s) == pytest.approx(2 / 6)
    assert M.melody_interval_step(s) == pytest.approx(4 / 6)
    assert M.melody_repeated_notes(s) == pytest.approx(1 / 6)
    # one 8-bar window (bars 0-2): 72 - 55 = 17; phrases: A spans 17, B 1 -> median 9
    assert M.melody_span_8_bars(s) == 17.0
    assert M.melody_span_phrase(s) == 9.0


def test_line_spans_per_window_and_without_sections():
    # 16 bars, the first 8 between 60 and 64, the next 8 between 67 and 79: windows 4, 12
    mel = [[(0, 8, 60), (8, 8, 64)]] * 8 + [[(0, 8, 67), (8, 8, 79)]] * 8
    s = song(mel, None)
    assert M.melody_span_8_bars(s) == 8.0          # median of 4 and 12
    assert M.melody_span_phrase(s) == 19.0         # no sections: the whole song
    assert math.isnan(M.melody_interval_step(song([[(0, 16, 60)]], None)))


def test_form_shape_figures():
    s = form_song([("i", 1), ("A", 2), ("B", 1), ("B", 1), ("B", 1), ("x", 1), ("A", 2), ("X", 1),
                   ("o", 1)])
    assert M.form_longest_label_run(s) == 3.0
    assert M.form_ends_without_melody(s) == 1.0
    assert M.form_melodic_labels(s) == 3.0          # A, B, X
    assert M.form_ends_without_melody(form_song([("A", 2), ("B", 2)])) == 0.0
    assert M.form_longest_label_run(form_song([("A", 2), ("B", 2)])) == 1.0
    from composer.metrics.sets import label_code
    assert M.distribution_features(form_song([("i", 1), ("A", 1), ("A", 1)])).label_bigram.tolist() == [
        label_code("i") * 64 + label_code("A"), label_code("A") * 64 + label_code("A")]
    assert math.isnan(M.form_longest_label_run(song([QUARTERS_ON_C], None)))


def test_key_changes_count_and_moves():
    from composer.score import KeySignature
    base = form_song([("A", 2), ("B", 2)])
    keys = (KeySignature(0, 0, "major"), KeySignature(16 * STEP, 0, "major"),    # a repeat: no change
            KeySignature(32 * STEP, 2, "major"), KeySignature(48 * STEP, 11, "minor"))
    s = dataclasses.replace(base, key_signatures=keys).validate()
    assert M.key_changes(s) == 2.0
    # C -> D major: up 2, major -> major; D major -> B minor: up 9, major -> minor
    assert M.distribution_features(s).key_change.tolist() == [2 * 4 + 0, 9 * 4 + 1]
    assert M.key_changes(base) == 0.0


# ---------------------------------------------------------------------------- accompaniment
def test_groove_consistency_of_the_accompaniment_alone():
    # Accompaniment on the beats in 4 bars (muspy adds an empty 5th): 1 - 4 / 64; the
    # melody's off-beat onsets change the all-track figure but not this one.
    offbeats = [(2, 2, 72), (6, 2, 72), (10, 2, 72), (14, 2, 72)]
    s = song([offbeats] * 4, [QUARTERS_ON_C] * 4)
    assert M.groove_consistency_accompaniment(s) == 1 - 4 / 64
    assert M.groove_consistency(s) == 1 - 8 / 64
    assert math.isnan(M.groove_consistency_accompaniment(song([QUARTERS_ON_C] * 4, None)))


def test_accompaniment_span_and_two_hands():
    # Steps 0-4: 48 55 60 | 67 (playable); 4-8: 36 | 50 64 79 (no split fits); 8-16:
    # 60 72 (one octave: playable); bar 2 steps 4-8: 60.  The Bass track (24, held for
    # both bars) is left out of both figures: span 79 - 36, playable 16 of 20 sounding steps.
    piano = [[(0, 4, 48), (0, 4, 55), (0, 4, 60), (0, 4, 67),
              (4, 4, 36), (4, 4, 50), (4, 4, 64), (4, 4, 79), (8, 8, 60), (8, 8, 72)],
             [(4, 4, 60)]]
    s = with_track(song([[], []], piano), "Bass", [(0, 32, 24)])
    assert M.accompaniment_pitch_span(s) == 43.0
    assert M.accompaniment_playable_share(s) == pytest.approx(16 / 20)
    # Named otherwise, the low track is played by the hands: span 79 - 24; with 24 held,
    # steps 0-8 no longer split (24 | 48..67 and 24 36 | 50..79), steps 8-16 do (24 | 60 72),
    # and bar 2 has 24 alone or 24 | 60: 24 of 32 sounding steps.
    s = with_track(song([[], []], piano), "Strings", [(0, 32, 24)])
    assert M.accompaniment_pitch_span(s) == 55.0
    assert M.accompaniment_playable_share(s) == 0.75


@pytest.mark.parametrize("chord, playable", [
    ((40, 52, 53, 65), 1.0),   # 40-52 and 53-65: an octave each
    ((40, 52, 54, 67), 0.0),   # every split leaves one side wider than an octave
    ((40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52), 1.0),  # one hand's octave
    ((30, 60, 90), 0.0),
])
def test_two_hand_split_at_the_octave(chord, playable):
    s = song([[]], [[(0, 4, p) for p in chord]])
    assert M.accompaniment_playable_share(s) == playable


def test_accompaniment_undefined_without_it():
    s = with_track(song([QUARTERS_ON_C], None), "bass", [(0, 16, 36)])
    assert M.song_view(s).hands.shape == (0, 3)
    assert math.isnan(M.accompaniment_pitch_span(s))
    assert math.isnan(M.accompaniment_playable_share(s))


def test_new_distribution_bins():
    bins = M.HISTOGRAM_BINS["melody_duration"]
    assert M.overlapping_area(np.array([5]), np.array([6]), bins) == 1.0
    assert M.overlapping_area(np.array([4]), np.array([5]), bins) == 0.0
    assert M.overlapping_area(np.array([17]), np.array([40]), bins) == 1.0
    assert M.overlapping_area(np.array([16]), np.array([17]), bins) == 0.0
    assert set(M.DISTRIBUTIONS) == set(f.name for f in dataclasses.fields(M.DistributionFeatures))


def test_song_metrics_agree_with_single_functions_on_a_full_song():
    mel, acc = phrases((X_MEL, X_ACC), (Y_MEL, Y_ACC), (X_MEL, X_ACC), (Y_MEL, Y_ACC))
    s = song(mel, acc, [("i", 2), ("A", 4), ("B", 2), ("A", 4), ("b", 2), ("o", 2)],
             chords=c_major_chords(16))
    s = with_track(s, "Bass", [(16 * b, 16, 36) for b in range(16)])
    all_at_once = M.song_metrics(s)
    for name in M.SONG_METRICS:
        np.testing.assert_equal(all_at_once[name], getattr(M, name)(s))
        assert not math.isnan(all_at_once[name]), name
