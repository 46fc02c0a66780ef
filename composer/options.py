"""A song's options: what a user may ask the cascade for, checked and parsed in this one place.

    options = read_options("i4A8?16o4", None, "A minor", None, "3/4", None, seed=1)
    options.form, options.key, options.meter          # PartialForm, (9, 1), Meter(3, 4)

:func:`read_options` checks every option before any work (one-line ComposerError on the first
bad one) and parses it once; the parsed form travels down to the cascade.  The limits it
applies (tempo, steps, seed) are those of :mod:`composer.limits`; the form notation and key
names are those of :mod:`composer.form`; the meters the cascade writes are here
(:data:`SUPPORTED_METERS`, :func:`parse_meter`), as is the tempo a song given none draws
(:data:`DRAWN_TEMPO_BPM`).  ``composer generate``, ``composer arrange``, a chord chart's song and
``Composer.compose`` all call :func:`read_options`; nothing else checks an option.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.errors import ComposerError, FormError
from composer.form import MAX_SONG_BARS, PartialForm, parse_key, parse_partial_form
from composer.grid import STEPS_PER_BEAT
from composer.limits import check_seed, check_steps, check_tempo


@dataclass(frozen=True)
class Meter:
    """A meter the cascade can write (``composer.pipeline`` and ``composer.harmonise`` read it): ``numerator/denominator`` with ``beats_per_bar``
    quarter-note beats per bar (4/4: 4, 3/4: 3, 6/8: 3)."""

    numerator: int
    denominator: int

    @property
    def beats_per_bar(self) -> int:
        return self.numerator * 4 // self.denominator

    @property
    def steps_per_bar(self) -> int:
        return self.beats_per_bar * STEPS_PER_BEAT

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


SUPPORTED_METERS = ("4/4", "3/4", "2/4", "6/8")

def parse_meter(text: str) -> Meter:
    """``"4/4"``, ``"3/4"``, ``"2/4"`` or ``"6/8"`` -> Meter; ComposerError otherwise."""
    if text.strip() not in SUPPORTED_METERS:
        raise ComposerError(f"unsupported meter {text!r}: choose one of {', '.join(SUPPORTED_METERS)}")
    num, den = text.strip().split("/")
    return Meter(int(num), int(den))


DRAWN_TEMPO_BPM = (70, 130)
"""The tempo of a song given none: drawn from these bpm (both included) by the song's seed
(:func:`draw_tempo`); ``generate --audio`` checks a song's length at the slowest of them."""


def draw_tempo(rng: np.random.Generator) -> float:
    """A tempo in :data:`DRAWN_TEMPO_BPM` from ``rng`` (one draw)."""
    return float(rng.integers(DRAWN_TEMPO_BPM[0], DRAWN_TEMPO_BPM[1] + 1))


@dataclass(frozen=True)
class Options:
    """A song's options, checked and parsed once (:func:`read_options`): ``form`` a parsed
    partial form or None; ``key`` (tonic 0..11, mode 0 major / 1 minor) or None; ``meter``
    a :class:`Meter`; the rest as the user gave them (None: the cascade's default)."""

    form: PartialForm | None
    bars: int | None
    key: tuple[int, int] | None
    tempo: float | None
    meter: Meter
    steps: int | None
    seed: int | None


def read_options(form: str | PartialForm | None, bars: int | None, key: str | tuple[int, int] | None,
                 tempo: float | None, meter: str | Meter, steps: int | None, *, seed: int | None = None) -> Options:
    """Check every user option before any work and parse it once; one-line ComposerError on
    the first bad one.  The limits (tempo, steps, seed) are those of :mod:`composer.limits`.
    ``form``, ``key`` and ``meter`` may be already parsed (a caller that read the options first
    passes :class:`Options`' fields down), and are then taken as they are."""
    if bars is not None and not 1 <= int(bars) <= MAX_SONG_BARS:
        raise FormError(f"--bars must be 1 to {MAX_SONG_BARS}, not {bars}")
    if isinstance(form, str):
        # str.isdigit() takes '²' (which int() refuses) and '８' or '٨' (which it reads as 8):
        # a form is ASCII, so anything else is refused here, pointing at it.
        odd = next((i for i, ch in enumerate(form) if not ch.isascii()), None)
        if odd is not None:
            raise FormError(f"bad form {form!r}: {form[odd]!r} at position {odd + 1} is not an ASCII "
                            "letter or digit; write phrases as letter + bars, e.g. 'i4A8B8A8o4'")
        form = parse_partial_form(form)
    parsed_key = parse_key(key) if isinstance(key, str) else _parsed_key(key)
    if tempo is not None:
        check_tempo(tempo)
    if steps is not None:
        check_steps(steps)
    if seed is not None:
        check_seed(seed)
    return Options(form, bars, parsed_key, tempo, _parsed_meter(meter), steps, seed)


def _parsed_key(key: tuple[int, int] | None) -> tuple[int, int] | None:
    """A key already parsed (:class:`Options`' ``key``) as it is; ComposerError for anything else."""
    if key is not None and not (isinstance(key, tuple) and len(key) == 2 and key[0] in range(12) and key[1] in (0, 1)):
        raise ComposerError(f"a key is a name such as 'A minor' or a parsed (tonic 0..11, mode 0/1), not {key!r}")
    return key


def _parsed_meter(meter: str | Meter) -> Meter:
    """``meter`` parsed (:func:`parse_meter`), or a :class:`Meter` of the supported ones as it is."""
    if isinstance(meter, Meter):
        if str(meter) not in SUPPORTED_METERS:
            raise ComposerError(f"unsupported meter {str(meter)!r}: choose one of {', '.join(SUPPORTED_METERS)}")
        return meter
    return parse_meter(meter)


def check_options(form: str | PartialForm | None, bars: int | None, key: str | tuple[int, int] | None,
                  tempo: float | None, meter: str | Meter, steps: int | None, *,
                  seed: int | None = None) -> tuple[tuple[int, int] | None, Meter]:
    """(key, meter) of :func:`read_options`: the options checked, for callers that keep the rest."""
    options = read_options(form, bars, key, tempo, meter, steps, seed=seed)
    return options.key, options.meter


__all__ = ["Meter", "SUPPORTED_METERS", "parse_meter", "DRAWN_TEMPO_BPM", "draw_tempo", "Options",
           "read_options", "check_options"]
