"""The return pass shared by the chord and note levels: which phrases return, the copy of
their first statement, and the second pass that starts from it (see docs/ARCHITECTURE.md).
The melody level uses :func:`phrase_repeats` and keeps its copies exactly where the harmony
allows instead (composer/levels/melody.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from composer.diffusion.samplers import grid_time
from composer.diffusion.schedule import add_noise
from composer.form import Phrase


@dataclass(frozen=True)
class Repeat:
    """Phrase at bars ``start_bar .. start_bar + n_bars - 1`` returns the material of the
    phrase at ``source_bar .. source_bar + source_bars - 1`` (the first of its label)."""

    start_bar: int
    n_bars: int
    source_bar: int
    source_bars: int


def phrase_repeats(phrases: Iterable[Phrase]) -> tuple[Repeat, ...]:
    """The returning phrases of a form: every phrase whose label letter occurred before."""
    first: dict[str, tuple[int, int]] = {}
    out, bar = [], 0
    for ph in phrases:
        if ph.label in first:
            out.append(Repeat(bar, ph.n_bars, *first[ph.label]))
        else:
            first[ph.label] = (bar, ph.n_bars)
        bar += ph.n_bars
    return tuple(out)


def first_statements(x: torch.Tensor, repeats: Iterable[Repeat], per_bar: int) -> torch.Tensor:
    """A copy of ``x`` [B, C, L] (``per_bar`` positions per bar) where every returning phrase
    holds its first statement, cycled or cut to the phrase's length."""
    source = x.clone()
    for r in repeats:
        a, b = r.start_bar * per_bar, (r.start_bar + r.n_bars) * per_bar
        src = x[:, :, r.source_bar * per_bar:(r.source_bar + r.source_bars) * per_bar]
        reps = -(-(b - a) // src.shape[2])
        source[:, :, a:b] = src.repeat(1, 1, reps)[:, :, :b - a]
    return source


def return_start(steps: int, variation: float) -> int:
    """Grid index a return pass at ``variation`` (0 = copy, 1 = from noise) starts from."""
    return min(max(int(round((1 - variation) * steps)), 0), steps - 1)


ReturnRun = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]
"""``run(x, noise, known, mask, start) -> x0``: the level's sampler loop from grid index
``start``, holding ``known`` where ``mask`` is set."""


def return_pass(x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor, repeats: Iterable[Repeat],
                per_bar: int, steps: int, variation: float, generator: torch.Generator | None,
                run: ReturnRun, expand: Callable[[torch.Tensor], torch.Tensor] = lambda m: m) -> torch.Tensor:
    """The second pass of a level: every returning phrase restarts from its first statement.

    x: the draft [B, C, L] (``per_bar`` positions per bar); known / mask: the user's
    constraint as the level's net takes it (``expand(mask)`` broadcasts it to x); the
    returning phrases' copies are noised to ``variation`` and denoised by ``run`` with the
    rest of the song known (the draft, or the user's values where given), so each returns
    varied the way its new neighbours and condition ask.  ``variation <= 0``: exact copies.
    Draws one noise tensor from ``generator``."""
    repeats = tuple(repeats)
    source = first_statements(x, repeats, per_bar)
    mask2 = torch.ones_like(mask)            # everything but the returning phrases is kept
    for r in repeats:
        a, b = r.start_bar * per_bar, (r.start_bar + r.n_bars) * per_bar
        mask2[..., a:b] = mask[..., a:b]     # a user's known values stay known
    known2 = torch.where(expand(mask).bool(), known, x)
    noise2 = torch.randn(x.shape, generator=generator)
    if variation <= 0:
        return torch.where(expand(mask2).bool(), known2, source)
    start = return_start(steps, variation)
    x2 = add_noise(source, noise2, grid_time(steps, start).expand(x.shape[0]))
    return run(x2, noise2, known2, mask2, start)


__all__ = ["Repeat", "phrase_repeats", "first_statements", "return_start", "return_pass", "ReturnRun"]
