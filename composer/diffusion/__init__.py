"""The shared diffusion core: the cosine v-prediction schedule (schedule.py) and the
few-step samplers with guidance and inpainting (samplers.py)."""
from composer.diffusion.samplers import (DDIMSampler, DPMSolverPP2MSampler, finish_known, guided,
                                         impose_known, make_sampler, sample)
from composer.diffusion.schedule import (add_noise, alpha_sigma, diffusion_loss, eps_from_v,
                                         sample_train_times, v_target, x0_from_v)

__all__ = ["DDIMSampler", "DPMSolverPP2MSampler", "finish_known", "guided", "impose_known",
           "make_sampler", "sample", "add_noise", "alpha_sigma", "diffusion_loss", "eps_from_v",
           "sample_train_times", "v_target", "x0_from_v"]
