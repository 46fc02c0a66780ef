"""DDSP processors against closed-form answers: pitch, RMS, Nyquist, noise level, reverb."""
import math

import numpy as np
import pytest
import torch

from composer.render.ddsp.synth import FilteredNoise, Harmonic, Reverb, exp_sigmoid, fft_convolve, upsample_frames

SR, HOP = 16000, 160


def peak_frequency(y: np.ndarray, sr: int) -> float:
    """Frequency of the strongest spectral peak, refined by a parabola on the log spectrum."""
    n = 1 << 21
    spec = np.log(np.abs(np.fft.rfft(y * np.hanning(len(y)), n)) + 1e-12)
    i = int(spec.argmax())
    a, b, c = spec[i - 1], spec[i], spec[i + 1]
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * sr / n


def constant(value: float, n_frames: int, channels: int = 1) -> torch.Tensor:
    return torch.full((1, n_frames, channels), float(value))


@pytest.mark.parametrize("f0", [55.0, 261.6256, 440.0, 1975.5333])
def test_constant_f0_is_a_sine_of_that_frequency_within_one_cent(f0):
    h = Harmonic(SR, HOP, 4)
    dist = torch.zeros(1, 200, 4)
    dist[..., 0] = 1.0
    y, _ = h.get_signal(constant(0.5, 200), dist, constant(f0, 200))
    cents = 1200 * math.log2(peak_frequency(y[0].numpy(), SR) / f0)
    assert abs(cents) < 1.0


def test_rms_of_two_harmonics_is_computed_by_hand():
    h = Harmonic(SR, HOP, 3)
    dist = torch.tensor([0.6, 0.4, 0.0]).expand(1, 100, 3)
    y, _ = h.get_signal(constant(0.8, 100), dist, constant(200.0, 100))
    # sum of sines of amplitudes A_k: RMS = sqrt(sum A_k^2 / 2)
    expected = math.sqrt(((0.8 * 0.6) ** 2 + (0.8 * 0.4) ** 2) / 2)
    assert float(y.pow(2).mean().sqrt()) == pytest.approx(expected, rel=1e-3)


def test_harmonics_above_nyquist_are_removed_and_the_rest_renormalised():
    h = Harmonic(SR, HOP, 8)
    raw = torch.zeros(1, 100, 8)             # equal raw weights for all 8 harmonics
    amplitude, dist, f0 = h.get_controls(torch.zeros(1, 100, 1), raw, constant(3000.0, 100))
    # 3000 and 6000 Hz are below 8000 Hz; 9000 Hz and up are gone
    assert torch.allclose(dist[0, 0], torch.tensor([0.5, 0.5, 0, 0, 0, 0, 0, 0]))
    y, _ = h.get_signal(amplitude, dist, f0)
    spec = np.abs(np.fft.rfft(y[0].numpy() * np.hanning(y.shape[1])))
    freqs = np.fft.rfftfreq(y.shape[1], 1 / SR)
    energy = spec ** 2
    # an aliased 9000 Hz partial would appear at 7000 Hz; 12000 Hz at 4000 Hz
    alias = (np.abs(freqs - 7000) < 50) | (np.abs(freqs - 4000) < 50)
    assert energy[alias].sum() < 1e-9 * energy.sum()


def test_a_glide_across_nyquist_never_aliases():
    h = Harmonic(SR, HOP, 2)
    f0 = torch.linspace(3000, 5000, 100).reshape(1, 100, 1)   # 2nd harmonic crosses 8000 Hz at f0 4000
    dist = torch.tensor([0.0, 1.0]).expand(1, 100, 2)
    y, _ = h.get_signal(constant(1.0, 100), dist, f0)
    n_cross = int(100 * HOP * 0.5)
    assert float(y[0, n_cross + HOP:].abs().max()) == 0.0
    assert float(y[0, :n_cross - HOP].abs().max()) > 0.9


def test_phase_is_continuous_across_blocks():
    h = Harmonic(SR, HOP, 5)
    f0 = torch.linspace(200, 300, 100).reshape(1, 100, 1)
    amp = constant(0.3, 100)
    dist = torch.softmax(torch.arange(5.0), 0).expand(1, 100, 5)
    whole, _ = h.get_signal(amp, dist, f0)
    first, phase = h.get_signal(amp[:, :41], dist[:, :41], f0[:, :41], n_samples=40 * HOP)
    second, _ = h.get_signal(amp[:, 40:], dist[:, 40:], f0[:, 40:], initial_phase=phase)
    joined = torch.cat([first, second], dim=1)
    assert torch.allclose(joined, whole, atol=1e-5)


def test_flat_noise_filter_keeps_white_noise_level():
    noise = FilteredNoise(HOP, 65)
    y = noise.get_signal(torch.ones(1, 400, 65), generator=torch.Generator().manual_seed(0))
    assert y.shape == (1, 400 * HOP)
    assert float(y.std()) == pytest.approx(1 / math.sqrt(3), rel=0.02)   # uniform -1..1


def test_lowpass_noise_has_no_energy_far_above_its_cutoff():
    noise = FilteredNoise(HOP, 65)
    mags = torch.zeros(1, 400, 65)
    mags[..., :9] = 1.0                      # bands up to 1000 Hz (65 bands over 0..8000 Hz)
    y = noise.get_signal(mags, generator=torch.Generator().manual_seed(1))[0].numpy()
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    assert spec[freqs > 2500].sum() < 0.01 * spec.sum()


def test_noise_controls_and_harmonic_controls_are_positive_and_bounded():
    x = torch.linspace(-20, 20, 101)
    y = exp_sigmoid(x)
    assert float(y.min()) > 0 and float(y.max()) <= 2.0 + 1e-6
    assert bool((y[1:] >= y[:-1]).all())


def test_reverb_is_identity_without_tail_and_matches_numpy_convolution():
    rev = Reverb(64)
    with torch.no_grad():
        rev.ir.zero_()
    x = torch.randn(2, 500, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(rev(x).detach(), x, atol=1e-5)
    with torch.no_grad():
        rev.ir.copy_(torch.linspace(0.5, 0.0, 64))
    ir = rev.get_controls().detach().numpy()
    assert ir[0] == 1.0
    expected = np.convolve(x[0].numpy(), ir)
    assert np.allclose(rev(x, keep_tail=True)[0].detach().numpy(), expected, atol=1e-4)
    assert fft_convolve(x, torch.tensor([1.0])).shape == x.shape


def test_upsampling_interpolates_linearly_between_frames():
    frames = torch.tensor([[[0.0], [1.0], [3.0]]])
    y = upsample_frames(frames, 8, hop=4)[0, :, 0]
    assert torch.allclose(y, torch.tensor([0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5]))


def test_synthesis_is_differentiable():
    h = Harmonic(SR, HOP, 4)
    amp_raw = torch.zeros(1, 10, 1, requires_grad=True)
    dist_raw = torch.zeros(1, 10, 4, requires_grad=True)
    y = h(amp_raw, dist_raw, constant(220.0, 10))
    y.pow(2).sum().backward()
    assert amp_raw.grad is not None and float(amp_raw.grad.abs().sum()) > 0
    # every harmonic's share of the energy moves the output
    assert dist_raw.grad is not None and bool((dist_raw.grad.abs().sum(dim=(0, 1)) > 0).all())
