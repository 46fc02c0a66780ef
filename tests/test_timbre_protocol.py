"""The timbre protocol (composer/render/ddsp/protocol.py, issue 21): its measures read what they
claim on signals whose answer is known, and `composer eval-timbre` runs it end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from timbre_fixtures import install_tiny_timbre

from composer.data.philharmonia import is_held_out
from composer.render.ddsp.protocol import (MEASURES, Reference, align, note_measures, rms_match)
from composer.render.ddsp.spectral import a_weighted_loudness

SR, HOP = 24000, 240


def tone(f0: float, seconds: float = 1.0, cents: float = 0.0, amps=(0.2, 0.1, 0.05), pad: float = 0.1,
         sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * f0 * 2 ** (cents / 1200) * t
    x = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    x *= np.minimum(1, np.minimum(t, t[-1] - t) / 0.02)
    z = np.zeros(int(pad * sr))
    return np.concatenate([z, x, z]).astype(np.float32)


def reference(x: np.ndarray, pitch: int = 69) -> Reference:
    n = len(x) // HOP
    x = x[:n * HOP]
    ld = a_weighted_loudness(x, SR, HOP)[:n]
    f0 = np.full(n, 440 * 2 ** ((pitch - 69) / 12), np.float32)
    return Reference("x", x, f0, ld, ld > ld.max() - 35, pitch, 1.0, 96)


def test_alignment_undoes_a_delay_and_rms_matching_a_gain():
    x = tone(440.0)
    late = np.concatenate([np.zeros(4800, np.float32), 0.3 * x])
    out = rms_match(align(late, x, SR, HOP), x)
    assert len(out) == len(x)
    # the delay is a whole number of frames, so the copy comes back sample for sample
    assert np.abs(out - x).max() < 1e-4


def test_a_copy_scores_zero_and_a_detuned_copy_its_detuning():
    x = tone(440.0)
    ref = reference(x)
    same = note_measures(np.concatenate([np.zeros(2400, np.float32), 0.5 * x]), ref, SR, HOP)
    assert set(same) == set(MEASURES)
    assert same["mrstft_rms"] < 0.02 and same["mrstft_loud"] < 0.02
    assert same["mfcc"] < 0.5 and same["f0_cents"] < 2 and same["loudness_db"] < 0.1
    sharp = note_measures(tone(440.0, cents=25), ref, SR, HOP)
    assert 20 < sharp["f0_cents"] < 30
    # another spectrum: every timbre measure grows, loudness stays matched
    bright = note_measures(tone(440.0, amps=(0.05, 0.1, 0.2, 0.2, 0.1)), ref, SR, HOP)
    assert bright["mrstft_rms"] > 10 * same["mrstft_rms"] + 0.1
    assert bright["mfcc"] > 10 * same["mfcc"] + 5


def held_out_names(n: int) -> list[str]:
    """The first ``n`` Philharmonia-style flute names the hold-out rule keeps aside."""
    names = []
    for pitch in ("C5", "D5", "E5", "F5", "G5", "A5", "B5", "C6"):
        for length in ("05", "1", "15"):
            for dyn in ("piano", "forte"):
                name = f"flute_{pitch}_{length}_{dyn}_normal.wav"
                if is_held_out(name):
                    names.append(name)
    assert len(names) >= n
    return names[:n]


@pytest.mark.slow
def test_eval_timbre_cli_measures_held_out_notes_only(tmp_path, capsys):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from composer.cli import main
    from composer.data.philharmonia import parse_name

    timbres = tmp_path / "timbres"
    install_tiny_timbre(timbres, "flute", 60, 96)
    rec = tmp_path / "rec" / "flute"
    rec.mkdir(parents=True)
    held = held_out_names(2)
    for name in held:
        info = parse_name(name)
        sf.write(rec / name, tone(440 * 2 ** ((info.pitch - 69) / 12), info.duration_seconds, sr=44100), 44100)
    trained_on = next(f"flute_{p}_1_forte_normal.wav" for p in ("C5", "D5", "E5", "F5", "G5", "A5")
                      if not is_held_out(f"flute_{p}_1_forte_normal.wav"))
    sf.write(rec / trained_on, tone(523.25, sr=44100), 44100)
    out = tmp_path / "protocol.json"
    assert main(["eval-timbre", "--dir", str(timbres), "--recordings", str(tmp_path / "rec"),
                 "--json", str(out), "--quiet", "--threads", "1"]) == 0
    table = capsys.readouterr().out
    assert "| flute | 2 | GM 73" in table
    report = json.loads(out.read_text())
    assert report["per_note"][0]["notes"] == sorted(held)      # the training note is not measured
    summary = report["summary"][0]
    for m in MEASURES:
        assert np.isfinite(summary[m]["learned"]) and np.isfinite(summary[m]["soundfont"])
        assert summary[m]["share_closer"] in (0.0, 0.5, 1.0)
    assert set(summary["soundfont_tried"]) == {"73", "73+fx"}


def test_eval_timbre_names_a_missing_recordings_folder_before_any_work(tmp_path, capsys):
    from composer.cli import main

    install_tiny_timbre(tmp_path / "timbres", "flute")
    (tmp_path / "rec").mkdir()
    assert main(["eval-timbre", "--dir", str(tmp_path / "timbres"), "--recordings", str(tmp_path / "rec")]) != 0
    err = capsys.readouterr().err
    assert "no folder of recordings for flute" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- phrases (issue 21, item 3)
def line(steps: list[tuple[float, float, float]], sr: int = SR, click_at: float | None = None,
         fade: float = 0.005) -> np.ndarray:
    """A sine line of (start_s, end_s, f0) notes with ``fade`` s fades in and out; continuous phase (as one
    voice plays it); ``click_at`` adds a 0.3 step there."""
    n = int(max(e for _, e, _ in steps) * sr) + sr // 10
    f = np.zeros(n)
    env = np.zeros(n)
    for s, e, f0 in steps:
        a, b = int(s * sr), int(e * sr)
        f[a:b] = f0
        t = np.arange(b - a) / sr
        env[a:b] = np.minimum(1, np.minimum(t, t[-1] - t) / fade)
    x = 0.3 * env * np.sin(2 * np.pi * np.cumsum(f) / sr)
    if click_at is not None:
        x[int(click_at * sr):int((click_at + 0.05) * sr)] += 0.3
    return x.astype(np.float32)


def test_a_step_at_a_join_is_a_click_and_a_smooth_join_is_not():
    from composer.render.ddsp.phrases import CLICK_RATIO, measure_joins

    notes = [(0.2, 0.6, 440.0), (0.6, 1.0, 494.0), (1.2, 1.6, 523.0)]
    spans = [(s, e) for s, e, _ in notes]
    smooth = measure_joins(line(notes), SR, spans)
    assert smooth.clicks == 0 and smooth.click_ratios.max() < CLICK_RATIO
    clicked = measure_joins(line(notes, click_at=0.6), SR, spans)
    assert clicked.clicks >= 1 and clicked.click_ratios.max() > 3


def test_legato_is_a_join_without_a_loudness_dip():
    from composer.render.ddsp.phrases import measure_joins

    slurred = [(0.2, 0.7, 440.0), (0.7, 1.2, 494.0)]
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(np.where(np.arange(int(1.4 * SR)) < 0.7 * SR, 440.0, 494.0)) / SR)
    x[:int(0.2 * SR)] = 0
    x[int(1.2 * SR):] = 0
    legato = measure_joins(x.astype(np.float32), SR, [(s, e) for s, e, _ in slurred], [69, 71])
    assert len(legato.legato_dips_db) == 1 and legato.legato_share == 1.0
    tongued = measure_joins(line(slurred, fade=0.04), SR, [(s, e) for s, e, _ in slurred], [69, 71])
    assert tongued.legato_dips_db[0] > 6 and tongued.legato_share == 0.0
    # a repeated pitch is meant to be re-attacked: not a legato join to judge
    again = measure_joins(line(slurred), SR, [(s, e) for s, e, _ in slurred], [69, 69])
    assert len(again.legato_dips_db) == 0


def test_touching_notes_of_another_pitch_are_slurred_and_a_repeated_pitch_reattacked():
    from composer.render.ddsp.voices import TimedNote, allocate_voices

    notes = [TimedNote(0.0, 0.5, 60, 80), TimedNote(0.5, 1.0, 62, 80), TimedNote(1.01, 1.5, 64, 80),
             TimedNote(1.5, 2.0, 64, 80), TimedNote(2.2, 2.5, 65, 80)]
    (voice,) = allocate_voices(notes).voices
    assert [n.legato for n in voice] == [False, True, True, False, False]
    assert voice[1].end_s == 1.01                  # held to the next onset across the 10 ms gap
    assert voice[3].end_s == 2.0                   # a real rest stays a rest


@pytest.mark.slow
def test_the_model_card_carries_the_protocol_and_the_training_command(tmp_path):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from composer.data.philharmonia import parse_name
    from composer.render.ddsp.card import write_model_card

    folder = install_tiny_timbre(tmp_path / "timbres", "flute", 60, 96)
    config = json.loads((folder / "config.json").read_text())
    config["metrics"] = {"training": {"warm_steps": 3000, "steps": 150, "wall_seconds": 12.5,
                                      "expression_remeasured": True, "expression_wall_seconds": 3.5},
                         "midi_vs_reality": {"learned": 1.0}}
    config["expression"].update(register_pitch=[62, 86], register_db=[-4.0, 4.5],
                                written_seconds=[0.25, 1.0], played_seconds=[0.15, 0.9])
    (folder / "config.json").write_text(json.dumps(config))
    rec = tmp_path / "flute"
    rec.mkdir()
    for name in held_out_names(2):
        info = parse_name(name)
        sf.write(rec / name, tone(440 * 2 ** ((info.pitch - 69) / 12), info.duration_seconds, sr=44100), 44100)
    metrics = write_model_card(folder, rec, log=lambda s: None)
    assert metrics["protocol"]["n_notes"] == 2 and "midi_vs_reality" not in metrics
    card = (folder / "MODEL_CARD.md").read_text()
    assert ("composer train-timbre ../shared/data/philharmonia/flute --out models/timbres/flute "
            "--warm-steps 3000`") in card
    assert "| MR-STFT, RMS-matched |" in card and "| MFCC distance |" in card and "12.5 s wall time" in card
    assert "D4: -4.0, D6: +4.5" in card and "(written: played s): 0.25: 0.15, 1: 0.90" in card
    assert "--out models/timbres/flute --expression-only`, 3.5 s" in card
    stored = json.loads((folder / "config.json").read_text())["metrics"]
    assert stored["protocol"]["mfcc"]["share_closer"] in (0.0, 0.5, 1.0)
