"""The chord level's denoiser: beat-level convs around a bar-level transformer over the song.

Inputs: ``x_t`` float32 [B, CHORD_CHANNELS, 4 * n_bars] (four slots per bar, see
:mod:`composer.representation.harmony`), time ``t`` [B], the per-bar condition ``cond``
[B, COND_CHANNELS, n_bars], ``keep`` [B] (1 = use the condition, 0 = classifier-free
"unconditional" pass: the condition is replaced by a learned null), the inpainting
constraint ``known`` / ``mask`` [B, CHORD_CHANNELS, 4 * n_bars] (mask float 0/1, 1 = known),
and ``valid`` [B, 1, n_bars] (1 on real bars, 0 on padding).  Output: v, like ``x_t``.

Whole-song context in one pass: the beats of each bar are folded into one token, and
transformer blocks attend over all bars of the song (256 bars = 256 tokens, cheap), so a
phrase can copy the harmony of an earlier phrase with the same label anywhere in the song.
Convs at beat level shape the chord rhythm inside and across bar lines.
"""
from __future__ import annotations

import torch
from torch import nn

from composer.nets.blocks import ResConvBlock, TimeEmbedding, TransformerBlock

SLOTS = 4


class ChordDenoiser(nn.Module):
    """channels: CHORD_CHANNELS (40); cond_channels: COND_CHANNELS (42); width: hidden width;
    beat_width: width at beat level; n_attn: transformer blocks over bars; heads."""

    def __init__(self, channels: int = 40, cond_channels: int = 42, width: int = 128,
                 beat_width: int = 64, n_attn: int = 4, heads: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.temb = TimeEmbedding(width)
        self.beat_in = nn.Conv1d(3 * channels + SLOTS, beat_width, 1)
        self.emb_beat = nn.Linear(width, width)
        self.beat_pre = nn.ModuleList([ResConvBlock(beat_width, width, 3, 1), ResConvBlock(beat_width, width, 3, 2)])
        self.fold = nn.Conv1d(beat_width * SLOTS, width, 1)
        self.cond = nn.Conv1d(cond_channels, width, 1)
        self.null = nn.Parameter(torch.zeros(width))
        self.attn = nn.ModuleList([TransformerBlock(width, width, heads) for _ in range(n_attn)])
        self.unfold = nn.Conv1d(width, beat_width * SLOTS, 1)
        self.beat_post = nn.ModuleList([ResConvBlock(beat_width, width, 3, 1), ResConvBlock(beat_width, width, 3, 1)])
        self.out = nn.Sequential(nn.GroupNorm(8, beat_width), nn.SiLU(), nn.Conv1d(beat_width, channels, 1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, keep: torch.Tensor,
                known: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, _, n_slots = x.shape
        n_bars = n_slots // SLOTS
        valid_beat = valid.repeat_interleave(SLOTS, dim=2)
        slot = torch.eye(SLOTS, dtype=x.dtype, device=x.device).repeat(1, n_bars)[None].expand(b, -1, -1)
        emb = self.temb(t)
        h = self.beat_in(torch.cat([x, known * mask, mask, slot], dim=1)) * valid_beat
        for block in self.beat_pre:
            h = block(h, emb, valid_beat)
        skip = h
        width = h.shape[1]
        # fold: [B, W, 4 * n] -> [B, 4 * W, n], one token per bar
        tok = h.reshape(b, width, n_bars, SLOTS).permute(0, 1, 3, 2).reshape(b, width * SLOTS, n_bars)
        keep = keep.float().reshape(b, 1, 1)
        c = self.cond(cond) * keep + self.null[None, :, None] * (1 - keep)
        z = (self.fold(tok) + c) * valid
        for block in self.attn:
            z = block(z, emb, valid)
        up = self.unfold(z).reshape(b, width, SLOTS, n_bars).permute(0, 1, 3, 2).reshape(b, width, n_slots)
        h = (skip + up) * valid_beat
        for block in self.beat_post:
            h = block(h, emb, valid_beat)
        return self.out(h) * valid_beat
