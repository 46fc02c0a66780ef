"""The note level's denoising network: a small 1-D U-Net over time, pitch as channels.

Input and output are the joint piano roll of melody and accompaniment (see
:mod:`composer.representation.pianoroll`) scaled to [-1, 1], channels-first for the
convolutions: ``[B, 2 * N_ROLL_PITCHES, L]`` with channel ``c = channel * 120 + pitch``
(onset rows first, then sustain rows) and ``L`` 16th-note steps.

Why this shape: a 2-D conv over (pitch, time) of a 128-pitch roll costs hundreds of
millions of multiply-adds per bar; with the song transposed to C and the pitch axis cut
to 48 + 72 pitches, a 1-D conv with pitch as channels sees every pitch at every layer and
costs about 6 M multiply-adds per bar, so it trains in an hour on two CPU cores and
samples a 64-bar song with a few solver steps in about a second.  It is fully
convolutional: it trains on 8-bar crops and samples a whole song in one pass, so windows
never have seams.  Time is downsampled 16th -> 8th -> beat -> bar (strides 2, 2, 4), and
dilated blocks at the bar level see +-12 bars.

The net also receives the inpainting constraint (``known`` roll and per-step ``mask`` of
the melody and accompaniment), trained with random masks, so a regenerated span joins its
neighbours; and the condition (chords, key, phrase, position; ``N_COND`` channels), which
is dropped during training for classifier-free guidance.  It never samples (composer/levels/notes.py does).

The noise schedule is an input, not an import: the posterior head and the local head need
the signal and noise scales (alpha_t, sigma_t) of x_t, which the caller (the sampler, the
training task) computes from its schedule and passes in; the checkpoint's config names
that schedule ("schedule": "cosine"), and the level refuses any other.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from composer.nets.blocks import UNet1D
from composer.representation.note_context import N_COND
from composer.representation.pianoroll import MELODY_RANGE, N_ROLL_PITCHES

X_CHANNELS = 2 * N_ROLL_PITCHES
"""Roll channels of the net's input and output: 240."""


def melody_channel_mask() -> torch.Tensor:
    """bool [X_CHANNELS]: True on the melody rows of the net's channel axis."""
    pitch = torch.arange(X_CHANNELS) % N_ROLL_PITCHES
    return pitch < MELODY_RANGE.n_pitches


def expand_mask(mask: torch.Tensor) -> torch.Tensor:
    """Per-step track mask ``[B, 2, L]`` (melody, accompaniment) -> per-channel ``[B, 240, L]``."""
    mel = melody_channel_mask().to(mask.device)[None, :, None]
    return torch.where(mel, mask[:, 0:1], mask[:, 1:2])


class NoteUNet(UNet1D):
    """``(x_t [B, X, L], t [B], cond [B, N_COND, L], known [B, X, L], mask [B, 2, L],
    alpha [B], sigma [B]) -> v``.

    x_t: the noisy roll, float32; t: diffusion time in [0, 1]; alpha, sigma: the signal and
    noise scales of x_t at t under the schedule it was trained with; cond: the condition
    (zeros = dropped); known: the known roll in [-1, 1] where ``mask`` is 1, zeros
    elsewhere; mask: per step, channel 0 = melody known, channel 1 = accompaniment known.
    posterior: predict through the exact binary posterior (see ``forward``), default True.
    ``L`` must be a multiple of ``prod(strides)`` (16 by default; pad the song to it).
    Returns v float32 ``[B, X, L]``.
    """

    def __init__(self, x_channels: int = X_CHANNELS, cond_channels: int = N_COND,
                 channels: tuple[int, ...] = (64, 96, 128, 192), strides: tuple[int, ...] = (2, 2, 4),
                 blocks: tuple[int, ...] = (1, 1, 2, 2), mid_dilations: tuple[int, ...] = (1, 2, 3),
                 emb_dim: int = 128, kernel: int = 5, posterior: bool = True,
                 local_width: int = 16) -> None:
        super().__init__()
        self.posterior = posterior
        self.x_channels, self.cond_channels = x_channels, cond_channels
        self.build_unet(2 * x_channels + 2 + cond_channels, cond_channels, channels, strides, blocks,
                        mid_dilations, emb_dim, kernel, kernel)
        # Per-pitch local head: the same small conv over (onset, sustain) x time at every
        # pitch, reading x_t directly, so an onset and the sustain that continues it at the
        # same pitch are decided together (the U-Net sees pitches only through its narrow
        # first level).  Zero-initialised output: it starts as a no-op.
        self.local_in = nn.Conv1d(2, local_width, 5, padding=2)
        self.local_t = nn.Linear(emb_dim, local_width)
        self.local_out = nn.Conv1d(local_width, 2, 5, padding=2)
        nn.init.zeros_(self.local_out.weight)
        nn.init.zeros_(self.local_out.bias)
        self.out = nn.Conv1d(channels[0], x_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        # posterior head: start from the prior that a position is on with p ~ 2% (logit/2 = -2)
        nn.init.constant_(self.out.bias, -2.0 if posterior else 0.0)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                known: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor,
                sigma: torch.Tensor) -> torch.Tensor:
        emb = self.emb(t)
        out = self.out(self.unet(torch.cat([x, known, mask, cond], dim=1), emb, cond))
        b, c, n = x.shape
        # the local head reads the signal-to-noise-scaled input, one 2-row image per pitch
        xs = (x * (alpha / sigma.clamp_min(1e-2)).clamp(max=20.0)[:, None, None] / 10.0)
        p = c // 2
        xs = xs.reshape(b, 2, p, n).transpose(1, 2).reshape(b * p, 2, n)   # pitches as batch
        temb = self.local_t(emb).repeat_interleave(p, dim=0)[:, :, None]
        loc = self.local_out(F.silu(self.local_in(xs) + temb))
        out = out + loc.reshape(b, p, 2, n).transpose(1, 2).reshape(b, c, n)
        if not self.posterior:
            return out
        # Posterior head.  For data in {-1, +1} with prior log-odds 2 * logit at each position
        # and x_t = alpha * x0 + sigma * eps, the posterior mean is exactly
        # E[x0 | x_t] = tanh(alpha * x_t / sigma^2 + logit).  The net only supplies the
        # context logit (which pitches the chords, key and neighbours make likely); the
        # per-position evidence of x_t enters analytically, so 240 roll channels need not
        # squeeze through the 64-channel first level.  v follows from x0 (v-prediction).
        alpha, sigma = alpha[:, None, None], sigma[:, None, None].clamp_min(1e-4)
        x0 = torch.tanh(alpha * x / sigma ** 2 + out)
        return (alpha * x - x0) / sigma


SCHEDULE = "cosine"
"""The noise schedule the note nets are trained and sampled with (recorded in config.json)."""

__all__ = ["NoteUNet", "X_CHANNELS", "SCHEDULE", "expand_mask", "melody_channel_mask"]
