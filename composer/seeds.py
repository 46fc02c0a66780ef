"""Every fixed seed and seed stride of the project, in one place.

Changing any of these changes the bytes a seed gives (sampling) or the weights a recipe
trains (training): the shipped models and the same-seed-same-bytes tests depend on them.
"""
from __future__ import annotations

import secrets

# ---- sampling
LEVEL_SEED_STRIDE = 7
"""Level i of a song with seed s draws from ``torch.Generator().manual_seed(s * 7 + i)``:
one independent stream per level, so adding a level (the melody came last) keeps the
streams, and the songs, of the levels before it."""



def random_seed() -> int:
    """The seed of a song asked for without one: 31 random bits (0 .. 2**31 - 1, within
    :data:`composer.limits.MAX_SEED`), printed or shown so that the song can be made again."""
    return int(secrets.randbits(31))


# ---- training
VALID_NOISE_OFFSET = 12345
"""Validation draws noise and times from ``config.seed + VALID_NOISE_OFFSET``: apart from the
weight initialisation's and the batches' streams, and the same at every evaluation."""
RANK_SEED_STRIDE = 1000
"""Worker ``rank`` draws its batches from ``seed + 1000 * rank``."""
RESUME_STEP_STRIDE = 7919
"""After a resume at ``step``, worker ``rank`` reseeds its batch stream with
``seed + 1000 * rank + 7919 * step`` (7919 is prime, so steps and ranks never collide)."""
VALID_BATCH_SEED = 1234
"""Validation batches of the form and chord levels (`training.batches.fixed_batches`)."""
VALID_CROP_SEED = 4321
"""Validation crops and masks of the note and melody levels: the same every evaluation, so
validation losses of one run compare."""
TOY_VALID_SEED = 99
"""Validation batches of the toy task the training-loop tests use."""

__all__ = ["LEVEL_SEED_STRIDE", "random_seed", "VALID_NOISE_OFFSET", "RANK_SEED_STRIDE", "RESUME_STEP_STRIDE",
           "VALID_BATCH_SEED", "VALID_CROP_SEED", "TOY_VALID_SEED"]
