"""The diffusion core on toy problems with known answers."""
import math

import pytest
import torch

from composer.diffusion import (DDIMSampler, DPMSolverPP2MSampler, add_noise, alpha_sigma, eps_from_v,
                                guided, sample, v_target, x0_from_v)
from composer.diffusion.schedule import log_snr, sample_train_times

MEANS = torch.tensor([-2.0, 0.5, 3.0])
STDS = torch.tensor([0.3, 0.2, 0.5])
WEIGHTS = torch.tensor([0.2, 0.5, 0.3])


def mixture_denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The exact v of the 1-D Gaussian mixture: E[x0 | x_t] in closed form. x [B, 1], t [B]."""
    a, s = alpha_sigma(t)
    a, s = a[:, None], s[:, None]
    var = a ** 2 * STDS ** 2 + s ** 2
    logp = torch.log(WEIGHTS) - 0.5 * torch.log(var) - 0.5 * (x - a * MEANS) ** 2 / var
    post = torch.softmax(logp, dim=-1)
    x0 = (post * (MEANS + a * STDS ** 2 / var * (x - a * MEANS))).sum(-1, keepdim=True)
    return (a * x - x0) / s


def mixture_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    comp = torch.argmin((x[:, None] - MEANS).abs(), dim=-1)
    weights = torch.stack([(comp == k).float().mean() for k in range(3)])
    means = torch.stack([x[comp == k].mean() for k in range(3)])
    return weights, means


def test_schedule_identities():
    t = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    a, s = alpha_sigma(t)
    assert torch.allclose(a ** 2 + s ** 2, torch.ones(5))
    assert a[0] == 1.0 and s[0] == 0.0            # clean data at t = 0, exactly
    assert float(log_snr(torch.tensor(1.0))) == pytest.approx(-10.0, abs=1e-3)
    assert torch.all(a[1:] < a[:-1])
    x0 = torch.randn(5, 3, 7)
    eps = torch.randn(5, 3, 7)
    tt = torch.tensor([0.05, 0.2, 0.5, 0.8, 1.0])
    xt = add_noise(x0, eps, tt)
    v = v_target(x0, eps, tt)
    assert torch.allclose(x0_from_v(xt, v, tt), x0, atol=1e-5)
    assert torch.allclose(eps_from_v(xt, v, tt), eps, atol=1e-5)


def test_train_times_are_stratified():
    t = sample_train_times(8, torch.Generator().manual_seed(0))
    assert sorted(int(x * 8) for x in t) == list(range(8))


@pytest.mark.parametrize("name,steps,tol_w,tol_m", [("dpm++2m", 20, 0.02, 0.03), ("ddim", 200, 0.02, 0.03)])
def test_sampler_reproduces_gaussian_mixture(name, steps, tol_w, tol_m):
    x = sample(mixture_denoiser, (20000, 1), steps, name, torch.Generator().manual_seed(0))[:, 0]
    weights, means = mixture_stats(x)
    assert torch.allclose(weights, WEIGHTS, atol=tol_w), weights
    assert torch.allclose(means, MEANS, atol=tol_m), means


def test_ddim_with_enough_steps_matches_many_steps():
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(512, 1, generator=g)
    ref = sample(mixture_denoiser, (512, 1), 2000, "ddim", noise=noise)
    err = {n: float((sample(mixture_denoiser, (512, 1), n, "ddim", noise=noise) - ref).abs().median())
           for n in (10, 100, 500)}
    assert err[500] < err[100] < err[10]
    assert err[500] < 5e-3
    # the second-order solver gets to the same place with far fewer steps
    dpm = sample(mixture_denoiser, (512, 1), 50, "dpm++2m", noise=noise)
    assert float((dpm - ref).abs().median()) < 5e-3


def test_same_seed_same_result_and_different_seed_differs():
    a = sample(mixture_denoiser, (64, 1), 8, "dpm++2m", torch.Generator().manual_seed(7))
    b = sample(mixture_denoiser, (64, 1), 8, "dpm++2m", torch.Generator().manual_seed(7))
    c = sample(mixture_denoiser, (64, 1), 8, "dpm++2m", torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def correlated_denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Exact v for x0 = z * [1, 1, 1, 1] + 0.01 * n: every coordinate equal, up to a small jitter.

    A joint Gaussian with covariance C = 1 1^T + 0.0001 I: E[x0|x_t] = a C (a^2 C + s^2 I)^-1 x_t.
    """
    d = x.shape[1]
    cov = torch.ones(d, d) + 1e-4 * torch.eye(d)
    a, s = alpha_sigma(t)
    out = []
    for i in range(x.shape[0]):
        gain = a[i] * cov @ torch.linalg.inv(a[i] ** 2 * cov + s[i] ** 2 * torch.eye(d))
        out.append(gain @ x[i])
    x0 = torch.stack(out)
    return (a[:, None] * x - x0) / s[:, None]


@pytest.mark.parametrize("name", ["dpm++2m", "ddim"])
def test_inpainting_keeps_known_exact_and_fills_consistently(name):
    known = torch.zeros(16, 4)
    known[:, :2] = torch.linspace(-2, 2, 16)[:, None]
    mask = torch.zeros(16, 4, dtype=torch.bool)
    mask[:, :2] = True
    x = sample(correlated_denoiser, (16, 4), 30, name, torch.Generator().manual_seed(3), known=known, mask=mask)
    assert torch.equal(x[:, :2], known[:, :2])          # bit-exact
    # The unknown coordinates follow the known ones (they are all equal in the data).  Pure
    # replacement shrinks them a little toward the prior mean (the known part is mostly noise
    # early on): that is why the nets also take known + mask as conditioning channels.
    for j in (2, 3):
        assert torch.corrcoef(torch.stack([x[:, j], known[:, 0]]))[0, 1] > 0.98
        assert (x[:, j] - known[:, 0]).abs().max() < 0.5


def test_guidance_is_linear():
    c, u = torch.tensor([2.0]), torch.tensor([1.0])
    assert float(guided(c, u, 1.0)) == 2.0
    assert float(guided(c, u, 0.0)) == 1.0
    assert float(guided(c, u, 3.0)) == 4.0


def test_sampler_classes_step_through_the_grid():
    for cls in (DDIMSampler, DPMSolverPP2MSampler):
        s = cls()
        s.set_timesteps(4)
        assert torch.allclose(s.timesteps, torch.tensor([1.0, 0.75, 0.5, 0.25]))
        x = torch.randn(3, 1, generator=torch.Generator().manual_seed(0))
        for i, t in enumerate(s.timesteps):
            x = s.step(mixture_denoiser(x, t.expand(3)), i, x)
        assert torch.isfinite(x).all()
    with pytest.raises(ValueError):
        DDIMSampler().set_timesteps(0)
