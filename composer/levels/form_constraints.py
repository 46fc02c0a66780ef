"""The form level's constraints: what the user gives, as known values and a mask to inpaint.

A full or partial form, a number of bars and a key become a ``known`` array in the layout
of :mod:`composer.representation.form` and a ``mask`` (True = known) per channel and bar;
the sampler inpaints them, so they come out exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.errors import FormError
from composer.form import PartialForm, Phrase, parse_partial_form, phrase_type_of
from composer.representation.form import END, FORM_CHANNELS, MODE, START, TONIC


@dataclass(frozen=True)
class FormConstraint:
    """Known values for inpainting the form: ``known`` float32 [FORM_CHANNELS, length] and
    ``mask`` bool of the same shape (True = known); ``n_bars`` is the song's length when it is
    fixed by the constraints, else None."""

    known: np.ndarray
    mask: np.ndarray
    n_bars: int | None


def form_constraints(length: int, form: str | PartialForm | None = None, bars: int | None = None,
                     key: tuple[int, int] | None = None) -> FormConstraint:
    """Build the inpainting constraint for a form of ``length`` columns.

    form: full or partial form string (see :func:`parse_partial_form`); bars: the song's
    length in bars; key: (tonic, mode) for the whole song.  Everything is optional; what is
    given is kept exactly.  Raises FormError if they contradict each other.
    """
    partial = parse_partial_form(form) if isinstance(form, str) else form
    known = -np.ones((FORM_CHANNELS, length), dtype=np.float32)
    mask = np.zeros((FORM_CHANNELS, length), dtype=bool)
    n_bars = bars
    if bars is not None and not 1 <= bars <= length:
        raise FormError(f"a song has 1 to {length} bars here, not {bars}")
    if partial is not None:
        covered = partial.n_bars
        if not partial.open_end:
            if bars is not None and bars != covered and partial.is_complete:
                raise FormError(f"the form covers {covered} bars but --bars says {bars}; "
                                "drop one, or end the form with '*' or a '?N' gap")
            if bars is not None and bars < covered:
                raise FormError(f"the form covers {covered} bars but --bars says {bars}")
            if bars is None:
                n_bars = covered
        elif bars is not None and bars < covered:
            raise FormError(f"the form already covers {covered} bars but --bars says {bars}")
        if covered > length:
            raise FormError(f"the form covers {covered} bars; at most {length} are supported")
        bar = 0
        for part in partial.parts:
            if isinstance(part, Phrase):
                cols = slice(bar, bar + part.n_bars)
                mask[:END + 1, cols] = True
                mask[START, cols] = True
                known[phrase_type_of(part.label), cols] = 1.0
                known[START, bar] = 1.0
            else:
                mask[END, bar:bar + part.n_bars] = True
            bar += part.n_bars
        # A gap or the open end begins right after a known phrase: a phrase starts there.
        bar = 0
        for idx, part in enumerate(partial.parts):
            nxt = bar + part.n_bars
            if isinstance(part, Phrase) and nxt < length and (
                    idx + 1 < len(partial.parts) or partial.open_end):
                mask[START, nxt] = True
                known[START, nxt] = 1.0
            bar = nxt
    if n_bars is not None:
        mask[END, :] = True
        known[END, n_bars:] = 1.0
        # after the end everything is fixed by convention except the key (the last bar's)
        mask[:END, n_bars:] = True
        mask[START, n_bars:] = True
        known[START, n_bars:] = -1.0
    if key is not None:
        tonic, mode = key
        mask[TONIC:MODE + 1, :] = True
        known[TONIC:TONIC + 12, :] = -1.0
        known[TONIC + tonic, :] = 1.0
        known[MODE, :] = 1.0 if mode else -1.0
    return FormConstraint(known, mask, n_bars)


__all__ = ["FormConstraint", "form_constraints"]
