"""Training task of the drum level (``composer train drums --data .prepared/groove``).

Each item is one bar of a Groove MIDI performance (``composer data groove``): a groove bar of
a ``beat`` performance, or a fill bar of a ``fill`` performance (the bars of a fill file with
at least :data:`MIN_FILL_HITS` hits: a fill file's lead-in or landing bar is not a fill).
Its condition is the bar's kind (fill or groove), its intensity (the tercile of its hit count
among the training groove bars), its performance's style, tempo and meter.  Fills are a
twentieth of the bars; each batch draws :data:`FILL_SHARE` of its items from them so the
fill condition is learned as well as the groove.

Random constraints teach the inpainting the level samples with: the first half of the bar
known (a fill that starts from the section's groove), the downbeat's hits known (a crash on
a section's first downbeat), or a random subset of the values known.  The padding of a
12-step bar (3/4, 6/8) is always known and never counts in the loss.  The condition is
dropped for :data:`COND_DROP` of the items (classifier-free guidance).  The test split is
never read.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from composer.data.groove import load_groove
from composer.diffusion.schedule import add_noise, diffusion_loss, sample_train_times
from composer.nets.drums import DrumDenoiser
from composer.representation.drums import (BAR_COND_CHANNELS, DRUM_CHANNELS, MAX_STEPS, N_DRUMS,
                                           bar_condition, style_index, to_drum_array)
from composer.seeds import VALID_BATCH_SEED
from composer.training.loop import TrainConfig

MIN_FILL_HITS = 4
FILL_SHARE = 0.25
COND_DROP = 0.1

DEFAULT_CONFIG = TrainConfig(steps=16000, batch_size=64, lr=1e-3, warmup=200, valid_every=1000,
                             checkpoint_every=250, log_every=50, ema_decay=0.998, seed=0, num_threads=1)

MODEL_CONFIG = {"channels": DRUM_CHANNELS, "cond_channels": BAR_COND_CHANNELS, "steps": MAX_STEPS,
                "width": 128, "n_conv": 2, "n_attn": 3, "heads": 4}


@dataclass(frozen=True)
class DrumBatch:
    """x0, known, mask: float32 [B, DRUM_CHANNELS, 16] (mask 1 = known); cond: [B,
    BAR_COND_CHANNELS]; keep: [B] (0 = condition dropped); valid: [B, 1, 16] (0 on padding)."""

    x0: torch.Tensor
    cond: torch.Tensor
    keep: torch.Tensor
    known: torch.Tensor
    mask: torch.Tensor
    valid: torch.Tensor


@dataclass(frozen=True)
class DrumItems:
    """x: float32 [n, DRUM_CHANNELS, 16]; cond: [n, BAR_COND_CHANNELS]; steps: int [n] (16ths
    of the bar); fill: bool [n]."""

    x: np.ndarray
    cond: np.ndarray
    steps: np.ndarray
    fill: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def intensity_edges(hits_per_bar: np.ndarray) -> tuple[float, float]:
    """The two tercile edges of hit counts (light < a <= medium < b <= heavy)."""
    a, b = np.quantile(hits_per_bar, [1 / 3, 2 / 3])
    return float(a), float(b)


def intensity_of(hits: int | np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    return (np.asarray(hits) >= edges[0]).astype(np.int64) + (np.asarray(hits) >= edges[1])


def drum_items(data, split: str, edges: tuple[float, float] | None = None) -> tuple[DrumItems, tuple[float, float]]:
    """The bars of one split as training items (and the intensity edges, fitted on this split
    when not given)."""
    xs, conds, steps, fills, hits = [], [], [], [], []
    for p in data.split(split):
        vel, off = data.bars_of(p)
        n_hits = (vel > 0).sum(axis=(1, 2))
        fill = p["beat_type"] == "fill"
        keep = n_hits >= (MIN_FILL_HITS if fill else 1)
        if not keep.any():
            continue
        xs.append(to_drum_array(vel[keep], off[keep]))
        hits.append(n_hits[keep])
        fills.append(np.full(int(keep.sum()), fill))
        steps.append(np.full(int(keep.sum()), p["steps_per_bar"]))
        conds.append([(style_index(p["style"]), p["bpm"], p["meter"])] * int(keep.sum()))
    hits_all, fill_all = np.concatenate(hits), np.concatenate(fills)
    if edges is None:
        edges = intensity_edges(hits_all[~fill_all])
    level = intensity_of(hits_all, edges)
    flat = [c for part in conds for c in part]
    cond = np.stack([bar_condition(f, int(i), s, bpm, m) for f, i, (s, bpm, m) in zip(fill_all, level, flat)])
    return DrumItems(np.concatenate(xs), cond, np.concatenate(steps), fill_all), edges


def random_drum_mask(steps: int, rng: torch.Generator) -> torch.Tensor:
    """float [DRUM_CHANNELS, 16]: the known values of one training bar (padding included)."""
    mask = torch.zeros(DRUM_CHANNELS, MAX_STEPS)
    u = float(torch.rand((), generator=rng))
    if u < 0.5:
        pass
    elif u < 0.7:    # the groove half of a fill
        mask[:, :steps // 2] = 1
    elif u < 0.85:   # the downbeat's hits (a crash asked for)
        mask[:N_DRUMS, 0] = 1
    else:
        p = 0.1 + 0.5 * float(torch.rand((), generator=rng))
        mask = (torch.rand(DRUM_CHANNELS, MAX_STEPS, generator=rng) < p).float()
    mask[:, steps:] = 1
    return mask


class DrumTask:
    """TrainTask of the drum level on a prepared Groove MIDI folder."""

    kind = "drums"

    def __init__(self, data_dir: Path, model_config: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        data = load_groove(data_dir)
        self.train_items, self.edges = drum_items(data, "train")
        self.valid_items, _ = drum_items(data, "valid", self.edges)
        self._fills = torch.from_numpy(np.nonzero(self.train_items.fill)[0])
        self._beats = torch.from_numpy(np.nonzero(~self.train_items.fill)[0])
        self._model_config = dict(model_config or MODEL_CONFIG)

    def model_config(self) -> dict[str, Any]:
        return dict(self._model_config)

    def build_model(self) -> DrumDenoiser:
        return DrumDenoiser(**self._model_config)

    def _batch(self, items: DrumItems, idx: torch.Tensor, rng: torch.Generator) -> DrumBatch:
        idx = idx.numpy()
        x0 = torch.from_numpy(items.x[idx])
        cond = torch.from_numpy(items.cond[idx])
        steps = items.steps[idx]
        mask = torch.stack([random_drum_mask(int(s), rng) for s in steps])
        keep = (torch.rand(len(idx), generator=rng) >= COND_DROP).float()
        valid = torch.from_numpy((np.arange(MAX_STEPS)[None, :] < steps[:, None]).astype(np.float32))[:, None]
        return DrumBatch(x0, cond, keep, x0 * mask, mask, valid)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[DrumBatch]:
        n_fill = int(round(batch_size * FILL_SHARE))
        while True:
            f = self._fills[torch.randint(len(self._fills), (n_fill,), generator=generator)]
            b = self._beats[torch.randint(len(self._beats), (batch_size - n_fill,), generator=generator)]
            yield self._batch(self.train_items, torch.cat([f, b]), generator)

    def valid_batches(self, batch_size: int) -> list[DrumBatch]:
        # every validation fill bar and an even sample of the groove bars, the same each time
        rng = torch.Generator().manual_seed(VALID_BATCH_SEED)
        fills = np.nonzero(self.valid_items.fill)[0]
        beats = np.nonzero(~self.valid_items.fill)[0][::4]
        order = torch.from_numpy(np.concatenate([fills, beats]))
        return [self._batch(self.valid_items, order[i:i + batch_size], rng)
                for i in range(0, len(order), batch_size)]

    def loss(self, model, batch: DrumBatch, generator: torch.Generator) -> torch.Tensor:
        b = batch.x0.shape[0]
        dev = batch.x0.device
        t = sample_train_times(b, generator).to(dev)
        noise = torch.randn(batch.x0.shape, generator=generator).to(dev)
        x_t = add_noise(batch.x0, noise, t)
        v = model(x_t, t, batch.cond, batch.keep, batch.known, batch.mask)
        return diffusion_loss(v, batch.x0, noise, t, batch.valid)

    def extra_config(self) -> dict[str, Any]:
        return {"data": {"prepared": str(self.data_dir), "train_bars": len(self.train_items),
                         "train_fill_bars": int(self.train_items.fill.sum()),
                         "valid_bars": len(self.valid_items),
                         "items": "one bar of a Groove MIDI beat or fill performance (train split)",
                         "licence": "Groove MIDI Dataset, CC BY 4.0 (Gillick et al. 2019)"},
                "intensity_edges": list(self.edges), "cond_drop": COND_DROP, "fill_share": FILL_SHARE}


def make_task(data_dir: Path) -> DrumTask:
    return DrumTask(data_dir)
