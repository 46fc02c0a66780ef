"""The drum level's denoiser: one bar of drums, 16 sixteenths x (hit, velocity, offset) of
nine drums, conditioned on what the bar is for.

Inputs: ``x_t`` float32 [B, DRUM_CHANNELS, 16] (see :mod:`composer.representation.drums`:
channels 0-8 hit +1 / no hit -1, 9-17 velocity scaled to [-1, 1] (-1 where no hit), 18-26
the hit's offset from its 16th, times 2, in [-1, 1)), time ``t`` [B], the bar's condition
``cond`` [B, BAR_COND_CHANNELS] (fill or groove, intensity, style, tempo, meter), ``keep``
[B] (1 = use the condition, 0 = the classifier-free null), and the inpainting constraint
``known`` / ``mask`` like ``x_t`` (mask float 0/1, 1 = known: the padding of a 12-step bar,
a crash asked on the downbeat, the groove half of a fill bar).  Output: v, like ``x_t``.

One bar is 16 tokens: convs shape the local rhythm (a flam, a roll), attention over the
whole bar places the backbeat against the downbeat.  It is small (about 0.5M weights), so
it trains on two CPU cores in minutes and writes a 64-bar song's drums in a few batched
calls.
"""
from __future__ import annotations

import torch
from torch import nn

from composer.nets.blocks import ResConvBlock, TimeEmbedding, TransformerBlock


class DrumDenoiser(nn.Module):
    """channels: DRUM_CHANNELS (27); cond_channels: BAR_COND_CHANNELS; steps: 16ths per bar
    (16); width: hidden width; n_conv / n_attn: conv and transformer blocks; heads."""

    def __init__(self, channels: int = 27, cond_channels: int = 17, steps: int = 16, width: int = 128,
                 n_conv: int = 2, n_attn: int = 3, heads: int = 4) -> None:
        super().__init__()
        self.steps = steps
        self.temb = TimeEmbedding(width)
        self.cond = nn.Sequential(nn.Linear(cond_channels, width), nn.SiLU(), nn.Linear(width, width))
        self.null = nn.Parameter(torch.zeros(width))
        self.inp = nn.Conv1d(3 * channels, width, 1)
        self.pos = nn.Parameter(torch.zeros(1, width, steps))
        self.convs = nn.ModuleList([ResConvBlock(width, width, 3, 1 + i) for i in range(n_conv)])
        self.attn = nn.ModuleList([TransformerBlock(width, width, heads) for _ in range(n_attn)])
        self.out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv1d(width, channels, 1))
        nn.init.normal_(self.pos, std=0.02)
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, keep: torch.Tensor,
                known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = keep.float()[:, None]
        # the condition enters with the noise level: the bar's kind decides as much as t
        emb = self.temb(t) + self.cond(cond) * keep + self.null[None] * (1 - keep)
        h = self.inp(torch.cat([x, known * mask, mask], dim=1)) + self.pos
        for block in self.convs:
            h = block(h, emb)
        for block in self.attn:
            h = block(h, emb)
        return self.out(h)
