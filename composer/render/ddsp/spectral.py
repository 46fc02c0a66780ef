"""Spectral measures shared by timbre training and evaluation: STFT magnitudes, A-weighted
loudness, a harmonic pitch tracker, harmonic amplitudes, the noise floor, and the
multi-resolution STFT distance (the fine-tune's loss and the evaluation's score).

Arrays are time-major: frames first, ``hop`` samples apart, frame i centred on sample i * hop.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def stft_magnitude(audio: np.ndarray, n_fft: int, hop: int, n_frames: int) -> np.ndarray:
    """Centred Hann STFT magnitude, normalised so a sine of amplitude A peaks at A: [n_frames, bins]."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True).abs()
    spec = spec.T[:n_frames].numpy() / (window.sum().item() / 2)
    if spec.shape[0] < n_frames:
        spec = np.pad(spec, ((0, n_frames - spec.shape[0]), (0, 0)))
    return spec


def a_weighted_loudness(audio: np.ndarray, sample_rate: int, hop: int, n_fft: int = 2048) -> np.ndarray:
    """A-weighted loudness in dB per frame: float32 [ceil(n_samples / hop)], floor -100 dB.

    10 log10 of the A-weighted power summed over the normalised spectrum: a full-scale 1 kHz
    sine reads about +1.8 dB, silence -100 dB.  Frame i is centred on sample i * hop.
    """
    import librosa

    n_frames = max(1, math.ceil(len(audio) / hop))
    mag = stft_magnitude(audio, n_fft, hop, n_frames)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    weight = 10 ** (librosa.A_weighting(np.maximum(freqs, 1.0)) / 10)
    power = (mag ** 2 * weight).sum(axis=1)
    return np.maximum(10 * np.log10(power + 1e-10), -100.0).astype(np.float32)


def track_f0(mag: np.ndarray, sample_rate: int, n_fft: int, f0_nominal: float,
             n_partials: int = 6, cents_range: float = 100.0, step_cents: float = 4.0) -> np.ndarray:
    """Harmonic-sum pitch tracker around a known pitch: f0 in Hz per frame, float32 [n_frames].

    For candidate f0s within +-``cents_range`` of ``f0_nominal`` the log magnitudes at the first
    ``n_partials`` harmonics are summed; the best candidate is refined by a parabola."""
    cents = np.arange(-cents_range, cents_range + step_cents / 2, step_cents)
    cand = f0_nominal * 2 ** (cents / 1200)
    k = np.arange(1, n_partials + 1)
    bins = (cand[:, None] * k[None, :]) * n_fft / sample_rate                  # [C, K]
    bins = bins[:, (bins.max(axis=0) < mag.shape[1] - 1)]
    logmag = np.log(mag + 1e-6)
    lo = np.floor(bins).astype(int)
    frac = bins - lo
    vals = logmag[:, lo] * (1 - frac) + logmag[:, lo + 1] * frac              # [F, C, K']
    score = vals.sum(-1)                                                      # [F, C]
    best = score.argmax(axis=1)
    inner = np.clip(best, 1, len(cents) - 2)
    rows = np.arange(len(score))
    a, b, c = score[rows, inner - 1], score[rows, inner], score[rows, inner + 1]
    denom = a - 2 * b + c
    offset = np.where(np.abs(denom) > 1e-9, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    offset = np.where(best == inner, np.clip(offset, -1, 1), 0.0)
    coarse = f0_nominal * 2 ** ((cents[best] + offset * step_cents) / 1200)
    return refine_f0(mag, sample_rate, n_fft, coarse, n_partials)


def _parabolic_peaks(mag: np.ndarray, rows: np.ndarray, centre: np.ndarray):
    """The highest bin among ``centre - 1 .. centre + 1`` per row, and the offset of the
    parabola through its dB magnitude and its neighbours' (in -0.5..0.5 bins).  ``centre``
    int [F, H] (2 <= centre <= n_bins - 3).  Returns (peak bins, offset, (a, b, c) in dB)."""
    cand = np.stack([mag[rows, centre - 1], mag[rows, centre], mag[rows, centre + 1]], -1)
    peak = centre + cand.argmax(-1) - 1
    db = 20 * np.log10(mag + 1e-9)
    a, b, c = db[rows, peak - 1], db[rows, peak], db[rows, peak + 1]
    denom = a - 2 * b + c
    p = np.where(np.abs(denom) > 1e-9, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    return peak, np.clip(p, -0.5, 0.5), (a, b, c)


def refine_f0(mag: np.ndarray, sample_rate: int, n_fft: int, f0_hz: np.ndarray,
              n_partials: int = 6) -> np.ndarray:
    """Refine a rough f0 [F] from the interpolated peaks of its first harmonics: each peak's
    frequency (parabola through the dB magnitudes of three bins) divided by its harmonic number,
    averaged with the peak magnitudes as weights.  float32 [F]."""
    rows = np.arange(mag.shape[0])[:, None]
    k = np.arange(1, n_partials + 1)[None, :]
    centre = np.round(f0_hz[:, None] * k * n_fft / sample_rate).astype(int)
    ok = (centre >= 2) & (centre <= mag.shape[1] - 3)
    centre = np.clip(centre, 2, mag.shape[1] - 3)
    peak, p, _ = _parabolic_peaks(mag, rows, centre)
    estimate = (peak + p) * sample_rate / n_fft / k
    weight = mag[rows, peak] * ok
    # a harmonic whose peak strays more than 30 cents from the rough f0 is another sound
    weight = weight * (np.abs(1200 * np.log2(np.maximum(estimate, 1e-3) / f0_hz[:, None])) < 30)
    total = weight.sum(1)
    refined = (estimate * weight).sum(1) / np.maximum(total, 1e-12)
    return np.where(total > 0, refined, f0_hz).astype(np.float32)


def harmonic_amplitudes(mag: np.ndarray, sample_rate: int, n_fft: int, f0_hz: np.ndarray,
                        n_harmonics: int) -> np.ndarray:
    """Peak amplitude of harmonics 1..n near ``k * f0`` (+-1 bin, parabolic in dB): [F, n]."""
    k = np.arange(1, n_harmonics + 1)
    centre = f0_hz[:, None] * k[None, :] * n_fft / sample_rate                # [F, H]
    audible = f0_hz[:, None] * k[None, :] < sample_rate / 2 * 0.98
    centre = np.clip(np.round(centre).astype(int), 2, mag.shape[1] - 3)
    rows = np.arange(mag.shape[0])[:, None]
    _, p, (a, b, c) = _parabolic_peaks(mag, rows, centre)
    peak_db = b - 0.25 * (a - c) * p
    return (10 ** (peak_db / 20) * audible).astype(np.float32)


def noise_floor(mag: np.ndarray, n_fft: int, n_bands: int) -> np.ndarray:
    """Filter magnitudes [F, n_bands] for FilteredNoise that reproduce the spectrum's noise floor.

    The 25th percentile of each band (robust to the harmonic peaks) is converted from the
    normalised STFT magnitude of filtered uniform noise to the filter gain."""
    n_bins = mag.shape[1] - 1
    per = n_bins // (n_bands - 1)
    bands = np.percentile(mag[:, :per * (n_bands - 1)].reshape(mag.shape[0], n_bands - 1, per), 25, axis=2)
    centres_in = (np.arange(n_bands - 1) + 0.5) / (n_bands - 1)
    centres_out = np.arange(n_bands) / (n_bands - 1)
    out = np.stack([np.interp(centres_out, centres_in, row) for row in bands])
    window = np.hanning(n_fft + 1)[:-1]
    gain = (window.sum() / 2) / (0.536 * math.sqrt(1 / 3) * math.sqrt((window ** 2).sum()))
    return (out * gain).astype(np.float32)


def mrstft_loss():
    """The multi-resolution STFT distance used for fine-tuning and evaluation (auraloss)."""
    import auraloss

    sizes = [2048, 1024, 512, 256, 128, 64]
    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=sizes, hop_sizes=[s // 4 for s in sizes], win_lengths=sizes, eps=1e-7)


__all__ = ["stft_magnitude", "a_weighted_loudness", "track_f0", "refine_f0", "harmonic_amplitudes",
           "noise_floor", "mrstft_loss"]
