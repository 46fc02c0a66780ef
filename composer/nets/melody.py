"""The melody level's network: a 1-D U-Net over 16th steps with the melody's classes as
channels (see :mod:`composer.representation.melody`), and a 2-D pitch x time branch that
sees intervals.

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

**Why the pitch branch.**  The trunk takes the 48 pitches as unordered channels: nothing
tells it that 72 lies next to 73, so "near the previous note" has to be learned pair by
pair.  It was not: with two of every three notes of a validation crop known exactly, the
trunk alone put 37% of a hidden note's probability more than a fifth away from it (the
line leapt like notes drawn from the scale; docs/ARCHITECTURE.md, "The melody level").
The interval head (``interval_channels`` > 0, :class:`IntervalHead`) reads the noisy and
the known onsets as a pitch x time image with kernels shared by every pitch, the locality
that the piano-roll U-Nets of Wang et al. and Polyffusion get from 2-D convolutions: a
step, a skip or a leap is one weight wherever the tune lies.  Its logits are added to the
trunk's pitch logits; the trunk keeps the register, the chords and the key.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from composer.nets.blocks import UNet1D
from composer.representation.melody import N_MELODY_CLASSES, ONSET
from composer.representation.note_context import N_COND


class IntervalHead(nn.Module):
    """Pitch logits from the neighbouring onsets, the same at every pitch (intervals).

    ``(x_t [B, P, L], known [B, P, L], features [B, C, L]) -> logits [B, P, L]`` over the
    P pitch rows.  Factorised so that it costs little on a CPU (a dense 2-D pitch x time
    U-Net was 10x the trunk's time):

    1. ``time``: ``channels`` filters over +-``time_reach`` 16th steps, shared by every
       pitch row, read the noisy and the known onsets: a pitch profile of the notes around
       each step (the previous note, the next one, the bar around it);
    2. ``interval``: each profile is convolved along the pitch axis with a kernel of
       +-``pitch_reach`` semitones, again shared by every pitch: steps, skips, repeats and
       leaps are one weight each, wherever the tune lies;
    3. the trunk's features weigh the channels at every step (how much the neighbours say
       here, at this noise level), so the head is an expert on intervals that the context
       switches on and off; its logits are added to the trunk's.
    """

    def __init__(self, features: int, channels: int = 16, time_reach: int = 16,
                 pitch_reach: int = 12) -> None:
        super().__init__()
        self.time = nn.Conv1d(2, channels, 2 * time_reach + 1, padding=time_reach)
        self.interval = nn.Conv1d(channels, channels, 2 * pitch_reach + 1, padding=pitch_reach,
                                  groups=channels)
        self.gate = nn.Conv1d(features, channels, 1)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def _interval_matrix(self, n_pitches: int) -> torch.Tensor:
        """The depthwise pitch convolution ``interval`` as banded matrices ``[M, P, P]``
        (from pitch, to pitch): the same sums, but one batched matrix product, several
        times faster on a CPU than a grouped convolution over 48 values."""
        weight = self.interval.weight[:, 0]                                # [M, 2R + 1]
        reach = (weight.shape[1] - 1) // 2
        pitches = torch.arange(n_pitches, device=weight.device)
        offset = pitches[:, None] - pitches[None, :] + reach               # [P_from, P_to]
        inside = (offset >= 0) & (offset <= 2 * reach)
        return weight[:, offset.clamp(0, 2 * reach)] * inside

    def forward(self, x: torch.Tensor, known: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        b, p, length = x.shape
        rows = torch.stack([x, known], dim=2).reshape(b * p, 2, length)
        z = F.silu(self.time(rows))                                        # [B*P, M, L]
        m = z.shape[1]
        z = z.reshape(b, p, m, length).permute(0, 3, 2, 1)                 # [B, L, M, P]
        z = torch.einsum("blmp,mpq->blmq", z, self._interval_matrix(p)) + self.interval.bias[:, None]
        gate = self.gate(features).transpose(1, 2)                         # [B, L, M]
        return torch.einsum("blm,blmp->bpl", gate, z)


class MelodyUNet(UNet1D):
    """``(x_t [B, K, L], t [B], cond [B, N_COND, L], known [B, K, L], mask [B, 1, L])
    -> context logits [B, K, L]``.

    x_t: the noisy one-hot melody (K = N_MELODY_CLASSES); t: diffusion time in [0, 1];
    cond: the condition (zeros = dropped, for guidance); known: the known one-hot melody
    where ``mask`` is 1, zeros elsewhere; mask: 1 = this step is known.  ``L`` must be a
    multiple of ``prod(strides)`` (16 by default).

    interval_channels: channels of the interval head (0 = none, the trunk alone, as the
    checkpoints before it); time_reach: how far (16th steps) its filters look either way;
    pitch_reach: the largest interval (semitones) its kernels weigh.
    """

    def __init__(self, classes: int = N_MELODY_CLASSES, cond_channels: int = N_COND,
                 channels: tuple[int, ...] = (96, 128, 160, 256), strides: tuple[int, ...] = (2, 2, 4),
                 blocks: tuple[int, ...] = (1, 2, 2, 2), mid_dilations: tuple[int, ...] = (1, 2, 4),
                 emb_dim: int = 128, kernel: int = 5, interval_channels: int = 0,
                 time_reach: int = 16, pitch_reach: int = 12) -> None:
        super().__init__()
        self.classes, self.cond_channels = classes, cond_channels
        # the bottom blocks use kernel 3: with dilations 1, 2, 4 at one position per bar they
        # see +-14 bars
        self.build_unet(2 * classes + 1 + cond_channels, cond_channels, channels, strides, blocks,
                        mid_dilations, emb_dim, kernel, 3)
        self.out = nn.Conv1d(channels[0], classes, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.interval_channels = interval_channels
        if interval_channels:
            self.interval_head = IntervalHead(channels[0], interval_channels, time_reach, pitch_reach)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        emb = self.emb(t)
        h = self.unet(torch.cat([x, known, mask, cond], dim=1), emb, cond)
        logits = self.out(h)
        if not self.interval_channels:
            return logits
        local = self.interval_head(x[:, ONSET:], known[:, ONSET:], h)
        return torch.cat([logits[:, :ONSET], logits[:, ONSET:] + local], dim=1)


__all__ = ["MelodyUNet", "IntervalHead"]
