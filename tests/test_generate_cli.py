"""`composer generate` end to end with a tiny untrained model folder built in the test, and
one slow test with the shipped models when they are present."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from composer.cli import main
from composer.io.checkpoint import save_checkpoint
from composer.io.midi import read_midi
from composer.nets.chords import ChordDenoiser
from composer.nets.form import FormDenoiser
from composer.nets.notes import NoteUNet

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    form = dict(width=16, n_attn=1, heads=2)
    chords = dict(width=16, beat_width=8, n_attn=1, heads=2)
    notes = dict(channels=[8, 8, 8, 8], blocks=[1, 1, 1, 1], mid_dilations=[1], emb_dim=16)
    save_checkpoint(root / "form", FormDenoiser(**form), "form", form, {"form_length": 64})
    save_checkpoint(root / "chords", ChordDenoiser(**chords), "chords", chords)
    save_checkpoint(root / "notes", NoteUNet(**notes), "notes", notes)
    return root


def test_generate_writes_midi_and_prints_form(tiny_models, tmp_path, capsys):
    out = tmp_path / "song.mid"
    rc = main(["generate", "--models", str(tiny_models), "--form", "i2A4B4o2", "--key", "E minor",
               "--tempo", "90", "--seed", "5", "--steps", "2", "-o", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "form i2A4B4o2 (12 bars)" in text and "seed 5" in text and "E minor" in text
    score = read_midi(out)
    assert [s.name for s in score.sections] == ["Intro", "Verse", "Chorus", "Outro"]
    assert {t.name for t in score.tracks} == {"Melody", "Piano", "Bass"}
    assert score.tempos[0].bpm == pytest.approx(90, abs=0.01)
    assert score.chords
    # same seed, same bytes; --force needed to overwrite
    again = tmp_path / "again.mid"
    main(["generate", "--models", str(tiny_models), "--form", "i2A4B4o2", "--key", "E minor",
          "--tempo", "90", "--seed", "5", "--steps", "2", "-o", str(again)])
    assert again.read_bytes() == out.read_bytes()
    assert main(["generate", "--models", str(tiny_models), "--seed", "5", "--steps", "2",
                 "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_generate_bars_and_no_bass(tiny_models, tmp_path, capsys):
    out = tmp_path / "s.mid"
    assert main(["generate", "--models", str(tiny_models), "--bars", "8", "--seed", "1", "--steps", "2",
                 "--no-bass", "-o", str(out)]) == 0
    assert "(8 bars)" in capsys.readouterr().out
    assert {t.name for t in read_midi(out).tracks} == {"Melody", "Piano"}


@pytest.mark.parametrize("args, words", [
    (["--form", "A8B?"], "bad form"),
    (["--bars", "0"], "--bars"),
    (["--bars", "10000"], "--bars"),
    (["--key", "H minor"], "unknown key"),
    (["--tempo", "0"], "--tempo"),
    (["--meter", "7/8"], "meter"),
])
def test_bad_input_one_line_exit_2_nothing_written(tiny_models, tmp_path, capsys, args, words):
    out = tmp_path / "bad.mid"
    rc = main(["generate", "--models", str(tiny_models), "-o", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and words in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_models_folder(tmp_path, capsys):
    rc = main(["generate", "--models", str(tmp_path / "nope"), "-o", str(tmp_path / "x.mid")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_shipped_models_end_to_end(tmp_path, capsys):
    models = REPO / "models"
    if not all((models / name / "model.safetensors").is_file() for name in ("form", "chords", "notes")):
        pytest.skip("shipped models not present")
    out = tmp_path / "song.mid"
    assert main(["generate", "--form", "i4A8B8A8B8o4", "--key", "A minor", "--seed", "0",
                 "-o", str(out)]) == 0
    score = read_midi(out)
    assert score.n_bars == 40
    melody = [t for t in score.tracks if t.name == "Melody"][0]
    assert len(melody.notes) > 40            # a trained model writes a melody
