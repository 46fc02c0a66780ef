"""Mastering: loudness metering (ITU-R BS.1770) and the gain that brings a song to a target
loudness without clipping.

Loudness is integrated loudness (LUFS) as measured by pyloudnorm; :class:`LoudnessMeter`
gives the same value streamed block by block.  Normalisation scales to a target (default
-14 LUFS, the streaming services' level) and never clips: when the gain the target needs
would push peaks over the ceiling (default -1 dBFS), a look-ahead limiter turns those peaks
down (smooth gain ramps, at most 12 dB), with the base gain solved so that the limited signal
meets the target; beyond 12 dB, or with ``limit=False``, the whole signal is scaled so its
peak sits on the ceiling (peak scaling) and it ends quieter than the target.

This is signal processing, not file handling: :mod:`composer.io.audio` writes files with it
(:func:`composer.io.audio.write_normalised_blocks`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from composer.audio import Audio
from composer.errors import AudioError
from composer.limits import check_loudness

DEFAULT_LOUDNESS_LUFS = -14.0
DEFAULT_CEILING_DBFS = -1.0

LIMITER_FRAME = 32
"""Samples per limiter frame: the gain envelope is planned per frame, interpolated per sample."""
LIMITER_ATTACK_DB_PER_MS = 4.0
"""How fast the limiter's gain may fall (look-ahead ramp: it starts before the peak)."""
LIMITER_RELEASE_DB_PER_MS = 0.04
"""How fast it recovers after a peak (12 dB in 300 ms)."""
LIMITER_MAX_REDUCTION_DB = 12.0
"""The most the limiter turns a peak down; beyond that the whole song is scaled instead."""


# ---------------------------------------------------------------------- loudness
def integrated_loudness(audio: Audio) -> float:
    """BS.1770 integrated loudness in LUFS (pyloudnorm); -inf for silence or < 0.4 s."""
    import pyloudnorm  # noqa: PLC0415

    if audio.n_samples < int(0.4 * audio.sample_rate) + 1:
        return float("-inf")
    meter = pyloudnorm.Meter(audio.sample_rate)
    return float(meter.integrated_loudness(audio.samples.astype(np.float64)))


class LoudnessMeter:
    """Streaming BS.1770 integrated loudness and sample peak, fed block by block.

    Gives the same value as pyloudnorm's ``Meter.integrated_loudness`` on the whole
    signal (same K-weighting filters, 400 ms gating blocks with 75 % overlap, -70 LUFS
    absolute and -10 LU relative gates) while holding only the filter state and one
    mean square per 100 ms step.
    """

    def __init__(self, sample_rate: int, n_channels: int) -> None:
        import pyloudnorm  # noqa: PLC0415
        from scipy.signal import lfilter_zi  # noqa: PLC0415

        if n_channels > 5:
            raise AudioError(f"loudness is defined for up to 5 channels, got {n_channels}")
        meter = pyloudnorm.Meter(sample_rate)
        self.sample_rate = sample_rate
        self.n_channels = n_channels
        self._filters = [(f.b, f.a) for f in meter._filters.values()]
        self._zi = [np.zeros((len(lfilter_zi(b, a)), n_channels)) for b, a in self._filters]
        # pyloudnorm's block bounds: int(0.4 * j * 0.25 * rate); at 44.1/48 kHz a step is
        # exactly 0.1 s, and blocks are four steps.
        self._step = 0.1 * sample_rate
        self._sums: list[np.ndarray] = []  # per completed step: sum of squares per channel
        self._partial = np.zeros(n_channels)
        self._n_in_step = 0
        self.n_samples = 0
        self.peak = 0.0
        # Per LIMITER_FRAME samples: peak |x| over channels and channel-weighted K-weighted
        # energy, for the limiter (a 30-minute song: 2.5 M frames, 40 MB).
        self._frame_peaks: list[np.ndarray] = []
        self._frame_energy: list[np.ndarray] = []
        self._carry_peak = 0.0
        self._carry_energy = 0.0

    def add(self, block: np.ndarray) -> None:
        """Feed float samples [n, n_channels] (time-major)."""
        from scipy.signal import lfilter  # noqa: PLC0415

        block = np.asarray(block)
        if block.ndim == 1:
            block = block[:, None]
        n = len(block)
        if not n:
            return
        self.peak = max(self.peak, float(np.abs(block).max()))
        y = block.astype(np.float64)
        for k, (b, a) in enumerate(self._filters):
            y, self._zi[k] = lfilter(b, a, y, axis=0, zi=self._zi[k])
        squares = y * y
        self._add_frames(np.abs(block).max(axis=1).astype(np.float64),
                         squares @ np.array([1.0, 1.0, 1.0, 1.41, 1.41][: self.n_channels]))
        # Split this block at pyloudnorm's step boundaries, int(j * step), and sum each piece.
        first = self.n_samples
        if int((len(self._sums) + 1) * self._step) == first:
            # The previous block ended exactly on a step boundary: that step is complete.
            self._sums.append(self._partial)
            self._partial = np.zeros(self.n_channels)
        j0 = len(self._sums) + 1
        bounds = []
        j = j0
        while int(j * self._step) < first + n:
            bounds.append(int(j * self._step) - first)
            j += 1
        cuts = [0] + bounds
        pieces = np.add.reduceat(squares, cuts, axis=0)
        for i, piece in enumerate(pieces):
            self._partial = self._partial + piece
            if i < len(bounds):  # the piece ends on a boundary: a completed step
                self._sums.append(self._partial)
                self._partial = np.zeros(self.n_channels)
        self._n_in_step = first + n - int((len(self._sums)) * self._step)
        self.n_samples += n

    def _add_frames(self, peaks: np.ndarray, energy: np.ndarray) -> None:
        frame = LIMITER_FRAME
        offset = self.n_samples % frame  # samples already in the open frame
        if offset:
            take = min(frame - offset, len(peaks))
            self._carry_peak = max(self._carry_peak, float(peaks[:take].max()))
            self._carry_energy += float(energy[:take].sum())
            peaks, energy = peaks[take:], energy[take:]
            if offset + take < frame:
                return
            self._frame_peaks.append(np.array([self._carry_peak]))
            self._frame_energy.append(np.array([self._carry_energy]))
            self._carry_peak, self._carry_energy = 0.0, 0.0
        whole = len(peaks) // frame * frame
        if whole:
            self._frame_peaks.append(peaks[:whole].reshape(-1, frame).max(axis=1))
            self._frame_energy.append(energy[:whole].reshape(-1, frame).sum(axis=1))
        if whole < len(peaks):
            self._carry_peak = float(peaks[whole:].max())
            self._carry_energy = float(energy[whole:].sum())

    def frames(self) -> tuple[np.ndarray, np.ndarray]:
        """(peak, energy) per LIMITER_FRAME samples so far, float64 [n_frames] each; the
        last, partial frame included.  Energy is channel-weighted K-weighted sum of squares."""
        peaks = list(self._frame_peaks)
        energy = list(self._frame_energy)
        if self.n_samples % LIMITER_FRAME:
            peaks.append(np.array([self._carry_peak]))
            energy.append(np.array([self._carry_energy]))
        if not peaks:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(peaks), np.concatenate(energy)

    @property
    def lufs(self) -> float:
        """Integrated loudness so far, LUFS; -inf for silence or under 0.4 s."""
        sums = np.array(self._sums + [self._partial]) if self._n_in_step else np.array(self._sums)
        gains = np.array([1.0, 1.0, 1.0, 1.41, 1.41][: self.n_channels])
        weighted = sums @ gains if len(sums) else np.zeros(0)
        return gated_loudness(weighted, self.n_samples, self.sample_rate)


def gated_loudness(step_sums: np.ndarray, n_samples: int, sample_rate: int) -> float:
    """BS.1770 gated loudness (LUFS) from channel-weighted sums of K-weighted squares per
    100 ms step (float [n_steps]), exactly as pyloudnorm gates: 400 ms blocks of four steps
    (75 % overlap; a short last block sums what exists), -70 LUFS absolute gate, -10 LU
    relative gate.  -inf for silence or under 0.4 s."""
    block = 0.4
    if n_samples < int(block * sample_rate) + 1:
        return float("-inf")
    n_blocks = int(np.round((n_samples / sample_rate - block) / (block * 0.25))) + 1
    padded = np.concatenate([np.asarray(step_sums, dtype=np.float64), np.zeros(4)])
    z = np.array([padded[j:j + 4].sum() for j in range(n_blocks)]) / (block * sample_rate)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(z)
    gated = z[loud >= -70.0]
    if not len(gated):
        return float("-inf")
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    keep = z[(loud > relative) & (loud > -70.0)]
    if not len(keep):
        return float("-inf")
    return float(-0.691 + 10 * np.log10(keep.mean()))


def normalisation_gain(lufs: float, peak: float, target_lufs: float = DEFAULT_LOUDNESS_LUFS,
                       ceiling_dbfs: float = DEFAULT_CEILING_DBFS) -> float:
    """Linear gain that brings ``lufs`` to ``target_lufs`` with the peak at most ``ceiling_dbfs``.

    Silence (``lufs`` = -inf or peak 0) gets gain 1.0.
    """
    if not math.isfinite(lufs) or peak <= 0:
        return 1.0
    gain = 10 ** ((target_lufs - lufs) / 20)
    ceiling = 10 ** (ceiling_dbfs / 20)
    return min(gain, ceiling / peak)


def normalise(audio: Audio, target_lufs: float = DEFAULT_LOUDNESS_LUFS,
              ceiling_dbfs: float = DEFAULT_CEILING_DBFS, limit: bool = True) -> Audio:
    """Audio brought to ``target_lufs`` integrated loudness with no sample over
    ``ceiling_dbfs``: look-ahead limiter (``limit``) or peak scaling (see :func:`plan_gain`)."""
    meter = LoudnessMeter(audio.sample_rate, audio.n_channels)
    meter.add(audio.samples)
    plan = plan_gain(meter, target_lufs, ceiling_dbfs, limit)
    gains = plan.gains(0, audio.n_samples)[:, None]
    return Audio(np.clip(audio.samples * gains, -1.0, 1.0), audio.sample_rate)


@dataclass(frozen=True, eq=False)
class GainPlan:
    """The gain a whole song gets: a constant ``base_db`` plus a limiter envelope.

    base_db:      gain in dB applied to every sample (loudness normalisation).
    boundary_db:  float64 [n_frames + 1], the limiter's gain (<= 0 dB) at each boundary of
                  LIMITER_FRAME samples, interpolated linearly within a frame.  Each
                  boundary is at most the gain both neighbouring frames need to keep their
                  peak under the ceiling, so no sample exceeds it.
    lufs_after:   integrated loudness of the signal after this gain, LUFS: exact without
                  limiting, estimated from per-frame energy with it (within ~0.1 LU); NaN
                  when unknown.
    """

    base_db: float
    boundary_db: np.ndarray
    lufs_after: float = float("nan")

    @classmethod
    def constant(cls, gain_db: float = 0.0, lufs_after: float = float("nan")) -> "GainPlan":
        return cls(float(gain_db), np.zeros(2), lufs_after)

    @property
    def max_reduction_db(self) -> float:
        """The deepest the limiter goes, dB (>= 0)."""
        return float(-self.boundary_db.min(initial=0.0))

    def gains(self, start: int, n: int) -> np.ndarray:
        """Linear gains, float32 [n], for samples ``start`` .. ``start + n``; samples past
        the planned length keep the last gain.

        Interpolated linearly in linear gain between frame boundaries: between two gains
        that both keep a frame under the ceiling, every interpolated one does too."""
        linear = 10.0 ** ((self.base_db + self.boundary_db) / 20.0)
        positions = np.arange(len(linear), dtype=np.float64) * LIMITER_FRAME
        return np.interp(np.arange(start, start + n, dtype=np.float64), positions, linear).astype(np.float32)


def _limiter_envelope(peak_db: np.ndarray, base_db: float, ceiling_dbfs: float,
                      sample_rate: int) -> tuple[float, np.ndarray]:
    """(base_db, per-frame limiter gain in dB) for frames whose peaks are ``peak_db``.

    The gain each frame needs, ``req``, is turned into a smooth envelope with two linear
    ramps in dB: falling at LIMITER_ATTACK_DB_PER_MS ahead of a peak (look-ahead, so the
    peak itself is already turned down) and rising at LIMITER_RELEASE_DB_PER_MS after it.
    Both are min-plus convolutions with a linear kernel, i.e. running minima: vectorised.
    A peak that would need more than LIMITER_MAX_REDUCTION_DB lowers ``base_db`` instead.
    """
    req = np.minimum(0.0, ceiling_dbfs - (peak_db + base_db))
    need = float(-req.min(initial=0.0))
    if need > LIMITER_MAX_REDUCTION_DB:
        base_db -= need - LIMITER_MAX_REDUCTION_DB
        req = np.minimum(0.0, ceiling_dbfs - (peak_db + base_db))
    ms_per_frame = LIMITER_FRAME * 1000.0 / sample_rate
    attack, release = LIMITER_ATTACK_DB_PER_MS * ms_per_frame, LIMITER_RELEASE_DB_PER_MS * ms_per_frame
    k = np.arange(len(req), dtype=np.float64)
    ahead = np.minimum.accumulate((req + k * attack)[::-1])[::-1] - k * attack
    after = np.minimum.accumulate(req - k * release) + k * release
    return base_db, np.minimum(0.0, np.minimum(ahead, after))


def plan_gain(meter: LoudnessMeter, target_lufs: float | None = DEFAULT_LOUDNESS_LUFS,
              ceiling_dbfs: float = DEFAULT_CEILING_DBFS, limit: bool = True) -> GainPlan:
    """The gain that brings a metered signal to ``target_lufs`` with no sample over
    ``ceiling_dbfs``.

    limit=True:  a look-ahead limiter turns the peaks down (at most
                 LIMITER_MAX_REDUCTION_DB), and the base gain is solved so that the
                 *limited* signal meets the target (its loudness estimated from per-frame
                 K-weighted energy; the written file is measured again).
    limit=False: peak scaling only: the base gain is lowered until the peak fits, so a
                 peaky song ends quieter than the target.
    Target None, or digital silence, gets 0 dB.  A signal below the loudness gate (-inf
    LUFS) keeps its level, turned down only as far as its peak is over the ceiling.
    Whatever happens, no sample of the planned gain times the signal exceeds the ceiling.
    """
    if target_lufs is not None:
        # NaN would make every comparison below false (a full-scale DC file), inf no gain.
        check_loudness(target_lufs, "target loudness")
    lufs = meter.lufs
    if target_lufs is None or meter.peak <= 0:
        return GainPlan.constant(0.0, lufs)
    peak_dbfs = 20 * math.log10(meter.peak)
    if not math.isfinite(lufs):
        return GainPlan.constant(min(0.0, ceiling_dbfs - peak_dbfs), lufs)
    base = target_lufs - lufs
    if not limit or base + peak_dbfs <= ceiling_dbfs:
        base = min(base, ceiling_dbfs - peak_dbfs)
        return GainPlan.constant(base, lufs + base)
    peaks, energy = meter.frames()
    peak_db = 20 * np.log10(np.maximum(peaks, 1e-12))
    step = 0.1 * meter.sample_rate
    step_of_frame = np.floor(np.arange(len(energy)) * LIMITER_FRAME / step).astype(np.int64)
    # The limited loudness rises with the base gain, by at most as much (the limiter takes
    # some of it back): secant steps on that curve, the slope kept within 0.05..1.
    previous: tuple[float, float] | None = None
    for i in range(12):
        base, env = _limiter_envelope(peak_db, base, ceiling_dbfs, meter.sample_rate)
        steps = np.bincount(step_of_frame, weights=energy * 10 ** ((base + env) / 10))
        estimate = gated_loudness(steps, meter.n_samples, meter.sample_rate)
        if not math.isfinite(estimate) or abs(target_lufs - estimate) < 0.01 or i == 11:
            break  # (the envelope is always the one of the final base: no sample over the ceiling)
        if -env.min(initial=0.0) >= LIMITER_MAX_REDUCTION_DB - 1e-9 and estimate < target_lufs:
            break  # the limiter is at its depth: louder would only scale the whole song down again
        slope = 1.0
        if previous is not None and base != previous[0]:
            slope = min(1.0, max(0.05, (estimate - previous[1]) / (base - previous[0])))
        previous = (base, estimate)
        base += (target_lufs - estimate) / slope
    boundary = np.empty(len(env) + 1)
    boundary[0], boundary[-1] = env[0], env[-1]
    boundary[1:-1] = np.minimum(env[:-1], env[1:])
    return GainPlan(base, boundary, estimate)
