"""Sampling the note level: a song's condition in, melody and accompaniment rolls out.

    level = NoteLevel.from_pretrained("models/notes")
    roll = sample_notes(level, ctx, generator=torch.Generator().manual_seed(0), steps=12)

Whole-song coherence, in two passes over the whole song (the net is fully convolutional,
so each pass is one batch of one sequence, no windows and no seams):

1. **Draft.**  Every bar is generated at once from the condition (chords, key, phrase type,
   place in the phrase).  Cadences and breaths between phrases come from the condition:
   the net knows how many steps are left in the phrase and learned from POP909 what
   melodies do there.
2. **Return.**  Every phrase whose label occurred before (the second ``A``, the last chorus)
   is re-generated from the *first* occurrence of its label: that material, copied onto the
   phrase's bars (cycled or cut when the lengths differ), is noised to time ``variation``
   (0 = copy exactly, 1 = ignore it) and denoised under the new phrase's own condition,
   with everything else held fixed by inpainting.  The partly noised copy keeps rhythm
   and contour; the remaining steps fit it to the new chords and the phrase's
   neighbours, which is how real songs vary a returning phrase.  (This is SDEdit,
   Meng et al. 2022, used as the "memory of earlier phrases" of Wang et al.)

Known positions (``known`` / ``mask``, for regeneration and user constraints) are kept
bit-exactly in both passes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from composer.diffusion.samplers import guided, run_sampler, step_counter
from composer.diffusion.schedule import alpha_sigma
from composer.io.checkpoint import build_model, check_arguments, load_weights, read_config
from composer.errors import ModelError
from composer.levels.returns import Repeat, phrase_repeats, return_pass, return_start
from composer.nets.notes import SCHEDULE, X_CHANNELS, NoteUNet, expand_mask
from composer.representation.note_context import CHORD_CHANNELS, NoteContext
from composer.representation.pianoroll import MELODY_RANGE, N_ROLL_PITCHES

DEFAULT_STEPS = 12
DEFAULT_VARIATION = 0.55
DEFAULT_GUIDANCE = (1.0, 5.0)
"""Classifier-free guidance on the chords, (melody, accompaniment).  First chosen on the
validation split when this level wrote the melody too (40 songs on real chords, 6000-step
model): no guidance gives OA mean 0.762 with the accompaniment too sparse and unsteady
(polyphony OA 0.631, groove OA 0.155); 2.5 on both gives 0.836 but pushes the melody's
chord-tone share 0.086 over the real songs'; (1, 3) 0.844, (1, 4) 0.851, (1, 6) 0.829.

Chosen again for the accompaniment under the melody level's melody (issue 19, item 4: the
melody above every accompaniment note within 0.07 of the real songs'), on 40 songs over the
validation forms against the 86 validation songs (real 0.589): accompaniment scale 2 / 3 / 4
/ 5 / 6 gives melody above 0.736 / 0.705 / 0.677 / 0.648 / 0.615, OA mean 0.877 / 0.891 /
0.862 / 0.858 / 0.841 (real against real 0.898), polyphony 3.51 / 3.87 / 4.15 / 4.37 / 4.55
(real 3.80).  The scale is a trade: a higher one gives the piano more notes, and some of them
above the melody, as real accompaniments have.  5 is the setting with the highest OA mean whose
melody-above figure is within 0.07 of real.  The melody is written before this level runs, so
no melody figure moves."""


class NoteLevel:
    """A note denoiser ready to sample (eval mode, CPU), with the :class:`Decoding` that
    turns its rolls into notes (kept in the checkpoint's config.json under "decoding")."""

    def __init__(self, model: NoteUNet, decoding: "Decoding | None" = None) -> None:
        self.model = model.eval()
        self.decoding = decoding if decoding is not None else Decoding()

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "NoteLevel":
        config = read_config(folder, kind="notes")
        if config.get("schedule", SCHEDULE) != SCHEDULE:
            raise ModelError(f"{folder}/config.json: the note net was trained with the "
                             f"{config['schedule']!r} noise schedule; this version samples {SCHEDULE!r} only")
        decoding = (Decoding(**check_arguments(Decoding, config["decoding"], f"{folder}/config.json"))
                    if "decoding" in config else None)
        return cls(load_weights(folder, build_model(NoteUNet, config.get("model"), folder)), decoding)


def repeats_of(ctx: NoteContext) -> tuple[Repeat, ...]:
    """The returning phrases of ``ctx``'s form (see :func:`phrase_repeats`)."""
    return phrase_repeats(ctx.phrases)


def guidance_scale(guidance: float | tuple[float, float]) -> float | torch.Tensor:
    """A guidance scale for the roll's channels: one float for all, or (melody, accompaniment)
    as a [1, X_CHANNELS, 1] tensor (channel = kind * N_ROLL_PITCHES + pitch index, the
    melody's pitches first)."""
    if isinstance(guidance, (int, float)):
        return float(guidance)
    melody, accompaniment = (float(g) for g in guidance)
    if melody == accompaniment:
        return melody
    per_pitch = torch.full((N_ROLL_PITCHES,), accompaniment)
    per_pitch[:MELODY_RANGE.n_pitches] = melody
    return per_pitch.repeat(X_CHANNELS // N_ROLL_PITCHES)[None, :, None]


def _run(level: NoteLevel, cond: torch.Tensor, x: torch.Tensor, noise: torch.Tensor,
         known: torch.Tensor, mask: torch.Tensor, steps: int, start_index: int,
         guidance: float | tuple[float, float], tick: Callable[[], None] | None) -> torch.Tensor:
    """The sampler loop from grid index ``start_index`` (x is the state at that time);
    ``mask`` [1, 2, L] is per step (melody, accompaniment), as the net takes it."""
    model = level.model
    mask_c = expand_mask(mask)
    known_in = known * mask_c
    uncond = None
    scale = guidance_scale(guidance)
    if not (isinstance(scale, float) and scale == 1.0):
        uncond = cond.clone()
        uncond[:, CHORD_CHANNELS] = 0

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        alpha, sigma = alpha_sigma(t)
        if uncond is None:
            return model(x, t, cond, known_in, mask, alpha, sigma)
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, uncond]),
                     torch.cat([known_in, known_in]), torch.cat([mask, mask]),
                     torch.cat([alpha, alpha]), torch.cat([sigma, sigma]))
        return guided(both[:1], both[1:], scale)

    with torch.no_grad():
        return run_sampler(denoise, x, steps, "dpm++2m", start_index, known, mask_c, noise, tick)


def sample_notes(level: NoteLevel, ctx: NoteContext, generator: torch.Generator,
                 steps: int = DEFAULT_STEPS, known: np.ndarray | None = None,
                 mask: np.ndarray | None = None, variation: float = DEFAULT_VARIATION,
                 guidance: float | tuple[float, float] = DEFAULT_GUIDANCE, repeat: bool = True,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Sample a whole song's roll under ``ctx``.

    known: optional float/bool ``[n_steps, 2, N_ROLL_PITCHES]`` roll (True/1 = on) whose
    positions with ``mask`` (float/bool ``[n_steps, 2]``: melody known, accompaniment known)
    are kept exactly; steps: solver steps of the draft pass (the return pass runs the last
    ``variation`` share of them, see the module docstring); variation: noise level
    the returning phrases restart from, in [0, 1] (0 = exact copies); guidance: classifier-free guidance scale
    on the chords, one for all or (melody, accompaniment) (1 = off, costs a second batch item
    when on); repeat: run the return pass;
    progress(i, n) after every network call.  Returns the raw roll float32
    ``[n_steps, 2, N_ROLL_PITCHES]`` in about [-1, 1] (> 0 = on; decode with
    :func:`decode_roll`).  The generator is the only randomness.
    """
    n = ctx.n_steps
    length = level.model.padded_length(n)
    feats = ctx.features()
    cond_np = np.zeros((length, feats.shape[1]), np.float32)
    cond_np[:n] = feats
    cond = torch.from_numpy(cond_np.T.copy())[None]
    known_t = -torch.ones(1, X_CHANNELS, length)
    mask_t = torch.zeros(1, 2, length)
    if known is not None and mask is not None:
        k = np.asarray(known, dtype=np.float32)
        if k.min() >= 0:
            k = k * 2 - 1
        known_t[0, :, :n] = torch.from_numpy(k.reshape(n, X_CHANNELS).T.copy())
        mask_t[0, :, :n] = torch.from_numpy(np.asarray(mask, dtype=np.float32).T.copy())
    # padding beyond the song is known silence, so the net never writes into it
    mask_t[0, :, n:] = 1
    repeats = repeats_of(ctx) if repeat else ()
    start = return_start(steps, variation) if repeats else steps - 1
    total = steps + (steps - start if repeats and variation > 0 else 0)
    tick = step_counter(progress, total)

    def run(x: torch.Tensor, noise: torch.Tensor, known: torch.Tensor, mask: torch.Tensor,
            start: int) -> torch.Tensor:
        return _run(level, cond, x, noise, known, mask, steps, start, guidance, tick)

    noise = torch.randn(1, X_CHANNELS, length, generator=generator)
    x = run(noise.clone(), noise, known_t, mask_t, 0)
    if repeats:
        x = return_pass(x, known_t, mask_t, repeats, ctx.steps_per_bar, steps, variation, generator,
                        run, expand_mask)
    return x[0, :, :n].T.reshape(n, 2, N_ROLL_PITCHES).numpy()


@dataclass(frozen=True)
class Decoding:
    """How a sampled roll becomes notes.

    melody_onset / piano_onset / melody_sustain / piano_sustain: thresholds on the raw roll
    values (about -1..1);
    max_piano_onsets: at most this many accompaniment onsets per 16th (the strongest).
    The melody keeps at most one onset per step (it is one voice).  The posterior head of
    the net makes sampled values saturate at -1 / +1, so thresholds at 0 are the natural
    choice (a checkpoint may override them in config.json under "decoding").
    """

    melody_onset: float = 0.0
    piano_onset: float = 0.0
    melody_sustain: float = 0.0
    piano_sustain: float = 0.0
    max_piano_onsets: int = 6


def decode_roll(roll: np.ndarray, decoding: Decoding = Decoding()) -> np.ndarray:
    """A raw sampled roll (float ``[n_steps, 2, N_ROLL_PITCHES]``) -> bool roll: a monophonic
    melody (at each step at most the strongest melody onset, if above its threshold) and an
    accompaniment of at most ``max_piano_onsets`` onsets per step above theirs."""
    roll = np.asarray(roll)
    m = MELODY_RANGE.n_pitches
    out = np.zeros(roll.shape, dtype=bool)
    out[:, 1, :m] = roll[:, 1, :m] > decoding.melody_sustain
    out[:, 1, m:] = roll[:, 1, m:] > decoding.piano_sustain
    onset = roll[:, 0, :m]
    best = np.argmax(onset, axis=1)
    on = onset[np.arange(len(onset)), best] > decoding.melody_onset
    out[np.nonzero(on)[0], 0, best[on]] = True
    piano = roll[:, 0, m:]
    k = max(0, min(decoding.max_piano_onsets, piano.shape[1]))
    if k:
        kth = -np.sort(-piano, axis=1)[:, k - 1:k]
        out[:, 0, m:] = (piano > decoding.piano_onset) & (piano >= kth)
    return out


__all__ = ["NoteLevel", "Repeat", "repeats_of", "sample_notes", "decode_roll", "Decoding", "DEFAULT_STEPS",
           "DEFAULT_VARIATION", "DEFAULT_GUIDANCE"]
