"""The POP909 builder: exact checks of its parsers on hand-made input, and a build of three
real songs (skipped when ../shared/data is absent)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest

from composer.data.example import SongExample, load_split
from composer.data.pop909 import build_pop909
from composer.data.pop909.align import Alignment, align_steps
from composer.data.pop909.build import make_split, song_split
from composer.data.pop909.chords import chord_tone_share, chords_per_beat, shift_chords
from composer.data.pop909.keys import cl_key_spans, keys_per_bar
from composer.data.pop909.labels import (ChordEvent, parse_chord_line, parse_label_key, parse_melody,
                                         parse_note_name, quality_from_intervals)
from composer.data.pop909.phrases import choose_n_bars, repair_form
from composer.data.pop909.steps import grid_phase, quantise_ticks
from composer.errors import DataError, FormError
from composer.io.atomic import atomic_dir
from composer.io.midi import write_midi
from composer.score import QUALITY_NAMES, KeySignature, Note, Score, Track

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Q = QUALITY_NAMES.index


# ---------------------------------------------------------------- chord lines
def test_parse_chord_line_slash_chord():
    assert parse_chord_line("B:maj7/3 [3, 6, 10, 11] 11 2 ") == ChordEvent(11, Q("maj7"), 3, 2.0)


def test_parse_chord_line_no_chord_forms():
    assert parse_chord_line("N []  4 ") == ChordEvent(-1, -1, -1, 4.0)
    assert parse_chord_line("N [10] 18 2") == ChordEvent(-1, -1, -1, 2.0)
    assert parse_chord_line("   ") is None


def test_parse_chord_line_reduces_extensions_by_name():
    assert parse_chord_line("F#:sus4(b7 [1, 6, 11] 6 2") == ChordEvent(6, Q("sus4(b7)"), 6, 2.0)  # cut off
    assert parse_chord_line("G:sus4(b7,9) [2, 5, 7, 9, 11] 7 1") == ChordEvent(7, Q("sus4(b7)"), 7, 1.0)
    assert parse_chord_line("C:maj(9) [0, 2, 4, 7] 0 3") == ChordEvent(0, Q("maj"), 0, 3.0)
    assert parse_chord_line("A:min9 [0, 4, 7, 9, 11] 9 1") == ChordEvent(9, Q("min7"), 9, 1.0)
    assert parse_chord_line("D:13 [0, 2, 6, 9, 11] 2 1") == ChordEvent(2, Q("7"), 2, 1.0)
    assert parse_chord_line("Eb:min/b3 [3, 6, 10] 3 1.5") == ChordEvent(3, Q("min"), 6, 1.5)


def test_parse_chord_line_trusts_the_name_over_wrong_tones():
    # HSA lists a minor seventh for its maj7 chords; the name is right.
    assert parse_chord_line("Bb:maj7 [2, 5, 8, 10] 10 2") == ChordEvent(10, Q("maj7"), 10, 2.0)
    # A quality the vocabulary lacks is read from the tones.
    assert parse_chord_line("C:weird [0, 4, 7] 0 1") == ChordEvent(0, Q("maj"), 0, 1.0)
    assert parse_chord_line("C:5 [0, 7] 0 1") == ChordEvent(-1, -1, -1, 1.0)


def test_parse_chord_line_rejects_garbage():
    for bad in ("C:maj 0 2", "C:maj [0, 4, 7] 0 x", "C:maj [0, 4, 7] 0 0", "H:maj [0] 0 1"):
        with pytest.raises(DataError):
            parse_chord_line(bad)


def test_quality_from_intervals():
    assert quality_from_intervals([0, 4, 7]) == Q("maj")
    assert quality_from_intervals([0, 3, 7, 10, 2, 5]) == Q("min7")  # min11
    assert quality_from_intervals([0, 4, 7, 9, 2]) == Q("maj6")       # maj6(9)
    assert quality_from_intervals([0, 7]) == -1                        # bare fifth


def test_chords_per_beat_takes_the_chord_covering_most_of_each_beat():
    events = [ChordEvent(0, 0, 0, 1.5), ChordEvent(7, 0, 7, 1.25), ChordEvent(9, 1, 9, 1.25)]
    got = chords_per_beat(events, 5)
    # beat 1: C and G cover half each -> the first stays; beat 2: G 0.75 vs A 0.25.
    assert got[:, 0].tolist() == [0, 0, 7, 9, -1]
    assert got.dtype == np.int8 and got.shape == (5, 3)


def test_parse_label_key_and_note_name():
    assert parse_label_key("Gb:maj") == (6, 0)
    assert parse_label_key("C#:min") == (1, 1)
    assert parse_note_name("Cb") == 11 and parse_note_name(" F# ") == 6
    for bad in ("X:maj", "C:dorian"):
        with pytest.raises(DataError):
            parse_label_key(bad)
    for bad in ("", "H", "C#x"):
        with pytest.raises(DataError, match="not a note name"):
            parse_note_name(bad)


def test_parse_melody_skips_rests():
    got = parse_melody(["0 4", "60 2", "62 1", "0 1", "64 4", ""])
    assert got.tolist() == [[4, 2, 60], [6, 1, 62], [8, 4, 64]]


# ---------------------------------------------------------------- labels
def test_repair_form():
    assert repair_form("i4A8o4", 16) == "i4A8o4"
    assert repair_form("i4A8o4", 17) == "i4A8o5"
    assert repair_form("i4A8o4", 14) == "i4A8o2"
    assert repair_form("A8b1", 8) == "A8"           # a 1-bar last phrase trimmed away
    assert repair_form("A8b1", 7) == "A7"           # ... and the rest from the one before
    with pytest.raises(FormError):
        repair_form("i4A8o4", 19)


def test_choose_n_bars_follows_the_labels_within_the_chord_grid():
    # 233 beats of chords = 58 bars and one beat: the labels' 58 wins over 59.
    assert choose_n_bars(233, 4, "i4A50o4", "i4A50o4") == 58
    # Annotators 72 and 71 bars, chords 73.5 bars: 72 fits both with the least repair.
    assert choose_n_bars(294, 4, "A36A36", "A36A35") == 72
    # No usable label: the whole bars of chords.
    assert choose_n_bars(100, 4, "A3", "A3") == 25
    # Only annotator 2 fits: its own count (no repair needed).
    assert choose_n_bars(100, 4, "A3", "A24") == 24


# ---------------------------------------------------------------- grid
def test_quantise_ticks():
    ticks = np.array([0, 59, 60, 61, 119, 120, -61, 1000])
    assert quantise_ticks(ticks, 0).tolist() == [0, 0, 1, 1, 1, 1, -1, 8]
    assert quantise_ticks(np.array([40, 160, 99, 100]), 40).tolist() == [0, 1, 0, 1]


def test_grid_phase_finds_the_played_grid():
    rng = np.random.default_rng(0)
    onsets = 110 + 120 * rng.integers(0, 500, 300) + rng.integers(-8, 9, 300)
    assert abs(grid_phase(onsets) - 110) <= 3


def test_align_steps_finds_a_removed_half_bar():
    # A grid melody of 32 beats; the MIDI has it 8 steps later, and 2 extra beats
    # (8 steps) inserted after grid beat 16, which the grid left out.
    rng = np.random.default_rng(1)
    steps = np.arange(0, 128, 2)
    pitches = rng.integers(60, 72, len(steps))
    grid = np.stack([steps, np.full(len(steps), 2), pitches], 1).astype(np.int32)
    midi_steps = np.where(steps < 64, steps + 8, steps + 16).astype(np.int64)
    roots = np.full(32, -1, np.int64)
    al = align_steps(grid, midi_steps, pitches.astype(np.int64), roots, np.full(200, -1, np.int64), 32)
    assert al.offset_steps.tolist() == [8] * 16 + [16] * 16
    assert al.melody_match == 1.0 and al.n_offset_changes == 1
    inv = al.midi_to_grid_step(200)
    assert inv[8] == 0 and inv[71] == 63 and inv[80] == 64
    assert (inv[72:80] == -1).all()  # the two beats the grid removed


def test_midi_to_grid_step_keeps_the_first_when_the_grid_inserts_beats():
    al = Alignment(np.array([0, 0, -4, -4]), 1.0, 1)  # grid beat 2 repeats MIDI beat 1
    inv = al.midi_to_grid_step(12)
    assert inv[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15]


def test_keys_per_bar_places_spans_through_the_map():
    inv = np.arange(64)  # identity map, 4 bars of 4/4
    spans = [(0, 36, 7), (36, 64, 20)]  # G major, then Ab minor from step 36 (bar 2, beat 1)
    assert keys_per_bar(spans, inv, 4, 4, fallback=0).tolist() == [7, 7, 20, 20]
    # A change half-way through bar 2: the bar keeps the key it starts in.
    spans = [(0, 40, 7), (40, 64, 20)]
    assert keys_per_bar(spans, inv, 4, 4, fallback=0).tolist() == [7, 7, 7, 20]
    assert keys_per_bar([], inv, 4, 4, fallback=5).tolist() == [5, 5, 5, 5]


def test_cl_key_spans_places_the_key_change_through_the_cl_offset(tmp_path):
    # The original: a note every beat (480 PPQ).  The CL file: the same notes 240 ticks later
    # at 960 PPQ, E major then G minor from its beat 5 (original tick 1920: step 16), and a
    # chord track whose notes are no performance.
    rng = np.random.default_rng(2)
    pitches = rng.integers(60, 72, 32)
    rows = np.array([(i * 480, i * 480 + 240, p, 80) for i, p in enumerate(pitches)], np.int64)
    played = Track("piano", notes=tuple(Note((s + 240) * 2, 480, int(p), 80) for s, _, p, _ in rows))
    chords = Track("chords", notes=tuple(Note(i * 3840, 3840, 48, 60) for i in range(4)))
    write_midi(Score(resolution=960, key_signatures=(KeySignature(0, 4, "major"), KeySignature(4320, 7, "minor")),
                     tracks=(played, chords)), tmp_path / "cl.mid")
    spans, match = cl_key_spans(tmp_path / "cl.mid", rows, origin_tick=0)
    assert spans == [(-10**9, 16, 4), (16, 10**9, 7 + 12)]
    assert match == 1.0


# ---------------------------------------------------------------- alignment figure
def test_chord_tone_share_exact():
    chord = np.array([[0, Q("maj"), 0]] * 2 + [[-1, -1, -1]] * 2, dtype=np.int8)
    notes = np.array([[0, 4, 60, 80],    # C: a chord tone for 4 steps
                      [4, 4, 62, 80],    # D: not a chord tone for 4 steps
                      [8, 8, 61, 80]])   # under no chord: left out
    assert chord_tone_share(notes, chord) == 0.5
    # Chords one beat later: C major under beats 1 and 2, where D and C# sound.
    assert chord_tone_share(notes, chord, 1) == 0.0
    # Chords one beat earlier: C major under beat 0 only, where C sounds.
    assert chord_tone_share(notes, chord, -1) == 1.0
    assert shift_chords(chord, -1)[:, 0].tolist() == [0, -1, -1, -1]


# ---------------------------------------------------------------- split
def test_split_is_deterministic_and_disjoint():
    ids = [f"{i:03d}" for i in range(1, 910)]
    a, b = make_split(ids), make_split(list(reversed(ids)))
    assert a == b
    assert sorted(a["train"] + a["valid"] + a["test"]) == ids
    assert 0.75 < len(a["train"]) / len(ids) < 0.85
    # A song's split never depends on which other songs were kept.
    assert all(song_split(i) == s for s, group in a.items() for i in group)
    assert make_split(ids[:100])["test"] == [i for i in a["test"] if i <= "100"]


# ---------------------------------------------------------------- the builder on real songs
needs_data = pytest.mark.skipif(not (DATA / "POP909-Dataset").is_dir(),
                                reason="POP909 data not present at ../shared/data")


@needs_data
@pytest.mark.data
@pytest.mark.slow
def test_build_three_real_songs(tmp_path):
    out = tmp_path / "pop909"
    rep = build_pop909(DATA, out, workers=1, song_ids=["001", "005", "011"])
    assert (rep.n_songs, rep.n_kept, rep.cached) == (3, 3, False)
    report = json.loads((out / "report.json").read_text())
    assert report["n_kept"] == 3 and report["dropped"] == []
    split = json.loads((out / "split.json").read_text())
    assert sorted(sum(split.values(), [])) == ["001", "005", "011"]
    for row in report["songs"]:
        assert row["melody_match"] > 0.95
        # Real alignment puts far more note time on chord tones than chords one beat late.
        assert row["accomp_chord_tone"] > row["accomp_chord_tone_shifted"] + 0.1
    song = SongExample.load(out / "songs" / "001.npz")
    assert (song.n_bars, song.beats_per_bar, song.meter) == (71, 4, (4, 4))
    assert song.form == "i4A4B8A4A4b4B8A4A4b4b4A4A4b4A4o3"
    assert (song.key_tonic == 6).all() and (song.key_mode == 0).all()     # Gb major
    assert song.chord_root[:2].tolist() == [11, 11]                        # B:maj 2 beats
    assert song.melody[0].tolist()[:3] == [60, 1, 61]                      # melody.txt: rest 60, 61 x1
    score = song.to_score().validate()
    assert [t.name for t in score.tracks] == ["Melody", "Piano"]
    assert len(score.tracks[1].notes) == len(song.accompaniment) > 1000
    loaded = {s.song_id for split_name in ("train", "valid", "test") for s in load_split(out, split_name)}
    assert loaded == {"001", "005", "011"}
    again = build_pop909(DATA, out, workers=1, song_ids=["001", "005", "011"])
    assert again.cached and again.n_kept == 3


@needs_data
@pytest.mark.data
def test_cli_refuses_to_replace_a_foreign_folder(tmp_path, capsys):
    from composer.commands import data as data_cmd
    parser = argparse.ArgumentParser()
    data_cmd.register(parser.add_subparsers())
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    args = parser.parse_args(["data", "pop909", "--root", str(DATA), "--out", str(tmp_path / "x"),
                              "--songs", "001"])
    with pytest.raises(DataError, match="not a POP909 build"):
        args.func(args)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_the_set_folder_is_replaced_whole_or_not_at_all(tmp_path):
    out = tmp_path / "pop909"
    with atomic_dir(out) as tmp:
        (tmp / "old.npz").write_bytes(b"1")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "new.npz").write_bytes(b"2")
        raise RuntimeError("a song failed half-way")
    assert [p.name for p in out.iterdir()] == ["old.npz"]
    with atomic_dir(out) as tmp:
        (tmp / "new.npz").write_bytes(b"2")
    assert [p.name for p in out.iterdir()] == ["new.npz"]
    assert [p.name for p in tmp_path.iterdir()] == ["pop909"]  # no temporary folder left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_missing_root_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="POP909-Dataset"):
        build_pop909(tmp_path, tmp_path / "out")
