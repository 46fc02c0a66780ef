"""The noise schedule and the training target shared by every diffusion model in composer.

Choice: **continuous time, cosine schedule, v-prediction.**

* Time ``t`` is a float in ``[0, 1]``: ``t = 0`` is clean data, ``t = 1`` is (almost) pure noise.
* ``x_t = alpha_t * x0 + sigma_t * eps`` with ``alpha_t = cos(phi_t)``, ``sigma_t = sin(phi_t)``
  and ``phi_t = t * PHI_MAX`` (the cosine schedule of Nichol & Dhariwal in its continuous,
  variance-preserving form: ``alpha_t**2 + sigma_t**2 == 1``).  ``PHI_MAX`` stops just short
  of pi/2 so that the log signal-to-noise ratio ``lambda_t = log(alpha_t**2 / sigma_t**2)``
  stays finite at ``t = 1`` (``LOGSNR_MIN = -10``) and the multistep solver's first step is
  well defined; at ``t = 0`` ``sigma_0 = 0`` exactly.
* The networks predict ``v = alpha_t * eps - sigma_t * x0`` (Salimans & Ho 2022).  v is
  well-scaled at both ends of the schedule (unlike eps near ``t = 0`` or x0 near ``t = 1``),
  and gives ``x0 = alpha_t * x_t - sigma_t * v`` and ``eps = sigma_t * x_t + alpha_t * v``.

All functions take tensors ``x`` of any shape ``[B, ...]`` (float32) and ``t`` of shape
``[B]`` (or a scalar / python float), broadcast over the trailing dimensions.
"""
from __future__ import annotations

import math

import torch

LOGSNR_MIN = -10.0
"""log(alpha^2 / sigma^2) at t = 1."""

PHI_MAX = math.atan(math.exp(-LOGSNR_MIN / 2))
"""Angle at t = 1: alpha_1 = cos(PHI_MAX) ~ 0.0067."""


def _as_time(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``t`` as a float tensor on ``like``'s device, shaped to broadcast over ``like`` [B, ...]."""
    t = torch.as_tensor(t, dtype=torch.float32, device=like.device)
    if t.ndim == 0:
        return t
    return t.reshape(t.shape[0], *([1] * (like.ndim - 1)))


def alpha_sigma(t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal and noise scales ``(alpha_t, sigma_t)`` at time ``t`` in [0, 1] (same shape as t)."""
    t = torch.as_tensor(t, dtype=torch.float32)
    phi = t.clamp(0.0, 1.0) * PHI_MAX
    return torch.cos(phi), torch.sin(phi)


def log_snr(t: torch.Tensor | float) -> torch.Tensor:
    """``lambda_t = log(alpha_t^2 / sigma_t^2)``; +inf at t = 0, LOGSNR_MIN at t = 1."""
    alpha, sigma = alpha_sigma(t)
    return 2.0 * (torch.log(alpha) - torch.log(sigma))


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Forward process: ``x_t = alpha_t * x0 + sigma_t * noise`` ([B, ...] float32)."""
    alpha, sigma = alpha_sigma(_as_time(t, x0))
    return alpha * x0 + sigma * noise


def v_target(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The training target ``v = alpha_t * noise - sigma_t * x0`` ([B, ...])."""
    alpha, sigma = alpha_sigma(_as_time(t, x0))
    return alpha * noise - sigma * x0


def x0_from_v(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Clean-data estimate ``x0 = alpha_t * x_t - sigma_t * v``."""
    alpha, sigma = alpha_sigma(_as_time(t, x_t))
    return alpha * x_t - sigma * v


def eps_from_v(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Noise estimate ``eps = sigma_t * x_t + alpha_t * v``."""
    alpha, sigma = alpha_sigma(_as_time(t, x_t))
    return sigma * x_t + alpha * v


def v_from_x0(x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The v that corresponds to a clean-data prediction ``x0`` at ``x_t`` (for analytic
    denoisers and tests): ``v = (alpha_t * x_t - x0) / sigma_t``; needs ``t > 0``."""
    alpha, sigma = alpha_sigma(_as_time(t, x_t))
    return (alpha * x_t - x0) / sigma


def sample_train_times(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training times, float32 [batch] in (0, 1): stratified uniform (one draw per 1/batch
    stratum, shuffled) so every batch covers the whole schedule, lowering loss variance."""
    u = torch.rand(batch, generator=generator)
    strata = (torch.randperm(batch, generator=generator).float() + u) / batch
    return strata.clamp(1e-4, 1.0)


def diffusion_loss(model_v: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor,
                   t: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between a predicted v and the target v, scalar.

    ``weight`` (optional, broadcastable to x0, e.g. a [B, 1, L] mask of valid positions)
    weights the squared error and normalises by its sum, so padding does not count.
    """
    err = (model_v - v_target(x0, noise, t)) ** 2
    if weight is None:
        return err.mean()
    weight = weight.expand_as(err)
    return (err * weight).sum() / weight.sum().clamp_min(1.0)





def onehot_posterior_logits(context_logits: torch.Tensor, x_t: torch.Tensor,
                            t: torch.Tensor | float, dim: int = 1) -> torch.Tensor:
    """Log-probabilities (unnormalised) of each class of one-hot data given ``x_t``.

    For data that is one-hot along ``dim`` and scaled to {-1, +1}, and ``x_t = alpha_t * x0
    + sigma_t * eps``, the likelihood of class ``c`` is ``exp(2 * alpha_t * x_t[c] /
    sigma_t^2)`` times terms equal for all classes, so the exact posterior over classes is
    ``softmax(context_logits + 2 * alpha_t * x_t / sigma_t^2)`` where ``context_logits`` is
    the prior the network supplies (from the condition and the neighbours).  The network
    thus never has to pass the per-position evidence of ``x_t`` through its layers.
    ``t`` has one entry per batch item (axis 0).  Returns a tensor shaped like ``x_t``.
    """
    alpha, sigma = alpha_sigma(t)
    shape = (-1,) + (1,) * (x_t.dim() - 1)
    alpha = alpha.reshape(shape).to(x_t.device)
    sigma = sigma.reshape(shape).to(x_t.device).clamp_min(1e-4)
    return context_logits + 2.0 * alpha * x_t / sigma ** 2


def onehot_x0(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """The posterior mean of {-1, +1} one-hot data from class logits: ``2 * softmax - 1``."""
    return 2.0 * torch.softmax(logits, dim=dim) - 1.0


__all__ = ["LOGSNR_MIN", "PHI_MAX", "alpha_sigma", "log_snr", "add_noise", "v_target",
           "x0_from_v", "eps_from_v", "v_from_x0", "sample_train_times", "diffusion_loss", "onehot_posterior_logits", "onehot_x0"]
