"""A tiny untrained DDSP timbre, saved as an installed timbre folder (no recordings needed)."""
from __future__ import annotations

from pathlib import Path

import torch

from composer.render.ddsp.timbre import Expression, TimbreModel, save_timbre


def tiny_model() -> tuple[TimbreModel, dict, dict]:
    dec = {"n_harmonics": 8, "n_noise_bands": 9, "hidden": 8, "gru": 8}
    syn = {"sample_rate": 16000, "hop": 160, "reverb_seconds": 0.01}
    torch.manual_seed(0)
    return TimbreModel(dec, syn), dec, syn


def install_tiny_timbre(root: Path, name: str = "tiny", pitch_min: int = 24, pitch_max: int = 96) -> Path:
    """Save a tiny timbre as ``root/name``; point $COMPOSER_TIMBRES at ``root`` to use it."""
    model, dec, syn = tiny_model()
    return save_timbre(root / name, model, dec, syn, Expression(pitch_min=pitch_min, pitch_max=pitch_max))
