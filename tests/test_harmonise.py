"""Your melody arranged (composer/harmonise.py, `composer arrange`): the fit that chooses the
chords, the choice per phrase, what is read from a file, and the melody kept note for note."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from composer.cli import main
from composer.form import FormPlan, Phrase, parse_form
from composer.harmonise import (MODULATION_COST, ArrangeError, choose_chords, chord_fit, file_meter, form_of,
                                melody_form, melody_steps, phrase_keys, read_lead, step_weights)
from composer.io.midi import read_midi, write_midi
from composer.levels.chords import sample_chord_candidates
from composer.options import Meter
from composer.representation.harmony import ChordGrid
from composer.score import KeySignature, Note, Score, TempoChange, TimeSignature, Track
from test_pipeline import tiny_composer

C, AM, G = (0, 0, 0), (9, 1, 9), (7, 0, 7)   # root, quality index (0 maj, 1 min), bass


def grid(*bars: tuple[int, int, int]) -> ChordGrid:
    """One chord per 4/4 bar."""
    arr = np.array([chord for chord in bars for _ in range(4)], dtype=np.int8)
    return ChordGrid(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(), 4)


def test_strong_beats_are_the_first_and_third_of_four_four():
    w = step_weights(1, Meter(4, 4))
    assert w.tolist() == [2.0] * 4 + [1.0] * 4 + [2.0] * 4 + [1.0] * 4
    assert step_weights(1, Meter(3, 4)).tolist() == [2.0] * 4 + [1.0] * 8
    assert step_weights(1, Meter(6, 8)).tolist() == [2.0] * 4 + [1.0] * 2 + [2.0] * 4 + [1.0] * 2


def test_chord_fit_counts_melody_time_on_chord_tones():
    # bar 1 over C: E for a half note (tone, strong beat 1), F for a half note (not, beat 3)
    # bar 2 over Am: A a whole note (tone); bar 3: a rest
    steps = np.array([[0, 8, 64, 80], [8, 8, 65, 80], [16, 16, 69, 80]])
    fit, weight = chord_fit(grid(C, AM, C), steps, Meter(4, 4))
    assert weight.tolist() == [24.0, 24.0, 0.0]
    assert fit.tolist() == [12.0, 24.0, 0.0]       # E: 4 strong steps * 2 + 4 weak
    fit, _ = chord_fit(grid(AM, C, C), steps, Meter(4, 4))
    assert fit.tolist() == [12.0, 0.0, 0.0]        # E is a tone of Am too, F of neither, A not of C


def test_each_phrase_keeps_its_best_fitting_candidate():
    steps = np.array([[0, 16, 60, 80], [16, 16, 67, 80], [32, 16, 69, 80], [48, 16, 64, 80]])  # C G A E
    plan = FormPlan(parse_form("A2B2"), (0,) * 4, (0,) * 4)
    first, second = grid(C, G, C, C), grid(AM, AM, AM, AM)
    chosen, which = choose_chords([first, second], steps, plan, Meter(4, 4))
    assert which.tolist() == [0, 1]                # C G fits phrase A; Am Am fits A E
    assert chosen.root.tolist() == [0] * 4 + [7] * 4 + [9] * 8
    # a tie goes to the earlier candidate
    assert choose_chords([second, second], steps, plan, Meter(4, 4))[1].tolist() == [0, 0]


def test_chord_candidates_are_seeded_and_differ():
    composer = tiny_composer()
    plan = FormPlan(parse_form("A4"), (0,) * 4, (0,) * 4)
    draw = [sample_chord_candidates(composer.chord_level, plan, 4, k=3, generator=torch.Generator().manual_seed(1),
                                    steps=2) for _ in range(2)]
    assert all(a.equals(b) for a, b in zip(*draw)) and len(draw[0]) == 3
    assert not draw[0][0].equals(draw[0][1])


def test_a_form_from_the_melody_intro_returns_and_outro():
    phrase = [[s * 4, 4, 60 + s % 5, 80] for s in range(32)]                 # 8 bars of quarter notes
    other = [[s * 4, 4, 67 - s % 3, 80] for s in range(16)]                  # 4 bars of something else
    steps = np.array([[r[0] + 2 * 16] + r[1:] for r in phrase]               # bars 3-10
                     + [[r[0] + 10 * 16] + r[1:] for r in phrase]            # bars 11-18: it returns
                     + [[r[0] + 18 * 16] + r[1:] for r in other])            # bars 19-22
    assert melody_form(steps, 24, 16) == [Phrase("i", 2), Phrase("A", 8), Phrase("A", 8), Phrase("B", 4),
                                          Phrase("o", 2)]
    # a pickup on the last beat of bar 2 leads into bar 3: the phrases stay on the bars
    pickup = np.vstack([[[16 + 12, 4, 59, 80]], steps])
    assert melody_form(pickup, 24, 16)[:2] == [Phrase("i", 2), Phrase("A", 8)]
    # 11 bars of melody: 8, then 3 too few for a phrase join it
    assert melody_form(steps[:44], 13, 16) == [Phrase("i", 2), Phrase("A", 11)]


def melody_file(key=(KeySignature(0, 0, "major"),), resolution=960, meter=(4, 4)) -> Score:
    """An E major line with a triplet (off the 16th grid) at a file's own resolution, a tempo
    change, and a piano track under it."""
    q = resolution
    notes = [Note(0, q, 64, 90), Note(q, q, 68, 70), Note(2 * q, q, 71, 80), Note(3 * q, q, 76, 100)]
    notes += [Note(4 * q + i * q // 3, q // 3, p, 60) for i, p in enumerate((75, 73, 71))]   # a triplet
    notes += [Note(5 * q, 3 * q, 64, 90), Note(8 * q, 2 * q, 66, 80), Note(10 * q, 2 * q, 63, 80),
              Note(12 * q, 4 * q, 64, 85)]
    piano = [Note(b * 4 * q, 4 * q, p, 50) for b in range(4) for p in (40, 47, 52)]
    return Score(resolution=resolution, tempos=(TempoChange.from_bpm(0, 90), TempoChange.from_bpm(8 * q, 100)),
                 time_signatures=(TimeSignature(0, *meter),), key_signatures=key,
                 tracks=(Track("Lead vox", 54, False, tuple(notes)), Track("Keys", 0, False, tuple(piano))))


def test_reading_a_file_keeps_the_melody_and_finds_its_key():
    score = melody_file()
    lead = read_lead(score)
    assert lead.melody.name == "Lead vox" and lead.left_out == ("Keys",)
    # at 480 ticks per quarter, every note where it was (960 -> 480: halved exactly)
    assert [(n.start_tick, n.duration_ticks, n.pitch, n.velocity) for n in lead.melody.notes] == [
        (n.start_tick // 2, n.duration_ticks // 2, n.pitch, n.velocity) for n in score.tracks[0].notes]
    assert lead.off_grid == 3                     # the triplet; on the grid at its nearest 16ths
    assert lead.steps[4:7, :2].tolist() == [[16, 1], [17, 2], [19, 1]]
    # the file says C major (a default), the notes are in E major: the estimate wins
    assert lead.key_from == "melody" and set(lead.plan.key_tonic) == {4} and set(lead.plan.key_mode) == {0}
    assert [t.bpm for t in lead.tempos] == pytest.approx([90, 100])
    assert lead.plan.n_bars == 4 and lead.form_from == "melody"
    # a signature the notes agree with is the file's word; options override it all
    assert read_lead(melody_file((KeySignature(0, 1, "minor"),))).key_from == "file"
    given = read_lead(score, form="A4B4", key="B major", tempo=70, meter="2/4")    # 2/4: 8 bars
    assert given.plan.form == "A4B4" and set(given.plan.key_tonic) == {11} and given.form_from == "option"
    assert [t.bpm for t in given.tempos] == pytest.approx([70]) and given.meter == Meter(2, 4)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.replace(tracks=(s.tracks[1],)), "no melody found"),
    (lambda s: s.replace(time_signatures=(TimeSignature(0, 5, 4),)), "the file is in 5/4"),
    (lambda s: s.replace(time_signatures=(TimeSignature(0, 4, 4), TimeSignature(3840, 3, 4))),
     "the file changes meter (to 3/4 at bar 2)"),
])
def test_a_file_that_cannot_be_arranged_is_one_line(change, message):
    with pytest.raises(ArrangeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_lead(change(melody_file()))


def test_the_song_keeps_the_melody_note_for_note():
    composer = tiny_composer()
    score = melody_file(resolution=480)
    song = composer.arrange(score, seed=4, steps=2, candidates=3)
    mel = song.track("Melody")
    assert mel.notes == score.tracks[0].notes and mel.program == 54
    assert [t.name for t in song.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass"]
    assert song.track("Piano RH").notes and song.chords and [t.bpm for t in song.tempos] == pytest.approx([90, 100])
    assert str(song.key_signatures[0]) == "E major"
    assert composer.arrange(score, seed=4, steps=2, candidates=3) == song      # seeded
    # humanized, the band moves and the melody does not
    human = composer.arrange(score, seed=4, steps=2, candidates=3, humanize=True)
    assert human.track("Melody").notes == mel.notes and human.track("Piano RH") != song.track("Piano RH")


def test_arrange_on_the_command_line(tmp_path, capsys):
    from reliability_fixtures import save_tiny_models

    models = save_tiny_models(tmp_path / "models")
    src = tmp_path / "melody.mid"
    write_midi(melody_file(), src)
    out = tmp_path / "song.mid"
    assert main(["arrange", str(src), "--models", str(models), "--seed", "3", "--steps", "2",
                 "--candidates", "2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "form A4 (4 bars, from the melody), key E major (estimated from the melody)" in text
    assert "melody: track 'Lead vox', 11 notes kept exactly (3 off the 16th grid" in text
    assert "left out: 'Keys'" in text and "of the melody on chord tones" in text
    song = read_midi(out)
    assert [(n.start_tick, n.duration_ticks, n.pitch) for n in song.track("Melody").notes] == [
        (n.start_tick // 2, n.duration_ticks // 2, n.pitch) for n in melody_file().tracks[0].notes]
    again = tmp_path / "again.mid"
    assert main(["arrange", str(src), "--models", str(models), "--seed", "3", "--steps", "2",
                 "--candidates", "2", "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
    capsys.readouterr()
    drums_only = tmp_path / "drums.mid"
    write_midi(Score(tracks=(Track("Drums", 0, True, (Note(0, 120, 36),)),)), drums_only)
    for args, message in [([str(drums_only)], "no melody found"),
                          ([str(src), "--form", "A2"], "the form 'A2' has 2 bars but the melody lasts 4"),
                          ([str(src), "--candidates", "0"], "--candidates must be 1 to 32"),
                          ([str(tmp_path / "none.mid")], "no such file")]:
        assert main(["arrange", *args, "--models", str(models), "-o", str(tmp_path / "x.mid")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.mid").exists()


def test_arrange_reads_the_melody_once(tmp_path, monkeypatch):
    """composer arrange reads the file's melody (harmonise.read_lead) to check it before loading
    the models and hands it to Composer.arrange, which does not read it again."""
    import composer.commands.arrange  # noqa: F401 - the command's lazy imports read harmonise's names
    from composer import harmonise
    from reliability_fixtures import save_tiny_models

    models = save_tiny_models(tmp_path / "models")
    src = tmp_path / "melody.mid"
    write_midi(melody_file(), src)
    reads = []
    real = harmonise.read_lead
    monkeypatch.setattr(harmonise, "read_lead", lambda *args, **kwargs: reads.append(1) or real(*args, **kwargs))
    assert main(["arrange", str(src), "--models", str(models), "--seed", "3", "--steps", "2", "--candidates", "2",
                 "-o", str(tmp_path / "song.mid")]) == 0
    assert len(reads) == 1


def test_arrange_parses_the_meter_once(monkeypatch):
    """Composer.arrange reads the meter once (harmonise.file_meter, the file's or the option)
    and hands the parsed Meter down to the chord fit of every candidate (issue 24)."""
    import composer.options as options
    from composer import harmonise

    composer = tiny_composer()
    calls = []
    real = options.parse_meter

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(options, "parse_meter", counted)
    monkeypatch.setattr(harmonise, "parse_meter", counted)     # harmonise's own name for it
    for meter, parsed in ((None, Meter(4, 4)), (" 2/4", Meter(2, 4))):
        calls.clear()
        song = composer.arrange(melody_file(), meter=meter, seed=3, steps=2, candidates=3)
        ts = song.time_signatures[0]
        assert len(calls) == 1 and (ts.numerator, ts.denominator) == (parsed.numerator, parsed.denominator)


def test_a_file_of_chords_and_no_melody_gets_a_melody_over_them(tmp_path, capsys):
    from composer.chart import file_chords
    from composer.score import ChordSymbol
    from reliability_fixtures import save_tiny_models

    R = 960   # a file's own resolution; a chord starting inside a beat sounds from the next beat
    names = [(9, "min", 9), (5, "maj", 5), (0, "maj", 0), (7, "7", 11)]
    chords = tuple(ChordSymbol(b * 4 * R + (R // 2 if b == 3 else 0), 4 * R - (R // 2 if b == 3 else 0), *names[b])
                   for b in range(4))
    score = Score(resolution=R, tempos=(TempoChange.from_bpm(0, 84),), chords=chords, tracks=())
    grid, meter, tempo = file_chords(score)
    assert meter == Meter(4, 4) and tempo == pytest.approx(84) and grid.n_bars == 4
    assert grid.root.tolist() == [9] * 4 + [5] * 4 + [0] * 4 + [-1] + [7] * 3
    src = tmp_path / "chords.mid"
    write_midi(score, src)
    models = save_tiny_models(tmp_path / "models")
    out = tmp_path / "song.mid"
    assert main(["arrange", str(src), "--models", str(models), "--seed", "1", "--steps", "2", "-o", str(out)]) == 0
    assert "a melody and the rest written over its 4 chords, kept" in capsys.readouterr().out
    song = read_midi(out)
    assert [(c.start_tick // song.resolution, c.root, c.quality) for c in song.chords] == [
        (0, 9, "min"), (4, 5, "maj"), (8, 0, "maj"), (13, 7, "7")]
    assert [t.name for t in song.tracks][:2] == ["Melody", "Piano RH"] and song.tempos[0].bpm == pytest.approx(84)


def test_of_meters_at_one_tick_the_last_holds(tmp_path):
    # POP909 files carry 1/4 and 4/4 at tick 0 (080.mid): the file is in 4/4, not changing meter
    both = melody_file().replace(time_signatures=(TimeSignature(0, 1, 4), TimeSignature(0, 4, 4)))
    assert file_meter(both) == Meter(4, 4)
    lead = read_lead(both)
    assert lead.meter == Meter(4, 4) and lead.plan.n_bars == 4
    # read back from a file as `composer arrange` reads it
    write_midi(both, tmp_path / "two.mid")
    assert file_meter(read_midi(tmp_path / "two.mid")) == Meter(4, 4)
    # the same meter again later is no change; a real change after the pair still is one
    again = both.replace(time_signatures=both.time_signatures + (TimeSignature(3840, 4, 4),))
    assert file_meter(again) == Meter(4, 4)
    with pytest.raises(ArrangeError, match=r"changes meter \(to 3/4 at bar 2\)"):
        file_meter(both.replace(time_signatures=both.time_signatures + (TimeSignature(3840, 3, 4),)))


def test_a_return_after_a_phrase_of_ten_bars_is_found_though_played_a_16th_late():
    # A fixed 8-bar grid would cut bars 16-23 across the 10-bar phrase and the return (A8 B8 C10);
    # the phrases follow the repeat instead, and the late return agrees within a 16th.
    verse = [[s * 2, 2, 60 + (5 * s * s + 3 * s) % 12, 80] for s in range(64)]        # 8 bars of 8ths
    bridge = [[64 * 2 + s * 2, 2, 62 + (7 * s * s + 1) % 11, 80] for s in range(80)]  # 10 bars
    # bars 19-26: every note a 16th late (on the exact 16ths only half agree), the last cut short
    late = [[18 * 16 + s + 1, 1 if s == 126 else d, p, v] for s, d, p, v in verse]
    form = melody_form(np.array(verse + bridge + late), 27, 16)
    assert form == [Phrase("A", 8), Phrase("B", 10), Phrase("A", 8), Phrase("o", 1)]


def test_a_few_bars_before_a_return_join_the_phrase_before_them():
    # chords per beat: X Y X, two bars of something else, Y again (a fixed grid: A8B8A8C10)
    x, y, z = [0, 5, 7, 0, 9, 2, 7, 0], [4, 9, 2, 7, 11, 4, 9, 5], [10, 3]
    chords = np.repeat(x + y + x + z + y, 4)
    assert form_of(chords, 4) == [Phrase("A", 8), Phrase("B", 8), Phrase("A", 10), Phrase("B", 8)]


# Two 8-bar tunes in C major, a quarter note a beat.
TUNE = [60, 64, 67, 64, 65, 69, 67, 64, 62, 65, 64, 62, 60, 64, 67, 72,
        71, 67, 69, 65, 64, 62, 60, 64, 62, 67, 71, 74, 72, 67, 64, 60]
OTHER = [64, 65, 67, 69, 67, 65, 64, 62, 60, 62, 64, 60, 69, 67, 65, 64,
         62, 64, 65, 67, 69, 71, 72, 67, 65, 64, 62, 59, 60, 60, 64, 60]


def quarters(*phrases: list[int]) -> np.ndarray:
    pitches = [p for phrase in phrases for p in phrase]
    return np.array([[4 * i, 4, p, 80] for i, p in enumerate(pitches)])


def test_a_last_phrase_a_tone_up_gets_its_own_key():
    steps = quarters(TUNE, OTHER, TUNE, [p + 2 for p in TUNE])        # the last chorus in D
    tonic, mode = phrase_keys(steps, parse_form("A8B8A8C8"), 16, (0, 0))
    assert tonic == (0,) * 24 + (2,) * 8 and mode == (0,) * 32
    # an intro and an outro without melody: the intro in the song's key, the outro in the last one's
    tonic, _ = phrase_keys(np.array([[s + 32, d, p, v] for s, d, p, v in steps]), parse_form("i2A8B8A8C8o2"),
                           16, (0, 0))
    assert tonic == (0,) * 26 + (2,) * 10
    # a change costs MODULATION_COST: at a cost above the run's gain (8 bars * 0.86) it stays in C
    assert MODULATION_COST == 4.0
    assert set(phrase_keys(steps, parse_form("A8B8A8C8"), 16, (0, 0), cost=8.0)[0]) == {0}
    # read from a file with no key signature (phrases read from the melody too): the song's key
    # is C, D for the last 8 bars; a key given keeps one key; the melody is not transposed
    score = Score(tracks=(Track("Melody", 0, False, tuple(Note(s * 120, d * 120, p, v) for s, d, p, v in steps)),),
                  time_signatures=(TimeSignature(0, 4, 4),))
    lead = read_lead(score)
    assert lead.key_from == "melody" and lead.plan.key_tonic == (0,) * 24 + (2,) * 8
    assert lead.plan.phrase_starts()[-1] == 24 and lead.plan.key_mode == (0,) * 32
    assert [n.pitch for n in lead.melody.notes] == steps[:, 2].tolist()
    assert set(read_lead(score, key="C major").plan.key_tonic) == {0}
    # several key signatures in the file are taken as written
    written = read_lead(score.replace(key_signatures=(KeySignature(0, 0, "major"), KeySignature(8 * 1920, 7, "major"))))
    assert written.key_from == "file" and written.plan.key_tonic == (0,) * 8 + (7,) * 24


def test_a_melody_with_a_few_borrowed_notes_stays_in_one_key():
    borrowed = list(TUNE)
    borrowed[5], borrowed[13], borrowed[21] = 70, 68, 66        # Bb, Ab, F#
    other = list(OTHER)
    other[3], other[9] = 70, 63                                  # Bb, Eb
    steps = quarters(TUNE, other, borrowed, OTHER)
    assert phrase_keys(steps, parse_form("A8B8A8B8"), 16, (0, 0)) == ((0,) * 32, (0,) * 32)
    # a short phrase of 2 bars wholly in another key is not a modulation either
    steps = quarters(TUNE, OTHER, [p + 2 for p in TUNE[:8]], TUNE)
    assert set(phrase_keys(steps, parse_form("A8B8C2A8"), 16, (0, 0))[0]) == {0}


def test_an_arranged_song_changes_key_where_the_melody_does():
    composer = tiny_composer()
    steps = quarters(TUNE, OTHER, TUNE, [p + 2 for p in TUNE])
    score = Score(tracks=(Track("Melody", 0, False, tuple(Note(s * 120, d * 120, p, v) for s, d, p, v in steps)),),
                  time_signatures=(TimeSignature(0, 4, 4),))
    song = composer.arrange(score, seed=2, steps=2, candidates=2)
    assert [(k.tick, str(k)) for k in song.key_signatures] == [(0, "C major"), (24 * 1920, "D major")]
    assert song.track("Melody").notes == score.tracks[0].notes
