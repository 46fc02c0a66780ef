"""Shared building blocks of the denoising networks (channels-first, time-major sequences).

Every block maps ``h`` float32 ``[B, C, L]`` to the same shape; ``L`` is a time axis (bars,
beats or 16th steps).  ``valid`` is an optional float32 ``[B, 1, L]`` mask, 1 on real
positions and 0 on padding; blocks zero the padding so that it never leaks into the song.
``emb`` is the diffusion-time embedding ``[B, E]``; blocks read it through FiLM (a per-channel
scale and shift), which is how the net knows the noise level.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of ``x`` (float [...]) -> [..., dim] (dim even), as in transformers."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
    ang = x.float()[..., None] * freqs
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


class TimeEmbedding(nn.Module):
    """Diffusion time t in [0, 1] (float32 [B]) -> embedding [B, dim] (sinusoidal + MLP)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        # t * 1000 so the sinusoids resolve the schedule as finely as a 1000-step DDPM.
        return self.mlp(sinusoidal(t * 1000.0, self.dim))


def _groups(channels: int) -> int:
    for g in (8, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1


class ResConvBlock(nn.Module):
    """Residual 1-D conv block: GroupNorm -> SiLU -> conv(k) -> FiLM(emb) -> GroupNorm -> SiLU
    -> conv(k), plus the input.  ``dilation`` widens the receptive field without more weights."""

    def __init__(self, channels: int, emb_dim: int, kernel: int = 5, dilation: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.norm1 = nn.GroupNorm(_groups(channels), channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.film = nn.Linear(emb_dim, 2 * channels)
        self.norm2 = nn.GroupNorm(_groups(channels), channels)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        x = h if valid is None else h * valid
        y = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None].chunk(2, dim=1)
        y = self.norm2(y) * (1 + scale) + shift
        y = self.conv2(self.drop(F.silu(y)))
        out = h + y
        return out if valid is None else out * valid


class TransformerBlock(nn.Module):
    """Pre-norm transformer block over the L axis: self-attention + MLP, FiLM by ``emb``.

    Attention sees the whole sequence (whole-song context in one pass); padding positions
    (``valid`` == 0) are masked out as keys.  No positional encoding inside: the caller adds
    the position features it wants (bar in song, bar in phrase...) to the input.
    """

    def __init__(self, channels: int, emb_dim: int, heads: int = 4, mlp_ratio: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, mlp_ratio * channels), nn.GELU(),
                                 nn.Linear(mlp_ratio * channels, channels))
        self.film = nn.Linear(emb_dim, 4 * channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        x = h.transpose(1, 2)  # [B, L, C]
        s1, b1, s2, b2 = self.film(emb)[:, None, :].chunk(4, dim=-1)
        pad = None if valid is None else valid[:, 0, :] < 0.5
        y = self.norm1(x) * (1 + s1) + b1
        y, _ = self.attn(y, y, y, key_padding_mask=pad, need_weights=False)
        x = x + y
        x = x + self.mlp(self.norm2(x) * (1 + s2) + b2)
        out = x.transpose(1, 2)
        return out if valid is None else out * valid


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["sinusoidal", "TimeEmbedding", "ResConvBlock", "TransformerBlock", "count_parameters"]
