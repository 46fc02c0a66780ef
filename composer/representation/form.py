"""The form level's tensor: a :class:`~composer.form.FormPlan` as an array, and back.

As a tensor (``to_form_array`` / ``from_form_array``) a plan is float32
``[FORM_CHANNELS, length]``, channels-first, one column per bar, every channel in {-1, +1}
for data (a "one-hot" is +1 at the hot index and -1 elsewhere):

====== ======================================================================
0..5   phrase type one-hot over PHRASE_TYPES (A, B, other melodic, intro, outro, other)
6      END: +1 on the bars after the song (the song ends where END starts)
7      phrase start: +1 on the first bar of each phrase
8..19  key tonic one-hot, pitch classes C..B
20     key mode: -1 major, +1 minor
====== ======================================================================

Bars after the song (END = +1) carry no type, no phrase start and the last bar's key, so a
constraint "the key is X" is the same on every column whatever the song's length.

``from_form_array`` reads phrases bar by bar, exact for data arrays; a sampled array is
decoded against what real forms look like by :mod:`composer.levels.form_decode`, which
builds its plan with :func:`song_length` and :func:`plan_from_segments`.
"""
from __future__ import annotations

import numpy as np

from composer.form import MAX_PHRASE_BARS, PHRASE_TYPES, FormPlan, Phrase, phrase_type_of

N_TYPES = len(PHRASE_TYPES)
END = 6
START = 7
TONIC = 8
MODE = 20
FORM_CHANNELS = 21

TYPE_LETTERS = ("A", "B", "C", "i", "o", "b")
"""The label letter written for each phrase type when a generated form is printed."""


def to_form_array(plan: FormPlan, length: int) -> np.ndarray:
    """float32 [FORM_CHANNELS, length] (length >= n_bars; longer songs are cut to ``length``)."""
    x = -np.ones((FORM_CHANNELS, length), dtype=np.float32)
    n = min(plan.n_bars, length)
    types = np.array([phrase_type_of(lab) for lab in plan.bar_labels()])[:n]
    x[types, np.arange(n)] = 1.0
    x[END, n:] = 1.0
    starts = plan.phrase_starts()
    x[START, starts[starts < n]] = 1.0
    tonic = np.array(plan.key_tonic + (plan.key_tonic[-1],) * max(0, length - plan.n_bars))[:length]
    mode = np.array(plan.key_mode + (plan.key_mode[-1],) * max(0, length - plan.n_bars))[:length]
    x[TONIC + tonic, np.arange(length)] = 1.0
    x[MODE] = np.where(mode > 0, 1.0, -1.0)
    return x


def song_length(x: np.ndarray, min_bars: int = 1) -> int:
    """Bars of the song in a float [FORM_CHANNELS, length] array: up to the first bar
    (>= ``min_bars``) whose END channel beats every type; ``length`` when there is none."""
    ends = np.nonzero(np.argmax(x[:END + 1], axis=0) == END)[0]
    ends = ends[ends >= max(1, min_bars)]
    return int(ends[0]) if len(ends) else x.shape[1]


def bar_letters(letters: tuple[str | None, ...] | None, n: int) -> tuple[str | None, ...]:
    """``letters`` (label letters to keep, None = free) cut or padded with None to ``n`` bars."""
    return tuple(letters or ())[:n] + (None,) * max(0, n - len(letters or ()))


def plan_from_segments(x: np.ndarray, segments: list[tuple[int, int, int]],
                       letters: tuple[str | None, ...],
                       keys: list[tuple[int, int]] | None = None) -> FormPlan:
    """The FormPlan of phrases ``segments`` (first bar, end bar, type index) of the array ``x``.

    A phrase takes the user's letter of its first bar (``letters``, per bar, None = free),
    else its type's letter (:data:`TYPE_LETTERS`), and its key from ``keys`` (tonic, mode per
    segment, e.g. decoded under a prior) or else its majority key (so keys change only at
    phrase starts).
    """
    phrases, tonic, mode = [], [], []
    for j, (a, b, t) in enumerate(segments):
        while a < b:  # pieces of at most MAX_PHRASE_BARS: never a phrase parse_form would refuse
            end = min(b, a + MAX_PHRASE_BARS)
            phrases.append(Phrase(letters[a] or TYPE_LETTERS[t], end - a))
            key_t, key_m = keys[j] if keys is not None else _key_of(x[:, a:end])
            tonic += [key_t] * (end - a)
            mode += [key_m] * (end - a)
            a = end
    return FormPlan(tuple(phrases), tuple(tonic), tuple(mode))


def _key_of(cols: np.ndarray) -> tuple[int, int]:
    tonic = int(np.bincount(np.argmax(cols[TONIC:TONIC + 12], axis=0), minlength=12).argmax())
    return tonic, int(cols[MODE].mean() > 0)


def from_form_array(x: np.ndarray, min_bars: int = 1, letters: tuple[str | None, ...] | None = None,
                    n_bars: int | None = None) -> FormPlan:
    """Inverse of :func:`to_form_array`: a float [FORM_CHANNELS, length] array -> FormPlan.

    The song ends where :func:`song_length` says (or after ``n_bars``, when given).  A
    phrase starts where the start channel is positive or the type changes and takes its
    majority type (exact for data arrays) and majority key.  ``letters`` (optional, per
    bar, None = free) are label letters to keep; a phrase also starts where they change.
    """
    x = np.asarray(x, dtype=np.float32)
    n = song_length(x, min_bars) if n_bars is None else n_bars
    fixed = bar_letters(letters, n)
    types = np.argmax(x[:N_TYPES, :n], axis=0)
    starts = [0] + [b for b in range(1, n) if x[START, b] > 0 or types[b] != types[b - 1]
                    or fixed[b] != fixed[b - 1]]
    bounds = starts + [n]
    segments = [(a, b, int(np.bincount(types[a:b], minlength=N_TYPES).argmax()))
                for a, b in zip(bounds[:-1], bounds[1:])]
    return plan_from_segments(x, segments, fixed)


__all__ = ["to_form_array", "from_form_array", "song_length", "bar_letters", "plan_from_segments",
           "FORM_CHANNELS", "N_TYPES", "END", "START", "TONIC", "MODE", "TYPE_LETTERS"]
