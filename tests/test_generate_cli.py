"""`composer generate` end to end with a tiny untrained model folder built in the test, and
one slow test with the shipped models when they are present."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from timbre_fixtures import install_tiny_timbre

from composer.cli import main
from composer.commands import render as render_command
from composer.commands.generate import GENERATED_TRACKS
from composer.errors import RenderError
from composer.io.checkpoint import save_checkpoint
from composer.io.midi import read_midi
from composer.render.mix import Mixer, TrackTimbre
from composer.nets.chords import ChordDenoiser
from composer.nets.drums import DrumDenoiser
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
    drums = dict(width=16, n_conv=1, n_attn=1, heads=2)
    save_checkpoint(root / "drums", DrumDenoiser(**drums), "drums", drums)
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
    assert {t.name for t in score.tracks} == {"Melody", "Piano RH", "Piano LH", "Bass", "Drums"}
    assert score.track("Drums").is_drum
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


def test_generate_reads_form_key_and_meter_once(tiny_models, tmp_path, monkeypatch):
    """composer generate parses its options once (composer.options.read_options) and hands the
    cascade the parsed form, key and meter, which it takes as they are."""
    import composer.options as options

    calls = {"parse_partial_form": 0, "parse_key": 0, "parse_meter": 0}
    for name in calls:
        def counted(*args, _name=name, _real=getattr(options, name), **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(options, name, counted)
    assert main(["generate", "--models", str(tiny_models), "--form", "A4B4", "--key", "E minor", "--meter", "3/4",
                 "--seed", "5", "--steps", "2", "-o", str(tmp_path / "song.mid")]) == 0
    assert calls == {"parse_partial_form": 1, "parse_key": 1, "parse_meter": 1}


def test_generate_bars_and_no_bass(tiny_models, tmp_path, capsys):
    out = tmp_path / "s.mid"
    assert main(["generate", "--models", str(tiny_models), "--bars", "8", "--seed", "1", "--steps", "2",
                 "--no-bass", "-o", str(out)]) == 0
    assert "(8 bars)" in capsys.readouterr().out
    assert {t.name for t in read_midi(out).tracks} == {"Melody", "Piano RH", "Piano LH", "Drums"}


def test_generate_musicxml_and_humanize(tiny_models, tmp_path, capsys):
    pytest.importorskip("music21")
    out, xml = tmp_path / "s.mid", tmp_path / "s.musicxml"
    song = ["generate", "--models", str(tiny_models), "--form", "i2A4o2", "--seed", "2", "--steps", "2"]
    assert main([*song, "-o", str(out), "--musicxml", str(xml)]) == 0
    assert f"wrote {xml}" in capsys.readouterr().out
    assert xml.read_bytes().startswith(b"<?xml") and b"<rehearsal" in xml.read_bytes()
    # A MusicXML name that cannot be written is refused before composing: nothing written.
    assert main([*song, "-o", str(tmp_path / "t.mid"), "--musicxml", str(tmp_path / "t.pdf")]) == 2
    assert "ends in .musicxml" in capsys.readouterr().err
    assert not (tmp_path / "t.mid").exists()
    # --humanize: the same notes, off the grid.
    human = tmp_path / "h.mid"
    assert main([*song, "-o", str(human), "--humanize"]) == 0
    plain, moved = read_midi(out), read_midi(human)
    assert [len(t.notes) for t in plain.tracks] == [len(t.notes) for t in moved.tracks]
    assert any(n.start_tick % 120 for t in moved.tracks for n in t.notes)
    assert not any(n.start_tick % 120 for t in plain.tracks for n in t.notes)


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


# ---------------------------------------------------------------------- --audio and --timbre
@pytest.fixture()
def tiny_timbre(tmp_path_factory, monkeypatch) -> str:
    root = tmp_path_factory.mktemp("timbres")
    install_tiny_timbre(root)
    monkeypatch.setenv("COMPOSER_TIMBRES", str(root))
    return "tiny"


def test_timbre_without_audio_is_one_line(tmp_path, capsys):
    # Checked before the models are loaded: no model folder is needed to be told.
    rc = main(["generate", "--models", str(tmp_path / "no_models"), "-o", str(tmp_path / "s.mid"),
               "--timbre", "Melody=ddsp:flute"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--timbre" in err and "--audio" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("timbres, words", [
    (["--no-drums", "Drums=sf:1"], "no track 'Drums' in this song; tracks are 0='Melody', 1='Piano RH', 2='Piano LH', 3='Bass'"),
    (["5=sf:1"], "no track '5'"),
    (["--no-bass", "Bass=sf:33"], "no track 'Bass'"),
    (["Melody=sf:200"], "0..127"),
    (["Melody=vst:foo"], "unknown timbre kind"),
    (["Melody"], "TRACK=sf:PROGRAM or TRACK=ddsp:NAME"),
    (["Melody=ddsp:kazoo"], "unknown timbre 'kazoo'; installed timbres: tiny"),
])
def test_bad_timbre_fails_before_composing(tmp_path, capsys, tiny_timbre, timbres, words):
    args = [a if a.startswith("--") else f"--timbre={a}" for a in timbres]
    rc = main(["generate", "--models", str(tmp_path / "no_models"), "-o", str(tmp_path / "s.mid"),
               "--audio", str(tmp_path / "s.wav"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and err.count("\n") == 1   # not the missing models: checked first
    assert list(tmp_path.iterdir()) == []


def test_generated_track_names_are_the_ones_checked(tiny_models, tmp_path):
    out = tmp_path / "s.mid"
    assert main(["generate", "--models", str(tiny_models), "--bars", "2", "--seed", "2", "--steps", "2",
                 "-o", str(out)]) == 0
    assert tuple(t.name for t in read_midi(out).tracks) == GENERATED_TRACKS
    no = tmp_path / "no.mid"
    assert main(["generate", "--models", str(tiny_models), "--bars", "2", "--seed", "2", "--steps", "2",
                 "--no-drums", "--no-bass", "-o", str(no)]) == 0
    assert tuple(t.name for t in read_midi(no).tracks) == ("Melody", "Piano RH", "Piano LH")


def test_audio_with_per_track_timbres(tiny_models, tiny_timbre, tmp_path, capsys, monkeypatch):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    used = []
    write_mix = render_command.write_mix

    def spy(score, output, mixer, timbres, **kwargs):
        used.append(tuple(timbres))
        return write_mix(score, output, mixer, timbres, **kwargs)

    monkeypatch.setattr(render_command, "write_mix", spy)
    song = ["generate", "--models", str(tiny_models), "--bars", "4", "--seed", "1", "--steps", "2",
            "--tempo", "120"]
    mid, wav = tmp_path / "s.mid", tmp_path / "s.wav"
    assert main([*song, "-o", str(mid), "--audio", str(wav),
                 "--timbre", f"Melody=ddsp:{tiny_timbre}", "--timbre", "3=sf:33"]) == 0
    assert f"wrote {wav}" in capsys.readouterr().out
    piano = read_midi(mid).track("Piano RH").program
    assert used == [(TrackTimbre("ddsp", "tiny"), TrackTimbre("sf", str(piano)), TrackTimbre("sf", str(piano)),
                     TrackTimbre("sf", "33"), TrackTimbre("sf", "0"))]   # the drum kit
    from composer.io.audio import read_audio
    audio = read_audio(wav)
    assert audio.sample_rate == 44100 and audio.n_channels == 2 and audio.duration_seconds > 4
    assert np.abs(audio.samples).max() <= 10 ** (-1 / 20) + 1 / 32768
    # The timbres change the audio only: the MIDI file is the one written without them.
    plain = tmp_path / "plain.mid"
    assert main([*song, "-o", str(plain)]) == 0
    assert plain.read_bytes() == mid.read_bytes()


def test_failed_render_leaves_the_midi_and_no_audio(tiny_models, tmp_path, capsys, monkeypatch):
    def failing(self, score, rate, timbres=None, levels=None):
        yield np.zeros((4096, 2), np.float32)
        raise RenderError("synthesiser crashed")

    monkeypatch.setattr(Mixer, "render_blocks", failing)
    rc = main(["generate", "--models", str(tiny_models), "--bars", "2", "--seed", "1", "--steps", "2",
               "-o", str(tmp_path / "s.mid"), "--audio", str(tmp_path / "s.wav")])
    err = capsys.readouterr().err
    assert rc == 2 and "synthesiser crashed" in err and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["s.mid"]   # no half-written s.wav, no temporary


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


@pytest.mark.slow
def test_shipped_models_bring_phrases_back():
    """Whole-song coherence of the shipped cascade, on six songs of one short form: a returning
    A or B phrase restates its first statement (return note match: share of its notes equal in
    pitch and place; the 100-song evaluation gives 0.84 against 0.82 for real songs), phrases
    are more like their own label than like each other (structure ratio > 1; 100 songs 1.37,
    real 1.38; this short form averages 1.20 over these seeds, before the rest bias and after),
    and melodies sit on chord tones on strong beats (0.74 over 100 songs, real 0.72)."""
    models = REPO / "models"
    if not all((models / name / "model.safetensors").is_file() for name in ("form", "chords", "notes", "melody")):
        pytest.skip("shipped models not present")
    from composer.metrics import chord_tone_strong_beats, return_note_match, structure_ratio_melody
    from composer.pipeline import Composer
    composer = Composer.from_pretrained(models)
    songs = [composer.compose(form="i4A8B8A8B8o4", key="A minor", tempo=96, seed=seed) for seed in range(6)]
    kept = [return_note_match(s) for s in songs]
    assert min(kept) > 0.7, kept
    ratios = [structure_ratio_melody(s) for s in songs]
    assert min(ratios) > 1.0 and sum(ratios) / 6 > 1.15, ratios
    tones = [chord_tone_strong_beats(s) for s in songs]
    assert sum(tones) / 6 > 0.6, tones


def test_default_models_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    from composer.io.checkpoint import default_models_dir
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMPOSER_MODELS", raising=False)
    assert default_models_dir() == REPO / "models"
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path / "mine"))
    assert default_models_dir() == tmp_path / "mine"
