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


def norm_groups(channels: int) -> int:
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
        self.norm1 = nn.GroupNorm(norm_groups(channels), channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.film = nn.Linear(emb_dim, 2 * channels)
        self.norm2 = nn.GroupNorm(norm_groups(channels), channels)
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


class UNet1D(nn.Module):
    """The 1-D U-Net trunk of the note and melody nets (time downsampled by ``strides``, the
    condition re-injected average-pooled at every level, dilated blocks at the bottom).

    A subclass calls :meth:`build_unet` in its ``__init__`` and :meth:`unet` in ``forward``;
    its own head reads the returned features.  The parameter names (``emb``, ``inp``,
    ``cond_in``, ``enc``, ``down``, ``mid``, ``up``, ``dec``, ``out_norm``) are those of the
    shipped checkpoints.
    """

    def build_unet(self, in_channels: int, cond_channels: int, channels: tuple[int, ...],
                   strides: tuple[int, ...], blocks: tuple[int, ...], mid_dilations: tuple[int, ...],
                   emb_dim: int, kernel: int, mid_kernel: int) -> None:
        if not (len(channels) == len(blocks) == len(strides) + 1):
            raise ValueError("channels and blocks need one entry per level, strides one fewer")
        self.channels, self.strides = tuple(channels), tuple(strides)
        self.emb = TimeEmbedding(emb_dim)
        self.inp = nn.Conv1d(in_channels, channels[0], 1)
        self.cond_in = nn.ModuleList(nn.Conv1d(cond_channels, c, 1) for c in channels[1:])
        self.enc = nn.ModuleList(
            nn.ModuleList(ResConvBlock(c, emb_dim, kernel) for _ in range(n))
            for c, n in zip(channels, blocks))
        self.down = nn.ModuleList(nn.Conv1d(a, b, s, stride=s)
                                  for a, b, s in zip(channels[:-1], channels[1:], strides))
        self.mid = nn.ModuleList(ResConvBlock(channels[-1], emb_dim, mid_kernel, dilation=d)
                                 for d in mid_dilations)
        self.up = nn.ModuleList(nn.ConvTranspose1d(b, a, s, stride=s)
                                for a, b, s in zip(channels[:-1], channels[1:], strides))
        self.dec = nn.ModuleList(
            nn.ModuleList(ResConvBlock(c, emb_dim, kernel) for _ in range(n))
            for c, n in zip(channels[:-1], blocks[:-1]))
        self.out_norm = nn.GroupNorm(8, channels[0])

    @property
    def length_multiple(self) -> int:
        """Sequence lengths must be a multiple of this (the product of the strides)."""
        m = 1
        for s in self.strides:
            m *= s
        return m

    def padded_length(self, n_steps: int) -> int:
        """The length a song of ``n_steps`` is padded to: a multiple of
        :attr:`length_multiple`, and at least two of them (group norms need more than one
        value per group at the bottom level)."""
        m = self.length_multiple
        return max(-(-n_steps // m) * m, 2 * m)

    def unet(self, h_in: torch.Tensor, emb: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Inputs ``[B, in_channels, L]``, time embedding ``[B, E]``, condition
        ``[B, cond_channels, L]`` -> features ``[B, channels[0], L]`` (normalised, SiLU)."""
        h = self.inp(h_in)
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
        return F.silu(self.out_norm(h))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["sinusoidal", "norm_groups", "TimeEmbedding", "ResConvBlock", "TransformerBlock", "UNet1D", "count_parameters"]
