"""The DDSP timbre renderer: a Score's tracks played by a learned timbre (``Renderer`` protocol).

Per track: notes -> seconds through the Score's tempo map -> octave-fitted into the timbre's
range -> split into at most ``max_voices`` monophonic voices -> expressive control curves
(``controls.py``) -> one batch through the timbre network -> harmonic + noise synthesis in
blocks (phase carried from block to block) -> per-voice gain, summed -> the learned reverb ->
resampled from the timbre's rate to the requested one.  Tracks are summed; the result is stereo
(both channels equal) float32 Audio.

Speed: each block synthesises only the harmonics below Nyquist for its highest f0, and blocks
where every voice is silent are skipped.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from composer.audio import Audio
from composer.render.base import check_render_limits
from composer.render.ddsp.controls import (ControlCurves, dls_db, fit_range, n_frames_for, step_curve,
                                           voice_controls)
from composer.render.ddsp.timbre import Timbre, describe_range, find_timbre
from composer.render.ddsp.voices import TimedNote, allocate_voices
from composer.score import Score, Track

BLOCK_FRAMES = 200          # 2 s blocks at 100 frames per second: bounded memory
SILENT_MARGIN_DB = 3.0      # a block whose loudness never rises this far above the floor is silence


@dataclass(frozen=True)
class TrackReport:
    """What happened to one track: voices used, notes dropped (too many at once), notes moved
    into range by octaves."""

    track_name: str
    n_voices: int
    n_dropped: int
    n_moved: int


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of float32 [n] (scipy), exact for rational rate ratios."""
    if rate_in == rate_out:
        return audio.astype(np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


class DDSPRenderer:
    """Render every track of a Score with one learned timbre.

    timbre:     a :class:`Timbre` or the name of an installed one (``composer timbres``).
    max_voices: voices per track (more simultaneous notes are dropped with one warning).
    seed:       seed of the noise generator, so a render is reproducible.
    """

    def __init__(self, timbre: Timbre | str, max_voices: int = 8, seed: int = 0) -> None:
        self.timbre = find_timbre(timbre) if isinstance(timbre, str) else timbre
        self.max_voices = int(max_voices)
        self.seed = int(seed)
        self.reports: tuple[TrackReport, ...] = ()

    # ------------------------------------------------------------------ controls
    def track_controls(self, score: Score, track: Track) -> tuple[list[ControlCurves], TrackReport]:
        """The control curves of each voice of ``track`` (all of the same length)."""
        ex = self.timbre.expression
        fr = self.timbre.model.synth_config.frame_rate
        notes = [TimedNote(score.tick_to_seconds(n.start_tick), score.tick_to_seconds(n.end_tick),
                           n.pitch, n.velocity) for n in track.notes]
        notes, moved = fit_range(notes, ex.pitch_min, ex.pitch_max)
        alloc = allocate_voices(notes, self.max_voices)
        report = TrackReport(track.name, len(alloc.voices), alloc.n_dropped, moved)
        if moved:
            warnings.warn(f"track {track.name!r}: {moved} notes outside the {self.timbre.name} range "
                          f"{describe_range(ex)} moved by octaves", stacklevel=3)
        if alloc.n_dropped:
            warnings.warn(f"track {track.name!r}: {alloc.n_dropped} notes dropped: more than "
                          f"{self.max_voices} notes at once", stacklevel=3)
        if not alloc.voices:
            return [], report
        n_frames = n_frames_for(notes, ex, fr)
        bends = [(score.tick_to_seconds(b.tick), b.value / 8192 * 2.0) for b in track.pitch_bends]
        cc11 = [(score.tick_to_seconds(c.tick), float(dls_db(c.value))) for c in track.controls if c.number == 11]
        cc7 = [(score.tick_to_seconds(c.tick), float(dls_db(c.value))) for c in track.controls if c.number == 7]
        bend = step_curve(bends, n_frames, fr, 0.0) if bends else None
        expr = step_curve(cc11, n_frames, fr, 0.0) if cc11 else None
        vol = step_curve(cc7, n_frames, fr, 0.0) if cc7 else None
        curves = [voice_controls(v, ex, fr, n_frames, bend, expr, vol) for v in alloc.voices]
        return curves, report

    # ------------------------------------------------------------------ signal
    @torch.no_grad()
    def synthesise(self, curves: list[ControlCurves]) -> np.ndarray:
        """Voices (equal-length curves) -> their gained sum with reverb, at the timbre's rate.

        float32 [n_frames * hop + reverb length]."""
        model = self.timbre.model
        sc = model.synth_config
        hop = sc.hop
        f0 = torch.from_numpy(np.stack([c.f0_hz for c in curves]))[..., None]
        ld = torch.from_numpy(np.stack([c.loudness_db for c in curves]))[..., None]
        gain = torch.from_numpy(np.stack([c.gain for c in curves]))[..., None]
        b, n_frames, _ = f0.shape
        amplitude, distribution, f0, magnitudes, _ = model.get_controls(f0, ld)
        # Where the curves say silence the voice is silent, whatever the network makes of the
        # floor: a gate opening over the first SILENT_MARGIN_DB above it.
        gate = ((ld - self.timbre.expression.silence_db) / SILENT_MARGIN_DB).clamp(0, 1)
        amplitude = amplitude * gain * gate
        magnitudes = magnitudes * gain * gate
        gen = torch.Generator().manual_seed(self.seed)
        silent = ld[..., 0] < self.timbre.expression.silence_db + SILENT_MARGIN_DB
        out = torch.zeros(n_frames * hop)
        phase = torch.zeros(b, dtype=torch.float64)
        nyquist = sc.sample_rate / 2
        for start in range(0, n_frames, BLOCK_FRAMES):
            stop = min(start + BLOCK_FRAMES, n_frames)
            ext = min(stop + 1, n_frames)                     # one frame more, to interpolate to
            n = (stop - start) * hop
            f0_b = f0[:, start:ext]
            # The phase must advance through silent blocks too, so that it stays continuous.
            omega = 2 * math.pi * f0_b[:, :stop - start, 0].double() / sc.sample_rate * hop
            if bool(silent[:, start:ext].all()):
                phase = torch.remainder(phase + omega.sum(1), 2 * math.pi)
                continue
            k_max = max(1, min(model.harmonic.n_harmonics, int(nyquist / float(f0_b.min().clamp_min(1.0)))))
            audio, phase = model.harmonic.get_signal(amplitude[:, start:ext], distribution[:, start:ext, :k_max],
                                                     f0_b, initial_phase=phase, n_samples=n)
            noise = model.noise.get_signal(magnitudes[:, start:stop], generator=gen)
            out[start * hop:stop * hop] += (audio + noise).sum(0)
        ir = model.reverb.get_controls()
        return model.reverb.get_signal(out[None], ir, keep_tail=True)[0].numpy()

    def render_track(self, score: Score, track: Track, sample_rate: int) -> np.ndarray:
        """One track as mono float32 [n_samples] at ``sample_rate`` (empty when it has no notes)."""
        curves, report = self.track_controls(score, track)
        self.reports = self.reports + (report,)
        if not curves:
            return np.zeros(0, np.float32)
        return resample(self.synthesise(curves), self.timbre.sample_rate, sample_rate)

    def render(self, score: Score, sample_rate: int = 44100) -> Audio:
        """Every non-drum track of ``score`` with this timbre, summed: stereo Audio."""
        check_render_limits(score)
        self.reports = ()
        parts = [self.render_track(score, t, sample_rate) for t in score.tracks if not t.is_drum]
        n = max((len(p) for p in parts), default=0)
        mono = np.zeros(n, np.float32)
        for p in parts:
            mono[:len(p)] += p
        return Audio(np.repeat(mono[:, None], 2, axis=1), sample_rate)


def load_ddsp_renderer(name: str) -> DDSPRenderer:
    """The factory that ``composer.render.mix`` uses for ``TRACK=ddsp:NAME``."""
    return DDSPRenderer(name)
