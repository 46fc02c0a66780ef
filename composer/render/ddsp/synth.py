"""Differentiable DDSP processors in PyTorch (Engel et al., ICLR 2020).

Three processors, each split into ``get_controls`` (network outputs -> physically meaningful
controls: non-negative amplitudes, a normalised harmonic distribution with everything above
Nyquist removed, filter magnitudes) and ``get_signal`` (controls -> audio), as ddsp's
``processors.py`` does:

* :class:`Harmonic`      additive synthesiser: f0 in Hz, overall amplitude, harmonic distribution.
* :class:`FilteredNoise` white noise through a time-varying FIR filter designed per frame by
                         frequency sampling from ``n_bands`` magnitudes.
* :class:`Reverb`        a learned impulse response, convolved by FFT.

Axis order everywhere is batch, time, channel: frame-rate controls are ``[batch, n_frames, ...]``
and audio is ``[batch, n_samples]`` (float32, nominally -1..1).  Frames are ``hop`` samples apart
and frame ``i`` sits at sample ``i * hop``; controls are interpolated linearly between frames.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def exp_sigmoid(x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0,
                threshold: float = 1e-7) -> torch.Tensor:
    """DDSP's positive nonlinearity: ``max_value * sigmoid(x) ** log(exponent) + threshold``.

    Maps any real ``x`` to (threshold, max_value + threshold); used for amplitudes and filter
    magnitudes because it spans several orders of magnitude with well-behaved gradients."""
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def upsample_frames(frames: torch.Tensor, n_samples: int, hop: int) -> torch.Tensor:
    """Linear interpolation of frame-rate controls to sample rate.

    frames: [batch, n_frames, channels] (float), frame ``i`` at sample ``i * hop``.
    Returns [batch, n_samples, channels]; samples after the last frame hold its value.
    """
    b, n_frames, c = frames.shape
    pos = torch.arange(n_samples, dtype=frames.dtype, device=frames.device) / hop
    pos = pos.clamp(max=n_frames - 1)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=n_frames - 1)
    w = (pos - i0.to(frames.dtype))[None, :, None]
    return frames[:, i0] * (1 - w) + frames[:, i1] * w


class Harmonic:
    """Harmonic additive synthesiser.

    ``sample_rate`` in Hz, ``hop`` samples between frames, ``n_harmonics`` partials
    (harmonic k has frequency ``k * f0``, k = 1..n_harmonics).
    """

    def __init__(self, sample_rate: int, hop: int, n_harmonics: int) -> None:
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.n_harmonics = int(n_harmonics)

    def get_controls(self, amplitude_raw: torch.Tensor, distribution_raw: torch.Tensor,
                     f0_hz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Network outputs -> (amplitude, harmonic distribution, f0_hz).

        amplitude_raw:    [batch, n_frames, 1], any real; exp-sigmoid -> amplitude >= 0.
        distribution_raw: [batch, n_frames, n_harmonics], any real; exp-sigmoid, then every
                          harmonic at or above Nyquist is zeroed and the rest normalised to sum 1.
        f0_hz:            [batch, n_frames, 1] fundamental in Hz (>= 0).
        """
        amplitude = exp_sigmoid(amplitude_raw)
        distribution = exp_sigmoid(distribution_raw)
        distribution = self.normalise(distribution, f0_hz)
        return amplitude, distribution, f0_hz

    def normalise(self, distribution: torch.Tensor, f0_hz: torch.Tensor) -> torch.Tensor:
        """Zero harmonics at or above Nyquist and normalise each frame to sum 1.

        distribution: [batch, n_frames, n_harmonics] >= 0; f0_hz: [batch, n_frames, 1]."""
        k = torch.arange(1, distribution.shape[-1] + 1, dtype=f0_hz.dtype, device=f0_hz.device)
        audible = (f0_hz * k < self.sample_rate / 2).to(distribution.dtype)
        distribution = distribution * audible
        return distribution / distribution.sum(-1, keepdim=True).clamp_min(1e-7)

    def get_signal(self, amplitude: torch.Tensor, distribution: torch.Tensor, f0_hz: torch.Tensor,
                   initial_phase: torch.Tensor | None = None,
                   n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Controls -> (audio [batch, n_samples], final phase [batch] in radians, 0..2pi).

        amplitude:     [batch, n_frames, 1], linear peak amplitude of the whole tone.
        distribution:  [batch, n_frames, n_harmonics], sums to 1 below Nyquist.
        f0_hz:         [batch, n_frames, 1].
        initial_phase: [batch] phase of the fundamental at sample 0 (radians, default 0); pass the
                       returned final phase into the next block to keep the phase continuous.
        n_samples:     default ``n_frames * hop``.

        Harmonic k contributes ``amplitude * distribution_k * sin(k * phi(t))`` where phi is the
        running sum of ``2 pi f0 / sample_rate``.  The phase is accumulated in float64 and
        wrapped, so a constant f0 stays within a fraction of a cent over minutes.  A harmonic
        that reaches Nyquist at a frame is silenced from the frame before to the frame after,
        so no sample ever carries a partial above Nyquist.
        """
        b, n_frames, _ = f0_hz.shape
        hop = self.hop
        if n_samples is None:
            n_samples = n_frames * hop
        f0 = upsample_frames(f0_hz, n_samples, hop)[..., 0]                  # [b, n]
        omega = 2 * math.pi * f0.double() / self.sample_rate
        phase = torch.cumsum(omega, dim=1) - omega                           # phase at sample 0 = 0
        if initial_phase is not None:
            phase = phase + initial_phase.double()[:, None]
        final = torch.remainder(phase[:, -1] + omega[:, -1], 2 * math.pi) if n_samples else (
            torch.zeros(b, dtype=torch.float64))
        phase = torch.remainder(phase, 2 * math.pi).to(f0_hz.dtype)
        # distribution may hold fewer than n_harmonics (a renderer drops those above Nyquist)
        n_harm = distribution.shape[-1]
        k = torch.arange(1, n_harm + 1, dtype=f0_hz.dtype, device=f0_hz.device)
        harm = amplitude * distribution                                       # [b, F, K]
        # Silence a partial on both frames around any frame where it reaches Nyquist: f0 is
        # interpolated linearly, so no sample between two frames exceeds the larger of the two.
        f0_max = F.max_pool1d(f0_hz.transpose(1, 2), 3, 1, 1).transpose(1, 2)
        harm = harm * (f0_max * k < self.sample_rate / 2).to(harm.dtype)
        # Amplitudes vary linearly within each hop: A(t) = A_i + w (A_{i+1} - A_i).  Summing
        # sin(k phi) against A_i and against the slope with two batched matrix products avoids
        # building the [b, n_samples, K] amplitude tensor.
        n_seg = -(-n_samples // hop)
        idx = torch.arange(n_seg + 1, device=harm.device).clamp(max=n_frames - 1)
        a0, a1 = harm[:, idx[:-1]], harm[:, idx[1:]]                          # [b, n_seg, K]
        ph = F.pad(phase, (0, n_seg * hop - n_samples)).reshape(b, n_seg, hop)
        sines = ph[..., None] * k                                             # [b, n_seg, hop, K]
        # In place when no gradient flows (rendering): one [b, n, K] tensor fewer to allocate.
        sines = sines.sin_() if not (torch.is_grad_enabled() and sines.requires_grad) else sines.sin()
        w = torch.arange(hop, dtype=harm.dtype, device=harm.device) / hop
        # One matrix product against [A_i, slope] reads the sines once instead of twice (they
        # are the largest tensor here, so the synthesiser is bound by reading them).
        both = sines @ torch.stack([a0, a1 - a0], dim=-1)                     # [b, n_seg, hop, 2]
        audio = both[..., 0] + w * both[..., 1]
        audio = audio.reshape(b, n_seg * hop)[:, :n_samples]
        return audio, final.to(torch.float64)

    def __call__(self, amplitude_raw, distribution_raw, f0_hz):
        return self.get_signal(*self.get_controls(amplitude_raw, distribution_raw, f0_hz))[0]


def noise_impulse_responses(magnitudes: torch.Tensor, ir_size: int) -> torch.Tensor:
    """Frequency-sampling FIR design: magnitudes -> windowed zero-phase-centred impulse responses.

    magnitudes: [batch, n_frames, n_bands] >= 0, band ``j`` at ``j / (n_bands - 1) * Nyquist``.
    Returns [batch, n_frames, ir_size] causal IRs (linear phase, centred at ir_size // 2).
    """
    ir = torch.fft.irfft(torch.complex(magnitudes, torch.zeros_like(magnitudes)))
    n = ir.shape[-1]
    ir = torch.roll(ir, n // 2, dims=-1)                                      # zero phase -> causal
    window = torch.hann_window(ir_size, periodic=False, dtype=ir.dtype, device=ir.device)
    if n >= ir_size:
        start = n // 2 - ir_size // 2
        ir = ir[..., start:start + ir_size]
    else:
        pad = ir_size - n
        ir = F.pad(ir, (pad // 2, pad - pad // 2))
    return ir * window


class FilteredNoise:
    """Filtered noise: uniform white noise in -1..1, shaped per frame by an FIR filter.

    ``n_bands`` linearly spaced magnitudes from 0 Hz to Nyquist; the impulse response has
    ``ir_size`` taps (default ``2 * (n_bands - 1)``, capped by the frame overlap-add).
    """

    def __init__(self, hop: int, n_bands: int, ir_size: int | None = None) -> None:
        self.hop = int(hop)
        self.n_bands = int(n_bands)
        self.ir_size = int(ir_size or 2 * (n_bands - 1))

    def get_controls(self, magnitudes_raw: torch.Tensor) -> torch.Tensor:
        """[batch, n_frames, n_bands] real -> filter magnitudes, exp-sigmoid, >= 0."""
        return exp_sigmoid(magnitudes_raw - 5.0)   # -5: start quiet, as DDSP's initial bias

    def get_signal(self, magnitudes: torch.Tensor, generator: torch.Generator | None = None,
                   noise: torch.Tensor | None = None) -> torch.Tensor:
        """Magnitudes [batch, n_frames, n_bands] -> audio [batch, n_frames * hop].

        Each hop-long slice of white noise is convolved with its frame's IR (FFT, overlap-add),
        so the filter changes frame by frame without clicks.  ``noise`` ([batch, n_frames*hop])
        may be given to make the signal deterministic; otherwise it is drawn from ``generator``.
        """
        b, n_frames, _ = magnitudes.shape
        n_samples = n_frames * self.hop
        if noise is None:
            noise = torch.rand(b, n_samples, generator=generator, dtype=magnitudes.dtype,
                               device=magnitudes.device) * 2 - 1
        ir = noise_impulse_responses(magnitudes, self.ir_size)                # [b, f, ir]
        frames = noise.reshape(b, n_frames, self.hop)
        n_fft = 1 << (self.hop + self.ir_size - 2).bit_length()
        out = torch.fft.irfft(torch.fft.rfft(frames, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)
        out = out[..., :self.hop + self.ir_size - 1]
        length = (n_frames - 1) * self.hop + out.shape[-1]
        audio = F.fold(out.transpose(1, 2), output_size=(1, length), kernel_size=(1, out.shape[-1]),
                       stride=(1, self.hop)).reshape(b, length)
        # Remove the linear-phase delay so noise lines up with the harmonic part.
        delay = self.ir_size // 2
        return audio[:, delay:delay + n_samples]


def fft_convolve(audio: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Full linear convolution by FFT: [batch, n] * [ir_len] or [batch, ir_len] -> [batch, n + ir_len - 1]."""
    n = audio.shape[-1] + ir.shape[-1] - 1
    n_fft = 1 << (n - 1).bit_length()
    return torch.fft.irfft(torch.fft.rfft(audio, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)[..., :n]


class Reverb(torch.nn.Module):
    """A learned impulse response of ``ir_size`` samples; the dry path is a fixed unit impulse.

    The IR is stored as free parameters (initialised to faint exponentially decaying noise from
    a seeded generator) and trained with the rest of the model through the spectral loss.
    """

    def __init__(self, ir_size: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        t = torch.arange(ir_size, dtype=torch.float32)
        init = (torch.rand(ir_size, generator=g) * 2 - 1) * 1e-3 * torch.exp(-t / (0.05 * ir_size))
        self.ir = torch.nn.Parameter(init)

    def get_controls(self) -> torch.Tensor:
        """The full impulse response [ir_size]: unit impulse (dry) + learned wet tail."""
        ir = self.ir.clone()
        ir = torch.cat([torch.ones_like(ir[:1]), ir[1:]])
        return ir

    def get_signal(self, audio: torch.Tensor, ir: torch.Tensor, keep_tail: bool = False) -> torch.Tensor:
        """audio [batch, n] -> reverberated [batch, n] (or n + ir_size - 1 with the tail)."""
        wet = fft_convolve(audio, ir)
        return wet if keep_tail else wet[..., :audio.shape[-1]]

    def forward(self, audio: torch.Tensor, keep_tail: bool = False) -> torch.Tensor:
        return self.get_signal(audio, self.get_controls(), keep_tail)
