"""The melody level's network: a 1-D U-Net over 16th steps with the melody's classes as
channels (see :mod:`composer.representation.melody`).

It maps the noisy one-hot melody, the inpainting constraint and the condition (chords,
key, phrase type and place; ``N_COND`` channels per step) to **context logits**, one per
class and step: what the chords, the key, the phrase position and the neighbouring
notes make likely.  The sampler and the training task add the exact per-position evidence
of ``x_t`` (``composer.diffusion.schedule.onehot_posterior_logits``), so the net never
samples, never needs the noise schedule, and its output is a distribution over
rest / hold / pitch at every step.

Time is downsampled 16th -> 8th -> beat -> bar (strides 2, 2, 4) and dilated blocks at the
bar level see +-14 bars; fully convolutional, so it trains on crops and samples a whole
song in one pass.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from composer.nets.blocks import ResConvBlock, TimeEmbedding
from composer.representation.melody import N_MELODY_CLASSES
from composer.representation.pianoroll import N_COND


class MelodyUNet(nn.Module):
    """``(x_t [B, K, L], t [B], cond [B, N_COND, L], known [B, K, L], mask [B, 1, L])
    -> context logits [B, K, L]``.

    x_t: the noisy one-hot melody (K = N_MELODY_CLASSES); t: diffusion time in [0, 1];
    cond: the condition (zeros = dropped, for guidance); known: the known one-hot melody
    where ``mask`` is 1, zeros elsewhere; mask: 1 = this step is known.  ``L`` must be a
    multiple of ``prod(strides)`` (16 by default).
    """

    def __init__(self, classes: int = N_MELODY_CLASSES, cond_channels: int = N_COND,
                 channels: tuple[int, ...] = (96, 128, 160, 256), strides: tuple[int, ...] = (2, 2, 4),
                 blocks: tuple[int, ...] = (1, 2, 2, 2), mid_dilations: tuple[int, ...] = (1, 2, 4),
                 emb_dim: int = 128, kernel: int = 5) -> None:
        super().__init__()
        if not (len(channels) == len(blocks) == len(strides) + 1):
            raise ValueError("channels and blocks need one entry per level, strides one fewer")
        self.classes, self.cond_channels = classes, cond_channels
        self.channels, self.strides = tuple(channels), tuple(strides)
        self.emb = TimeEmbedding(emb_dim)
        self.inp = nn.Conv1d(2 * classes + 1 + cond_channels, channels[0], 1)
        self.cond_in = nn.ModuleList(nn.Conv1d(cond_channels, c, 1) for c in channels[1:])
        self.enc = nn.ModuleList(
            nn.ModuleList(ResConvBlock(c, emb_dim, kernel) for _ in range(n))
            for c, n in zip(channels, blocks))
        self.down = nn.ModuleList(nn.Conv1d(a, b, s, stride=s)
                                  for a, b, s in zip(channels[:-1], channels[1:], strides))
        self.mid = nn.ModuleList(ResConvBlock(channels[-1], emb_dim, 3, dilation=d)
                                 for d in mid_dilations)
        self.up = nn.ModuleList(nn.ConvTranspose1d(b, a, s, stride=s)
                                for a, b, s in zip(channels[:-1], channels[1:], strides))
        self.dec = nn.ModuleList(
            nn.ModuleList(ResConvBlock(c, emb_dim, kernel) for _ in range(n))
            for c, n in zip(channels[:-1], blocks[:-1]))
        self.out_norm = nn.GroupNorm(8, channels[0])
        self.out = nn.Conv1d(channels[0], classes, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def length_multiple(self) -> int:
        m = 1
        for s in self.strides:
            m *= s
        return m

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        emb = self.emb(t)
        h = self.inp(torch.cat([x, known, mask, cond], dim=1))
        skips = []
        c = cond
        for level, blocks in enumerate(self.enc):
            if level > 0:
                h = self.down[level - 1](h)
                c = F.avg_pool1d(c, self.strides[level - 1])
                h = h + self.cond_in[level - 1](c)
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
        for block in self.mid:
            h = block(h, emb)
        for level in range(len(self.dec) - 1, -1, -1):
            h = self.up[level](h) + skips[level]
            for block in self.dec[level]:
                h = block(h, emb)
        return self.out(F.silu(self.out_norm(h)))


__all__ = ["MelodyUNet"]
