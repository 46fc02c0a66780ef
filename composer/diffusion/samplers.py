"""Few-step samplers, classifier-free guidance and inpainting for the v-prediction schedule.

The sampler is not the network.  A sampler owns the time grid and the
update rule, diffusers-style::

    sampler = DPMSolverPP2MSampler()
    sampler.set_timesteps(20)
    x = torch.randn(shape, generator=g)                 # x at t = sampler.timesteps[0] = 1
    for i, t in enumerate(sampler.timesteps):
        v = net(x, t.expand(batch), cond)               # the network predicts v
        x = sampler.step(v, i, x)                       # x at the next grid time
    # after the last step x is the clean sample (t = 0)

``timesteps`` is a float32 tensor ``[n_steps]`` of the times (in (0, 1]) at which the network
is evaluated, descending from 1; ``step(v, i, x)`` moves ``x`` from ``timesteps[i]`` to
``timesteps[i + 1]``, or to ``t = 0`` (clean data) when ``i`` is the last index.  Samplers are
deterministic (ODE samplers, eta = 0): all randomness is the starting noise, drawn by the
caller from a ``torch.Generator``, so the same seed gives the same result.

Inpainting (``mask`` 1 = known): the known positions of ``x`` are replaced, before every
network call, by the known values forward-noised to the current time with the *same* noise
that started the chain (:func:`impose_known`), and set exactly at the end
(:func:`finish_known`).  So they come out bit-exactly as given, and the network always sees
a state consistent with them, which it uses to generate the rest.  The nets of composer
also receive ``known`` and ``mask`` as conditioning channels (trained with random masks),
which makes the generated part join the known part much better than replacement alone.
"""
from __future__ import annotations

from typing import Callable, Literal, Protocol

import torch

from composer.diffusion.schedule import add_noise, alpha_sigma, log_snr, x0_from_v

SamplerName = Literal["ddim", "dpm++2m"]
SAMPLER_NAMES: tuple[str, ...] = ("ddim", "dpm++2m")


class Sampler(Protocol):
    timesteps: torch.Tensor

    def set_timesteps(self, n_steps: int) -> None: ...

    def step(self, model_output_v: torch.Tensor, index: int, x: torch.Tensor) -> torch.Tensor: ...


def _time_grid(n_steps: int) -> torch.Tensor:
    """n_steps + 1 times, float32, uniform from 1 down to 0 (the cosine schedule is close to
    uniform in angle, so uniform time spacing spreads the steps evenly in noise level)."""
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    return torch.linspace(1.0, 0.0, int(n_steps) + 1, dtype=torch.float32)


class DDIMSampler:
    """Deterministic DDIM (Song et al. 2021, eta = 0) for v-prediction.

    ``x_s = alpha_s * x0 + sigma_s * eps`` with ``x0``, ``eps`` from the v at ``t``.
    First order: needs more steps than DPM-Solver++(2M) for the same quality.
    """

    def __init__(self) -> None:
        self.timesteps = torch.empty(0)
        self._grid = torch.empty(0)

    def set_timesteps(self, n_steps: int) -> None:
        """Set the grid: ``timesteps`` = the first ``n_steps`` of ``linspace(1, 0, n_steps + 1)``."""
        self._grid = _time_grid(n_steps)
        self.timesteps = self._grid[:-1].clone()

    def step(self, model_output_v: torch.Tensor, index: int, x: torch.Tensor) -> torch.Tensor:
        """x at ``timesteps[index]`` -> x at the next grid time ([B, ...] float32)."""
        t, s = self._grid[index], self._grid[index + 1]
        a_t, s_t = alpha_sigma(t)
        a_s, s_s = alpha_sigma(s)
        x0 = a_t * x - s_t * model_output_v
        eps = s_t * x + a_t * model_output_v
        return a_s * x0 + s_s * eps


class DPMSolverPP2MSampler:
    """DPM-Solver++(2M) (Lu et al. 2022), multistep second order in data prediction.

    ``x_s = (sigma_s / sigma_t) x_t - alpha_s (exp(-h) - 1) D`` with ``h = lambda_s - lambda_t``
    and ``D`` the first-order x0 on the first step, else the second-order combination
    ``(1 + 1/(2r)) x0_t - 1/(2r) x0_prev`` with ``r = h_prev / h``.  The last step (to t = 0,
    where lambda is infinite) is first order, as diffusers' ``lower_order_final`` does.
    It keeps the previous x0 between calls: call ``step`` in order, ``set_timesteps`` resets it.
    """

    def __init__(self) -> None:
        self.timesteps = torch.empty(0)
        self._grid = torch.empty(0)
        self._prev_x0: torch.Tensor | None = None
        self._prev_h: torch.Tensor | None = None

    def set_timesteps(self, n_steps: int) -> None:
        self._grid = _time_grid(n_steps)
        self.timesteps = self._grid[:-1].clone()
        self._prev_x0 = None
        self._prev_h = None

    def step(self, model_output_v: torch.Tensor, index: int, x: torch.Tensor) -> torch.Tensor:
        """x at ``timesteps[index]`` -> x at the next grid time ([B, ...] float32)."""
        t, s = self._grid[index], self._grid[index + 1]
        a_t, s_t = alpha_sigma(t)
        x0 = a_t * x - s_t * model_output_v
        if index == len(self.timesteps) - 1:
            # s == 0: sigma_s = 0, alpha_s = 1; the update reduces to x0.
            self._prev_x0, self._prev_h = None, None
            return x0
        a_s, s_s = alpha_sigma(s)
        h = log_snr(s) / 2 - log_snr(t) / 2  # half log-SNR: lambda of DPM-Solver = log(alpha/sigma)
        if self._prev_x0 is None:
            d = x0
        else:
            r = self._prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * self._prev_x0
        self._prev_x0, self._prev_h = x0, h
        return (s_s / s_t) * x - a_s * torch.expm1(-h) * d


def make_sampler(name: str) -> DDIMSampler | DPMSolverPP2MSampler:
    """``"ddim"`` or ``"dpm++2m"`` -> a fresh sampler (call ``set_timesteps`` next)."""
    if name == "ddim":
        return DDIMSampler()
    if name in ("dpm++2m", "dpmpp2m", "dpm-solver++"):
        return DPMSolverPP2MSampler()
    raise ValueError(f"unknown sampler {name!r}; choose one of {SAMPLER_NAMES}")


def guided(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: ``v_uncond + scale * (v_cond - v_uncond)``.

    ``scale = 1`` is the plain conditional model, ``scale > 1`` pushes samples toward the
    condition (the nets are trained with condition dropout so both predictions exist).
    Guidance is linear, so it is the same whether applied to v, eps or x0.
    """
    return v_uncond + scale * (v_cond - v_uncond)


def project_simplex(q: torch.Tensor, dim: int, exact: bool = True) -> torch.Tensor:
    """Euclidean projection of ``q`` onto the probability simplex along ``dim`` (``exact``:
    sum = 1) or onto ``{q >= 0, sum <= 1}`` (``exact=False``), sort-based (Duchi et al. 2008)."""
    if not exact:
        clipped = q.clamp_min(0.0)
        over = clipped.sum(dim, keepdim=True) > 1.0
        return torch.where(over, project_simplex(q, dim, True), clipped)
    qs, _ = torch.sort(q, dim=dim, descending=True)
    cum = qs.cumsum(dim) - 1.0
    k = torch.arange(1, q.shape[dim] + 1, dtype=q.dtype, device=q.device)
    shape = [1] * q.ndim
    shape[dim] = -1
    k = k.reshape(shape)
    cond = (qs - cum / k) > 0
    rho = cond.to(q.dtype).cumsum(dim).argmax(dim, keepdim=True)  # last index where cond holds
    theta = cum.gather(dim, rho) / (rho + 1).to(q.dtype)
    return (q - theta).clamp_min(0.0)


def project_onehot_v(v: torch.Tensor, x: torch.Tensor, t: torch.Tensor | float,
                     groups: tuple[tuple[int, int, bool], ...]) -> torch.Tensor:
    """Correct a v prediction so that its x0 lies where a posterior mean of the data can lie.

    For data whose channels (axis 1 of ``x`` [B, C, ...]) hold one-hot groups in {-1, +1},
    ``E[x0 | x_t]`` is a convex combination of one-hots: in each group ``(x0 + 1) / 2`` is on
    the simplex (``exact`` groups: one category always on) or in ``{>= 0, sum <= 1}`` (groups
    that may be all off, e.g. "no chord").  A network's x0 strays outside, most at high
    noise, and the deterministic sampler then carries the error to the end (samples left
    between categories).  Projecting x0 back is the "clamping" of Diffusion-LM / the
    thresholding of Imagen made exact for one-hot data.  ``groups``: (first channel, number
    of channels, exact); a 1-channel group is a binary flag, clipped to [-1, 1].
    """
    t_b = torch.as_tensor(t, dtype=torch.float32).expand(x.shape[0])
    x0 = x0_from_v(x, v, t_b)
    parts = []
    last = 0
    for first, n, exact in sorted(groups):
        parts.append(x0[:, last:first])
        g = x0[:, first:first + n]
        if n == 1:
            parts.append(g.clamp(-1.0, 1.0))
        else:
            parts.append(2.0 * project_simplex((g + 1.0) / 2.0, 1, exact) - 1.0)
        last = first + n
    parts.append(x0[:, last:])
    x0 = torch.cat(parts, dim=1)
    alpha, sigma = alpha_sigma(t_b)
    shape = (-1,) + (1,) * (x.ndim - 1)
    return (alpha.reshape(shape) * x - x0) / sigma.reshape(shape)


def impose_known(x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor,
                 noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Replace the known positions of ``x`` (state at time ``t``) by ``known`` noised to ``t``.

    ``x``, ``known``, ``noise``: [B, ...] float32; ``mask``: bool or 0/1, broadcastable to x,
    1 (True) = known.  ``noise`` should be the noise that started the chain, so the known
    part follows the same deterministic path as the rest.
    """
    t_b = torch.as_tensor(t, dtype=torch.float32).expand(x.shape[0])
    return torch.where(mask.bool(), add_noise(known, noise, t_b), x)


def finish_known(x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Set the known positions exactly (1 = known) after the last step."""
    return torch.where(mask.bool(), known, x)


DenoiseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``denoise_fn(x_t [B, ...], t [B]) -> v [B, ...]``."""


def run_sampler(denoise_fn: DenoiseFn, x: torch.Tensor, steps: int, sampler: str = "dpm++2m",
                start: int = 0, known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                noise: torch.Tensor | None = None,
                tick: Callable[[], None] | None = None) -> torch.Tensor:
    """The one sampling loop of every level: from grid index ``start`` (``x`` is the state
    at ``timesteps[start]``; 0 = pure noise) down to t = 0.

    denoise_fn(x_t, t [B]) -> v: the level's net with its guidance, projection or posterior;
    known / mask: inpainting ([B, ...] / broadcastable, 1 = known): before every step the
    known positions are set to ``known`` noised to that step's time with ``noise`` (the
    noise that started the chain, so the known part follows the same path as the rest), and
    after the last they are exact; tick() after every network call.  A fresh multistep
    solver makes its first step first order, so starting mid-grid (a return pass) is sound.
    """
    solver = make_sampler(sampler)
    solver.set_timesteps(steps)
    batch = x.shape[0]
    for i in range(start, len(solver.timesteps)):
        t = solver.timesteps[i]
        if mask is not None:
            x = impose_known(x, known, mask, noise, t)
        x = solver.step(denoise_fn(x, t.expand(batch)), i, x)
        if tick is not None:
            tick()
    if mask is not None:
        x = finish_known(x, known, mask)
    return x


def step_counter(progress: Callable[[int, int], None] | None, total: int) -> Callable[[], None]:
    """A ``tick()`` for :func:`run_sampler` that reports ``progress(done, total)`` after each
    network call, counting across the passes of a level (draft, return)."""
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    return tick


def grid_time(steps: int, index: int) -> torch.Tensor:
    """The time of grid index ``index`` of an ``steps``-step run (where a return pass that
    starts at ``index`` noises its copy to)."""
    return _time_grid(steps)[index]


def sample(denoise_fn: DenoiseFn, shape: tuple[int, ...], steps: int,
           sampler: str = "dpm++2m", generator: torch.Generator | None = None,
           known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
           progress: Callable[[int, int], None] | None = None,
           noise: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`run_sampler` from pure noise: draws the noise, counts the steps.

    shape: (B, ...) of the sample; steps: number of network calls (>= 1); sampler:
    ``"dpm++2m"`` (default) or ``"ddim"``; generator: draws the starting noise (the only
    randomness); known / mask: optional inpainting constraint ([B, ...] / broadcastable,
    1 = known), the known positions come back exactly; progress(i, n): called after each
    step; noise: the starting noise itself (overrides generator).  Returns x0 [B, ...].
    """
    if noise is None:
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
    return run_sampler(denoise_fn, noise.clone(), steps, sampler, known=known, mask=mask,
                       noise=noise, tick=step_counter(progress, steps))


__all__ = ["SamplerName", "SAMPLER_NAMES", "Sampler", "DDIMSampler", "DPMSolverPP2MSampler",
           "make_sampler", "guided", "project_simplex", "project_onehot_v", "impose_known", "finish_known", "run_sampler", "step_counter", "grid_time", "sample", "DenoiseFn"]
