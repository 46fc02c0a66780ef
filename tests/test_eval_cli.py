"""`composer eval` end to end: MIDI folders, prepared splits, the table, JSON, bad input."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from composer.cli import main
from composer.data.example import SongExample
from composer.errors import DataError
from composer.evaluation import ROWS, evaluate, load_songs
from composer.io import midi
from composer.score import QUALITY_NAMES
from eval_fixtures import song

QUARTERS = [(0, 4, 60), (4, 4, 64), (8, 4, 67), (12, 4, 72)]
OTHER = [(2, 2, 62), (6, 2, 65), (10, 6, 69)]


def example(song_id: str, bars, transpose: int = 0) -> SongExample:
    """A prepared song of len(bars) 4/4 bars, form A2 B2 A2 B2..., C major, one C chord per bar."""
    n_bars = len(bars)
    mel = np.array([(16 * b + s, d, p + transpose, 90) for b, rows in enumerate(bars)
                    for s, d, p in rows], np.int32).reshape(-1, 4)
    acc = np.array([(16 * b, 16, 48 + transpose, 70) for b in range(n_bars)], np.int32)
    form = "".join(f"{'AB'[i % 2]}2" for i in range(n_bars // 2))
    beats = n_bars * 4
    return SongExample(
        song_id=song_id, tempo_bpm=100.0, meter=(4, 4), beats_per_bar=4, n_bars=n_bars,
        form=form, form_alt=form, key_tonic=np.full(n_bars, transpose % 12, np.int8),
        key_mode=np.zeros(n_bars, np.int8),
        chord_root=np.full(beats, transpose % 12, np.int8),
        chord_quality=np.full(beats, QUALITY_NAMES.index("maj"), np.int8),
        chord_bass=np.full(beats, transpose % 12, np.int8),
        melody=mel, accompaniment=acc).check()


@pytest.fixture
def prepared(tmp_path):
    """A prepared folder: train = two songs, test = a transposed copy of train song 'a' and
    a song sharing only its first 2 bars with 'b'."""
    root = tmp_path / "prepared"
    (root / "songs").mkdir(parents=True)
    a_bars = [QUARTERS, OTHER, QUARTERS, [(0, 16, 60)]] * 2
    b_bars = [OTHER, OTHER, QUARTERS, [(0, 8, 64), (8, 8, 67)]] * 2
    c_bars = b_bars[:2] + [[(0, 4, 50), (4, 12, 53)]] * 6
    songs = [example("a", a_bars), example("b", b_bars), example("copy", a_bars, 3),
             example("c", c_bars)]
    for ex in songs:
        ex.save(root / "songs" / f"{ex.song_id}.npz")
    (root / "split.json").write_text(json.dumps({"train": ["a", "b"], "valid": [],
                                                 "test": ["copy", "c"]}))
    return root


def test_eval_on_prepared_splits_writes_json(prepared, tmp_path, capsys):
    out = tmp_path / "report.json"
    rc = main(["eval", f"{prepared}@test", "--reference", f"{prepared}@train",
               "--train", f"{prepared}@train", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "structure ratio, melody" in printed and "OA mean (headline)" in printed
    assert "longest copied run" in printed
    data = json.loads(out.read_text())
    names = [m["name"] for m in data["metrics"]]
    assert names == list(ROWS)
    assert data["generated"] == {"source": f"{prepared}@test", "n_songs": 2}
    runs = {s["name"]: s["longest_copied_run"] for s in data["songs"]}
    assert runs == {"copy": 8, "c": 2}
    metric = {m["name"]: m for m in data["metrics"]}
    assert metric["copy_longest_run_max"]["generated"] == 8
    assert metric["copy_share_run_ge4"]["generated"] == 0.5
    # the reference column is the reference songs against the training songs; here they are
    # the training songs themselves, so every one is a copy
    assert metric["copy_share_run_ge4"]["reference"] == 1.0
    # One C chord per beat, merged: no chord changes; all chords diatonic to C major.
    assert metric["chord_changes_per_bar"]["generated"] == 0.0
    assert metric["diatonic_chord_share"]["reference"] == 1.0
    assert not list(tmp_path.glob(".report.json.*"))  # no temporary file left behind


def test_eval_on_midi_folders_identical_sets(prepared, tmp_path, capsys):
    from composer.data.example import load_split
    for name in ("gen", "ref"):
        (tmp_path / name / "sub").mkdir(parents=True)
        for i, ex in enumerate(load_split(prepared, "train")):
            # One file in a sub-folder: folders are searched recursively.
            where = tmp_path / name / ("sub" if i else "") / f"{ex.song_id}.mid"
            midi.write_midi(ex.to_score(), where)
    out = tmp_path / "r.json"
    rc = main(["eval", str(tmp_path / "gen"), "--reference", str(tmp_path / "ref"),
               "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    metric = {m["name"]: m for m in data["metrics"]}
    for name in ROWS:
        if name.startswith("copy_"):
            assert name not in metric
        elif name == "oa_key_change":
            # the fixture songs never change key: an empty distribution has no OA
            assert metric[name]["generated"] is None
        elif name.startswith("oa_"):
            assert metric[name]["generated"] == pytest.approx(1.0), name
        else:
            assert metric[name]["generated"] == metric[name]["reference"], name
    # Sections and chords came through the MIDI files: the structure rows are defined.
    assert metric["structure_ratio_melody"]["generated"] is not None
    assert metric["cadence_phrase_end"]["generated"] is not None
    # The same figures as from the prepared split itself.
    direct = evaluate([ex.to_score() for ex in load_split(prepared, "train")],
                      [ex.to_score() for ex in load_split(prepared, "train")])
    for row in direct.rows:
        got = metric[row.name]["generated"]
        assert (got is None and math.isnan(row.generated)) or got == pytest.approx(row.generated)


def test_single_midi_file_and_nan_as_null(tmp_path):
    path = tmp_path / "one.mid"
    midi.write_midi(song([QUARTERS] * 4, None), path)
    songs = load_songs(str(path))
    assert songs.names == ("one.mid",) and len(songs.scores) == 1
    out = tmp_path / "r.json"
    assert main(["eval", str(path), "--reference", str(path), "--json", str(out)]) == 0
    metric = {m["name"]: m for m in json.loads(out.read_text())["metrics"]}
    # No sections, no chords: undefined, written as null, counted on no song.
    assert metric["structure_ratio_melody"]["generated"] is None
    assert metric["chord_tone_strong_beats"]["n_generated"] == 0
    # One reference song cannot be split into halves: the OA ceiling is undefined.
    assert metric["oa_pitch"]["reference"] is None
    assert metric["oa_pitch"]["generated"] == 1.0


@pytest.mark.parametrize("args, message", [
    (["missing_folder", "--reference", "missing_folder"], "does not exist"),
    (["{prepared}", "--reference", "{prepared}@train"], "name a split as"),
    (["{prepared}@nope", "--reference", "{prepared}@train"], "split 'nope' not in"),
    (["{prepared}@valid", "--reference", "{prepared}@train"], "holds no songs"),
    (["{empty}", "--reference", "{prepared}@train"], "holds no .mid or .midi files"),
    (["{bad}", "--reference", "{prepared}@train"], "bad.mid"),
])
def test_bad_input_is_one_line(prepared, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.mid").write_bytes(b"not a midi file")
    args = [a.format(prepared=prepared, empty=tmp_path / "empty", bad=tmp_path / "bad")
            for a in args]
    assert main(["eval", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_existing_json_needs_force(prepared, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep")
    args = ["eval", f"{prepared}@test", "--reference", f"{prepared}@train", "--json", str(out)]
    assert main(args) == 2
    assert out.read_text() == "keep"
    assert "--force" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert json.loads(out.read_text())["version"] == 1


def test_evaluate_needs_songs():
    with pytest.raises(DataError, match="no generated songs"):
        evaluate([], [song([QUARTERS], None)])
    with pytest.raises(DataError, match="no reference songs"):
        evaluate([song([QUARTERS], None)], [])


def test_markdown_table(prepared, capsys):
    assert main(["eval", f"{prepared}@test", "--reference", f"{prepared}@train", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| group | metric | generated | reference |")
    assert "| Distributions (OA) | OA mean (headline) |" in out


def test_eval_table_has_the_song_quality_rows(prepared, capsys):
    assert main(["eval", f"{prepared}@test", "--reference", f"{prepared}@train"]) == 0
    printed = capsys.readouterr().out
    lines = [line.strip() for line in printed.splitlines()]
    # The groups come in this order, each OA row inside its group.
    groups = ["Structure", "Harmony", "Texture", "Melody", "Recurrence", "Form",
              "Accompaniment", "Distributions (OA)"]
    assert [line for line in lines if line in groups] == groups
    for label in ("melody sounding share", "melody rests per 8 bars", "melody notes per bar",
                  "melody median duration (16ths)", "melody median pitch (MIDI)",
                  "melody above accompaniment", "OA melody duration", "OA melody pitch",
                  "best 2-bar recurrence", "near-copy 2-bar segments",
                  "return note match", "same length on return", "OA phrase length",
                  "intro/outro placed", "song length (bars)", "groove consistency, accompaniment",
                  "pitch span (semitones)", "playable by two hands"):
        assert any(line.startswith(label + " ") for line in lines), label
    melody = lines.index("Melody")
    assert lines[melody + 7].startswith("OA melody duration")
    assert lines[melody + 8].startswith("OA melody pitch")


def test_new_rows_on_known_songs(prepared):
    from composer.data.example import load_split
    test = [ex.to_score() for ex in load_split(prepared, "test")]
    report = evaluate(test, test)
    # Both test songs: 8 bars, form A2 B2 A2 B2, no intro or outro.
    assert report.row("song_bars").generated == 8.0
    assert report.row("form_same_length_share").generated == 1.0
    assert report.row("form_intro_outro_placed").generated == 1.0
    assert report.row("oa_phrase_length").generated == 1.0
    # Melody onsets: song 'copy' 4 + 3 + 4 + 1 per 4 bars, song 'c' 3 + 3 then 2 per bar.
    assert report.row("melody_notes_per_bar").generated == pytest.approx((3 + 18 / 8) / 2)
    # The headline is the mean of the eight note-level OA rows, not of the new ones.
    oa = [r.generated for r in report.rows
          if r.group == "Distributions (OA)" and r.name != "oa_mean"]
    assert len(oa) == 8 and report.row("oa_mean").generated == pytest.approx(np.mean(oa))
