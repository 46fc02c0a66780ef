"""The return pass shared by the chord and note levels: which phrases return, and the copy
of their first statement that the second pass starts from (see docs/ARCHITECTURE.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch

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


__all__ = ["Repeat", "phrase_repeats", "first_statements"]
