"""Training task of the melody level (``composer train melody``).

Each item is a crop of ``CROP_STEPS`` 16th steps (16 bars of 4/4) starting on a bar line
of a POP909 training song transposed to C: the melody as one token per step (see
:mod:`composer.representation.melody`) and the condition of the note level (chords, key,
phrase type, place in the phrase and bar; :class:`NoteContext`).

The whole prepared split is held as two tensors (tokens and condition of every song, one
after another) on the training device, and each batch is cut from them by indexing on
that device: no per-item numpy work, so a GPU is not starved by a CPU thread building
batches (what limited the note task to ~600 samples/s on an H200).

Random constraints teach inpainting: half of the items have none; the others a known
prefix, a known suffix, known bars around a regenerated span, or a random share of known
beats (how a returning phrase keeps its first statement where the chords agree).  The loss
is the cross-entropy of the exact posterior over classes
(``onehot_posterior_logits``: the net's context logits plus the evidence of ``x_t``) at the
unknown steps.  The chord channels are dropped for ``COND_DROP`` of the items, so
classifier-free guidance has a chord-free model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from composer.data.example import SongExample, load_split
from composer.diffusion.schedule import add_noise, onehot_posterior_logits, sample_train_times
from composer.nets.melody import MelodyUNet
from composer.representation.melody import N_MELODY_CLASSES, ONSET, notes_to_tokens
from composer.representation.note_context import CHORD_CHANNELS, COND_LAYOUT, N_COND, example_context
from composer.representation.pianoroll import MELODY_RANGE
from composer.seeds import VALID_CROP_SEED
from composer.training.loop import TrainConfig

CROP_STEPS = 256
"""Training crop: 256 16th steps = 16 bars of 4/4 (two 8-bar phrases and their joins)."""
COND_DROP = 0.1
TRANSPOSE = 5
"""Training items are transposed by up to this many semitones either way (melody and
condition together): without it the 5.6M-parameter net overfit the 649 songs after 3000
steps (validation loss 0.580 at step 3000, 0.702 at 6000)."""
PITCH_CLASS_GROUPS = (0, 12, 26)
"""First channels of the condition's 12-wide pitch-class groups: chord chroma, chord bass,
key tonic (see COND_LAYOUT)."""

DEFAULT_CONFIG = TrainConfig(steps=4000, batch_size=32, lr=1e-3, warmup=200, valid_every=500,
                             checkpoint_every=250, log_every=25, ema_decay=0.998, seed=0,
                             num_threads=2)

MODEL_CONFIG = {"channels": [96, 128, 160, 256], "strides": [2, 2, 4], "blocks": [1, 2, 2, 2],
                "mid_dilations": [1, 2, 4], "emb_dim": 128, "kernel": 5,
                "interval_channels": 16, "time_reach": 16, "pitch_reach": 12}


def transposed(tokens: torch.Tensor, cond: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Items moved by ``shift`` [B] semitones: the melody's onsets (folded by octaves into
    the range) and the pitch-class channels of the condition (chord chroma, bass, key
    tonic) together, so the pair stays consistent.  tokens [B, L], cond [B, N_COND, L]."""
    onset = tokens >= ONSET
    pitch = tokens - ONSET + shift[:, None]
    # fold by octaves into the range: the pitch class stays, the octave is the nearest inside
    pitch = torch.remainder(pitch, 12) + 12 * torch.div(pitch.clamp(0, MELODY_RANGE.n_pitches - 1), 12,
                                                       rounding_mode="floor")
    tokens = torch.where(onset, pitch + ONSET, tokens)
    cond = cond.clone()
    idx = (torch.arange(12, device=cond.device)[None, :] - shift[:, None]) % 12      # [B, 12]
    for start in PITCH_CLASS_GROUPS:
        group = cond[:, start:start + 12]
        cond[:, start:start + 12] = torch.gather(group, 1, idx[:, :, None].expand_as(group))
    return tokens, cond


@dataclass(frozen=True)
class MelodyBatch:
    """tokens: int64 [B, L]; cond: float32 [B, N_COND, L]; mask: float32 [B, 1, L] (1 = known)."""

    tokens: torch.Tensor
    cond: torch.Tensor
    mask: torch.Tensor


class _SongBank:
    """Every song of a split, one after another: tokens int64 [T], condition float16
    [T, N_COND], and the first step of every bar-aligned crop that fits inside its song."""

    def __init__(self, examples: list[SongExample]) -> None:
        tokens, conds, starts = [], [], []
        offset = 0
        for ex in examples:
            ctx, shift = example_context(ex)
            n = ctx.n_steps
            if n < CROP_STEPS:
                continue
            tokens.append(notes_to_tokens(ex.melody, n, shift))
            conds.append(ctx.features().astype(np.float16))
            spb = ctx.steps_per_bar
            starts.append(offset + np.arange(0, n - CROP_STEPS + 1, spb))
            offset += n
        self.n_songs = len(tokens)
        self.tokens = torch.from_numpy(np.concatenate(tokens))
        self.cond = torch.from_numpy(np.concatenate(conds))
        self.starts = torch.from_numpy(np.concatenate(starts).astype(np.int64))

    def to(self, device: torch.device) -> "_SongBank":
        self.tokens, self.cond, self.starts = (a.to(device) for a in (self.tokens, self.cond, self.starts))
        return self


def random_masks(u: torch.Tensor, cuts: torch.Tensor, beat_p: torch.Tensor, beat_u: torch.Tensor,
                 length: int) -> torch.Tensor:
    """Known-masks float32 [B, 1, length] from uniforms (all on one device).

    u [B]: the kind (< 0.5 none; < 0.62 known prefix; < 0.74 known suffix; < 0.88 known
    both sides of a regenerated span; else known beats with probability ``beat_p``);
    cuts [B, 2] in [0, 1): the span's bar cuts; beat_p [B]; beat_u [B, length // 4]."""
    b = u.shape[0]
    bars = length // 16
    pos = torch.arange(length, device=u.device)[None, :]
    c1 = (1 + (cuts[:, 0] * (bars - 1)).long()) * 16
    c2 = (1 + (cuts[:, 1] * (bars - 1)).long()) * 16
    lo, hi = torch.minimum(c1, c2), torch.maximum(c1, c2)
    hi = torch.where(hi == lo, (lo + 16).clamp(max=length), hi)
    prefix = pos < c1[:, None]
    suffix = pos >= c1[:, None]
    around = (pos < lo[:, None]) | (pos >= hi[:, None])
    beats = (beat_u < beat_p[:, None]).repeat_interleave(4, dim=1)
    kind = u[:, None]
    mask = torch.where(kind < 0.5, torch.zeros_like(prefix),
           torch.where(kind < 0.62, prefix,
           torch.where(kind < 0.74, suffix,
           torch.where(kind < 0.88, around, beats))))
    return mask.float().reshape(b, 1, length)


class MelodyTask:
    """TrainTask of the melody level on a prepared POP909 folder."""

    kind = "melody"

    def __init__(self, data_dir: Path, n_valid_batches: int = 8,
                 model_config: dict[str, Any] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.config = dict(MODEL_CONFIG if model_config is None else model_config)
        self.train_bank = _SongBank(load_split(self.data_dir, "train"))
        self.valid_bank = _SongBank(load_split(self.data_dir, "valid"))
        self.n_valid_batches = n_valid_batches
        self.device = torch.device("cpu")

    def to_device(self, device: torch.device) -> None:
        """Hold both splits on ``device``; batches are cut there."""
        self.device = torch.device(device)
        self.train_bank.to(self.device)
        self.valid_bank.to(self.device)

    def model_config(self) -> dict[str, Any]:
        return dict(self.config)

    def build_model(self) -> torch.nn.Module:
        return MelodyUNet(**self.model_config())

    def _batch(self, bank: _SongBank, batch_size: int, generator: torch.Generator,
               transpose: bool = False) -> MelodyBatch:
        dev = self.device
        pick = torch.randint(len(bank.starts), (batch_size,), generator=generator).to(dev)
        u = torch.rand(batch_size, 4 + CROP_STEPS // 4, generator=generator).to(dev)
        pos = bank.starts[pick][:, None] + torch.arange(CROP_STEPS, device=dev)[None, :]
        tokens = bank.tokens[pos]
        cond = bank.cond[pos].float().transpose(1, 2)
        mask = random_masks(u[:, 0], u[:, 1:3], u[:, 3], u[:, 4:], CROP_STEPS)
        if transpose:
            shift = torch.randint(-TRANSPOSE, TRANSPOSE + 1, (batch_size,), generator=generator).to(dev)
            tokens, cond = transposed(tokens, cond, shift)
        return MelodyBatch(tokens, cond, mask)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[MelodyBatch]:
        while True:
            yield self._batch(self.train_bank, batch_size, generator, transpose=True)

    def valid_batches(self, batch_size: int) -> list[MelodyBatch]:
        gen = torch.Generator().manual_seed(VALID_CROP_SEED)
        return [self._batch(self.valid_bank, batch_size, gen) for _ in range(self.n_valid_batches)]

    def loss(self, model: torch.nn.Module, batch: MelodyBatch, generator: torch.Generator) -> torch.Tensor:
        dev = batch.tokens.device
        b = batch.tokens.shape[0]
        x0 = F.one_hot(batch.tokens, N_MELODY_CLASSES).transpose(1, 2).float() * 2 - 1
        t = sample_train_times(b, generator).to(dev)
        noise = torch.randn(x0.shape, generator=generator).to(dev)
        keep = (torch.rand(b, generator=generator) >= COND_DROP).float().to(dev)
        x_t = add_noise(x0, noise, t)
        cond = batch.cond.clone()
        cond[:, CHORD_CHANNELS] *= keep[:, None, None]
        logits = model(x_t, t, cond, x0 * batch.mask, batch.mask)
        post = onehot_posterior_logits(logits, x_t, t)
        ce = F.cross_entropy(post, batch.tokens, reduction="none")          # [B, L]
        weight = 1 - batch.mask[:, 0]
        return (ce * weight).sum() / weight.sum().clamp_min(1.0)

    def extra_config(self) -> dict[str, Any]:
        return {"data": {"prepared": str(self.data_dir), "train_songs": self.train_bank.n_songs,
                         "valid_songs": self.valid_bank.n_songs, "crop_steps": CROP_STEPS},
                "representation": {"melody_range": [MELODY_RANGE.low, MELODY_RANGE.high],
                                   "classes": N_MELODY_CLASSES,
                                   "cond_layout": [list(x) for x in COND_LAYOUT], "n_cond": N_COND,
                                   "cond_drop": COND_DROP}}


def make_task(data_dir: Path) -> MelodyTask:
    return MelodyTask(data_dir)


__all__ = ["MelodyTask", "MelodyBatch", "make_task", "random_masks", "DEFAULT_CONFIG", "MODEL_CONFIG",
           "CROP_STEPS"]
