"""The interface every renderer shares: a Score in, stereo Audio out.

The SoundFont renderer (``soundfont.py``) and the DDSP timbre renderer (``ddsp/``) both
implement :class:`Renderer`; ``mix.py`` chooses one per track and sums the results.
Seconds appear here for the first time: Scores are in ticks until a renderer turns them
into samples through ``Score.tick_to_seconds``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from composer.errors import RenderError
from composer.limits import MAX_RENDER_NOTES, MAX_RENDER_SECONDS
from composer.score import Score


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


@runtime_checkable
class Renderer(Protocol):
    """Anything that turns a Score into Audio at a given sample rate."""

    def render(self, score: Score, sample_rate: int) -> Audio:
        ...


def check_render_limits(score: Score) -> Score:
    """``score`` if it is short enough to render (:data:`~composer.limits.MAX_RENDER_SECONDS`
    of music, :data:`~composer.limits.MAX_RENDER_NOTES` notes), else one RenderError line.

    Checked before a single sample is made: one note of 2**28 ticks in a 54-byte file lasts
    four years, and its render would fill the disk long before it ended."""
    n_notes = sum(len(t.notes) for t in score.tracks)
    if n_notes > MAX_RENDER_NOTES:
        raise RenderError(f"the song has {n_notes:,} notes; composer renders at most "
                          f"{MAX_RENDER_NOTES:,} in one song: split it into parts")
    seconds = score.duration_seconds
    if seconds > MAX_RENDER_SECONDS:
        raise RenderError(f"the song lasts {seconds:,.0f} s; composer renders at most "
                          f"{MAX_RENDER_SECONDS:,.0f} s ({MAX_RENDER_SECONDS / 60:g} minutes) of music: "
                          "shorten it (`composer inspect` shows its tracks and tempo)")
    return score
