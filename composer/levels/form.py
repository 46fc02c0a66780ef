"""Sampling the form level: constraints in, a :class:`FormPlan` out.

    level = FormLevel.from_pretrained("models/form")
    plan = sample_form(level, form="i4A8?16o4", key="A minor", generator=torch.Generator().manual_seed(0))
    plan.form, plan.key_tonic, plan.key_mode

Every constraint is optional and kept exactly (inpainting, see composer.diffusion.samplers):
a full or partial form string (``?N`` gaps, a trailing ``*``), a number of bars, a key.
"""
from __future__ import annotations

import os
from typing import Callable

import torch

from composer.diffusion.samplers import project_onehot_v, sample
from composer.errors import FormError
from composer.form import MAX_SONG_BARS, FormPlan, PartialForm, Phrase, parse_key, parse_partial_form
from composer.io.checkpoint import build_model, load_weights, read_config
from composer.levels.form_constraints import form_constraints
from composer.levels.form_decode import PhrasePrior, decode_form
from composer.nets.form import FormDenoiser
from composer.representation.form import END, MODE, N_TYPES, START, TONIC

ONEHOT_GROUPS = ((0, N_TYPES, False), (END, 1, False), (START, 1, False), (TONIC, 12, True),
                 (MODE, 1, False))
"""The form array's groups: phrase type (all off after the song's end), flags, key tonic."""

DEFAULT_LENGTH = 256
"""Columns sampled when the song's length is free: songs end where the model puts END."""


class FormLevel:
    """A trained form denoiser, ready to sample (eval mode, CPU), with the phrase prior of
    its training forms (None: decode bar by bar, see ``decode_form``)."""

    def __init__(self, model: FormDenoiser, length: int = DEFAULT_LENGTH,
                 prior: PhrasePrior | None = None) -> None:
        self.model = model.eval()
        self.length = length
        self.prior = prior

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "FormLevel":
        config = read_config(folder, kind="form")
        model = load_weights(folder, build_model(FormDenoiser, config.get("model"), folder))
        prior = PhrasePrior.from_json(config["phrase_prior"]) if "phrase_prior" in config else None
        return cls(model, int(config.get("form_length", DEFAULT_LENGTH)), prior)


def _letters(partial: PartialForm | None, length: int) -> tuple[str | None, ...]:
    out: list[str | None] = []
    if partial is not None:
        for part in partial.parts:
            out += [part.label if isinstance(part, Phrase) else None] * part.n_bars
    return tuple(out[:length]) + (None,) * max(0, length - len(out))


@torch.no_grad()
def sample_form(level: FormLevel, form: str | PartialForm | None = None, bars: int | None = None,
                key: str | tuple[int, int] | None = None, generator: torch.Generator | None = None,
                steps: int = 20, sampler: str = "dpm++2m",
                progress: Callable[[int, int], None] | None = None, project: bool = True) -> FormPlan:
    """Sample a song's form (phrases + a key per bar) under the given constraints.

    form: full (``i4A8B8o4``) or partial (``i4A8?16o4``, ``A8B8*``) form string, or one
    already parsed (the pipeline passes it parsed, so a form is read once); bars: the
    song's length, 1..512 (default: the form string's, else drawn from the training songs'
    lengths in the prior, else where the model ends the song); key: ``"A minor"`` or (tonic 0..11, mode 0/1) for the whole song;
    generator: the only randomness (same seed, same form); steps: sampler steps;
    progress(i, n) after each step; project: keep each step's clean estimate inside the
    one-hot groups (see ``project_onehot_v``).  Raises FormError (one line) on bad or contradictory input.
    """
    partial = parse_partial_form(form) if isinstance(form, str) else form
    if bars is not None and not 1 <= int(bars) <= MAX_SONG_BARS:
        raise FormError(f"a song has 1 to {MAX_SONG_BARS} bars, not {bars}")
    if isinstance(key, str):
        key = parse_key(key)
    if partial is None and bars is None and level.prior is not None and level.prior.song_bars:
        # Nothing fixes the length: draw it from the training songs' lengths.  Reading it
        # off the END channel alone gave songs of 1 bar (seed 17) as well as 300.
        pick = torch.randint(len(level.prior.song_bars), (1,), generator=generator)
        bars = level.prior.song_bars[int(pick)]
    length = level.length
    need = max(int(bars or 0), partial.n_bars if partial else 0)
    if need > length - (16 if partial is not None and partial.open_end and not bars else 0):
        # longer than the training columns: sample exactly as many as needed (+ room to end)
        length = need + (64 if partial is not None and partial.open_end and not bars else 0)
        length = min(MAX_SONG_BARS + 64, (length + 7) // 8 * 8)
    cons = form_constraints(length, partial, bars, key)
    known = torch.from_numpy(cons.known)[None]
    mask = torch.from_numpy(cons.mask)[None]
    maskf = mask.float()

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = level.model(x, t, known, maskf)
        return project_onehot_v(v, x, t[0], ONEHOT_GROUPS) if project else v

    x = sample(denoise, tuple(known.shape), steps, sampler, generator, known, mask, progress)[0].numpy()
    min_bars = partial.n_bars if partial is not None else 1
    return decode_form(x, min_bars=max(1, min_bars), letters=_letters(partial, length),
                           n_bars=cons.n_bars, prior=level.prior, start_known=cons.mask[START])


__all__ = ["FormLevel", "sample_form", "DEFAULT_LENGTH"]
