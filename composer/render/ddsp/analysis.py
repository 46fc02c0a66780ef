"""Recordings of single notes turned into training material for a timbre.

:func:`analyse_recording`: each recording is resampled to the timbre's rate, its pitch is
taken from the file name and refined per frame by a harmonic-sum tracker within +-1 semitone
(fast, no octave errors; a recording without a pitch in its name falls back to
``librosa.pyin``), its A-weighted loudness computed, and the amplitude of every harmonic and a
noise floor per band measured from the spectrum.  :func:`analyse_folder` does a whole folder,
cached in an ``.npz``; :func:`measure_expression` measures the instrument's playing statistics
from the analysed notes; :func:`split_held_out` keeps about 10% of the notes (by file name) for
evaluation only.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from composer.data.philharmonia import RecordingInfo, is_held_out, list_recordings, load_audio
from composer.errors import AudioError
from composer.io.atomic import atomic_path
from composer.render.ddsp.spectral import (a_weighted_loudness, harmonic_amplitudes, noise_floor, stft_magnitude,
                                           track_f0)
from composer.render.ddsp.timbre import Expression, SynthConfig, midi_to_hz

ANALYSIS_VERSION = 2
"""Bumped when the analysis changes, so that cached analyses are redone."""


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
    mag = stft_magnitude(audio, n_fft, hop, n_frames)
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


REGISTER_SEMITONES = 6
"""Width of the pitch bands whose level offsets :func:`register_levels` measures."""
REGISTER_MIN_NOTES = 8
"""A band with fewer notes is merged into the band below it (the lowest into the one above)."""
PLAYED_MIN_NOTES = 5
"""Notes of one written length needed to measure how long such notes are held."""


def register_levels(notes: list[tuple[int, float, float]], rounds: int = 20
                    ) -> tuple[dict[int, float], tuple[int, ...], tuple[float, ...]]:
    """Sustained levels as dynamic + register: ``notes`` are (velocity, pitch, level dB).

    An additive fit by alternating medians (robust to the odd note): each written dynamic's
    level, and each band of :data:`REGISTER_SEMITONES` semitones' offset (mean 0 over the
    notes); the two are measured jointly because the recordings do not cover every dynamic in
    every register (a flute's fortissimo only high up, where it is loud anyway).  Returns
    ({velocity: level}, band pitches (each band's median pitch), band offsets in dB)."""
    vel = np.array([n[0] for n in notes])
    pitch = np.array([n[1] for n in notes], dtype=np.float64)
    level = np.array([n[2] for n in notes], dtype=np.float64)
    band = ((pitch - pitch.min()) // REGISTER_SEMITONES).astype(int)
    while True:                          # merge thin bands into a neighbour
        ids, counts = np.unique(band, return_counts=True)
        if len(ids) < 2 or counts.min() >= REGISTER_MIN_NOTES:
            break
        k = int(np.argmin(counts))
        band[band == ids[k]] = ids[k - 1] if k > 0 else ids[1]
    ids = np.unique(band)
    offset = {b: 0.0 for b in ids}
    dyn = {}
    for _ in range(rounds):
        dyn = {v: float(np.median(level[vel == v] - [offset[b] for b in band[vel == v]])) for v in np.unique(vel)}
        offset = {b: float(np.median(level[band == b] - [dyn[v] for v in vel[band == b]])) for b in ids}
        mean = float(np.mean([offset[b] for b in band]))
        offset = {b: o - mean for b, o in offset.items()}
    dyn = {int(v): float(np.median(level[vel == v] - [offset[b] for b in band[vel == v]])) for v in np.unique(vel)}
    centres = tuple(int(round(float(np.median(pitch[band == b])))) for b in ids)
    return dyn, centres, tuple(round(offset[b], 2) for b in ids)


def measure_expression(analyses: list[Analysis], frame_rate: float) -> Expression:
    """Playing statistics of an instrument from its analysed recordings (see :class:`Expression`).

    Levels: the sustained loudness (median of the middle half) of the notes of 1 s or longer
    with a written dynamic, as dynamic + register (:func:`register_levels`).  Played lengths:
    per written length, the median time from the onset (the first frame within 30 dB of the
    peak, where the protocol and a listener hear it) to the last frame within 10 dB of the
    sustained level, less the time the release takes to fall those 10 dB (a quarter of
    ``release_seconds``): how long the control curve must hold the note to let go where the
    players did."""
    by_velocity: dict[int, list[float]] = {}
    levels_at: list[tuple[int, float, float]] = []
    ends: dict[float, list[float]] = {}
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
            levels_at.append((a.info.velocity, float(a.pitch), sustain))
        if a.info.duration_seconds:
            heard = int(np.flatnonzero(ld > ld.max() - 30)[0])
            within = np.flatnonzero(ld >= sustain - 10)
            ends.setdefault(float(a.info.duration_seconds), []).append((within[-1] + 1 - heard) / frame_rate)
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
    reg_pitch, reg_db = (), ()
    if not velocities:
        ld_all = [float(np.median(a.loudness_db[a.voiced])) for a in analyses if a.voiced.any()]
        velocities, levels = [64], [float(np.median(ld_all))]
    else:
        dyn, reg_pitch, reg_db = register_levels(levels_at)
        if len(reg_pitch) < 2:
            reg_pitch, reg_db = (), ()
        levels = [dyn[v] for v in velocities]
        levels = list(np.maximum.accumulate(levels))     # louder written dynamic never quieter
    med = lambda xs, d: float(np.median(xs)) if xs else d  # noqa: E731
    release = med(releases, 0.15)
    written = sorted(w for w, xs in ends.items() if len(xs) >= PLAYED_MIN_NOTES)
    played = [max(1.0 / frame_rate, med(ends[w], w) - release / 4) for w in written]
    played = list(np.maximum.accumulate(played))         # a longer note is never let go sooner
    pitches = [int(round(a.pitch)) for a in analyses]
    floor = float(np.percentile(np.concatenate([a.loudness_db for a in analyses]), 1))
    return Expression(
        dynamics_velocity=tuple(int(v) for v in velocities),
        dynamics_loudness_db=tuple(round(float(x), 2) for x in levels),
        attack_seconds=round(med(attacks, 0.06), 4), release_seconds=round(release, 4),
        decay_db=round(med(decays, 0.0), 2), vibrato_rate_hz=round(med(rates, 5.0), 3),
        vibrato_depth_cents=round(med(depths, 0.0), 2),
        vibrato_delay_seconds=round(med(delays, 0.3), 3),
        pitch_min=min(pitches), pitch_max=max(pitches), silence_db=round(max(floor, -100.0), 1),
        register_pitch=reg_pitch, register_db=reg_db,
        written_seconds=tuple(round(w, 4) for w in written), played_seconds=tuple(round(float(x), 3) for x in played))


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
        # The suffix keeps numpy from adding ".npz" to the temporary name.
        with atomic_path(cache, suffix=".npz") as tmp:
            np.savez(tmp, meta=json.dumps(meta), **arrays)
    return out


def split_held_out(analyses: list[Analysis]) -> tuple[list[Analysis], list[Analysis]]:
    """(training notes, held-out notes): about 10% held out by a hash of the file name."""
    train = [a for a in analyses if not is_held_out(a.info.path)]
    held = [a for a in analyses if is_held_out(a.info.path)]
    return train, held


__all__ = ["Analysis", "ANALYSIS_VERSION", "analyse_recording", "analyse_folder", "measure_expression",
           "split_held_out"]
