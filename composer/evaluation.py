"""``composer eval``: load song sets, compute every metric, one table and a JSON file.

A song set is named by a string (:func:`load_songs`):

* ``FOLDER``: every ``*.mid`` / ``*.midi`` file under the folder (recursively, sorted by
  path), read with :func:`composer.io.midi.read_midi` (sections from marker events, chords
  from the chord events our writer emits);
* ``FILE.mid``: one MIDI file;
* ``PREPARED_DIR@SPLIT``: one split (``train``, ``valid``, ``test``) of a dataset prepared
  by ``composer data pop909``, e.g. ``.prepared/pop909@test``.

:func:`evaluate` compares a generated set with a reference set (and, given a training
set, checks for copying) and returns an :class:`EvalReport`: one :class:`MetricRow` per
metric with a generated and a reference column.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from composer.errors import DataError
from composer.io.atomic import atomic_path
from composer.metrics.sets import (DISTRIBUTIONS, HEADLINE_DISTRIBUTIONS, HISTOGRAM_BINS,
                                   longest_runs_from_codes, melody_bar_codes, overlapping_area)
from composer.metrics.song import METRICS, SONG_METRICS, MetricInfo, SongMetrics, song_metrics
from composer.score import Score

COPY_RUN_BARS = 4
"""A generated song counts as copying when it repeats this many training bars in a row."""

REPORT_VERSION = 1

# The song-level rows come from composer.metrics.song.METRICS (a metric added there reaches
# this table without a line here); these are the set-level rows: (name, the row they follow
# or None for the end of the table, (group, label, what it means)).  An OA row follows the
# figures of its group.
SET_ROWS: tuple[tuple[str, str | None, tuple[str, str, str]], ...] = (
    ("oa_melody_duration", "melody_above_accompaniment",
     ("Melody", "OA melody duration",
      "OA of melody note lengths (bins 1,2,3,4,5-6,7-8,9-12,13-16,17+ 16ths)")),
    ("oa_melody_pitch", "oa_melody_duration",
     ("Melody", "OA melody pitch",
      "OA of melody pitches, one bin per semitone (sees a tune in the wrong octave)")),
    ("oa_melody_interval", "melody_span_phrase",
     ("Line", "OA melodic interval",
      "OA of the signed intervals, one bin per semitone (sees a line that leaps)")),
    ("oa_phrase_length", "form_same_length_share",
     ("Form", "OA phrase length", "OA of section lengths in bars")),
    ("oa_label_bigram", "form_melodic_labels",
     ("Form", "OA label bigram", "OA of successive section-label pairs")),
    ("oa_key_change", "key_changes",
     ("Form", "OA key change",
      "OA of key moves (tonic interval, mode before and after)")),
    *((f"oa_{name}", None, ("Distributions (OA)", f"OA {name.replace('_', ' ')}",
                            "overlapping area of the generated and reference histograms"))
      for name in HEADLINE_DISTRIBUTIONS),
    ("oa_mean", None,
     ("Distributions (OA)", "OA mean (headline)",
      "mean of the OA rows of this group "
      "(not the melody, line and form OA rows)")),
    ("copy_longest_run_mean", None,
     ("Copying", "longest copied run, mean (bars)",
      "per song: longest run of bars whose melody is a training run")),
    ("copy_longest_run_max", None,
     ("Copying", "longest copied run, max (bars)", "over all songs")),
    ("copy_share_run_ge4", None,
     ("Copying", f"songs with a run >= {COPY_RUN_BARS} bars",
      f"share of songs repeating >= {COPY_RUN_BARS} training bars")),
)


def table_rows(metrics: dict[str, MetricInfo],
               set_rows: Sequence[tuple[str, str | None, tuple[str, str, str]]]) -> dict[str, tuple[str, str, str]]:
    """name -> (group, label, description) of every row, in the table's order: each per-song
    metric of ``metrics`` in its order, each set-level row right after the row it follows,
    the rows that follow none at the end."""
    rows: dict[str, tuple[str, str, str]] = {}

    def place_after(anchor: str | None) -> None:
        for name, after, row in set_rows:
            if after == anchor and name not in rows:
                rows[name] = row
                place_after(name)

    for name, info in metrics.items():
        rows[name] = (info.group, info.label, info.description)
        place_after(name)
    place_after(None)
    return rows


ROWS: dict[str, tuple[str, str, str]] = table_rows(METRICS, SET_ROWS)
"""name -> (group, label in the table, what it means).  Order is the table's order."""


# ---------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class SongSet:
    """A loaded song set: ``source`` as the user named it, the songs and their names."""

    source: str
    scores: tuple[Score, ...]
    names: tuple[str, ...]


def _midi_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".mid", ".midi"))


def load_songs(spec: str, progress: Callable | None = None) -> SongSet:
    """Load the song set named by ``spec`` (see the module docstring).

    ``progress`` wraps the iterable of files/songs (e.g. ``tqdm``); None = silent.
    Raises :class:`DataError` for a missing path, an empty folder, an unknown split, or a
    prepared folder named without ``@SPLIT``; a bad MIDI file raises ``MidiError``."""
    wrap = progress or (lambda it, **_: it)
    path = Path(spec)
    if not path.exists() and "@" in spec:
        folder, split = spec.rsplit("@", 1)
        from composer.data.example import load_split
        if not Path(folder).is_dir():
            raise DataError(f"prepared dataset folder {folder} does not exist "
                            f"(from {spec!r}); build it with `composer data pop909`")
        examples = load_split(folder, split)
        if not examples:
            raise DataError(f"split {split!r} of {folder} holds no songs")
        scores = tuple(ex.to_score() for ex in wrap(examples, desc=f"loading {spec}"))
        return SongSet(spec, scores, tuple(ex.song_id for ex in examples))
    if not path.exists():
        raise DataError(f"{spec} does not exist; give a folder of MIDI files, a MIDI file, "
                        "or a prepared split as DIR@SPLIT (e.g. .prepared/pop909@test)")
    if path.is_dir():
        if (path / "split.json").is_file():
            splits = sorted(json.loads((path / "split.json").read_text()))
            raise DataError(f"{spec} is a prepared dataset; name a split as {spec}@SPLIT "
                            f"with SPLIT one of {splits}")
        files = _midi_files(path)
        if not files:
            raise DataError(f"{spec} holds no .mid or .midi files")
    else:
        files = [path]
    from composer.io.midi import read_midi  # imported here: only MIDI sets need it
    scores = tuple(read_midi(f) for f in wrap(files, desc=f"reading {spec}"))
    names = tuple(str(f.relative_to(path)) if path.is_dir() else f.name for f in files)
    return SongSet(spec, scores, names)


# ---------------------------------------------------------------------------- report
@dataclass(frozen=True)
class MetricRow:
    """One row of the table.  ``generated`` / ``reference`` are the means over the songs
    where the metric is defined (``n_*`` of them) for per-song metrics; for OA rows,
    ``generated`` is OA(generated, reference) and ``reference`` OA between the two halves
    (even / odd songs) of the reference set, its own ceiling; copying rows have no
    reference figure (NaN)."""

    name: str
    group: str
    label: str
    description: str
    generated: float
    reference: float
    n_generated: int
    n_reference: int


@dataclass(frozen=True)
class EvalReport:
    """Everything ``composer eval`` prints and writes."""

    generated: str
    reference: str
    train: str | None
    n_generated: int
    n_reference: int
    n_train: int
    rows: tuple[MetricRow, ...]
    seconds: float
    song_names: tuple[str, ...] = ()
    song_values: tuple[tuple[float, ...], ...] = ()
    longest_runs: tuple[int, ...] = ()

    def row(self, name: str) -> MetricRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def format_table(self) -> str:
        """The table as plain text: a header, then each group with its rows."""
        width = max(len(r.label) for r in self.rows) + 2
        head = f"{'metric':<{width}}{'generated':>11}{'reference':>11}"
        lines = [f"generated: {self.generated} ({self.n_generated} songs)",
                 f"reference: {self.reference} ({self.n_reference} songs)"]
        if self.train is not None:
            lines.append(f"train:     {self.train} ({self.n_train} songs)")
        lines += ["", head, "-" * len(head)]
        group = None
        for r in self.rows:
            if r.group != group:
                group = r.group
                lines.append(group)
            lines.append(f"  {r.label:<{width - 2}}{_fmt(r.generated):>11}{_fmt(r.reference):>11}")
        return "\n".join(lines)

    def format_markdown(self) -> str:
        """The table as a Markdown table (for the README)."""
        lines = ["| group | metric | generated | reference |", "|---|---|---:|---:|"]
        for r in self.rows:
            lines.append(f"| {r.group} | {r.label} | {_fmt(r.generated)} | {_fmt(r.reference)} |")
        return "\n".join(lines)

    def to_json(self) -> str:
        """JSON text; NaN becomes null."""
        data = {
            "version": REPORT_VERSION,
            "generated": {"source": self.generated, "n_songs": self.n_generated},
            "reference": {"source": self.reference, "n_songs": self.n_reference},
            "train": None if self.train is None else {"source": self.train, "n_songs": self.n_train},
            "seconds": round(self.seconds, 3),
            "metrics": [{"name": r.name, "group": r.group, "label": r.label,
                         "description": r.description, "generated": _num(r.generated),
                         "reference": _num(r.reference), "n_generated": r.n_generated,
                         "n_reference": r.n_reference} for r in self.rows],
            "songs": [{"name": name, **{m: _num(v) for m, v in zip(SONG_METRICS, values)},
                       **({"longest_copied_run": run} if self.longest_runs else {})}
                      for name, values, run in zip(self.song_names, self.song_values,
                                                   self.longest_runs or [None] * len(self.song_names))],
        }
        return json.dumps(data, indent=2) + "\n"

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`to_json` atomically (temporary file, then rename)."""
        with atomic_path(path, suffix=".json") as tmp:
            tmp.write_text(self.to_json())


def _fmt(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


# ---------------------------------------------------------------------------- evaluate
def _mean_defined(values: np.ndarray) -> tuple[float, int]:
    ok = ~np.isnan(values)
    return (float(values[ok].mean()) if ok.any() else math.nan), int(ok.sum())


def _pooled(metrics: Sequence[SongMetrics], name: str) -> np.ndarray:
    arrays = [getattr(m.features, name) for m in metrics]
    return np.concatenate(arrays).astype(np.float64) if arrays else np.zeros(0)


def evaluate(generated: Sequence[Score], reference: Sequence[Score],
             train: Sequence[Score] | None = None, *, generated_source: str = "generated",
             reference_source: str = "reference", train_source: str | None = None,
             song_names: Sequence[str] = (), progress: Callable | None = None) -> EvalReport:
    """Compare ``generated`` songs with ``reference`` songs; with ``train``, check copying.

    Per-song metrics are averaged over the songs where they are defined; distributions
    are pooled over each set and compared by OA (:func:`composer.metrics.sets.overlapping_area`);
    copying compares each generated song's melody with every training song's.  Raises
    :class:`DataError` when ``generated`` or ``reference`` is empty."""
    if not generated:
        raise DataError("no generated songs to evaluate")
    if not reference:
        raise DataError("no reference songs to compare with")
    wrap = progress or (lambda it, **_: it)
    start = time.perf_counter()
    gen = [song_metrics(s) for s in wrap(generated, desc="generated")]
    ref = [song_metrics(s) for s in wrap(reference, desc="reference")]
    gen_values = np.array([m.values for m in gen], np.float64)
    ref_values = np.array([m.values for m in ref], np.float64)
    found: dict[str, MetricRow] = {}

    def add(name: str, g: float, r: float, ng: int, nr: int) -> None:
        group, label, description = ROWS[name]
        found[name] = MetricRow(name, group, label, description, g, r, ng, nr)

    for i, name in enumerate(SONG_METRICS):
        add(name, *_pairs(_mean_defined(gen_values[:, i]), _mean_defined(ref_values[:, i])))
    ref_a, ref_b = ref[0::2], ref[1::2]
    headline_g, headline_r = [], []
    for name in DISTRIBUTIONS:
        bins = HISTOGRAM_BINS[name]
        g = overlapping_area(_pooled(gen, name), _pooled(ref, name), bins)
        r = overlapping_area(_pooled(ref_a, name), _pooled(ref_b, name), bins)
        if name in HEADLINE_DISTRIBUTIONS:
            headline_g.append(g)
            headline_r.append(r)
        add(f"oa_{name}", g, r, len(gen), len(ref))
    add("oa_mean", _nanmean(headline_g), _nanmean(headline_r), len(gen), len(ref))
    runs: tuple[int, ...] = ()
    if train is not None:
        if not train:
            raise DataError("the training set holds no songs")
        train_codes = [melody_bar_codes(s) for s in wrap(train, desc="train")]
        longest = longest_runs_from_codes([m.bar_codes for m in gen], train_codes)
        runs = tuple(int(x) for x in longest)
        # the reference songs against the same training songs: the copying that real songs show
        ref_longest = longest_runs_from_codes([m.bar_codes for m in ref], train_codes)
        add("copy_longest_run_mean", float(longest.mean()), float(ref_longest.mean()), len(gen), len(ref))
        add("copy_longest_run_max", float(longest.max()), float(ref_longest.max()), len(gen), len(ref))
        add("copy_share_run_ge4", float((longest >= COPY_RUN_BARS).mean()),
            float((ref_longest >= COPY_RUN_BARS).mean()), len(gen), len(ref))
    # The table's order is ROWS', which puts each OA row beside the figures of its group.
    rows = [found[name] for name in ROWS if name in found]
    return EvalReport(
        generated=generated_source, reference=reference_source, train=train_source,
        n_generated=len(generated), n_reference=len(reference),
        n_train=len(train) if train is not None else 0, rows=tuple(rows),
        seconds=time.perf_counter() - start,
        song_names=tuple(song_names) or tuple(f"song {i}" for i in range(len(generated))),
        song_values=tuple(tuple(float(v) for v in m.values) for m in gen),
        longest_runs=runs)


def _pairs(g: tuple[float, int], r: tuple[float, int]) -> tuple[float, float, int, int]:
    return g[0], r[0], g[1], r[1]


def _nanmean(values: list[float]) -> float:
    arr = np.array(values, np.float64)
    return float(np.nanmean(arr)) if (~np.isnan(arr)).any() else math.nan


def evaluate_sets(generated: SongSet, reference: SongSet, train: SongSet | None = None,
                  progress: Callable | None = None) -> EvalReport:
    """:func:`evaluate` on loaded :class:`SongSet` objects, keeping their names."""
    return evaluate(generated.scores, reference.scores, None if train is None else train.scores,
                    generated_source=generated.source, reference_source=reference.source,
                    train_source=None if train is None else train.source,
                    song_names=generated.names, progress=progress)


__all__ = ["SongSet", "load_songs", "MetricRow", "EvalReport", "evaluate", "evaluate_sets",
           "ROWS", "COPY_RUN_BARS"]
