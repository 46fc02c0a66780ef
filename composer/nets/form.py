"""The form level's denoiser: a small conv + transformer net over bars.

Input ``x_t`` float32 [B, FORM_CHANNELS, L] (one column per bar, see
:mod:`composer.representation.form`), diffusion time ``t`` [B] in [0, 1], and the inpainting
constraint as ``known`` [B, FORM_CHANNELS, L] and ``mask`` [B, FORM_CHANNELS, L] (float 0/1,
1 = known).  Output: the v prediction, [B, FORM_CHANNELS, L].  ``L`` is free (trained at 256);
the net sees each bar's index through sinusoidal features, which is how it learns where
songs end.  It never samples (composer/levels/form.py does).
"""
from __future__ import annotations

import torch
from torch import nn

from composer.nets.blocks import ResConvBlock, TimeEmbedding, TransformerBlock, sinusoidal

POS_DIM = 16


class FormDenoiser(nn.Module):
    """Conv (local phrase shapes) -> transformer (whole-song context) -> conv, width ``width``.

    channels: data channels (FORM_CHANNELS = 21); width: hidden channels; n_attn: transformer
    blocks; heads: attention heads; kernel: conv kernel in bars.
    """

    def __init__(self, channels: int = 21, width: int = 96, n_attn: int = 4, heads: int = 4,
                 kernel: int = 5) -> None:
        super().__init__()
        self.channels = channels
        self.temb = TimeEmbedding(width)
        self.inp = nn.Conv1d(3 * channels + POS_DIM + 1, width, 1)
        self.pre = nn.ModuleList([ResConvBlock(width, width, kernel, 1), ResConvBlock(width, width, kernel, 2)])
        self.attn = nn.ModuleList([TransformerBlock(width, width, heads) for _ in range(n_attn)])
        self.post = nn.ModuleList([ResConvBlock(width, width, kernel, 4), ResConvBlock(width, width, kernel, 1)])
        self.out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv1d(width, channels, 1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, known: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        b, _, length = x.shape
        bars = torch.arange(length, dtype=torch.float32, device=x.device)
        pos = torch.cat([sinusoidal(bars, POS_DIM, 1000.0), (bars / 256.0)[:, None]], dim=1)
        pos = pos.T[None].expand(b, -1, -1)
        h = self.inp(torch.cat([x, known * mask, mask, pos], dim=1))
        emb = self.temb(t)
        for block in self.pre:
            h = block(h, emb)
        for block in self.attn:
            h = block(h, emb)
        for block in self.post:
            h = block(h, emb)
        return self.out(h)
