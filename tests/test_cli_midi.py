"""``composer inspect`` and ``composer convert`` through composer.cli.main."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from composer.cli import main
from composer.io.midi import read_midi, write_midi
from composer.score import ChordSymbol, KeySignature, Note, Score, Section, TempoChange, TimeSignature, Track

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POP909_001 = DATA / "POP909-Dataset" / "POP909" / "001" / "001.mid"


def song() -> Score:
    return Score(
        tempos=(TempoChange.from_bpm(0, 100), TempoChange.from_bpm(1920, 90)),
        time_signatures=(TimeSignature(0, 3, 4),),
        key_signatures=(KeySignature(0, 9, "minor"),),
        sections=(Section(0, 2, "A", "Verse 1"), Section(2, 2, "B", "Chorus")),
        chords=tuple(ChordSymbol(i * 1440, 1440, (9 + 5 * i) % 12, "min7", (9 + 5 * i) % 12)
                     for i in range(10)),
        tracks=(Track("Lead", 80, notes=(Note(0, 480, 69), Note(480, 480, 72))),
                Track("Kit", 0, True, notes=(Note(0, 60, 36),))),
        title="Demo",
    )


@pytest.fixture
def song_file(tmp_path) -> Path:
    path = tmp_path / "song.mid"
    write_midi(song(), path)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("composer: error: ")
    return err


def test_inspect_text(song_file, capsys):
    assert main(["inspect", str(song_file)]) == 0
    out = capsys.readouterr().out
    assert "Demo" in out and "100 bpm @0" in out and "90 bpm @1920" in out
    assert "3/4 @0" in out and "A minor @0" in out
    assert "Verse 1 (A, bar 0, 2 bars)" in out and "Chorus (B, bar 2, 2 bars)" in out
    assert "Am7 @0" in out and "(10 in all)" in out
    assert "'Lead'" in out and "program 80" in out and "2 notes" in out
    assert "'Kit'" in out and "drums" in out
    assert "s, 10 bars" in out


def test_inspect_json(song_file, capsys):
    assert main(["inspect", str(song_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    score = song()
    assert report["title"] == "Demo" and report["resolution"] == 480
    assert report["tracks"] == [
        {"name": "Lead", "program": 80, "is_drum": False, "n_notes": 2},
        {"name": "Kit", "program": 0, "is_drum": True, "n_notes": 1}]
    assert report["tempos"] == [{"tick": 0, "value": 100.0}, {"tick": 1920, "value": 90.0}]
    assert report["meters"] == [{"tick": 0, "value": "3/4"}]
    assert report["keys"] == [{"tick": 0, "value": "A minor"}]
    assert report["sections"][1] == {"start_bar": 2, "n_bars": 2, "label": "B", "name": "Chorus"}
    assert report["n_chords"] == 10 and report["first_chords"][1] == {"tick": 1440, "value": "Dm7"}
    assert report["n_bars"] == score.n_bars
    assert report["duration_seconds"] == pytest.approx(score.duration_seconds, abs=1e-3)


def test_convert_round_trips(song_file, tmp_path, capsys):
    out = tmp_path / "out.mid"
    assert main(["convert", str(song_file), str(out)]) == 0
    assert "2 tracks, 3 notes, 2 tempo changes" in capsys.readouterr().out
    assert read_midi(out) == song()


def test_convert_refuses_to_overwrite_without_force(song_file, tmp_path, capsys):
    out = tmp_path / "out.mid"
    out.write_bytes(b"keep me")
    assert main(["convert", str(song_file), str(out)]) == 2
    assert "--force" in one_error_line(capsys)
    assert out.read_bytes() == b"keep me"
    assert main(["convert", str(song_file), str(out), "--force"]) == 0
    assert read_midi(out) == song()


@pytest.mark.parametrize("content,phrase", [
    (b"", "empty file"),
    (b"just some text, renamed to .mid\n", "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x00\x10\x00", "truncated"),
    (b"MThd\x00\x00\x00\x06\x00\x02\x00\x00\x01\xe0", "type 2"),
])
def test_bad_input_gives_exit_2_one_line_and_no_output(tmp_path, capsys, content, phrase):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    out = tmp_path / "out.mid"
    assert main(["convert", str(bad), str(out)]) == 2
    assert phrase in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mid"]
    assert main(["inspect", str(bad)]) == 2
    assert phrase in one_error_line(capsys)


def test_missing_input_and_missing_output_folder(tmp_path, song_file, capsys):
    assert main(["inspect", str(tmp_path / "absent.mid")]) == 2
    assert "no such file" in one_error_line(capsys)
    assert main(["convert", str(song_file), str(tmp_path / "no" / "out.mid")]) == 2
    assert "does not exist" in one_error_line(capsys)


@pytest.mark.data
@pytest.mark.skipif(not POP909_001.exists(), reason="POP909 data absent")
def test_convert_real_pop909_file(tmp_path, capsys):
    out = tmp_path / "001.mid"
    assert main(["convert", str(POP909_001), str(out)]) == 0
    assert read_midi(out) == read_midi(POP909_001)
    assert main(["inspect", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [t["name"] for t in report["tracks"]] == ["MELODY", "BRIDGE", "PIANO"]


def test_a_reader_that_leaves_the_pipe_gets_no_traceback(song_file):
    # `composer inspect song.mid | head -1`: the reader closes the pipe before we write
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "composer", "inspect", "--json", str(song_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 141 and err == ""  # a shell's status for SIGPIPE, and nothing said
