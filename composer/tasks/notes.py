"""Training task of the note level (``composer train notes``).

Each training item is a crop of ``CROP_STEPS`` 16th steps (8 bars of 4/4) starting on a bar
line of a POP909 training song, transposed so the song's main key is C: the joint roll of
melody (MELODY track) and accompaniment (PIANO track), scaled to [-1, 1], and the condition
(chords, key, phrase type, position in phrase and bar; see
:class:`composer.representation.note_context.NoteContext`).

Random constraints teach inpainting (regenerating bars, keeping a user's melody, and the
whole-song repetition pass of the pipeline): half of the items have none, the others a known
prefix, suffix or both sides of bars, the melody known or the accompaniment known.  The
loss counts only the unknown positions.  The chord channels of the condition are dropped
for COND_DROP of the items so classifier-free guidance has a chord-free model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from composer.data.example import SongExample, load_split
from composer.diffusion.schedule import add_noise, alpha_sigma, diffusion_loss, sample_train_times
from composer.nets.notes import SCHEDULE, NoteUNet, expand_mask, melody_channel_mask
from composer.representation.note_context import CHORD_CHANNELS, COND_LAYOUT, N_COND, example_context
from composer.representation.pianoroll import MELODY_RANGE, PIANO_RANGE, song_roll
from composer.seeds import VALID_CROP_SEED
from composer.training.loop import TrainConfig

CROP_STEPS = 128
"""Training crop: 128 16th steps = 8 bars of 4/4."""
COND_DROP = 0.15

DEFAULT_CONFIG = TrainConfig(steps=3000, batch_size=16, lr=1e-3, warmup=200, valid_every=500,
                             checkpoint_every=250, log_every=25, ema_decay=0.998, seed=0,
                             num_threads=1)

MODEL_CONFIG = {"channels": [64, 96, 128, 192], "strides": [2, 2, 4], "blocks": [1, 1, 2, 2],
                "mid_dilations": [1, 2, 3], "emb_dim": 128, "kernel": 5, "posterior": True, "local_width": 16}


@dataclass(frozen=True)
class NoteBatch:
    """x0: float32 [B, 240, L] in {-1, 1}; cond: [B, N_COND, L]; mask: [B, 2, L] 0/1
    (1 = known; melody, accompaniment)."""

    x0: torch.Tensor
    cond: torch.Tensor
    mask: torch.Tensor


@dataclass(frozen=True, eq=False)
class _Song:
    roll: np.ndarray   # bool [n_steps, 240]  (channel-major flattening: onset rows, sustain rows)
    cond: np.ndarray   # float16 [n_steps, N_COND]
    steps_per_bar: int


def song_item(example: SongExample) -> _Song:
    ctx, shift = example_context(example)
    roll = song_roll(example.melody, example.accompaniment, ctx.n_steps, shift)
    return _Song(roll.reshape(ctx.n_steps, -1), ctx.features().astype(np.float16), ctx.steps_per_bar)


def _crop(song: _Song, start: int) -> tuple[np.ndarray, np.ndarray]:
    x = song.roll[start:start + CROP_STEPS].T.astype(np.float32) * 2 - 1
    return x, song.cond[start:start + CROP_STEPS].T.astype(np.float32)


def _random_mask(u: float, a: int, b: int, n_bars: int, spb: int) -> np.ndarray:
    """A [2, CROP_STEPS] known-mask from uniforms; see the module docstring."""
    mask = np.zeros((2, CROP_STEPS), dtype=np.float32)
    if u < 0.5:
        return mask
    cut1 = (1 + a % (n_bars - 1)) * spb
    cut2 = (1 + b % (n_bars - 1)) * spb
    lo, hi = min(cut1, cut2), max(cut1, cut2)
    if u < 0.62:
        mask[:, :cut1] = 1            # continue after known bars
    elif u < 0.74:
        mask[:, cut1:] = 1            # lead into known bars
    elif u < 0.86:
        if lo == hi:
            hi = min(CROP_STEPS, lo + spb)
        mask[:, :lo] = 1              # regenerate a middle span
        mask[:, hi:] = 1
    elif u < 0.93:
        mask[0] = 1                   # melody given, accompany it
    else:
        mask[1] = 1                   # accompaniment given, write a melody
    return mask


class NotesTask:
    """TrainTask of the note level on a prepared POP909 folder."""

    kind = "notes"

    def __init__(self, data_dir: Path, n_valid_batches: int = 8,
                 model_config: dict[str, Any] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._model_config = dict(MODEL_CONFIG if model_config is None else model_config)
        self.train_songs = [song_item(e) for e in load_split(self.data_dir, "train")]
        self.valid_songs = [song_item(e) for e in load_split(self.data_dir, "valid")]
        self.train_songs = [s for s in self.train_songs if len(s.roll) >= CROP_STEPS]
        self.valid_songs = [s for s in self.valid_songs if len(s.roll) >= CROP_STEPS]
        self.n_valid_batches = n_valid_batches

    def model_config(self) -> dict[str, Any]:
        return dict(self._model_config)

    def build_model(self) -> torch.nn.Module:
        return NoteUNet(**self.model_config())

    def _batch(self, songs: list[_Song], picks: np.ndarray, starts: np.ndarray,
               mask_u: np.ndarray) -> NoteBatch:
        xs, cs, ms = [], [], []
        for k, (i, frac) in enumerate(zip(picks, starts)):
            song = songs[int(i)]
            spb = song.steps_per_bar
            n_starts = (len(song.roll) - CROP_STEPS) // spb + 1
            start = int(frac * n_starts) * spb
            x, c = _crop(song, start)
            xs.append(x)
            cs.append(c)
            ms.append(_random_mask(float(mask_u[k, 0]), int(mask_u[k, 1] * 1000), int(mask_u[k, 2] * 1000),
                                   CROP_STEPS // spb, spb))
        return NoteBatch(torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(cs)),
                         torch.from_numpy(np.stack(ms)))

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[NoteBatch]:
        while True:
            picks = torch.randint(len(self.train_songs), (batch_size,), generator=generator).numpy()
            starts = torch.rand(batch_size, generator=generator).numpy() * 0.999999
            mask_u = torch.rand(batch_size, 3, generator=generator).numpy() * 0.999999
            yield self._batch(self.train_songs, picks, starts, mask_u)

    def valid_batches(self, batch_size: int) -> list[NoteBatch]:
        gen = torch.Generator().manual_seed(VALID_CROP_SEED)
        out = []
        for _ in range(self.n_valid_batches):
            picks = torch.randint(len(self.valid_songs), (batch_size,), generator=gen).numpy()
            starts = torch.rand(batch_size, generator=gen).numpy() * 0.999999
            mask_u = torch.rand(batch_size, 3, generator=gen).numpy() * 0.999999
            out.append(self._batch(self.valid_songs, picks, starts, mask_u))
        return out

    def loss(self, model: torch.nn.Module, batch: NoteBatch, generator: torch.Generator) -> torch.Tensor:
        b = batch.x0.shape[0]
        dev = batch.x0.device      # random draws on the generator's device, then to the batch's
        t = sample_train_times(b, generator).to(dev)
        noise = torch.randn(batch.x0.shape, generator=generator).to(dev)
        x_t = add_noise(batch.x0, noise, t)
        keep = (torch.rand(b, generator=generator) >= COND_DROP).float().to(dev)
        cond = batch.cond.clone()
        cond[:, CHORD_CHANNELS] *= keep[:, None, None]
        known_c = expand_mask(batch.mask)   # x_t's known part is already what inpainting imposes
        v = model(x_t, t, cond, batch.x0 * known_c, batch.mask, *alpha_sigma(t))
        return diffusion_loss(v, batch.x0, noise, t, weight=1 - known_c)

    def extra_config(self) -> dict[str, Any]:
        return {"schedule": SCHEDULE,
                "data": {"prepared": str(self.data_dir), "train_songs": len(self.train_songs),
                         "valid_songs": len(self.valid_songs), "crop_steps": CROP_STEPS},
                "representation": {"melody_range": [MELODY_RANGE.low, MELODY_RANGE.high],
                                   "piano_range": [PIANO_RANGE.low, PIANO_RANGE.high],
                                   "cond_layout": [list(x) for x in COND_LAYOUT], "n_cond": N_COND,
                                   "cond_drop": COND_DROP}}


def make_task(data_dir: Path) -> NotesTask:
    return NotesTask(data_dir)


__all__ = ["NotesTask", "NoteBatch", "make_task", "DEFAULT_CONFIG", "MODEL_CONFIG", "CROP_STEPS",
           "expand_mask", "melody_channel_mask", "song_item"]
