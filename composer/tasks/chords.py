"""Training task of the chord level (``composer train chords``).

Each item is one song: its chords on the four-slot grid relative to each bar's key, and the
per-bar condition built from one of the two annotators' forms (picked at random each time,
both are valid readings).  Songs longer than MAX_TRAIN_BARS are cut to a random window of that
many bars; batches are padded to the longest song and the loss is weighted by ``valid``.

Random constraints teach inpainting (regenerating a section, keeping user chords): a span of
bars to regenerate with the rest known, or random phrases known.  The condition is dropped
(``keep`` = 0) for 10% of the items so classifier-free guidance has an unconditional model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from composer.data.example import SongExample, train_and_valid
from composer.diffusion.schedule import add_noise, diffusion_loss, sample_train_times
from composer.tasks.form import plan_of
from composer.nets.chords import ChordDenoiser
from composer.representation.harmony import (CHORD_CHANNELS, COND_CHANNELS, SLOTS_PER_BAR, ChordGrid,
                                             chord_condition, to_chord_array)
from composer.training.batches import fixed_batches, random_batches
from composer.training.loop import TrainConfig

MAX_TRAIN_BARS = 160
COND_DROP = 0.1

DEFAULT_CONFIG = TrainConfig(steps=4000, batch_size=12, lr=1e-3, warmup=250, valid_every=500,
                             checkpoint_every=250, log_every=25, ema_decay=0.998, seed=0, num_threads=1)

MODEL_CONFIG = {"channels": CHORD_CHANNELS, "cond_channels": COND_CHANNELS, "width": 128,
                "beat_width": 64, "n_attn": 4, "heads": 4}


@dataclass(frozen=True)
class ChordBatch:
    """x0, known: float32 [B, CHORD_CHANNELS, 4 * n]; mask: float 0/1 like x0 (1 = known);
    cond: [B, COND_CHANNELS, n]; keep: [B] (0 = condition dropped); valid: [B, 1, n]."""

    x0: torch.Tensor
    cond: torch.Tensor
    keep: torch.Tensor
    known: torch.Tensor
    mask: torch.Tensor
    valid: torch.Tensor


@dataclass(frozen=True, eq=False)
class _Item:
    x: np.ndarray                   # [CHORD_CHANNELS, 4 * n_bars]
    conds: tuple[np.ndarray, ...]   # one [COND_CHANNELS, n_bars] per annotator
    starts: tuple[np.ndarray, ...]  # phrase start bars per annotator


def chord_item(example: SongExample) -> _Item:
    grid = ChordGrid.from_example(example)
    plans = [plan_of(example, alt) for alt in (False, True)]
    return _Item(to_chord_array(grid, example.key_tonic), tuple(chord_condition(p) for p in plans),
                 tuple(p.phrase_starts() for p in plans))


def random_chord_mask(n_bars: int, starts: np.ndarray, rng: torch.Generator) -> np.ndarray:
    """bool [n_bars]: bars whose chords are known in this training item."""
    u = float(torch.rand((), generator=rng))
    known = np.zeros(n_bars, dtype=bool)
    if u < 0.5:
        return known
    if u < 0.8:   # regenerate one span; the rest is kept
        length = int(torch.randint(1, max(2, n_bars // 2), (), generator=rng))
        start = int(torch.randint(0, max(1, n_bars - length + 1), (), generator=rng))
        known[:] = True
        known[start:start + length] = False
        return known
    bounds = list(starts) + [n_bars]   # some phrases known
    for a, b in zip(bounds[:-1], bounds[1:]):
        if float(torch.rand((), generator=rng)) < 0.5:
            known[a:b] = True
    return known


class ChordTask:
    """TrainTask of the chord level on a prepared dataset folder."""

    kind = "chords"

    def __init__(self, data_dir: Path | None = None, train: list[SongExample] | None = None,
                 valid: list[SongExample] | None = None, model_config: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        train, valid = train_and_valid(data_dir, train, valid)
        self._model_config = dict(model_config or MODEL_CONFIG)
        self.train_items = [chord_item(ex) for ex in train]
        self.valid_items = [chord_item(ex) for ex in valid]
        self.n_train_songs, self.n_valid_songs = len(train), len(valid)

    def model_config(self) -> dict[str, Any]:
        return dict(self._model_config)

    def build_model(self) -> ChordDenoiser:
        return ChordDenoiser(**self._model_config)

    def _batch(self, items: list[_Item], idx, rng: torch.Generator) -> ChordBatch:
        crops = []
        for i in idx:
            item = items[int(i)]
            n = item.x.shape[1] // SLOTS_PER_BAR
            which = int(torch.randint(2, (), generator=rng))
            start = int(torch.randint(0, n - MAX_TRAIN_BARS + 1, (), generator=rng)) if n > MAX_TRAIN_BARS else 0
            m = min(n, MAX_TRAIN_BARS)
            starts = item.starts[which]
            starts = starts[(starts >= start) & (starts < start + m)] - start
            if len(starts) == 0 or starts[0] != 0:
                starts = np.concatenate([[0], starts])
            known = random_chord_mask(m, starts, rng)
            keep = float(torch.rand((), generator=rng) >= COND_DROP)
            crops.append((item.x[:, start * SLOTS_PER_BAR:(start + m) * SLOTS_PER_BAR],
                          item.conds[which][:, start:start + m], known, keep))
        longest = max(c[1].shape[1] for c in crops)
        b = len(crops)
        x0 = -torch.ones(b, CHORD_CHANNELS, longest * SLOTS_PER_BAR)
        cond = torch.zeros(b, COND_CHANNELS, longest)
        mask = torch.zeros(b, 1, longest * SLOTS_PER_BAR)
        valid = torch.zeros(b, 1, longest)
        keep = torch.zeros(b)
        for j, (x, c, known, k) in enumerate(crops):
            m = c.shape[1]
            x0[j, :, :m * SLOTS_PER_BAR] = torch.from_numpy(x)
            cond[j, :, :m] = torch.from_numpy(c)
            mask[j, 0, :m * SLOTS_PER_BAR] = torch.from_numpy(np.repeat(known, SLOTS_PER_BAR)).float()
            valid[j, 0, :m] = 1.0
            keep[j] = k
        mask = mask.expand(-1, CHORD_CHANNELS, -1).contiguous()
        return ChordBatch(x0, cond, keep, x0 * mask - (1 - mask), mask, valid)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[ChordBatch]:
        return random_batches(self.train_items, batch_size, generator, self._batch)

    def valid_batches(self, batch_size: int) -> list[ChordBatch]:
        return fixed_batches(self.valid_items, batch_size, self._batch)

    def loss(self, model, batch: ChordBatch, generator: torch.Generator) -> torch.Tensor:
        b = batch.x0.shape[0]
        dev = batch.x0.device      # random draws on the generator's device, then to the batch's
        t = sample_train_times(b, generator).to(dev)
        noise = torch.randn(batch.x0.shape, generator=generator).to(dev)
        x_t = add_noise(batch.x0, noise, t)   # its known part is already what inpainting imposes
        v = model(x_t, t, batch.cond, batch.keep, batch.known, batch.mask, batch.valid)
        weight = batch.valid.repeat_interleave(SLOTS_PER_BAR, dim=2)
        return diffusion_loss(v, batch.x0, noise, t, weight)

    def extra_config(self) -> dict[str, Any]:
        return {"data": {"prepared": str(self.data_dir) if self.data_dir else None,
                         "train_songs": self.n_train_songs, "valid_songs": self.n_valid_songs,
                         "items": "whole songs (random 160-bar window if longer), either annotator's form"},
                "cond_drop": COND_DROP}


def make_task(data_dir: Path) -> ChordTask:
    return ChordTask(data_dir)
