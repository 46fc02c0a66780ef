"""The timbre protocol (issue 21): learned timbres and the SoundFont against held-out recordings.

One protocol for every instrument, measured in one run (``composer eval-timbre``,
docs/EVAL.md "Learned timbres"):

* **Notes.** The Philharmonia recordings whose file name the SHA-1 hold-out rule picks
  (:func:`composer.data.philharmonia.is_held_out`, about 10%, never trained on), plain sustained
  articulations with a nominal length (025, 05, 1, 15) and a written dynamic: the same rule
  for every instrument.
* **Rendering.** Each note is played from its file name alone (pitch, length, dynamic as
  velocity) by the learned timbre and by the default SoundFont at the timbre's rate, then
  shifted so its onset (first frame within 30 dB of its peak loudness) meets the recording's
  and cut to the recording's length.
* **Measures**, per note and as the mean over notes:
  - ``mrstft_rms``: multi-resolution log-STFT distance (auraloss, the fine-tune's loss) after
    RMS matching (the rendered note scaled to the recording's RMS over the whole note);
  - ``mrstft_loud``: the same after A-weighted loudness matching (power over the frames within
    30 dB of the peak; the model cards' original measure);
  - ``mfcc``: mean Euclidean distance of MFCCs 1-19 (c0, the level, left out) over the
    recording's sounding frames: a second measure that is not the training loss;
  - ``f0_cents`` and ``loudness_db``: the L1 between the f0 and A-weighted loudness curves
    re-analysed from the rendered audio (loudness-matched) and those of the recording, over the
    recording's sounding frames (within 35 dB of its peak).
* **Baseline.** The SoundFont plays each instrument's GM program(s) (:data:`GM_PROGRAMS`),
  with FluidSynth's reverb and chorus and without; the one configuration with the lowest mean
  ``mrstft_rms`` is the baseline for every measure (chosen per instrument, not per note).
* **Share closer**: the fraction of notes where the learned timbre's value is below the
  SoundFont's, per measure.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from composer.render.ddsp.evaluate import (GM_PROGRAMS, align, loudness_match, note_score,
                                           spectral_distance)
from composer.render.ddsp.spectral import a_weighted_loudness, stft_magnitude, track_f0

MEASURES = ("mrstft_rms", "mrstft_loud", "mfcc", "f0_cents", "loudness_db")
"""Per-note measures, all "lower is closer"."""

SOUNDING_DB = 35.0
"""A frame of the recording sounds when its loudness is within this of the note's peak (as the
analysis's ``voiced``)."""


def rms_match(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``x`` scaled to the reference's RMS over the whole signal."""
    rms = lambda s: float(np.sqrt(np.mean(np.square(s, dtype=np.float64))))  # noqa: E731
    return (x * (rms(reference) / max(rms(x), 1e-12))).astype(np.float32)


def mfcc_distance(x: np.ndarray, reference: np.ndarray, sample_rate: int, hop: int,
                  sounding: np.ndarray) -> float:
    """Mean Euclidean distance of MFCCs 1-19 over the ``sounding`` frames of the reference."""
    import librosa

    def coeffs(s: np.ndarray) -> np.ndarray:
        m = librosa.feature.mfcc(y=s.astype(np.float32), sr=sample_rate, n_mfcc=20, n_fft=2048,
                                 hop_length=hop, n_mels=64, fmax=sample_rate / 2)
        return m[1:, :len(sounding)].T                                        # [frames, 19]

    a, b = coeffs(x), coeffs(reference)
    n = min(len(a), len(b), len(sounding))
    keep = sounding[:n]
    return float(np.linalg.norm(a[:n][keep] - b[:n][keep], axis=1).mean())


@dataclass(frozen=True)
class Reference:
    """One held-out recording: its audio at the timbre's rate (trimmed as the analysis trims),
    its f0 and loudness curves, sounding frames, nominal pitch, length and velocity."""

    name: str
    audio: np.ndarray
    f0_hz: np.ndarray
    loudness_db: np.ndarray
    sounding: np.ndarray
    pitch: int
    seconds: float
    velocity: int


def note_measures(rendered: np.ndarray, ref: Reference, sample_rate: int, hop: int) -> dict[str, float]:
    """Every measure of :data:`MEASURES` for one rendered note against its recording."""
    aligned = align(rendered, ref.audio, sample_rate, hop)
    by_rms = rms_match(aligned, ref.audio)
    by_loud = loudness_match(aligned, ref.audio, sample_rate, hop)
    n = len(ref.loudness_db)
    ld = a_weighted_loudness(by_loud, sample_rate, hop)[:n]
    n_fft = 4096 if ref.pitch < 48 else 2048
    f0 = track_f0(stft_magnitude(by_loud, n_fft, hop, n), sample_rate, n_fft,
                  float(440 * 2 ** ((ref.pitch - 69) / 12)))
    # f0 only where both sound: a rendered note that is silent where the recording sounds is
    # charged by the loudness and spectral measures, and a pitch read from silence means nothing.
    both = ref.sounding & (ld > ld.max() - SOUNDING_DB)
    f0_cents = (float(np.abs(1200 * np.log2(f0[both] / ref.f0_hz[both])).mean()) if both.any()
                else 1200.0)
    return {
        "mrstft_rms": spectral_distance(by_rms, ref.audio),
        "mrstft_loud": spectral_distance(by_loud, ref.audio),
        "mfcc": mfcc_distance(by_rms, ref.audio, sample_rate, hop, ref.sounding),
        "f0_cents": f0_cents,
        "loudness_db": float(np.abs(ld[ref.sounding] - ref.loudness_db[ref.sounding]).mean()),
    }


def held_out_references(audio_dir: str | Path, sample_rate: int, hop: int) -> list[Reference]:
    """The protocol's notes of one instrument folder (see the module docstring), by file name."""
    from composer.data.philharmonia import is_held_out, list_recordings
    from composer.render.ddsp.analysis import analyse_recording
    from composer.render.ddsp.timbre import SynthConfig

    synth = SynthConfig(sample_rate=sample_rate, hop=hop)
    refs = []
    for info in list_recordings(audio_dir):
        if not (is_held_out(info.path) and info.duration_seconds and info.velocity):
            continue
        a = analyse_recording(info, synth, 1, 2)   # only f0 and loudness are used
        if a is None:
            continue
        refs.append(Reference(info.path.name, a.audio, a.f0_hz, a.loudness_db,
                              a.loudness_db > a.loudness_db.max() - SOUNDING_DB, int(round(a.pitch)),
                              float(info.duration_seconds), int(info.velocity)))
    return refs


@dataclass
class InstrumentResult:
    """Per-note values (``learned[measure][i]``, ``soundfont[...]``) for ``notes``, and the
    SoundFont configuration that was the baseline (GM program, 0-based; FluidSynth effects)."""

    instrument: str
    notes: list[str]
    learned: dict[str, list[float]]
    soundfont: dict[str, list[float]] | None
    soundfont_program: int | None = None
    soundfont_effects: bool | None = None
    soundfont_tried: dict[str, float] = field(default_factory=dict)

    def mean(self, side: str, measure: str) -> float:
        values = getattr(self, side)[measure]
        return float(np.mean(values)) if values else float("nan")

    def share_closer(self, measure: str) -> float:
        if not self.soundfont or not self.notes:
            return float("nan")
        pairs = zip(self.learned[measure], self.soundfont[measure])
        return float(np.mean([m < s for m, s in pairs]))

    def summary(self) -> dict:
        out = {"instrument": self.instrument, "n_notes": len(self.notes),
               "soundfont_program": self.soundfont_program, "soundfont_effects": self.soundfont_effects,
               "soundfont_tried": self.soundfont_tried}
        for m in MEASURES:
            out[m] = {"learned": self.mean("learned", m),
                      "soundfont": self.mean("soundfont", m) if self.soundfont else None,
                      "share_closer": self.share_closer(m) if self.soundfont else None}
        return out


def evaluate_instrument(timbre, audio_dir: str | Path, instrument: str | None = None,
                        soundfont: bool = True, progress=lambda done, total: None) -> InstrumentResult:
    """Run the protocol for one timbre against its instrument's held-out recordings."""
    from composer.render.ddsp.renderer import DDSPRenderer

    sr, hop = timbre.sample_rate, timbre.model.synth_config.hop
    instrument = instrument or timbre.name
    refs = held_out_references(audio_dir, sr, hop)
    renderer = DDSPRenderer(timbre)
    configs = {}
    if soundfont:
        from composer.render.soundfont import SoundFontRenderer
        fonts = {True: SoundFontRenderer(), False: SoundFontRenderer(reverb=False, chorus=False)}
        configs = {(p, fx): fonts[fx] for p in GM_PROGRAMS.get(instrument, ()) for fx in (True, False)}
    learned = {m: [] for m in MEASURES}
    per_config = {c: {m: [] for m in MEASURES} for c in configs}
    for i, ref in enumerate(refs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a note moved into range is still that note
            mine = renderer.render(note_score(ref.pitch, ref.seconds, ref.velocity), sr).samples[:, 0]
        for m, v in note_measures(mine, ref, sr, hop).items():
            learned[m].append(v)
        for (program, fx), font in configs.items():
            theirs = font.render(note_score(ref.pitch, ref.seconds, ref.velocity, program), sr).samples.mean(axis=1)
            for m, v in note_measures(theirs, ref, sr, hop).items():
                per_config[(program, fx)][m].append(v)
        progress(i + 1, len(refs))
    result = InstrumentResult(instrument, [r.name for r in refs], learned, None)
    if configs:
        best = min(configs, key=lambda c: float(np.mean(per_config[c]["mrstft_rms"])))
        result.soundfont = per_config[best]
        result.soundfont_program, result.soundfont_effects = best
        result.soundfont_tried = {f"{p}{'+fx' if fx else ''}": float(np.mean(per_config[(p, fx)]["mrstft_rms"]))
                                  for p, fx in configs}
    return result


MEASURE_TITLES = {
    "mrstft_rms": "MR-STFT, RMS-matched",
    "mrstft_loud": "MR-STFT, loudness-matched",
    "mfcc": "MFCC distance",
    "f0_cents": "f0 L1 (cents)",
    "loudness_db": "loudness L1 (dB)",
}


def format_table(results: list[InstrumentResult]) -> str:
    """Markdown: per instrument and measure, learned / SoundFont means, how much closer the
    learned timbre is (1 - learned / SoundFont) and the share of notes where it is closer."""
    head = "| instrument | notes | SoundFont | " + " | ".join(
        f"{MEASURE_TITLES[m]}: learned / SF / closer by / notes closer" for m in MEASURES) + " |"
    lines = [head, "|" + "---|" * (3 + len(MEASURES))]
    for r in results:
        sf = ("-" if r.soundfont_program is None else
              f"GM {r.soundfont_program}{' + fx' if r.soundfont_effects else ' dry'}")
        cells = []
        for m in MEASURES:
            mine = r.mean("learned", m)
            if r.soundfont:
                theirs = r.mean("soundfont", m)
                cells.append(f"{mine:.3f} / {theirs:.3f} / {100 * (1 - mine / theirs):+.0f}% / "
                             f"{100 * r.share_closer(m):.0f}%")
            else:
                cells.append(f"{mine:.3f} / - / - / -")
        lines.append(f"| {r.instrument} | {len(r.notes)} | {sf} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["MEASURES", "Reference", "InstrumentResult", "align", "rms_match", "loudness_match",
           "mfcc_distance", "note_measures", "held_out_references", "evaluate_instrument", "format_table"]
