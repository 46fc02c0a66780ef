"""Sampling the chord level: a FormPlan in, a chord per beat out (a :class:`ChordGrid`).

    level = ChordLevel.from_pretrained("models/chords")
    grid = sample_chords(level, plan, generator=torch.Generator().manual_seed(0))
    grid.to_symbols()   # ChordSymbols for a Score

The whole song is generated in one pass of the net per sampler step (every bar attends to
every other).  ``known`` / ``known_beats`` keep given chords exactly (inpainting): this is how
a section is regenerated with the rest of the song unchanged.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch

from composer.diffusion.samplers import guided, project_onehot_v, run_sampler, step_counter
from composer.errors import ComposerError
from composer.form import FormPlan
from composer.io.checkpoint import build_model, load_weights, read_config
from composer.levels.returns import phrase_repeats, return_pass, return_start
from composer.nets.chords import ChordDenoiser
from composer.representation.harmony import (BASS, CHORD_CHANNELS, N_QUALITIES, QUALITY, ROOT, SLOTS_PER_BAR,
                                             ChordGrid, chord_condition, from_chord_array, slot_of_beat,
                                             to_chord_array)

ONEHOT_GROUPS = ((ROOT, 12, False), (QUALITY, N_QUALITIES + 1, True), (BASS, 12, False))
"""The chord array's one-hot groups (root and bass are all off for "no chord")"""


class ChordLevel:
    """A trained chord denoiser, ready to sample (eval mode, CPU)."""

    def __init__(self, model: ChordDenoiser) -> None:
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "ChordLevel":
        config = read_config(folder, kind="chords")
        return cls(load_weights(folder, build_model(ChordDenoiser, config.get("model"), folder)))


DEFAULT_VARIATION = 0.7
"""How far a returning phrase's chords may move from its first statement (0 = copy).  On the
74 test songs' forms the harmony structure ratio (same-label / all phrase pairs) is 1.001 with
no return pass, 1.417 at 0.3, 1.382 at 0.5 and 1.243 at 0.7, against 1.263 in the real songs."""


def chord_repeats(plan: FormPlan) -> list[tuple[int, int, int, int]]:
    """(start bar, bars, source bar, source bars) of every phrase whose label occurred before."""
    return [(r.start_bar, r.n_bars, r.source_bar, r.source_bars) for r in phrase_repeats(plan.phrases)]


def _denoise(level: ChordLevel, x: torch.Tensor, noise: torch.Tensor, known_x: torch.Tensor,
             mask: torch.Tensor, cond: torch.Tensor, valid: torch.Tensor, steps: int, start: int,
             sampler: str, guidance: float, project: bool, tick: Callable[[], None]) -> torch.Tensor:
    """The sampler loop from grid index ``start`` (x is the state at that time) to t = 0."""
    b = x.shape[0]  # a batch of songs over one plan (sample_chord_candidates)
    maskf = mask.float().expand(b, -1, -1)
    cond, known_x, valid = cond.expand(b, -1, -1), known_x.expand(b, -1, -1), valid.expand(b, -1, -1)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if guidance == 1.0:
            v = level.model(x, t, cond, torch.ones(b), known_x, maskf, valid)
        else:
            def two(a: torch.Tensor) -> torch.Tensor:
                return torch.cat([a, a])
            both = level.model(two(x), two(t), two(cond), torch.cat([torch.ones(b), torch.zeros(b)]),
                               two(known_x), two(maskf), two(valid))
            v = guided(both[:b], both[b:], guidance)
        return project_onehot_v(v, x, t[0], ONEHOT_GROUPS) if project else v

    return run_sampler(denoise, x, steps, sampler, start, known_x, mask, noise, tick)


@torch.no_grad()
def sample_chords(level: ChordLevel, plan: FormPlan, beats_per_bar: int = 4,
                  generator: torch.Generator | None = None, steps: int = 20, sampler: str = "dpm++2m",
                  guidance: float = 1.0, known: ChordGrid | None = None,
                  known_beats: np.ndarray | None = None,
                  progress: Callable[[int, int], None] | None = None, project: bool = True,
                  variation: float = DEFAULT_VARIATION, repeat: bool = True) -> ChordGrid:
    """A chord per beat for the whole song of ``plan``.

    beats_per_bar: quarter-note beats per bar (4 for 4/4, 3 for 3/4); generator: the only
    randomness; steps: sampler steps; guidance: classifier-free guidance scale (1 = off, one
    net call per step; > 1 costs two); known + known_beats (bool [n_beats], True = keep):
    chords to keep exactly; progress(i, n) after each step; project: keep each step's clean
    estimate inside the one-hot groups' simplex (see ``project_onehot_v``).

    Two passes, as the note level does: a draft of the whole song, then every phrase whose
    label occurred before is re-generated from a copy of the first statement's chords noised
    to ``variation`` (0 = exact copy, 1 = ignore it) with the rest of the song held fixed, so
    a returning chorus keeps its harmony, varied the way real songs vary it (``repeat=False``:
    the draft alone).  Returns a ChordGrid of ``plan.n_bars * beats_per_bar`` beats.
    """
    return _sample(level, plan, beats_per_bar, generator, steps, sampler, guidance, known, known_beats,
                   progress, project, variation, repeat, batch=1)[0]


@torch.no_grad()
def sample_chord_candidates(level: ChordLevel, plan: FormPlan, beats_per_bar: int = 4, k: int = 8,
                            generator: torch.Generator | None = None, steps: int = 20,
                            variation: float = DEFAULT_VARIATION,
                            progress: Callable[[int, int], None] | None = None,
                            known: ChordGrid | None = None,
                            known_beats: np.ndarray | None = None) -> list[ChordGrid]:
    """``k`` independent chord grids for the song of ``plan``, drawn as one batch (one net
    call per step for all of them: on the CPU a batch of 8 costs about 3 single draws), as
    :func:`sample_chords` draws one.  For a caller that chooses among them (composer/harmonise.py
    keeps per phrase the one that fits a given melody).  known + known_beats: chords every
    candidate keeps exactly, as :func:`sample_chords` keeps them (regenerating a range under
    a melody: ``Composer.regenerate(keep_melody=True)``)."""
    if k < 1:
        raise ComposerError(f"the chord level draws at least 1 candidate, not {k}")
    return _sample(level, plan, beats_per_bar, generator, steps, "dpm++2m", 1.0, known, known_beats, progress,
                   True, variation, True, batch=int(k))


def _sample(level: ChordLevel, plan: FormPlan, beats_per_bar: int, generator: torch.Generator | None,
            steps: int, sampler: str, guidance: float, known: ChordGrid | None,
            known_beats: np.ndarray | None, progress: Callable[[int, int], None] | None, project: bool,
            variation: float, repeat: bool, batch: int) -> list[ChordGrid]:
    """The sampler of :func:`sample_chords` for ``batch`` songs at once (batch 1 draws the
    same numbers as it always did, so a seed's chords did not move)."""
    if not 1 <= beats_per_bar <= SLOTS_PER_BAR:
        raise ComposerError(f"the chord level handles 1 to {SLOTS_PER_BAR} beats per bar, not {beats_per_bar}")
    n = plan.n_bars
    tonic = np.asarray(plan.key_tonic)
    cond = torch.from_numpy(chord_condition(plan))[None]
    valid = torch.ones(1, 1, n)
    shape = (batch, CHORD_CHANNELS, SLOTS_PER_BAR * n)
    known_x = -torch.ones((1, *shape[1:]))
    mask = torch.zeros((1, *shape[1:]), dtype=torch.bool)
    if known is not None and known_beats is not None and np.any(known_beats):
        if known.n_beats != n * beats_per_bar or len(known_beats) != known.n_beats:
            raise ComposerError(f"known chords cover {known.n_beats} beats, the form {n * beats_per_bar}")
        known_x = torch.from_numpy(to_chord_array(known, tonic))[None]
        slot_known = np.zeros(SLOTS_PER_BAR * n, dtype=bool)
        for beat in np.nonzero(known_beats)[0]:
            bar, b = divmod(int(beat), beats_per_bar)
            slot_known[bar * SLOTS_PER_BAR + slot_of_beat(b, beats_per_bar)] = True
        mask[:, :, torch.from_numpy(slot_known)] = True
    repeats = phrase_repeats(plan.phrases) if repeat and variation > 0 else ()
    start = return_start(steps, variation)
    total = steps + (steps - start if repeats else 0)
    tick = step_counter(progress, total)

    def run(x: torch.Tensor, noise: torch.Tensor, known: torch.Tensor, mask: torch.Tensor,
            start: int) -> torch.Tensor:
        return _denoise(level, x, noise, known, mask, cond, valid, steps, start, sampler, guidance,
                        project, tick)

    noise = torch.randn(shape, generator=generator)
    x = run(noise.clone(), noise, known_x, mask, 0)
    if repeats:
        x = return_pass(x, known_x, mask, repeats, SLOTS_PER_BAR, steps, variation, generator, run)
    grids = [from_chord_array(one, tonic, beats_per_bar) for one in x.numpy()]
    if known is not None and known_beats is not None:
        # exact: the known beats are copied (decoding a known slot already gives them back,
        # this also covers beats that share a slot in meters other than 4/4)
        keep = np.asarray(known_beats, dtype=bool)
        grids = [ChordGrid(np.where(keep, known.root, grid.root).astype(np.int8),
                           np.where(keep, known.quality, grid.quality).astype(np.int8),
                           np.where(keep, known.bass, grid.bass).astype(np.int8), beats_per_bar)
                 for grid in grids]
    return grids


__all__ = ["ChordLevel", "sample_chords", "sample_chord_candidates", "chord_repeats", "DEFAULT_VARIATION"]
