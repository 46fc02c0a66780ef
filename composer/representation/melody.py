"""The melody level's view of a song: one line on the 16th-note grid, one token per step.

A melody is ``int64 [n_steps]``, time-major, each step exactly one of:

* ``REST`` (0): no melody note sounds;
* ``HOLD`` (1): the note sounding at the previous step goes on;
* ``ONSET + k`` (2 + k): a note of pitch ``MELODY_RANGE.low + k`` starts here.

As the diffusion model sees it, the tokens are one-hot columns scaled to {-1, +1}: float32
``[N_MELODY_CLASSES, n_steps]`` (classes as channels for the 1-D convolutions).  Every
step is one categorical choice, so the sampler's clean estimate is a distribution over
the 50 classes and the melody is monophonic by construction: no "strongest onset" rule
and no sustain rows decided apart from their onsets (what made the joint roll's melody
a scatter of 16th notes).

Songs are transposed to C first (as the note level does, see
:func:`composer.representation.pianoroll.reference_shift`); pitches outside
``MELODY_RANGE`` are folded by octaves.  ``tokens_to_notes(notes_to_tokens(x)) == x`` for
any on-grid monophonic notes inside the range (tested).  A HOLD with nothing sounding
decodes as a rest.
"""
from __future__ import annotations

import numpy as np

from composer.representation.pianoroll import MELODY_RANGE

REST = 0
HOLD = 1
ONSET = 2
N_MELODY_CLASSES = ONSET + MELODY_RANGE.n_pitches
"""rest, hold and one onset per pitch of MELODY_RANGE (48): 50 classes."""


def notes_to_tokens(notes: np.ndarray, n_steps: int, shift: int = 0) -> np.ndarray:
    """Step notes ``int [n, 4]`` (start_step, duration_steps, pitch, velocity) -> tokens
    ``int64 [n_steps]``, every pitch moved by ``shift`` semitones and folded into
    MELODY_RANGE.  Overlapping notes are made one voice: a note ends where the next
    onset starts; of notes starting on one step the highest is kept (the sung line of a
    doubled melody)."""
    tokens = np.full(n_steps, REST, dtype=np.int64)
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 4)
    if not len(notes):
        return tokens
    notes = notes[np.lexsort((-notes[:, 2], notes[:, 0]))]
    _, first = np.unique(notes[:, 0], return_index=True)
    notes = notes[first]
    pitch = MELODY_RANGE.fold(notes[:, 2] + shift) - MELODY_RANGE.low
    ends = notes[:, 0] + np.maximum(1, notes[:, 1])
    ends[:-1] = np.minimum(ends[:-1], notes[1:, 0])      # the next onset cuts a note
    for start, end, k in zip(notes[:, 0].tolist(), ends.tolist(), pitch.tolist()):
        if start >= n_steps or start < 0:
            continue
        tokens[start] = ONSET + k
        tokens[start + 1:min(end, n_steps)] = HOLD
    return tokens


def tokens_to_notes(tokens: np.ndarray, shift: int = 0, velocity: int = 80) -> np.ndarray:
    """Tokens ``int [n_steps]`` -> step notes ``int32 [n, 4]`` (start_step,
    duration_steps, pitch - ``shift``, ``velocity``), sorted by start."""
    tokens = np.asarray(tokens, dtype=np.int64)
    starts = np.nonzero(tokens >= ONSET)[0]
    rows = []
    n = len(tokens)
    for s in starts.tolist():
        e = s + 1
        while e < n and tokens[e] == HOLD:
            e += 1
        rows.append((s, e - s, int(tokens[s]) - ONSET + MELODY_RANGE.low - shift, velocity))
    return np.asarray(rows, dtype=np.int32).reshape(-1, 4)


def tokens_to_onehot(tokens: np.ndarray) -> np.ndarray:
    """Tokens ``int [n_steps]`` -> float32 ``[N_MELODY_CLASSES, n_steps]`` in {-1, +1}."""
    tokens = np.asarray(tokens, dtype=np.int64)
    out = -np.ones((N_MELODY_CLASSES, len(tokens)), dtype=np.float32)
    out[tokens, np.arange(len(tokens))] = 1.0
    return out


def onehot_to_tokens(x: np.ndarray) -> np.ndarray:
    """float ``[N_MELODY_CLASSES, n_steps]`` (a sample or a clean estimate) -> tokens
    ``int64 [n_steps]``: the most likely class at each step."""
    return np.asarray(x).argmax(axis=0).astype(np.int64)


__all__ = ["REST", "HOLD", "ONSET", "N_MELODY_CLASSES", "notes_to_tokens", "tokens_to_notes",
           "tokens_to_onehot", "onehot_to_tokens"]
