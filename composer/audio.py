"""Rendered sound as one type: what renderers make and what ``composer.io.audio`` reads and writes.

It sits at the bottom of the package, beside ``score.py``, so that the audio files (``io``)
need not know the renderers (``render``) to speak of sound.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Audio:
    """Rendered sound.

    samples:      float32 array [n_samples, n_channels] (time-major), nominally in -1..1.
    sample_rate:  samples per second per channel, e.g. 44100.
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2:
            raise ValueError(f"Audio samples must be [n_samples, n_channels], got {samples.shape}")
        object.__setattr__(self, "samples", samples)

    @property
    def n_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def n_channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_seconds(self) -> float:
        return self.n_samples / self.sample_rate


__all__ = ["Audio"]
