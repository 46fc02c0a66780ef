"""The arrangement: hand-built step notes in, exact notes out."""
from __future__ import annotations

import numpy as np

from composer.arrange import (HUMANIZE_MAX_TICKS, fit_melody_range, humanize, is_melodic,
                              silence_sections, split_hands, sustain_pedal, tighten_groove)
from composer.score import ChordSymbol, ControlChange, Note, Section, Track

SPB = 16  # steps per 4/4 bar


def notes(*rows):
    return np.asarray(rows, dtype=np.int32).reshape(-1, 4)


def test_is_melodic():
    assert is_melodic("A") and is_melodic("B") and is_melodic("C")
    assert not is_melodic("i") and not is_melodic("o") and not is_melodic("x")


def test_a_phrase_moves_by_octaves_and_keeps_its_intervals():
    sections = (Section(0, 1, "A"), Section(1, 1, "B"))
    low_phrase = notes((0, 4, 40, 80), (4, 4, 43, 80), (8, 4, 47, 80), (12, 4, 52, 80))
    high_phrase = notes((16, 4, 100, 80), (20, 4, 98, 80))
    got = fit_melody_range(np.concatenate([low_phrase, high_phrase]), sections, SPB)
    assert got[:, 2].tolist() == [52, 55, 59, 64, 88, 86]        # +12 and -12, intervals kept
    assert got[:, [0, 1, 3]].tolist() == np.concatenate([low_phrase, high_phrase])[:, [0, 1, 3]].tolist()
    # Already inside the clarinet's D3..C7: untouched.
    inside = notes((0, 4, 50, 80), (4, 4, 96, 80))
    assert fit_melody_range(inside, sections[:1], SPB).tolist() == inside.tolist()


def test_tighten_groove_moves_strays_onto_the_sections_pattern():
    # Five bars of quarter notes; bar 4 plays its second beat a 16th late (step 5, which one
    # bar in five uses, beside step 4, which four of five use).
    a = (Section(0, 5, "A"),)
    rows = [(b * SPB + p, 4, 60, 70) for b in range(5) for p in (0, 4, 8, 12) if (b, p) != (4, 4)]
    rows.append((4 * SPB + 5, 3, 64, 70))
    got = tighten_groove(notes(*rows), a, SPB)
    assert got[got[:, 2] == 64].tolist() == [[4 * SPB + 4, 4, 64, 70]]    # release kept at 72
    assert len(got) == 20
    # One bar in three is a pattern, not a stray (GROOVE_STRAY = 0.3): the same onset stays.
    three = [r for r in rows if r[0] < 2 * SPB] + [(2 * SPB + p, 4, 60, 70) for p in (0, 8, 12)]
    three.append((2 * SPB + 5, 3, 64, 70))
    assert [2 * SPB + 5, 3, 64, 70] in tighten_groove(notes(*three), (Section(0, 3, "A"),), SPB).tolist()
    # ... and one in four is a stray at that threshold, not at 0.25
    four = [r for r in rows if r[0] < 3 * SPB] + [(3 * SPB + p, 4, 60, 70) for p in (0, 8, 12)]
    four.append((3 * SPB + 5, 3, 64, 70))
    assert [3 * SPB + 4, 4, 64, 70] in tighten_groove(notes(*four), (Section(0, 4, "A"),), SPB).tolist()
    assert [3 * SPB + 5, 3, 64, 70] in tighten_groove(notes(*four), (Section(0, 4, "A"),), SPB,
                                                      stray=0.25).tolist()
    # An uncommon onset with no common neighbour stays where it is (step 14 beside 13 and 15).
    odd = notes(*(rows + [(2 * SPB + 14, 1, 72, 70)]))
    assert [2 * SPB + 14, 1, 72, 70] in tighten_groove(odd, a, SPB).tolist()
    # Each section has its own groove: the same stray in a one-bar section stays.
    alone = notes((0, 4, 60, 70), (5, 3, 64, 70))
    assert tighten_groove(alone, (Section(0, 1, "A"),), SPB).tolist() == alone.tolist()


def test_tighten_groove_merges_what_moves_onto_one_pitch():
    a = (Section(0, 5, "A"),)
    # Bars 0-4 hit steps 0 and 8 with C4; bar 4 also has a C4 at step 9 (a stray) that moves
    # onto 8, where bar 4 already plays a shorter C4: the longer note stays, once.
    rows = [(b * SPB + p, 2, 60, 70) for b in range(5) for p in (0, 8)]
    rows.append((4 * SPB + 9, 6, 60, 70))
    got = tighten_groove(notes(*rows), a, SPB)
    assert got[(got[:, 0] == 4 * SPB + 8) & (got[:, 2] == 60)].tolist() == [[4 * SPB + 8, 7, 60, 70]]
    assert len(got) == 10
    # An E4 held into the moved note's new onset is cut there.
    rows = [(b * SPB + p, 2, 60, 70) for b in range(5) for p in (0, 8)]
    rows += [(4 * SPB + 2, 8, 64, 70), (4 * SPB + 9, 4, 64, 70)]
    got = tighten_groove(notes(*rows), a, SPB)
    assert got[got[:, 2] == 64].tolist() == [[4 * SPB + 2, 6, 64, 70], [4 * SPB + 8, 5, 64, 70]]


def test_a_phrase_wider_than_the_range_folds_its_outliers():
    wide = notes((0, 2, 45, 80), (2, 2, 70, 80), (4, 2, 98, 80))     # 53 semitones
    got = fit_melody_range(wide, (Section(0, 1, "A"),), SPB)
    # +12 and -12 each leave one outside; +12 puts the middle nearer the range's middle,
    # and its 110 is folded two octaves down.
    assert got[:, 2].tolist() == [57, 82, 86]
    assert all(50 <= p <= 96 for p in got[:, 2])


def test_no_melody_in_intros_outros_and_interludes():
    sections = (Section(0, 1, "i"), Section(1, 1, "A"), Section(2, 1, "x"))
    mel = notes((0, 2, 70, 80), (14, 6, 72, 80), (18, 20, 74, 80), (33, 2, 76, 80))
    got = silence_sections(mel, sections, SPB)
    # The intro note is gone; the note running from the intro into A stays (it starts in
    # the intro: gone too); the A note running into the interlude is cut at its start.
    assert got.tolist() == [[18, 14, 74, 80]]


def test_hands_split_by_grip_and_keep_every_note():
    piano = notes((0, 4, 40, 60), (0, 4, 47, 60), (0, 4, 52, 60),        # low triad + high triad
                  (0, 4, 64, 60), (0, 4, 67, 60), (0, 4, 72, 60),
                  # Lines through the middle, where either staff would do (A3 and D4):
                  # each stays in the hand it is in.
                  (4, 1, 48, 60), (5, 1, 52, 60), (6, 1, 55, 60), (7, 1, 57, 60),
                  (8, 1, 76, 60), (9, 1, 67, 60), (10, 1, 62, 60),
                  (12, 4, 36, 60), (12, 4, 84, 60))
    rh, lh = split_hands(piano)
    assert lh[:, [0, 2]].tolist() == [[0, 40], [0, 47], [0, 52], [4, 48], [5, 52], [6, 55], [7, 57], [12, 36]]
    assert rh[:, [0, 2]].tolist() == [[0, 64], [0, 67], [0, 72], [8, 76], [9, 67], [10, 62], [12, 84]]
    empty = split_hands(notes())
    assert empty[0].shape == (0, 4) and empty[1].shape == (0, 4)


def test_pedal_through_each_chord_where_the_piano_plays():
    chords = (ChordSymbol(0, 1920, 0, "maj", 0), ChordSymbol(1920, 1920, 7, "maj", 7),
              ChordSymbol(3840, 1920, 9, "min", 9))
    piano = (Note(0, 960, 60), Note(1920, 480, 62))          # silent under the third chord
    assert sustain_pedal(chords, piano, 480) == (
        ControlChange(60, 64, 127), ControlChange(1920, 64, 0),
        ControlChange(1980, 64, 127), ControlChange(3840, 64, 0))


def test_humanize_is_seeded_bounded_and_keeps_pitches_apart():
    chord = tuple(Note(960, 480, p, 80) for p in (60, 64, 67))
    line = tuple(Note(i * 120, 120, 72, 90) for i in range(16))       # legato repeats
    tracks = (Track("Piano", 0, notes=chord + line, controls=(ControlChange(0, 64, 127),)),
              Track("Empty", 5))
    a = humanize(tracks, np.random.default_rng(1))
    assert a == humanize(tracks, np.random.default_rng(1))
    assert a != humanize(tracks, np.random.default_rng(2))
    assert a[1] == tracks[1] and a[0].controls == tracks[0].controls
    got = {(n.pitch, i): n for i, n in enumerate(sorted(a[0].notes, key=lambda n: (n.pitch, n.start_tick)))}
    moved = sorted(a[0].notes, key=lambda n: (n.pitch, n.start_tick))
    orig = sorted(tracks[0].notes, key=lambda n: (n.pitch, n.start_tick))
    assert all(abs(x.start_tick - y.start_tick) <= HUMANIZE_MAX_TICKS for x, y in zip(moved, orig))
    assert all(x.duration_ticks >= y.duration_ticks // 2 for x, y in zip(moved, orig))
    # The three notes of the chord still start together.
    assert len({n.start_tick for n in moved if n.pitch in (60, 64, 67)}) == 1
    # No two notes of one pitch overlap.
    reps = [n for n in moved if n.pitch == 72]
    assert all(x.end_tick <= y.start_tick for x, y in zip(reps, reps[1:]))
    assert got and all(1 <= n.velocity <= 127 for n in moved)
