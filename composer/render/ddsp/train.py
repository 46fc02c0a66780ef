"""Training a timbre from a folder of single-note recordings, in minutes on a laptop CPU.

Two stages (``train_timbre``):

1. **Analysis** (:func:`analyse_recording`): each recording is resampled to the timbre's rate,
   its pitch is taken from the file name and refined per frame by a harmonic-sum tracker within
   +-1 semitone (fast, no octave errors; a folder without pitch names falls back to
   ``librosa.pyin``), its A-weighted loudness computed, and the amplitude of every harmonic and
   a noise floor per band measured from the spectrum.
2. **Warm start**: the decoder is fitted to those analysed harmonic amplitudes and noise bands
   (an L1 loss on log amplitudes; no synthesis, so thousands of steps take a few minutes).
3. **Room**: a parametric impulse response (noise x gain x exponential decay) fitted by the
   spectral loss with the decoder frozen (:func:`fit_reverb`), then stored as free taps.
4. **Fine-tune**: a short run of the full differentiable synthesiser (harmonic + noise + learned
   reverb) against the recordings with a multi-resolution STFT loss (auraloss).

Everything resumable: the analysis is cached in ``OUT/.cache/analysis.npz`` and the training
state (weights, Adam moments, step) in ``OUT/.cache/state.safetensors`` every ``save_every``
steps.  About 10% of the notes are held out (by file name) and only used for evaluation.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from composer.data.philharmonia import RecordingInfo, is_held_out, list_recordings, load_audio
from composer.errors import AudioError, DataError
from composer.render.ddsp.synth import fft_convolve
from composer.render.ddsp.timbre import Expression, SynthConfig, TimbreModel, midi_to_hz, save_timbre

ANALYSIS_VERSION = 2
"""Bumped when the analysis changes, so that cached analyses are redone."""

MIN_TOTAL_SECONDS = 5.0
"""Less sound than this (after trimming silence) cannot make a timbre."""


# ----------------------------------------------------------------------------- analysis
def _stft_mag(audio: np.ndarray, n_fft: int, hop: int, n_frames: int) -> np.ndarray:
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
    mag = _stft_mag(audio, n_fft, hop, n_frames)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    weight = 10 ** (librosa.A_weighting(np.maximum(freqs, 1.0)) / 10)
    power = (mag ** 2 * weight).sum(axis=1)
    return np.maximum(10 * np.log10(power + 1e-10), -100.0).astype(np.float32)


@dataclass(frozen=True)
class Analysis:
    """Frame-rate features of one recording (frames ``hop`` samples apart).

    audio: float32 [n_frames * hop] at the timbre's sample rate (trimmed to the note + tail).
    f0_hz: float32 [n_frames]; loudness_db: float32 [n_frames]; voiced: bool [n_frames].
    harmonics: float32 [n_frames, n_harmonics] linear amplitude of each harmonic (0 above Nyquist).
    noise: float32 [n_frames, n_bands] filter magnitudes that reproduce the noise floor.
    onset_frame: first frame of the note within ``audio``.
    """

    info: RecordingInfo
    pitch: float
    audio: np.ndarray
    f0_hz: np.ndarray
    loudness_db: np.ndarray
    voiced: np.ndarray
    harmonics: np.ndarray
    noise: np.ndarray
    onset_frame: int


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


def analyse_recording(info: RecordingInfo, synth: SynthConfig, n_harmonics: int, n_bands: int,
                      audio: np.ndarray | None = None) -> Analysis | None:
    """Analyse one recording; None when it holds no clear tone (silent or too short).

    Trims to 5 frames before the note's first frame within 50 dB of its peak and 30 frames
    (0.3 s, the release and room) after its last."""
    sr, hop = synth.sample_rate, synth.hop
    if audio is None:
        audio = load_audio(info.path, sr)
    n_frames = math.ceil(len(audio) / hop)
    if n_frames < 10:
        return None  # under 0.1 s: no tone to learn, and shorter than the STFT's window
    audio = np.pad(audio, (0, n_frames * hop - len(audio)))
    loud = a_weighted_loudness(audio, sr, hop)
    peak = float(loud.max())
    if peak < -70:
        return None
    pitch = info.pitch
    if pitch is None:
        import librosa
        f0, flag, _ = librosa.pyin(audio, fmin=40, fmax=2000, sr=sr, frame_length=2048, hop_length=hop)
        if not np.any(flag):
            return None
        pitch = float(69 + 12 * np.log2(np.nanmedian(f0[flag]) / 440))
    n_fft = 4096 if pitch < 48 else 2048
    mag = _stft_mag(audio, n_fft, hop, n_frames)
    f0 = track_f0(mag, sr, n_fft, float(midi_to_hz(pitch)))
    voiced = loud > peak - 35
    if voiced.sum() >= 2:
        idx = np.flatnonzero(voiced)
        f0 = np.interp(np.arange(n_frames), idx, f0[idx]).astype(np.float32)
    else:
        f0 = np.full(n_frames, midi_to_hz(pitch), np.float32)
    active = np.flatnonzero(loud > peak - 50)
    start = max(0, active[0] - 5)
    stop = min(n_frames, active[-1] + 30)
    harm = harmonic_amplitudes(mag, sr, n_fft, f0, n_harmonics)
    noise = noise_floor(mag, n_fft, n_bands)
    sl = slice(start, stop)
    return Analysis(info, float(pitch), audio[start * hop:stop * hop].copy(), f0[sl], loud[sl], voiced[sl],
                    harm[sl], noise[sl], int(active[0] - start))


# ----------------------------------------------------------------------------- expression
def measure_expression(analyses: list[Analysis], frame_rate: float) -> Expression:
    """Playing statistics of an instrument from its analysed recordings (see :class:`Expression`)."""
    by_velocity: dict[int, list[float]] = {}
    attacks, releases, decays, rates, depths, delays = [], [], [], [], [], []
    for a in analyses:
        ld = a.loudness_db
        on = a.onset_frame
        active = np.flatnonzero(ld > ld.max() - 40)
        if len(active) < 10:
            continue
        end = active[-1]
        body = ld[on:end + 1]
        n = len(body)
        sustain = float(np.median(body[n // 4: max(n // 4 + 1, 3 * n // 4)]))
        if a.info.velocity is not None and (a.info.duration_seconds or 0) >= 1.0:
            by_velocity.setdefault(a.info.velocity, []).append(sustain)
        reach = np.flatnonzero(body >= sustain - 3)
        if len(reach):
            attacks.append(reach[0] / frame_rate)
        decays.append(max(0.0, float(body[:max(1, n // 3)].max()) - sustain))
        held = np.flatnonzero(ld >= sustain - 3)
        if len(held):
            last = held[-1]
            below = np.flatnonzero(ld[last:] < sustain - 40)
            if len(below):
                releases.append(below[0] / frame_rate)
        if n >= frame_rate * 0.9:
            cents = 1200 * np.log2(a.f0_hz[on:end + 1] / midi_to_hz(a.pitch))
            seg = cents[int(0.15 * frame_rate):]
            seg = seg - np.polyval(np.polyfit(np.arange(len(seg)), seg, 1), np.arange(len(seg)))
            spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 4 * len(seg)))
            freqs = np.fft.rfftfreq(4 * len(seg), 1 / frame_rate)
            band = (freqs >= 3) & (freqs <= 9)
            if band.any():
                rates.append(float(freqs[band][spec[band].argmax()]))
                depth = float(np.sqrt(2) * seg[len(seg) // 3:].std())
                depths.append(depth)
                win = int(0.25 * frame_rate)
                if len(seg) > 2 * win and depth > 1:
                    roll = np.array([seg[i:i + win].std() * np.sqrt(2) for i in range(len(seg) - win)])
                    over = np.flatnonzero(roll > depth / 2)
                    delays.append(0.15 + (over[0] if len(over) else 0) / frame_rate)
    velocities = sorted(by_velocity)
    if not velocities:
        ld_all = [float(np.median(a.loudness_db[a.voiced])) for a in analyses if a.voiced.any()]
        velocities, levels = [64], [float(np.median(ld_all))]
    else:
        levels = [float(np.median(by_velocity[v])) for v in velocities]
        levels = list(np.maximum.accumulate(levels))     # louder written dynamic never quieter
    med = lambda xs, d: float(np.median(xs)) if xs else d  # noqa: E731
    pitches = [int(round(a.pitch)) for a in analyses]
    floor = float(np.percentile(np.concatenate([a.loudness_db for a in analyses]), 1))
    return Expression(
        dynamics_velocity=tuple(int(v) for v in velocities),
        dynamics_loudness_db=tuple(round(x, 2) for x in levels),
        attack_seconds=round(med(attacks, 0.06), 4), release_seconds=round(med(releases, 0.15), 4),
        decay_db=round(med(decays, 0.0), 2), vibrato_rate_hz=round(med(rates, 5.0), 3),
        vibrato_depth_cents=round(med(depths, 0.0), 2),
        vibrato_delay_seconds=round(med(delays, 0.3), 3),
        pitch_min=min(pitches), pitch_max=max(pitches), silence_db=round(max(floor, -100.0), 1))


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainConfig:
    """Training settings; ``steps`` fine-tune steps after ``warm_steps`` supervised steps."""

    # the recipe of the four shipped timbres: about 18 minutes each on this 2-core CPU
    warm_steps: int = 600
    steps: int = 150
    warm_batch: int = 8
    warm_frames: int = 150
    batch: int = 4
    frames: int = 60
    warm_lr: float = 2e-3
    lr: float = 1e-3
    save_every: int = 20
    reverb_steps: int = 40
    seed: int = 0


DECODER_DEFAULT = {"n_harmonics": 100, "n_noise_bands": 65, "hidden": 128, "gru": 128}
SYNTH_DEFAULT = {"sample_rate": 24000, "hop": 240, "reverb_seconds": 0.5}


def analyse_folder(folder: str | Path, cache: Path | None, synth: SynthConfig, n_harmonics: int,
                   n_bands: int, progress: bool = True) -> list[Analysis]:
    """Analyse every plain recording in ``folder`` (cached in ``cache`` .npz when given)."""
    from tqdm import tqdm

    infos = list_recordings(folder)
    if cache is not None and cache.is_file():
        data = np.load(cache, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        if meta.get("files") == [i.path.name for i in infos] and meta.get("synth") == asdict(synth) \
                and meta.get("version") == ANALYSIS_VERSION:
            out = []
            by_name = {i.path.name: i for i in infos}
            for j, name in enumerate(meta["kept"]):
                g = lambda key: data[f"{key}_{j}"]  # noqa: E731
                out.append(Analysis(by_name[name], float(meta["pitch"][j]), g("audio"), g("f0"), g("ld"),
                                    g("voiced"), g("harm"), g("noise"), int(meta["onset"][j])))
            return out
    out, skipped = [], []
    for info in tqdm(infos, desc="analysing", disable=not progress, unit="file"):
        try:
            a = analyse_recording(info, synth, n_harmonics, n_bands)
        except AudioError as err:
            # One broken file in a folder of hundreds should not stop training: say so, skip it.
            skipped.append(str(err))
            continue
        if a is not None:
            out.append(a)
    for message in skipped:
        warnings.warn(f"skipped: {message}", stacklevel=2)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for j, a in enumerate(out):
            arrays.update({f"audio_{j}": a.audio, f"f0_{j}": a.f0_hz, f"ld_{j}": a.loudness_db,
                           f"voiced_{j}": a.voiced, f"harm_{j}": a.harmonics, f"noise_{j}": a.noise})
        meta = {"files": [i.path.name for i in infos], "synth": asdict(synth), "version": ANALYSIS_VERSION,
                "kept": [a.info.path.name for a in out], "pitch": [a.pitch for a in out],
                "onset": [a.onset_frame for a in out]}
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, meta=json.dumps(meta), **arrays)
        tmp.replace(cache)
    return out


def split_held_out(analyses: list[Analysis]) -> tuple[list[Analysis], list[Analysis]]:
    train = [a for a in analyses if not is_held_out(a.info.path)]
    held = [a for a in analyses if is_held_out(a.info.path)]
    return train, held


class _Batches:
    """Random crops of ``n_frames`` frames from the analysed notes (zero-padded when shorter)."""

    def __init__(self, analyses: list[Analysis], hop: int, seed: int) -> None:
        self.items = analyses
        self.hop = hop
        lengths = np.array([len(a.f0_hz) for a in analyses], dtype=np.float64)
        self.p = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int, n_frames: int, audio: bool):
        f0 = np.zeros((batch, n_frames), np.float32)
        ld = np.full((batch, n_frames), -100.0, np.float32)
        h = self.items[0].harmonics.shape[1]
        nb = self.items[0].noise.shape[1]
        harm = np.zeros((batch, n_frames, h), np.float32)
        noise = np.zeros((batch, n_frames, nb), np.float32)
        wav = np.zeros((batch, n_frames * self.hop), np.float32) if audio else None
        for b in range(batch):
            a = self.items[self.rng.choice(len(self.items), p=self.p)]
            n = len(a.f0_hz)
            start = int(self.rng.integers(0, max(1, n - n_frames + 1)))
            stop = min(n, start + n_frames)
            m = stop - start
            f0[b, :m], ld[b, :m] = a.f0_hz[start:stop], a.loudness_db[start:stop]
            f0[b, m:] = a.f0_hz[stop - 1]
            harm[b, :m], noise[b, :m] = a.harmonics[start:stop], a.noise[start:stop]
            if audio:
                wav[b, :m * self.hop] = a.audio[start * self.hop:stop * self.hop]
        t = lambda x: torch.from_numpy(x)  # noqa: E731
        return t(f0)[..., None], t(ld)[..., None], t(harm), t(noise), (t(wav) if audio else None)


def warm_loss(model: TimbreModel, f0, ld, harm, noise) -> torch.Tensor:
    """L1 between log amplitudes of predicted and analysed harmonics and noise bands."""
    amplitude, distribution, f0_c, mags, _ = model.get_controls(f0, ld)
    pred = amplitude * distribution
    k = torch.arange(1, pred.shape[-1] + 1)
    audible = (f0_c * k < model.synth_config.sample_rate / 2 * 0.98).float()
    eps = 1e-5
    lh = ((torch.log(pred + eps) - torch.log(harm + eps)).abs() * audible).sum() / audible.sum()
    ln = (torch.log(mags + eps) - torch.log(noise + eps)).abs().mean()
    return lh + 0.5 * ln


def mrstft_loss():
    """The multi-resolution STFT distance used for fine-tuning and evaluation (auraloss)."""
    import auraloss

    sizes = [2048, 1024, 512, 256, 128, 64]
    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=sizes, hop_sizes=[s // 4 for s in sizes], win_lengths=sizes, eps=1e-7)


def fit_reverb(model: TimbreModel, batches: "_Batches", loss_fn, steps: int = 40, batch: int = 4,
               n_frames: int = 100, seed: int = 0, log: Callable[[str], None] = print) -> tuple[float, float]:
    """Fit the room: an impulse response ``noise(t) * gain * exp(-t / decay)`` (unit dry path)
    by gradient descent on log gain and log decay through the spectral loss, the decoder frozen;
    then write it into the reverb's taps, which the fine-tune refines.  Returns (gain, decay_s).

    Two parameters learn in a few dozen steps what 12,000 free taps cannot in a short run."""
    sr = model.synth_config.sample_rate
    size = model.reverb.ir.numel()
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(size, generator=g) * 2 - 1
    t = torch.arange(size, dtype=torch.float32) / sr
    log_gain = torch.tensor(math.log(0.01), requires_grad=True)
    log_decay = torch.tensor(math.log(0.1), requires_grad=True)
    opt = torch.optim.Adam([log_gain, log_decay], lr=0.05)
    gen = torch.Generator().manual_seed(seed)

    def ir() -> torch.Tensor:
        tail = noise * torch.exp(log_gain) * torch.exp(-t / torch.exp(log_decay))
        return torch.cat([torch.ones(1), tail[1:]])

    for step in range(steps):
        f0, ld, _, _, wav = batches.sample(batch, n_frames, audio=True)
        with torch.no_grad():
            dry = model(f0, ld, generator=gen, reverb=False)
        loss = loss_fn(fft_convolve(dry, ir())[..., :dry.shape[-1]][:, None], wav[:, None])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        model.reverb.ir.copy_(torch.cat([torch.zeros(1), ir()[1:]]))
    gain, decay = float(torch.exp(log_gain)), float(torch.exp(log_decay))
    log(f"reverb: gain {gain:.4f}, decay {decay:.3f} s (loss {loss.item():.4f})")
    return gain, decay


def _save_state(path: Path, model: TimbreModel, opt: torch.optim.Optimizer, step: int, stage: str) -> None:
    from safetensors.torch import save_file

    state = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        s = opt.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in s:
                state[f"opt.{i}.{key}"] = s[key].contiguous()
        if "step" in s:
            state[f"opt.{i}.step"] = torch.as_tensor(s["step"], dtype=torch.float32).reshape(1)
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"step": str(step), "stage": stage})
    tmp.replace(path)


def _load_state(path: Path, model: TimbreModel, opt_warm, opt_fine) -> tuple[int, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt = opt_warm if meta["stage"] == "warm" else opt_fine
    for i, p in enumerate(model.parameters()):
        if f"opt.{i}.exp_avg" in tensors:
            opt.state[p] = {"exp_avg": tensors[f"opt.{i}.exp_avg"],
                            "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"],
                            "step": tensors[f"opt.{i}.step"].reshape(())}
    return int(meta["step"]), meta["stage"]


def train_timbre(audio_dir: str | Path, out: str | Path, config: TrainConfig = TrainConfig(),
                 resume: bool = False, progress: bool = True,
                 log: Callable[[str], None] = print) -> Path:
    """Analyse ``audio_dir``, train, evaluate on the held-out notes and save ``out``.

    Returns the checkpoint folder.  Raises DataError for a folder with too little usable sound,
    AudioError naming a file that cannot be read."""
    from tqdm import tqdm

    out = Path(out)
    torch.manual_seed(config.seed)
    synth = SynthConfig(**SYNTH_DEFAULT)
    dec = dict(DECODER_DEFAULT)
    cache_dir = out / ".cache"
    t0 = time.time()
    analyses = analyse_folder(audio_dir, cache_dir / "analysis.npz", synth, dec["n_harmonics"],
                              dec["n_noise_bands"], progress)
    total = sum(len(a.audio) for a in analyses) / synth.sample_rate
    if total < MIN_TOTAL_SECONDS:
        raise DataError(f"{audio_dir}: only {total:.1f} s of usable sound in {len(analyses)} recordings; "
                        f"a timbre needs at least {MIN_TOTAL_SECONDS:.0f} s of clear single notes")
    train, held = split_held_out(analyses)
    if not train:
        train, held = analyses, []
    log(f"analysed {len(analyses)} recordings, {total / 60:.1f} min of sound "
        f"({len(train)} for training, {len(held)} held out) in {time.time() - t0:.0f} s")
    expression = measure_expression(train, synth.frame_rate)
    log(f"expression: {expression}")

    model = TimbreModel(dec, asdict(synth))
    opt_warm = torch.optim.Adam(model.decoder.parameters(), lr=config.warm_lr)
    # Adam moves every parameter by about lr per step whatever its gradient: at the decoder's
    # rate the 12,000 free taps of the impulse response would turn into loud noise within a
    # hundred steps, so the reverb learns 100x slower.
    opt_fine = torch.optim.Adam([{"params": model.decoder.parameters(), "lr": config.lr},
                                 {"params": model.reverb.parameters(), "lr": config.lr * 0.01}])
    state_path = cache_dir / "state.safetensors"
    step, stage = 0, "warm"
    if resume and state_path.is_file():
        step, stage = _load_state(state_path, model, opt_warm, opt_fine)
        log(f"resumed at {stage} step {step}")
    batches = _Batches(train, synth.hop, config.seed + step)

    if stage == "warm":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_warm, config.warm_steps, eta_min=1e-4)
        for _ in range(step):
            sched.step()
        bar = tqdm(range(step, config.warm_steps), desc="warm start", disable=not progress,
                   initial=step, total=config.warm_steps)
        for step in bar:
            f0, ld, harm, noise, _ = batches.sample(config.warm_batch, config.warm_frames, audio=False)
            loss = warm_loss(model, f0, ld, harm, noise)
            opt_warm.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt_warm.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if (step + 1) % config.save_every == 0:
                _save_state(state_path, model, opt_warm, step + 1, "warm")
                log(f"warm step {step + 1} loss {loss.item():.4f}")
        fit_reverb(model, batches, mrstft_loss(), steps=config.reverb_steps, seed=config.seed, log=log)
        step, stage = 0, "fine"
        _save_state(state_path, model, opt_fine, 0, "fine")
        # the warm-started weights alone, to restart a fine-tune from without redoing stage 1
        _save_state(cache_dir / "warm.safetensors", model, opt_fine, 0, "fine")

    loss_fn = mrstft_loss()
    gen = torch.Generator().manual_seed(config.seed)
    bar = tqdm(range(step, config.steps), desc="fine-tune", disable=not progress,
               initial=step, total=config.steps)
    for step in bar:
        f0, ld, _, _, wav = batches.sample(config.batch, config.frames, audio=True)
        pred = model(f0, ld, generator=gen)
        loss = loss_fn(pred[:, None], wav[:, None])
        opt_fine.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt_fine.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            _save_state(state_path, model, opt_fine, step + 1, "fine")
            log(f"fine step {step + 1} loss {loss.item():.4f}")

    model.eval()
    from composer.render.ddsp.evaluate import evaluate_resynthesis

    metrics = {"resynthesis": asdict(evaluate_resynthesis(model, held)) if held else None,
               "training": {"recordings": len(train), "held_out": len(held),
                            "minutes_of_sound": round(total / 60, 2),
                            "warm_steps": config.warm_steps, "steps": config.steps,
                            "wall_seconds": round(time.time() - t0, 1)}}
    folder = save_timbre(out, model, dec, asdict(synth), expression,
                         extra={"metrics": metrics, "source": str(Path(audio_dir).name)})
    log(f"saved {folder}: {json.dumps(metrics)}")
    return folder


__all__ = ["train_timbre", "TrainConfig", "analyse_recording", "a_weighted_loudness", "track_f0",
           "harmonic_amplitudes", "measure_expression", "Analysis", "AudioError"]
