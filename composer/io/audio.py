"""Audio files in and out: WAV (16/24-bit), FLAC, MP3, written loudness-normalised.

Writing is atomic (``composer.io.atomic``): a failed or interrupted write never leaves a
half-written file under the final name.  The loudness meter, the limiter and the gain plan
are mastering, in :mod:`composer.mastering`; this module only streams samples through them
into files.

Long renders are written in two streaming passes (:func:`write_normalised_blocks`) so that
memory stays bounded, not proportional to the song: pass one meters loudness and peak while
keeping the blocks (in memory up to a limit, then in a temporary float32 file), pass two
scales them into the output.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Literal

import numpy as np

from composer.audio import Audio
from composer.errors import AudioError
from composer.io.atomic import (atomic_path, check_regular_file, check_writable, discard_temp, make_temp_file,
                                write_error)
from composer.limits import check_loudness
from composer.mastering import DEFAULT_CEILING_DBFS, DEFAULT_LOUDNESS_LUFS, GainPlan, LoudnessMeter, plan_gain

BitDepth = Literal[16, 24]

MAX_AUDIO_BYTES = 2 * 2**30
"""Largest audio file read (2 GB: about 3 hours of 48 kHz 24-bit stereo WAV)."""

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
    # A regular file only: libsndfile would block on a FIFO and read /dev/zero forever.
    path = check_regular_file(path, AudioError, "an audio file", MAX_AUDIO_BYTES)
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
    """What :func:`write_normalised_blocks` wrote.

    lufs_before: integrated loudness of the input, LUFS; lufs_after: of the written signal
    (see ``GainPlan.lufs_after``: exact unless limited, then estimated within ~0.1 LU);
    peak_after: its sample peak (full scale 1.0); plan: the gain applied (base gain and
    limiter envelope), reusable for stems.
    """

    path: Path
    n_samples: int
    sample_rate: int
    lufs_before: float
    lufs_after: float
    peak_after: float
    plan: GainPlan


def write_normalised_blocks(path: str | os.PathLike, blocks: Iterable[np.ndarray], sample_rate: int,
                            n_channels: int = 2, *, target_lufs: float | None = DEFAULT_LOUDNESS_LUFS,
                            ceiling_dbfs: float = DEFAULT_CEILING_DBFS, limit: bool = True,
                            bit_depth: int = 16, force: bool = False,
                            memory_limit_mb: float = 256.0) -> WriteReport:
    """Stream float blocks [n, n_channels] into an audio file, loudness-normalised.

    Pass one meters loudness, peaks and per-frame energy while holding the blocks, in
    memory up to ``memory_limit_mb`` (about 12 minutes of 44.1 kHz stereo at the default
    256) and in a temporary float32 file beside the output beyond that; the gain is then
    planned (:func:`plan_gain`: look-ahead limiter unless ``limit`` is False); pass two
    applies it and writes the final format.  Memory stays bounded whatever the length.
    ``target_lufs`` None writes the samples unscaled (clipped to -1..1).  Atomic, and
    refuses to overwrite unless ``force``.
    """
    path = check_writable(path, force)
    fmt = audio_format(path, bit_depth)
    if target_lufs is not None:
        check_loudness(target_lufs, "target loudness")  # before the render, not after it
    sf = _soundfile()
    meter = LoudnessMeter(sample_rate, n_channels)
    held: list[np.ndarray] = []
    held_bytes, limit_bytes = 0, memory_limit_mb * 2 ** 20
    spill = None  # the temporary float32 file, once the blocks outgrow memory
    spill_name = None
    try:
        for block in blocks:
            block = np.asarray(block, dtype=np.float32).reshape(-1, n_channels)
            meter.add(block)
            try:
                if spill is None and held_bytes + block.nbytes > limit_bytes:
                    spill_name = str(make_temp_file(path.parent, path.name, ".f32.wav"))
                    spill = sf.SoundFile(spill_name, "w", sample_rate, n_channels, subtype="FLOAT", format="WAV")
                    for old in held:
                        spill.write(old)
                    held, held_bytes = [], 0
                if spill is not None:
                    spill.write(block)
                else:
                    held.append(block)
                    held_bytes += block.nbytes
            except (sf.LibsndfileError, RuntimeError, OSError) as err:
                # The spill file fills the disk first: the same one line as the output's.
                raise write_error(path, spill_name, err) from None
        if spill is not None:
            spill.close()
        plan = plan_gain(meter, target_lufs, ceiling_dbfs, limit)
        peak_after = 0.0
        position = 0

        def scaled(source: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            nonlocal peak_after, position
            for block in source:
                if plan.max_reduction_db > 0:
                    block = block * plan.gains(position, len(block))[:, None]
                else:
                    block = block * np.float32(10 ** (plan.base_db / 20))
                block = np.clip(block, -1.0, 1.0)
                position += len(block)
                if len(block):
                    peak_after = max(peak_after, float(np.abs(block).max()))
                yield block

        with atomic_path(path, suffix=path.suffix) as tmp:
            try:
                with sf.SoundFile(str(tmp), "w", sample_rate, n_channels,
                                  format=fmt.format, subtype=fmt.subtype) as dst:
                    if spill_name is not None:
                        with sf.SoundFile(spill_name, "r") as src:
                            for block in scaled(src.blocks(blocksize=1 << 16, dtype="float32", always_2d=True)):
                                dst.write(block)
                    for block in scaled(held.pop(0) for _ in range(len(held))):
                        dst.write(block)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(f"cannot write {path.name}: {err}") from None
    finally:
        if spill is not None and not spill.closed:
            spill.close()
        if spill_name is not None:
            discard_temp(spill_name)
    return WriteReport(path, meter.n_samples, sample_rate, meter.lufs, plan.lufs_after, peak_after, plan)
