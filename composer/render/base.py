"""The interface every renderer shares: a Score in, stereo Audio out.

The SoundFont renderer (``soundfont.py``) and the DDSP timbre renderer (``ddsp/``) both
implement :class:`Renderer`; ``mix.py`` chooses one per track and sums the results.
Seconds appear here for the first time: Scores are in ticks until a renderer turns them
into samples through ``Score.tick_to_seconds``.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

# Audio lives in composer/audio.py (io reads and writes it without knowing render); it is
# imported here too because every renderer returns it.
from composer.audio import Audio
from composer.errors import RenderError
from composer.limits import MAX_RENDER_NOTES, MAX_RENDER_SECONDS
from composer.score import Score


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


__all__ = ["Audio", "Renderer", "check_render_limits"]
