"""Stems: one audio file per track, with the mix's gain, so that they add up to the mix.

The one writer of ``composer render --stems`` and the app's stems zip (issue 24: each wrote its
own, with the ceiling restated and file names cleaned by two rules):

- **Names**: ``<index>_<track name>`` (:func:`stem_names`), the index two digits from 00 in
  the song's track order (so two tracks of one name get two files), every run of characters
  other than letters, digits, "_" and "-" one "_", none at either end ("Piano RH" ->
  ``01_Piano_RH``, "Lead (flute)" -> ``02_Lead_flute``, a name of symbols only -> ``track``),
  cut to 96 bytes of UTF-8 (a file name has at most 255).
- **Gain**: each stem gets the mix's gain plan (its loudness gain and limiter envelope,
  ``composer.mastering.GainPlan``), so the stems add up to the mix in a DAW.
- **Ceiling**: a stem whose peak would pass the mix's ceiling
  (``composer.mastering.DEFAULT_CEILING_DBFS``, -1 dBFS) on its own is turned down alone to
  it; only such a stem no longer adds up exactly.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from composer.audio import Audio
from composer.mastering import DEFAULT_CEILING_DBFS

if TYPE_CHECKING:
    from composer.mastering import GainPlan
    from composer.render.mix import Stem

STEM_NAME_BYTES = 96
"""The longest a stem's cleaned track name gets, in bytes of UTF-8."""


def stem_names(track_names: Sequence[str]) -> list[str]:
    """File-safe, unique stem names without suffix: ``<index>_<track name>`` (see the module)."""
    names = []
    for i, name in enumerate(track_names):
        clean = re.sub(r"[^\w-]+", "_", name).strip("_") or "track"
        clean = clean.encode()[:STEM_NAME_BYTES].decode("utf-8", "ignore")
        names.append(f"{i:02d}_{clean}")
    return names


def stem_paths(folder: str | os.PathLike, track_names: Sequence[str], suffix: str) -> list[Path]:
    """The files :func:`write_stems` writes for these tracks into ``folder`` (``suffix``:
    ".wav", ".flac", ".mp3"), for checking them before any rendering."""
    return [Path(folder) / f"{name}{suffix}" for name in stem_names(track_names)]


def mastered_stem(samples: np.ndarray, plan: GainPlan,
                  ceiling_dbfs: float = DEFAULT_CEILING_DBFS) -> np.ndarray:
    """A stem's samples [n, channels] with the mix's gain ``plan``, turned down alone only
    when its peak would pass ``ceiling_dbfs``."""
    out = samples * plan.gains(0, len(samples))[:, None]
    peak = float(np.abs(out).max(initial=0.0))
    ceiling = 10 ** (ceiling_dbfs / 20)
    return out * (ceiling / peak) if peak > ceiling else out


def write_stems(stems: Sequence[Stem], plan: GainPlan, folder: str | os.PathLike, suffix: str, *,
                bit_depth: int = 16, force: bool = False, written: list | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write ``stems`` (``Mixer.render_stems``) into the existing ``folder`` as
    :func:`stem_paths` names them, each through :func:`mastered_stem` (atomically, refusing
    to overwrite unless ``force``).  Each path goes into ``written`` as soon as it is written
    (``composer.io.atomic.all_or_nothing`` removes them if a later one fails);
    ``progress(i, n)`` before stem ``i`` of ``n``.  Returns the paths."""
    from composer.io.audio import write_audio  # noqa: PLC0415 - soundfile, only when writing

    paths = stem_paths(folder, [s.track_name for s in stems], suffix)
    for i, (stem, path) in enumerate(zip(stems, paths)):
        if progress is not None:
            progress(i, len(stems))
        samples = mastered_stem(stem.audio.samples, plan)
        write_audio(path, Audio(samples, stem.audio.sample_rate), bit_depth=bit_depth, force=force)
        if written is not None:
            written.append(path)
    return paths
