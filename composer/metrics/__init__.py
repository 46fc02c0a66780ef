"""Objective metrics of songs, one module per job:

* :mod:`composer.metrics.view`: the Score as numpy arrays on the 16th-note grid
  (:class:`SongView`) and as a ``muspy.Music``, which every metric reads;
* :mod:`composer.metrics.song`: per-song metrics, pure functions ``Score -> float``, NaN
  where undefined, and :func:`song_metrics` (all of them from one conversion);
* :mod:`composer.metrics.sets`: measures of song sets: overlapping areas of pooled
  distributions (:func:`overlapping_area`) and copying of training melodies
  (:func:`longest_copied_runs`).

Every public name of the three is importable from ``composer.metrics``.
"""
from composer.metrics import sets, song, view
from composer.metrics.sets import *  # noqa: F401,F403  (each module's __all__ is its public API)
from composer.metrics.song import *  # noqa: F401,F403
from composer.metrics.view import *  # noqa: F401,F403

__all__ = view.__all__ + song.__all__ + sets.__all__
