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
from torch import nn

from composer.nets.blocks import UNet1D
from composer.representation.melody import N_MELODY_CLASSES
from composer.representation.note_context import N_COND


class MelodyUNet(UNet1D):
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
        self.classes, self.cond_channels = classes, cond_channels
        # the bottom blocks use kernel 3: with dilations 1, 2, 4 at one position per bar they
        # see +-14 bars
        self.build_unet(2 * classes + 1 + cond_channels, cond_channels, channels, strides, blocks,
                        mid_dilations, emb_dim, kernel, 3)
        self.out = nn.Conv1d(channels[0], classes, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.out(self.unet(torch.cat([x, known, mask, cond], dim=1), self.emb(t), cond))


__all__ = ["MelodyUNet"]
