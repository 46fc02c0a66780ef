"""Batch streams over a task's items, shared by the level tasks (form, chords).

``make_batch(items, indices, generator)`` builds one batch; these functions only choose the
indices: random with replacement for training, in order with a fixed seed for validation (so
every validation pass sees the same batches).
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence, TypeVar

import torch

from composer.seeds import VALID_BATCH_SEED

Item = TypeVar("Item")
Batch = TypeVar("Batch")
MakeBatch = Callable[[Sequence[Item], torch.Tensor, torch.Generator], Batch]


def random_batches(items: Sequence[Item], batch_size: int, generator: torch.Generator,
                   make_batch: MakeBatch) -> Iterator[Batch]:
    """Endless training batches of ``batch_size`` items drawn with ``generator``."""
    while True:
        idx = torch.randint(len(items), (batch_size,), generator=generator)
        yield make_batch(items, idx, generator)


def fixed_batches(items: Sequence[Item], batch_size: int, make_batch: MakeBatch) -> list[Batch]:
    """Every item once, in order, in batches of ``batch_size``, with a fixed seed."""
    rng = torch.Generator().manual_seed(VALID_BATCH_SEED)
    order = torch.arange(len(items))
    return [make_batch(items, order[i:i + batch_size], rng) for i in range(0, len(order), batch_size)]


__all__ = ["random_batches", "fixed_batches"]
