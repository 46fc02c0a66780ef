"""Timbre analysis, checkpoints, training from a folder, the shipped timbres and the CLI."""
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from timbre_fixtures import install_tiny_timbre, tiny_model

from composer.data.philharmonia import is_held_out, list_recordings, parse_name, parse_pitch
from composer.errors import DataError, ModelError, RenderError
from composer.render.ddsp.analysis import analyse_recording
from composer.render.ddsp.spectral import a_weighted_loudness, harmonic_amplitudes, track_f0
from composer.render.ddsp.timbre import (Expression, SynthConfig, find_timbre, installed_timbres, load_timbre,
                                         save_timbre)
from composer.render.ddsp.train import CropBatch, FineTuneTask, TimbreRecipe, train_timbre, warm_loss

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "philharmonia"
SHIPPED = ("flute", "clarinet", "saxophone", "cello")


def tone(f0: float, amps=(0.2, 0.1, 0.05), seconds: float = 1.0, sr: int = 44100, pad: float = 0.2,
         cents_per_s: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f = f0 * 2 ** (cents_per_s * t / 1200)
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    x *= np.minimum(1, np.minimum(t, t[-1] - t) / 0.02)              # 20 ms fades
    z = np.zeros(int(pad * sr))
    return np.concatenate([z, x, z]).astype(np.float32)


# ----------------------------------------------------------------------------- names
def test_file_names_give_pitch_duration_dynamic_articulation():
    info = parse_name("cello_As2_15_mezzo-piano_arco-normal.mp3")
    assert (info.instrument, info.pitch, info.duration_seconds, info.dynamic, info.articulation) == (
        "cello", 46, 1.5, "mezzo-piano", "arco-normal")
    assert info.velocity == 64 and info.is_plain
    assert not parse_name("flute_A5_phrase_mezzo-forte_double-tonguing.mp3").is_plain
    assert parse_pitch("A4") == 69 and parse_pitch("Bb3") == 58 and parse_pitch("C#-1") == 1
    assert parse_pitch("forte") is None
    assert parse_name("my take in D4.wav").pitch == 62


def test_hold_out_is_deterministic_by_name_and_about_ten_percent():
    names = [f"flute_{p}_{d}_forte_normal.mp3" for p in range(200) for d in ("025", "1")]
    held = [n for n in names if is_held_out(n)]
    assert 0.06 < len(held) / len(names) < 0.14
    assert held == [n for n in names if is_held_out(Path("/elsewhere") / n)]


# ----------------------------------------------------------------------------- analysis
def test_loudness_of_a_full_scale_1khz_sine():
    sr = 24000
    x = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    ld = a_weighted_loudness(x, sr, 240)
    # peak amplitude 1 -> normalised peak bin 1 plus Hann side bins 2 x 0.25 -> 10 log10(1.5)
    assert np.median(ld[10:-10]) == pytest.approx(10 * np.log10(1.5), abs=0.1)
    assert a_weighted_loudness(np.zeros(4800, np.float32), sr, 240).max() == -100.0


def test_analysis_recovers_pitch_and_harmonic_amplitudes(tmp_path):
    sr = 24000
    path = tmp_path / "test_A3_1_forte_normal.wav"
    sf.write(path, tone(220.0 * 2 ** (10 / 1200), sr=sr), sr)        # 10 cents sharp
    a = analyse_recording(parse_name(path), SynthConfig(), 16, 65)
    mid = slice(a.onset_frame + 20, a.onset_frame + 80)
    cents = 1200 * np.log2(a.f0_hz[mid] / 220.0)
    assert np.all(np.abs(cents - 10) < 1.0)
    got = a.harmonics[mid].mean(0)
    assert np.allclose(20 * np.log10(got[:3]), 20 * np.log10([0.2, 0.1, 0.05]), atol=0.5)
    assert got[3:].max() < 0.002
    assert a.onset_frame == 5 and len(a.audio) == len(a.f0_hz) * 240


def test_pitch_tracker_follows_a_glide():
    sr, hop, n_fft = 24000, 240, 2048
    x = tone(440.0, seconds=1.0, sr=sr, pad=0.0, cents_per_s=60.0)
    spec = np.abs(np.fft.rfft(np.lib.stride_tricks.sliding_window_view(
        np.pad(x, n_fft // 2), n_fft)[::hop] * np.hanning(n_fft + 1)[:-1], axis=-1)) / (np.hanning(n_fft + 1).sum() / 2)
    f0 = track_f0(spec, sr, n_fft, 440.0)
    t = np.arange(len(f0)) * hop / sr
    expected = 440 * 2 ** (60 * t / 1200)
    inner = slice(10, len(f0) - 10)
    assert np.all(np.abs(1200 * np.log2(f0[inner] / expected[inner])) < 2.0)
    h = harmonic_amplitudes(spec, sr, n_fft, f0, 4)
    assert np.allclose(h[inner, 0], 0.2, rtol=0.05)


# ----------------------------------------------------------------------------- checkpoints
def test_save_and_load_round_trip(tmp_path):
    model, dec, syn = tiny_model()
    ex = Expression(pitch_min=50, pitch_max=80)
    save_timbre(tmp_path / "tiny", model, dec, syn, ex, extra={"metrics": {"x": 1}})
    loaded = load_timbre(tmp_path / "tiny")
    assert loaded.name == "tiny" and loaded.expression == ex and loaded.metrics == {"x": 1}
    f0, ld = torch.full((1, 20, 1), 300.0), torch.full((1, 20, 1), -30.0)
    with torch.no_grad():
        a = model.eval()(f0, ld, generator=torch.Generator().manual_seed(0))
        b = loaded.model(f0, ld, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert installed_timbres(tmp_path) == ["tiny"]


def test_unknown_timbre_lists_installed_ones_in_one_line(tmp_path):
    model, dec, syn = tiny_model()
    save_timbre(tmp_path / "oboe", model, dec, syn, Expression())
    with pytest.raises(RenderError) as err:
        find_timbre("kazoo", tmp_path)
    assert "kazoo" in str(err.value) and "oboe" in str(err.value) and "\n" not in str(err.value)


def test_a_checkpoint_of_another_kind_or_version_is_refused(tmp_path):
    model, dec, syn = tiny_model()
    folder = save_timbre(tmp_path / "t", model, dec, syn, Expression())
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ModelError):
        load_timbre(folder)


def test_expression_tables_of_unequal_length_are_refused_on_load(tmp_path):
    model, dec, syn = tiny_model()
    folder = save_timbre(tmp_path / "t", model, dec, syn, Expression())
    config = json.loads((folder / "config.json").read_text())
    config["expression"].update(register_pitch=[60, 72], register_db=[1.0])
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="register_pitch"):
        load_timbre(folder)


# ----------------------------------------------------------------------------- expression
def test_register_levels_separate_the_dynamic_from_the_register():
    from composer.render.ddsp.analysis import register_levels

    dyn, reg = {33: -40.0, 96: -25.0}, {60: -3.0, 66: 0.0, 72: 2.0, 78: 7.0}
    # fortissimo only in the two top bands, as a flute's: the per-dynamic median would be 5 dB high
    notes = [(v, p, dyn[v] + reg[p]) for v in (33, 96) for p in reg for _ in range(4)]
    notes += [(112, p, -20.0 + reg[p]) for p in (72, 78) for _ in range(4)]
    levels, pitches, offsets = register_levels(notes)
    shift = float(np.mean([reg[n[1]] for n in notes]))                 # offsets have mean 0
    assert pitches == (60, 66, 72, 78)
    assert offsets == pytest.approx([reg[p] - shift for p in pitches], abs=1e-6)
    assert levels[33] == pytest.approx(-40.0 + shift, abs=1e-6)
    assert levels[112] == pytest.approx(-20.0 + shift, abs=1e-6)


def test_measured_played_length_is_where_the_players_let_go():
    from composer.data.philharmonia import parse_name
    from composer.render.ddsp.analysis import Analysis, measure_expression

    def note(name: str, hold: int, level: float = -30.0) -> Analysis:
        # 5 frames of silence, `hold` frames at `level`, a fall of 4 dB per frame, silence
        ld = np.concatenate([np.full(5, -90.0), np.full(hold, level), level - 4.0 * np.arange(1, 11),
                             np.full(20, -90.0)]).astype(np.float32)
        n = len(ld)
        return Analysis(parse_name(name), 69.0, np.zeros(n * 10, np.float32), np.full(n, 440.0, np.float32),
                        ld, ld > -60, np.zeros((n, 2), np.float32), np.zeros((n, 2), np.float32), 5)

    short = [note(f"x_A4_025_forte_normal_{i}.wav", 12) for i in range(5)]
    long = [note(f"x_A4_1_forte_normal_{i}.wav", 90) for i in range(5)]
    ex = measure_expression(short + long, 100.0)
    assert ex.written_seconds == (0.25, 1.0)
    # the last frame within 10 dB of the sustain is 2 frames into the fall, and the controls'
    # own release (40 dB per release_seconds) takes a quarter of release_seconds to fall 10 dB
    assert ex.played_seconds == pytest.approx([0.14 - ex.release_seconds / 4, 0.92 - ex.release_seconds / 4],
                                              abs=1e-3)
    assert measure_expression(short[:4] + long, 100.0).written_seconds == (1.0,)   # too few 0.25 s notes


# ----------------------------------------------------------------------------- training
def write_folder(folder: Path, n: int = 6, sr: int = 44100) -> None:
    folder.mkdir()
    dynamics = ("piano", "forte", "fortissimo")
    for i in range(n):
        pitch = ("A3", "C4", "E4", "G4", "A4", "C5")[i % 6]
        f0 = 440 * 2 ** ((parse_pitch(pitch) - 69) / 12)
        gain = (0.3, 1.0, 1.5)[i % 3]
        x = tone(f0, amps=(0.2 * gain, 0.1 * gain, 0.05 * gain), seconds=1.5, sr=sr)
        sf.write(folder / f"test_{pitch}_15_{dynamics[i % 3]}_normal.wav", x, sr)


def tiny_recipe(warm_steps: int, steps: int, seed: int = 0) -> TimbreRecipe:
    """The shipped recipe cut down: small batches and crops, a checkpoint every 2 steps."""
    recipe = TimbreRecipe().with_overrides(warm_steps=warm_steps, steps=steps, seed=seed)
    small = {"checkpoint_every": 2, "log_every": 2}
    return replace(recipe, warm=replace(recipe.warm, batch_size=2, **small),
                   fine=replace(recipe.fine, batch_size=1, **small), warm_frames=20, frames=10, reverb_steps=2)


@pytest.mark.slow
def test_train_timbre_end_to_end_on_a_tiny_folder(tmp_path):
    write_folder(tmp_path / "rec")
    (tmp_path / "rec" / "test_B4_1_forte_normal.wav").write_bytes(b"not audio")
    config = tiny_recipe(warm_steps=4, steps=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = train_timbre(tmp_path / "rec", tmp_path / "out" / "mine", config, progress=False, log=lambda s: None)
    assert any("test_B4_1_forte_normal.wav" in str(w.message) for w in caught)   # skipped, named
    t = load_timbre(folder)
    assert t.expression.pitch_min == 57 and t.expression.pitch_max == 72
    assert t.expression.dynamics_velocity == (49, 96, 112)
    assert (folder / ".cache" / "fine" / "train" / "state.safetensors").is_file()
    # resuming a finished run trains nothing more and gives the same weights
    again = train_timbre(tmp_path / "rec", tmp_path / "out" / "mine", config, resume=True, progress=False,
                         log=lambda s: None)
    assert torch.equal(load_timbre(again).model.decoder.out.weight, t.model.decoder.out.weight)


class Interrupted(Exception):
    pass


def interrupt_at(*marks: str):
    """A log callback that stops the training at the first line starting with each mark in turn."""
    pending = list(marks)

    def log(line: str) -> None:
        if pending and line.startswith(pending[0]):
            raise Interrupted(pending.pop(0))
    return log


@pytest.mark.slow
def test_interrupted_timbre_training_resumes_to_the_same_weights(tmp_path):
    write_folder(tmp_path / "rec")
    recipe = tiny_recipe(warm_steps=6, steps=6)
    straight = train_timbre(tmp_path / "rec", tmp_path / "straight", recipe, progress=False, log=lambda s: None)
    # Stopped at the warm start's step 4 (its last checkpoint is step 2), then in the room fit
    # (the warm start finished, the room not saved), then at the fine-tune's step 4.
    log = interrupt_at("step=4", "reverb:", "step=4")
    for _ in range(3):
        with pytest.raises(Interrupted):
            train_timbre(tmp_path / "rec", tmp_path / "resumed", recipe, resume=True, progress=False, log=log)
    resumed = train_timbre(tmp_path / "rec", tmp_path / "resumed", recipe, resume=True, progress=False, log=log)
    a, b = load_timbre(straight).model.state_dict(), load_timbre(resumed).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_time_budget_stops_at_a_checkpoint_saves_what_it_can_and_resume_finishes(tmp_path):
    """``minutes`` (train-timbre --minutes) on a scripted clock: no wall-clock dependence."""
    write_folder(tmp_path / "rec")
    recipe = tiny_recipe(warm_steps=4, steps=4)
    straight = train_timbre(tmp_path / "rec", tmp_path / "straight", recipe, progress=False, log=lambda s: None)
    out = tmp_path / "budget"

    def clock(*readings):
        it = iter(readings)
        return lambda: next(it)

    # 1 minute from 0 s: not spent at 30 s (one piece of 2 warm steps), spent at 61 s
    lines = []
    assert train_timbre(tmp_path / "rec", out, recipe, progress=False, log=lines.append, minutes=1,
                        clock=clock(0, 30, 61)) is None
    assert not (out / "model.safetensors").exists()
    assert any("warm start after 2 of 4 steps" in line for line in lines)
    # again with --resume: the warm start finishes, the fine-tune stops after 2 of 4 steps and
    # the timbre is saved from that checkpoint, usable at once
    folder = train_timbre(tmp_path / "rec", out, recipe, resume=True, progress=False, log=lambda s: None,
                          minutes=1, clock=clock(0, 10, 20, 70))
    config = json.loads((folder / "config.json").read_text())["metrics"]["training"]
    assert (config["steps"], config["steps_planned"], config["finished"]) == (2, 4, False)
    partial = load_timbre(folder).model.state_dict()
    # and without a budget it finishes to the weights of an uninterrupted training
    resumed = train_timbre(tmp_path / "rec", out, recipe, resume=True, progress=False, log=lambda s: None)
    a, b = load_timbre(straight).model.state_dict(), load_timbre(resumed).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(partial[k], b[k]) for k in a)
    assert json.loads((resumed / "config.json").read_text())["metrics"]["training"]["finished"] is True


def test_fine_tune_loss_is_the_spectral_loss_plus_the_anchor_times_the_warm_loss(tmp_path):
    """The fine-tune's anchor (TimbreRecipe.anchor): the warm start's loss on the analysed
    harmonics and noise floor, weighted, added to the multi-resolution STFT loss."""
    model, dec, syn = tiny_model()
    save_timbre(tmp_path / "start", model, dec, syn, Expression())
    g = torch.Generator().manual_seed(3)
    batch = CropBatch(f0_hz=torch.full((2, 10, 1), 220.0), loudness_db=-40 + 10 * torch.rand(2, 10, 1, generator=g),
                      harmonics=torch.rand(2, 10, 8, generator=g) * 0.1, noise=torch.rand(2, 10, 9, generator=g) * 0.01,
                      audio=torch.rand(2, 1600, generator=g) * 0.2 - 0.1)
    plain = FineTuneTask(tmp_path / "start", None, 10)
    anchored = FineTuneTask(tmp_path / "start", None, 10, anchor=0.5)
    m = plain.build_model()
    spectral = plain.loss(m, batch, torch.Generator().manual_seed(0))
    both = anchored.loss(m, batch, torch.Generator().manual_seed(0))
    anchor = warm_loss(m, batch)
    assert anchor.item() > 0.1
    assert torch.equal(both, spectral + 0.5 * anchor)
    both.backward()   # the anchor's gradient reaches the decoder
    assert m.decoder.out.weight.grad is not None and m.decoder.out.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_the_anchor_changes_what_the_fine_tune_learns_and_resumes_exactly(tmp_path):
    """Same seed, same crops: the recipe's fine-tune (with the anchor) ends elsewhere than one
    without it, and an interrupted run with the anchor resumes to the same weights."""
    write_folder(tmp_path / "rec")
    recipe = tiny_recipe(warm_steps=4, steps=4)
    assert recipe.anchor == TimbreRecipe().anchor == 2.0
    anchored = train_timbre(tmp_path / "rec", tmp_path / "anchored", recipe, progress=False, log=lambda s: None)
    plain = train_timbre(tmp_path / "rec", tmp_path / "plain", replace(recipe, anchor=0.0), progress=False,
                         log=lambda s: None)
    a, p = load_timbre(anchored).model.state_dict(), load_timbre(plain).model.state_dict()
    assert not torch.equal(a["decoder.out.weight"], p["decoder.out.weight"])
    config = json.loads((anchored / "config.json").read_text())["metrics"]["training"]
    assert (config["anchor"], config["fine_lr_floor"]) == (2.0, 1.0)
    # stopped in the room fit, then at the fine-tune's step 4 (its last checkpoint is step 2)
    log = interrupt_at("reverb:", "step=4")
    for _ in range(2):
        with pytest.raises(Interrupted):
            train_timbre(tmp_path / "rec", tmp_path / "resumed", recipe, resume=True, progress=False, log=log)
    resumed = train_timbre(tmp_path / "rec", tmp_path / "resumed", recipe, resume=True, progress=False,
                           log=lambda s: None)
    b = load_timbre(resumed).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_too_little_sound_is_a_clear_error(tmp_path):
    (tmp_path / "rec").mkdir()
    sf.write(tmp_path / "rec" / "x_A4_025_forte_normal.wav", tone(440.0, seconds=0.3, pad=0.05), 44100)
    with pytest.raises(DataError, match="at least"):
        train_timbre(tmp_path / "rec", tmp_path / "out", tiny_recipe(warm_steps=1, steps=1), progress=False,
                     log=lambda s: None)
    with pytest.raises(DataError, match="no audio files"):
        list_recordings(tmp_path / "out" if (tmp_path / "out").is_dir() else tmp_path)


# ----------------------------------------------------------------------------- shipped
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_timbre_plays_in_tune(name):
    folder = ROOT / "models" / "timbres" / name
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{name} timbre not trained yet")
    from composer.render.ddsp.renderer import DDSPRenderer
    from composer.score import Note, Score, TempoChange, Track

    t = load_timbre(folder)
    pitch = (t.expression.pitch_min + t.expression.pitch_max) // 2
    score = Score(tempos=(TempoChange.from_bpm(0, 60),), tracks=(Track("x", notes=(Note(0, 960, pitch, 96),)),))
    audio = DDSPRenderer(t).render(score, 24000).samples[:, 0]
    seg = audio[int(0.6 * 24000):int(1.6 * 24000)]
    assert np.sqrt((seg ** 2).mean()) > 1e-3
    n = 1 << 20
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n))
    freqs = np.fft.rfftfreq(n, 1 / 24000)
    expected = 440 * 2 ** ((pitch - 69) / 12)
    # the strongest partial is a harmonic of the note: within 15 cents of k * f0 for some k
    k = freqs[spec.argmax()] / expected
    assert abs(1200 * np.log2(k / round(k))) < 15 and round(k) >= 1
    # the card ships with the weights and tells what the config holds: range, held-out figures
    from composer.render.ddsp.timbre import describe_range
    assert (folder / "MODEL_CARD.md").is_file(), f"{name} ships without MODEL_CARD.md"
    card = (folder / "MODEL_CARD.md").read_text()
    ex, held = t.expression, t.metrics["resynthesis"]
    assert card.startswith(f"# Timbre `{name}` (DDSP)")
    assert f"Range: {describe_range(ex)} (MIDI {ex.pitch_min}-{ex.pitch_max})" in card
    assert f"## Quality on the {held['n_notes']} held-out recordings" in card
    assert f"| {held['loudness_l1_db']:.2f} | {held['f0_l1_cents']:.2f} | {held['mrstft']:.3f} |" in card
    assert "may not be redistributed" in card  # the recordings' licence


def test_cli_lists_timbres(tmp_path, capsys):
    from composer.commands.timbre import _list

    model, dec, syn = tiny_model()
    save_timbre(tmp_path / "oboe", model, dec, syn, Expression(pitch_min=58, pitch_max=91))
    import argparse
    assert _list(argparse.Namespace(dir=str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert "oboe" in out and "Bb3-G6" in out


@pytest.mark.data
@pytest.mark.skipif(not DATA.is_dir(), reason="Philharmonia recordings not available")
def test_philharmonia_folders_parse():
    infos = list_recordings(DATA / "flute")
    assert len(infos) > 500 and all(i.is_plain for i in infos)


def test_mixer_plays_ddsp_and_soundfont_tracks_together(tmp_path, monkeypatch):
    from composer.errors import RenderError as _RenderError
    from composer.render.mix import Mixer, TrackTimbre
    from composer.score import Note, Score, TempoChange, Track

    model, dec, syn = tiny_model()
    save_timbre(tmp_path / "tiny", model, dec, syn, Expression(pitch_min=48, pitch_max=84))
    monkeypatch.setenv("COMPOSER_TIMBRES", str(tmp_path))
    score = Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(
        Track("Melody", 73, notes=(Note(0, 960, 72, 100),)),
        Track("Bass", 32, notes=(Note(0, 960, 36, 100),))))
    mixer = Mixer()
    with pytest.raises(_RenderError, match="installed timbres: tiny"):
        mixer.render(score, 16000, (TrackTimbre("ddsp", "kazoo"), TrackTimbre("ddsp", "tiny")))
    try:
        both = mixer.render(score, 16000, (TrackTimbre("ddsp", "tiny"), TrackTimbre("sf", "32")))
    except _RenderError as err:                      # no libfluidsynth on this machine
        pytest.skip(str(err))
    alone = Mixer().render(score.replace(tracks=score.tracks[:1]), 16000, (TrackTimbre("ddsp", "tiny"),))
    assert both.n_channels == 2 and both.n_samples >= alone.n_samples
    assert np.abs(both.samples - np.pad(alone.samples, ((0, both.n_samples - alone.n_samples), (0, 0)))).max() > 1e-3


def test_render_cli_bounds_a_64_note_chord_with_one_warning_line(tmp_path, monkeypatch, capsys):
    from composer.cli import main
    from composer.io.audio import read_audio
    from composer.io.midi import write_midi
    from composer.score import Note, Score, TempoChange, Track

    install_tiny_timbre(tmp_path / "timbres")
    monkeypatch.setenv("COMPOSER_TIMBRES", str(tmp_path / "timbres"))
    chord = Track("Chords", 0, notes=tuple(Note(0, 960, 30 + i, 90) for i in range(64)))  # all in range
    write_midi(Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(chord,)), tmp_path / "chord.mid")
    out = tmp_path / "chord.wav"
    assert main(["render", str(tmp_path / "chord.mid"), "-o", str(out), "--timbre", "Chords=ddsp:tiny"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["composer: warning: track 'Chords': 56 notes dropped: more than 8 notes at once"]
    audio = read_audio(out)
    assert audio.duration_seconds > 1.0 and np.all(np.isfinite(audio.samples))
    assert np.abs(audio.samples).max() <= 10 ** (-1 / 20) + 1 / 32768
    # An unknown timbre: one line naming the installed ones, and no file.
    assert main(["render", str(tmp_path / "chord.mid"), "-o", str(tmp_path / "x.wav"),
                 "--timbre", "0=ddsp:kazoo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'kazoo'" in err and "installed timbres: tiny" in err
    assert not (tmp_path / "x.wav").exists()


def test_expression_only_measures_the_controls_again_and_keeps_the_weights(tmp_path, capsys):
    from composer.cli import main

    write_folder(tmp_path / "rec")
    folder = install_tiny_timbre(tmp_path / "timbres", "mine")
    weights = (folder / "model.safetensors").read_bytes()
    assert main(["train-timbre", str(tmp_path / "rec"), "--out", str(folder), "--expression-only", "--quiet"]) == 0
    t = load_timbre(folder)
    assert (t.expression.pitch_min, t.expression.pitch_max) == (57, 72)   # was 24-96
    assert t.expression.dynamics_velocity == (49, 96, 112)
    assert t.expression.written_seconds == (1.5,) and 1.0 < t.expression.played_seconds[0] < 1.7
    assert (folder / "model.safetensors").read_bytes() == weights
    assert json.loads((folder / "config.json").read_text())["metrics"]["training"]["expression_remeasured"]
    capsys.readouterr()
    assert main(["train-timbre", str(tmp_path / "rec"), "--out", str(tmp_path / "none"), "--expression-only"]) != 0
    assert "holds no timbre" in capsys.readouterr().err


def test_train_timbre_refuses_a_budget_of_no_time_before_any_work(tmp_path, capsys):
    from composer.cli import main

    (tmp_path / "rec").mkdir()
    assert main(["train-timbre", str(tmp_path / "rec"), "--out", str(tmp_path / "t"), "--minutes", "0"]) != 0
    assert "--minutes must be more than 0" in capsys.readouterr().err
