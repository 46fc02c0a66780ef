"""Quality measures of a timbre against real recordings.

* :func:`evaluate_resynthesis`: held-out recordings resynthesised from their own f0 and loudness
  curves; loudness L1 (dB) and f0 L1 (cents) between the recording and the resynthesis as in the
  DDSP paper's Table 1 (both re-analysed the same way), and the multi-resolution STFT distance.
* :func:`midi_vs_reality`: the same held-out notes played from MIDI (pitch, duration, dynamic
  from the file name) with the learned timbre and with a SoundFont, each compared with the
  recording by multi-resolution STFT distance after onset alignment and loudness matching.
  The model cards use the fuller protocol of ``protocol.py`` (issue 21) instead.

A timbre's model card (these figures and the protocol's) is written by ``card.py``: this
module is what the protocol builds on, so it does not import it back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from composer.render.ddsp.programs import GM_PROGRAMS
from composer.render.ddsp.spectral import a_weighted_loudness, mrstft_loss, stft_magnitude, track_f0
from composer.render.ddsp.timbre import TimbreModel


@dataclass(frozen=True)
class ResynthesisScores:
    """Means over held-out recordings: loudness L1 in dB, f0 L1 in cents (voiced frames),
    multi-resolution STFT distance (auraloss, lower is closer); ``n_notes`` evaluated."""

    loudness_l1_db: float
    f0_l1_cents: float
    mrstft: float
    n_notes: int


def _to_t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@torch.no_grad()
def evaluate_resynthesis(model: TimbreModel, analyses: list, seed: int = 0) -> ResynthesisScores:
    """Resynthesise each analysed held-out recording and compare (see module docstring)."""
    sc = model.synth_config
    loss_fn = mrstft_loss()
    gen = torch.Generator().manual_seed(seed)
    lds, f0s, dists = [], [], []
    for a in analyses:
        f0 = _to_t(a.f0_hz)[None, :, None]
        ld = _to_t(a.loudness_db)[None, :, None]
        audio = model(f0, ld, generator=gen)[0].numpy()
        ld_hat = a_weighted_loudness(audio, sc.sample_rate, sc.hop)[:len(a.loudness_db)]
        voiced = a.voiced[:len(ld_hat)]
        if not voiced.any():
            continue
        lds.append(float(np.abs(ld_hat[voiced] - a.loudness_db[:len(ld_hat)][voiced]).mean()))
        n_fft = 4096 if a.pitch < 48 else 2048
        mag = stft_magnitude(audio, n_fft, sc.hop, len(a.f0_hz))
        f0_hat = track_f0(mag, sc.sample_rate, n_fft, float(440 * 2 ** ((a.pitch - 69) / 12)))
        f0s.append(float(np.abs(1200 * np.log2(f0_hat[voiced] / a.f0_hz[voiced])).mean()))
        dists.append(float(loss_fn(_to_t(audio)[None, None], _to_t(a.audio)[None, None])))
    return ResynthesisScores(float(np.mean(lds)), float(np.mean(f0s)), float(np.mean(dists)), len(lds))


def onset_frame(x: np.ndarray, sample_rate: int, hop: int) -> int:
    """First frame within 30 dB of the peak A-weighted loudness."""
    ld = a_weighted_loudness(x, sample_rate, hop)
    return int(np.flatnonzero(ld > ld.max() - 30)[0])


def align(rendered: np.ndarray, reference: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """``rendered`` shifted so its onset meets the reference's, cut or zero-padded to its length."""
    shift = (onset_frame(reference, sample_rate, hop) - onset_frame(rendered, sample_rate, hop)) * hop
    out = np.zeros_like(reference, dtype=np.float32)
    if shift >= 0:
        seg = rendered[:len(reference) - shift]
        out[shift:shift + len(seg)] = seg
    else:
        seg = rendered[-shift:-shift + len(reference)]
        out[:len(seg)] = seg
    return out


def align_and_match(rendered: np.ndarray, reference: np.ndarray, sample_rate: int,
                    hop: int = 240) -> np.ndarray:
    """Shift ``rendered`` so its onset (:func:`onset_frame`) meets the reference's, cut or pad
    it to the reference's length (:func:`align`) and scale it to the same A-weighted loudness
    (power over frames within 30 dB of the peak).  float32 [len(reference)]."""
    return loudness_match(align(rendered, reference, sample_rate, hop), reference, sample_rate, hop)


def loudness_match(x: np.ndarray, reference: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """``x`` scaled so its A-weighted power over its frames within 30 dB of its peak equals the
    reference's (the level a listener hears while the note sounds, not its tail)."""
    def level(s: np.ndarray) -> float:
        ld = a_weighted_loudness(s, sample_rate, hop)
        p = 10 ** (ld / 10)
        return float(p[ld > ld.max() - 30].mean())

    return (x * math.sqrt(level(reference) / max(level(x), 1e-12))).astype(np.float32)


def spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-resolution STFT distance (the training loss) between two equal-length signals."""
    with torch.no_grad():
        return float(mrstft_loss()(_to_t(a)[None, None], _to_t(b)[None, None]))




@dataclass(frozen=True)
class MidiVsRealityScores:
    """Means over held-out notes of the MR-STFT distance to the real recording (lower = closer):
    ``learned`` (this timbre from MIDI), ``soundfont`` (the closest of the GM programs tried, with
    FluidSynth's default reverb and chorus, and without: the better of the two per program),
    ``soundfont_program`` that baseline's program, ``wins`` notes where learned < soundfont,
    ``n_notes`` evaluated."""

    learned: float
    soundfont: float | None
    soundfont_program: int | None
    wins: int | None
    n_notes: int


def note_score(pitch: int, seconds: float, velocity: int, program: int = 0):
    """A one-note Score at 60 bpm (480 ticks = 1 s), the note starting at 0."""
    from composer.score import Note, Score, TempoChange, Track

    note = Note(0, max(1, int(round(seconds * 480))), int(pitch), int(velocity))
    return Score(tempos=(TempoChange.from_bpm(0, 60),), tracks=(Track("note", program, notes=(note,)),))


def midi_vs_reality(timbre, analyses: list, instrument: str | None = None,
                    log=lambda s: None) -> MidiVsRealityScores:
    """Held-out notes from MIDI (pitch, duration, dynamic from the file name) with ``timbre`` and
    with the default SoundFont, each against the recording (see module docstring).  Notes without
    a nominal duration or dynamic (long, phrase) are skipped.  The SoundFont part is None when
    ``composer.render.soundfont`` or FluidSynth is not available."""
    import warnings

    from composer.render.ddsp.renderer import DDSPRenderer

    sr = timbre.sample_rate
    notes = [a for a in analyses if a.info.duration_seconds and a.info.velocity]
    renderer = DDSPRenderer(timbre)
    programs = GM_PROGRAMS.get(instrument or "", ())
    try:
        from composer.render.soundfont import SoundFontRenderer
        fonts = {"wet": SoundFontRenderer(), "dry": SoundFontRenderer(reverb=False, chorus=False)}
        fonts["wet"].render(note_score(60, 0.1, 80))           # fail here, not per note
    except Exception as err:  # noqa: BLE001 - missing module or library: report pending
        log(f"SoundFont comparison pending: {err}")
        fonts, programs = {}, ()
    learned, per_program = [], {p: [] for p in programs}
    for a in notes:
        pitch = int(round(a.pitch))
        score = note_score(pitch, a.info.duration_seconds, a.info.velocity)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mine = renderer.render(score, sr).samples[:, 0]
        learned.append(spectral_distance(align_and_match(mine, a.audio, sr), a.audio))
        for p in programs:
            best = None
            for font in fonts.values():
                sf_audio = font.render(note_score(pitch, a.info.duration_seconds, a.info.velocity, p), sr)
                mono = sf_audio.samples.mean(axis=1)
                d = spectral_distance(align_and_match(mono, a.audio, sr), a.audio)
                best = d if best is None else min(best, d)
            per_program[p].append(best)
    if not learned:
        return MidiVsRealityScores(float("nan"), None, None, None, 0)
    if programs:
        program = min(programs, key=lambda p: float(np.mean(per_program[p])))
        sf_scores = per_program[program]
        wins = int(sum(m < s for m, s in zip(learned, sf_scores)))
        return MidiVsRealityScores(float(np.mean(learned)), float(np.mean(sf_scores)), program, wins, len(learned))
    return MidiVsRealityScores(float(np.mean(learned)), None, None, None, len(learned))


HARDWARE = ("a 2-core x86_64 CPU shared with other jobs (Intel Xeon; torch 2.13.0+cpu on 1 thread, "
            "no GPU)")


def training_command(audio_dir, name: str, training: dict) -> str:
    """The ``composer train-timbre`` line that trains this recipe (defaults left out)."""
    from pathlib import Path

    line = f"composer train-timbre ../shared/data/philharmonia/{Path(audio_dir).name} --out models/timbres/{name}"
    if training.get("warm_steps", 600) != 600:
        line += f" --warm-steps {training['warm_steps']}"
    if training.get("steps", 150) != 150:
        line += f" --steps {training['steps']}"
    return line
