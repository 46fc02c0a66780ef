"""Audio files in and out: WAV (16/24-bit), FLAC, MP3; loudness normalisation.

Writing is atomic (``composer.io.atomic``): a failed or interrupted write never leaves a
half-written file under the final name.  Loudness is ITU-R BS.1770 integrated loudness
(LUFS) as measured by pyloudnorm; normalisation scales to a target (default -14 LUFS, the
streaming services' level) and never clips: when the gain the target needs would push the
peak over the ceiling (default -1 dBFS), the gain is lowered to put the peak on the
ceiling instead (peak scaling, no distortion), and the result is quieter than the target.

Long renders are written in two streaming passes (:func:`write_normalised_blocks`) so that
memory stays bounded, not proportional to the song: pass one meters loudness and peak while
keeping the blocks (in memory up to a limit, then in a temporary float32 file), pass two
scales them into the output.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from composer.errors import AudioError
from composer.io.atomic import atomic_path, check_writable
from composer.render.base import Audio

BitDepth = Literal[16, 24]

DEFAULT_LOUDNESS_LUFS = -14.0
DEFAULT_CEILING_DBFS = -1.0

_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3"}
_PCM = {16: "PCM_16", 24: "PCM_24"}


def _soundfile():
    import soundfile  # noqa: PLC0415 - only the audio paths need libsndfile

    return soundfile


@dataclass(frozen=True)
class AudioFormat:
    """How a file is written: soundfile ``format`` and ``subtype``."""

    format: str
    subtype: str


def audio_format(path: str | os.PathLike, bit_depth: int = 16) -> AudioFormat:
    """The format for ``path`` from its suffix (.wav, .flac, .mp3) and ``bit_depth`` (16|24).

    MP3 ignores the bit depth and needs a libsndfile built with LAME (1.1.0 or newer).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise AudioError(f"cannot write {Path(path).name}: use a .wav, .flac or .mp3 file name")
    if bit_depth not in _PCM:
        raise AudioError(f"bit depth must be 16 or 24, got {bit_depth}")
    fmt = _FORMATS[suffix]
    if fmt == "MP3":
        sf = _soundfile()
        if "MP3" not in sf.available_formats() or "MPEG_LAYER_III" not in sf.available_subtypes("MP3"):
            raise AudioError("this libsndfile cannot write MP3 (needs libsndfile >= 1.1 with LAME); "
                             "write .wav or .flac instead")
        return AudioFormat("MP3", "MPEG_LAYER_III")
    return AudioFormat(fmt, _PCM[bit_depth])


# ---------------------------------------------------------------------- reading
def read_audio(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = False) -> Audio:
    """Read any file libsndfile opens (WAV, FLAC, OGG, MP3, ...) as float32 Audio.

    sample_rate:  resample to this rate (polyphase, scipy) when given and different.
    mono:         average the channels into one.
    Returns Audio with samples float32 [n_samples, n_channels] in -1..1.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {path} not found")
    sf = _soundfile()
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot read audio file {path}: {err}") from None
    if mono and data.shape[1] > 1:
        data = data.mean(axis=1, keepdims=True)
    if sample_rate is not None and sample_rate != rate:
        from scipy.signal import resample_poly  # noqa: PLC0415

        g = math.gcd(int(sample_rate), int(rate))
        data = resample_poly(data, sample_rate // g, rate // g, axis=0).astype(np.float32)
        rate = sample_rate
    return Audio(data, int(rate))


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

    @property
    def lufs(self) -> float:
        """Integrated loudness so far, LUFS; -inf for silence or under 0.4 s."""
        rate = self.sample_rate
        block = 0.4
        if self.n_samples < int(block * rate) + 1:
            return float("-inf")
        sums = np.array(self._sums + [self._partial]) if self._n_in_step else np.array(self._sums)
        total_s = self.n_samples / rate
        n_blocks = int(np.round((total_s - block) / (block * 0.25))) + 1
        # Each gating block is four consecutive steps (a short last block sums what exists).
        padded = np.vstack([sums, np.zeros((4, self.n_channels))])
        z = np.array([padded[j:j + 4].sum(axis=0) for j in range(n_blocks)]) / (block * rate)
        gains = np.array([1.0, 1.0, 1.0, 1.41, 1.41][: self.n_channels])
        with np.errstate(divide="ignore"):
            loud = -0.691 + 10 * np.log10(z @ gains)
        gated = z[loud >= -70.0]
        if not len(gated):
            return float("-inf")
        relative = -0.691 + 10 * np.log10(gated.mean(axis=0) @ gains) - 10.0
        keep = z[(loud > relative) & (loud > -70.0)]
        if not len(keep):
            return float("-inf")
        return float(-0.691 + 10 * np.log10(keep.mean(axis=0) @ gains))


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
              ceiling_dbfs: float = DEFAULT_CEILING_DBFS) -> Audio:
    """Audio scaled to ``target_lufs`` integrated loudness, peak at most ``ceiling_dbfs``."""
    gain = normalisation_gain(integrated_loudness(audio), float(np.abs(audio.samples).max(initial=0.0)),
                              target_lufs, ceiling_dbfs)
    return Audio(audio.samples * np.float32(gain), audio.sample_rate)


# ---------------------------------------------------------------------- writing
def _write(sf, path: Path, data: np.ndarray, sample_rate: int, fmt: AudioFormat) -> None:
    try:
        sf.write(str(path), data, sample_rate, format=fmt.format, subtype=fmt.subtype)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"cannot write {path.name}: {err}") from None


def write_audio(path: str | os.PathLike, audio: Audio, *, bit_depth: int = 16,
                force: bool = False) -> Path:
    """Write ``audio`` to ``path`` (.wav/.flac/.mp3) atomically; refuse to overwrite unless
    ``force``.  Samples are clipped to -1..1 (normalise first to avoid that)."""
    path = check_writable(path, force)
    fmt = audio_format(path, bit_depth)
    sf = _soundfile()
    data = np.clip(audio.samples, -1.0, 1.0)
    with atomic_path(path, suffix=path.suffix) as tmp:
        _write(sf, tmp, data, audio.sample_rate, fmt)
    return path


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_normalised_blocks` wrote: the file, length, and levels.

    lufs_before / lufs_after: integrated loudness of the input and of the written signal
    (before quantisation), LUFS; gain: the linear gain applied; peak_after: sample peak
    after the gain, full scale 1.0.
    """

    path: Path
    n_samples: int
    sample_rate: int
    lufs_before: float
    gain: float
    peak_after: float

    @property
    def lufs_after(self) -> float:
        return self.lufs_before + 20 * math.log10(self.gain) if math.isfinite(self.lufs_before) else self.lufs_before


def write_normalised_blocks(path: str | os.PathLike, blocks: Iterable[np.ndarray], sample_rate: int,
                            n_channels: int = 2, *, target_lufs: float | None = DEFAULT_LOUDNESS_LUFS,
                            ceiling_dbfs: float = DEFAULT_CEILING_DBFS, bit_depth: int = 16,
                            force: bool = False, memory_limit_mb: float = 256.0) -> WriteReport:
    """Stream float blocks [n, n_channels] into an audio file, loudness-normalised.

    Pass one meters loudness and peak while holding the blocks, in memory up to
    ``memory_limit_mb`` (about 12 minutes of 44.1 kHz stereo at the default 256) and in a
    temporary float32 file beside the output beyond that; pass two applies the gain and
    writes the final format.  Memory therefore stays bounded whatever the length.
    ``target_lufs`` None writes the samples unscaled (clipped to -1..1).  Atomic, and
    refuses to overwrite unless ``force``.
    """
    path = check_writable(path, force)
    fmt = audio_format(path, bit_depth)
    sf = _soundfile()
    meter = LoudnessMeter(sample_rate, n_channels)
    held: list[np.ndarray] = []
    held_bytes, limit = 0, memory_limit_mb * 2 ** 20
    spill = None  # the temporary float32 file, once the blocks outgrow memory
    spill_name = None
    try:
        for block in blocks:
            block = np.asarray(block, dtype=np.float32).reshape(-1, n_channels)
            meter.add(block)
            if spill is None and held_bytes + block.nbytes > limit:
                fd, spill_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".f32.wav")
                os.close(fd)
                spill = sf.SoundFile(spill_name, "w", sample_rate, n_channels, subtype="FLOAT", format="WAV")
                for old in held:
                    spill.write(old)
                held, held_bytes = [], 0
            if spill is not None:
                spill.write(block)
            else:
                held.append(block)
                held_bytes += block.nbytes
        if spill is not None:
            spill.close()
        lufs = meter.lufs
        gain = 1.0 if target_lufs is None else normalisation_gain(lufs, meter.peak, target_lufs, ceiling_dbfs)
        scale = np.float32(gain)
        with atomic_path(path, suffix=path.suffix) as tmp:
            try:
                with sf.SoundFile(str(tmp), "w", sample_rate, n_channels,
                                  format=fmt.format, subtype=fmt.subtype) as dst:
                    if spill_name is not None:
                        with sf.SoundFile(spill_name, "r") as src:
                            for block in src.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
                                dst.write(np.clip(block * scale, -1.0, 1.0))
                    while held:
                        dst.write(np.clip(held.pop(0) * scale, -1.0, 1.0))
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(f"cannot write {path.name}: {err}") from None
    finally:
        if spill is not None and not spill.closed:
            spill.close()
        if spill_name is not None and os.path.exists(spill_name):
            os.unlink(spill_name)
    return WriteReport(path, meter.n_samples, sample_rate, lufs, gain, meter.peak * gain)
