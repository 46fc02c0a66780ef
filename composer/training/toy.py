"""A toy task with a known answer: a 1-D Gaussian mixture, denoised by a tiny MLP.

Used by the tests of the training loop (single process, resume, 2-process DDP) and as the
smallest worked example of a :class:`~composer.training.TrainTask`.  Run under torchrun::

    torchrun --standalone --nproc_per_node 2 -m composer.training.toy --out OUT --steps 50
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from composer.diffusion.schedule import add_noise, diffusion_loss, sample_train_times
from composer.seeds import TOY_VALID_SEED
from composer.training.loop import TrainConfig, train

MIXTURE_MEANS = (-2.0, 0.5, 3.0)
MIXTURE_STDS = (0.3, 0.2, 0.5)
MIXTURE_WEIGHTS = (0.2, 0.5, 0.3)


class ToyDenoiser(nn.Module):
    """MLP (x_t [B, 1], t [B]) -> v [B, 1] with a sinusoidal embedding of t."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(1 + 16, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        freqs = torch.arange(8, dtype=torch.float32) * 0.8
        ang = t[:, None] * math.pi * torch.exp(freqs)[None, :] / 8
        return self.net(torch.cat([x, torch.sin(ang), torch.cos(ang)], dim=1))


def sample_mixture(n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws of the mixture, float32 [n, 1]."""
    comp = torch.multinomial(torch.tensor(MIXTURE_WEIGHTS), n, replacement=True, generator=generator)
    noise = torch.randn(n, generator=generator)
    return (torch.tensor(MIXTURE_MEANS)[comp] + torch.tensor(MIXTURE_STDS)[comp] * noise)[:, None]


class GaussianMixtureTask:
    """TrainTask for :class:`ToyDenoiser` on the 1-D mixture (batches are [B, 1] float32)."""

    kind = "toy"

    def __init__(self, hidden: int = 64) -> None:
        self.hidden = hidden

    def model_config(self) -> dict[str, Any]:
        return {"hidden": self.hidden}

    def build_model(self) -> nn.Module:
        return ToyDenoiser(**self.model_config())

    def loss(self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        t = sample_train_times(batch.shape[0], generator)
        noise = torch.randn(batch.shape, generator=generator)
        return diffusion_loss(model(add_noise(batch, noise, t), t), batch, noise, t)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        while True:
            yield sample_mixture(batch_size, generator)

    def valid_batches(self, batch_size: int) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(TOY_VALID_SEED)
        return [sample_mixture(batch_size, gen) for _ in range(4)]

    def extra_config(self) -> dict[str, Any]:
        return {"data": "1-D Gaussian mixture", "means": list(MIXTURE_MEANS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=3e-3, warmup=10,
                         valid_every=max(1, args.steps // 2), checkpoint_every=max(1, args.steps // 2),
                         log_every=10)
    train(GaussianMixtureTask(), config, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
