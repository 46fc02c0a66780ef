"""Training task of the form level (``composer train form``).

Each training item is one song's form (annotator 1 or 2, both valid readings) with its keys,
as a [FORM_CHANNELS, FORM_LENGTH] array (see composer.representation.form), transposed to a
random key (all 12 equally; the form is key-free) and paired with a random constraint of the
kinds users give, so one net serves every request: nothing, a length, a key, a full form, a
partial form (random phrases known, the rest generated), and combinations of those.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from composer.data.example import SongExample, train_and_valid
from composer.diffusion.schedule import add_noise, diffusion_loss, sample_train_times
from composer.form import FormPlan, parse_form
from composer.levels.form_decode import estimate_phrase_prior
from composer.nets.form import FormDenoiser
from composer.representation.form import END, FORM_CHANNELS, MODE, START, TONIC, to_form_array
from composer.training.batches import fixed_batches, random_batches
from composer.training.loop import TrainConfig

FORM_LENGTH = 256
"""Bars per training column block (POP909: median 77 bars, 95th percentile 127, longest 282;
longer songs are cut, i.e. trained as the opening of a song that ends later)."""

DEFAULT_CONFIG = TrainConfig(steps=4000, batch_size=16, lr=1e-3, warmup=250, valid_every=500,
                             checkpoint_every=250, log_every=25, ema_decay=0.998, seed=0, num_threads=1)

MODEL_CONFIG = {"channels": FORM_CHANNELS, "width": 64, "n_attn": 4, "heads": 4, "kernel": 5}


def plan_of(example: SongExample, alt: bool = False) -> FormPlan:
    """The FormPlan of a prepared song (annotator 2's form when ``alt``)."""
    return FormPlan(parse_form(example.form_alt if alt else example.form),
                    tuple(int(k) for k in example.key_tonic), tuple(int(m) for m in example.key_mode))


@dataclass(frozen=True)
class FormBatch:
    """x0, known: float32 [B, FORM_CHANNELS, L]; mask: float32 0/1, same shape (1 = known)."""

    x0: torch.Tensor
    known: torch.Tensor
    mask: torch.Tensor


def random_constraint(x0: np.ndarray, n_bars: int, starts: np.ndarray, rng: torch.Generator) -> np.ndarray:
    """A random mask (bool [C, L]) of the kinds users give, for one song array ``x0``."""
    def u() -> float:
        return float(torch.rand((), generator=rng))

    length = x0.shape[1]
    mask = np.zeros_like(x0, dtype=bool)
    kind = u()
    length_known = u() < 0.4
    if kind < 0.25:                     # the whole form
        mask[:START + 1] = True
    elif kind < 0.6:                    # a partial form: some phrases known, the rest generated
        p = 0.2 + 0.6 * u()
        bounds = list(starts) + [n_bars]
        for a, b in zip(bounds[:-1], bounds[1:]):
            if u() < p:
                mask[:END + 1, a:b] = True
                mask[START, a:min(b + 1, length)] = True
            else:
                mask[END, a:b] = True   # a '?N' gap lies inside the song
        if u() < 0.5:
            length_known = True
    if length_known:
        mask[END] = True
        mask[:START + 1, n_bars:] = True
    if u() < 0.25:                      # the key
        mask[TONIC:MODE + 1] = True
    return mask


class FormTask:
    """TrainTask of the form level on a prepared dataset folder."""

    kind = "form"

    def __init__(self, data_dir: Path | None = None, train: list[SongExample] | None = None,
                 valid: list[SongExample] | None = None, model_config: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        train, valid = train_and_valid(data_dir, train, valid)
        self._model_config = dict(model_config or MODEL_CONFIG)
        self.train_items = self._items(train)
        # phrase lengths and type bigrams of the training forms (both annotators): the
        # decoder's prior (composer.levels.form_decode.segment_phrases)
        self.prior = estimate_phrase_prior([plan_of(ex, alt) for ex in train for alt in (False, True)])
        self.valid_items = self._items(valid)
        self.n_train_songs, self.n_valid_songs = len(train), len(valid)

    @staticmethod
    def _items(songs: list[SongExample]) -> list[tuple[np.ndarray, int, np.ndarray]]:
        items = []
        for ex in songs:
            for alt in (False, True):
                plan = plan_of(ex, alt)
                items.append((to_form_array(plan, FORM_LENGTH), min(plan.n_bars, FORM_LENGTH),
                              plan.phrase_starts()[plan.phrase_starts() < FORM_LENGTH]))
        return items

    def model_config(self) -> dict[str, Any]:
        return dict(self._model_config)

    def build_model(self) -> FormDenoiser:
        return FormDenoiser(**self._model_config)

    def _batch(self, items, idx, rng: torch.Generator) -> FormBatch:
        xs, masks = [], []
        for i in idx:
            x, n, starts = items[int(i)]
            shift = int(torch.randint(12, (), generator=rng))
            x = x.copy()
            x[TONIC:TONIC + 12] = np.roll(x[TONIC:TONIC + 12], shift, axis=0)
            xs.append(x)
            masks.append(random_constraint(x, n, starts, rng))
        x0 = torch.from_numpy(np.stack(xs))
        mask = torch.from_numpy(np.stack(masks)).float()
        return FormBatch(x0, x0 * mask - (1 - mask), mask)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[FormBatch]:
        return random_batches(self.train_items, batch_size, generator, self._batch)

    def valid_batches(self, batch_size: int) -> list[FormBatch]:
        return fixed_batches(self.valid_items, batch_size, self._batch)

    def loss(self, model, batch: FormBatch, generator: torch.Generator) -> torch.Tensor:
        b = batch.x0.shape[0]
        dev = batch.x0.device      # random draws on the generator's device, then to the batch's
        t = sample_train_times(b, generator).to(dev)
        noise = torch.randn(batch.x0.shape, generator=generator).to(dev)
        # The known part of x_t is the known data noised with this noise, as the sampler's
        # inpainting makes it at every step: add_noise already gives exactly that, since the
        # known values are the data's own.
        x_t = add_noise(batch.x0, noise, t)
        v = model(x_t, t, batch.known, batch.mask)
        return diffusion_loss(v, batch.x0, noise, t)

    def extra_config(self) -> dict[str, Any]:
        return {"data": {"prepared": str(self.data_dir) if self.data_dir else None,
                         "train_songs": self.n_train_songs, "valid_songs": self.n_valid_songs,
                         "items": "both annotators' forms per song, random transposition"},
                "form_length": FORM_LENGTH, "phrase_prior": self.prior.to_json()}


def make_task(data_dir: Path) -> FormTask:
    return FormTask(data_dir)
