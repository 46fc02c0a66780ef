"""Groove MIDI Dataset -> the drum level's prepared set (``composer data groove``).

Groove MIDI (Gillick et al., ICML 2019; CC BY 4.0) is 1,150 performances by professional
drummers on a Roland TD-11 kit, recorded to a click, so bar 1 starts at tick 0 and the grid
of the click is the grid of the file.  Each performance becomes bars on the 16th grid:

* the TD-11's 22 pitches are folded into the nine General MIDI drums of
  :data:`composer.representation.drums.KIT` (the
  dataset paper's classes, written back with one GM pitch each);
* each hit goes to its nearest 16th; its offset from that 16th (a fraction of a 16th in
  [-0.5, 0.5)) and its velocity are kept; two hits of one drum on one 16th keep the louder;
* beats and fills stay apart (``beat_type``), as do the dataset's own splits (the test
  split is never read by training);
* meters the generator does not write (5/4, 5/8) are dropped and listed in the report.

Out folder: ``bars.npz`` (``velocity`` uint8 [n_bars, 16, 9], 0 = no hit; ``offset``
float16 [n_bars, 16, 9], fraction of a 16th, 0 where no hit), ``performances.json`` (one
entry per kept performance: id, drummer, style, bpm, beat_type, meter, steps_per_bar, split,
first_bar, n_bars), ``split.json`` (performance ids per split) and ``report.json``.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mido
import numpy as np

from composer.errors import DataError
from composer.io.atomic import atomic_dir
from composer.representation.drums import KIT, MAX_STEPS, N_DRUMS, PITCH_TO_DRUM

STEPS_PER_BAR = {"4-4": 16, "3-4": 12, "6-8": 12, "2-4": 8}
"""Sixteenths per bar of the meters kept (info.csv spells them 4-4)."""

SPLITS = {"train": "train", "validation": "valid", "test": "test"}
"""info.csv's split names -> the project's (as POP909's split.json)."""

BUILDER = "groove-1"
"""Written into report.json; a change of the code that changes the output bumps it."""


@dataclass(frozen=True)
class Performance:
    """One row of info.csv that was kept."""

    id: str
    drummer: str
    style: str
    bpm: float
    beat_type: str
    meter: str
    steps_per_bar: int
    split: str
    midi: str


@dataclass(frozen=True)
class GrooveReport:
    out: Path
    n_performances: int
    n_kept: int
    n_bars: int
    dropped: tuple[tuple[str, str], ...]
    seconds: float
    cached: bool


def drum_bars(path: str | os.PathLike, steps_per_bar: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The hits of a drum MIDI file on the 16th grid of its own resolution (ticks per beat).

    Returns velocity uint8 [n_bars, 16, N_DRUMS] (0 = no hit), offset float16 [n_bars, 16,
    N_DRUMS] (fraction of a 16th in [-0.5, 0.5)), and the number of hits whose pitch is not
    in :data:`KIT` (left out).  Bars are ``steps_per_bar`` 16ths from tick 0."""
    try:
        mid = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as err:
        raise DataError(f"cannot read {path}: {err}") from None
    step_ticks = mid.ticks_per_beat / 4.0
    hits: list[tuple[float, int, int]] = []
    unknown = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                drum = PITCH_TO_DRUM.get(msg.note)
                if drum is None:
                    unknown += 1
                else:
                    hits.append((tick / step_ticks, drum, msg.velocity))
    n_steps = max((int(np.floor(s + 0.5)) for s, _, _ in hits), default=-1) + 1
    n_bars = -(-n_steps // steps_per_bar)
    velocity = np.zeros((n_bars, MAX_STEPS, N_DRUMS), np.uint8)
    offset = np.zeros((n_bars, MAX_STEPS, N_DRUMS), np.float16)
    for s, drum, vel in hits:
        q = int(np.floor(s + 0.5))
        bar, pos = divmod(q, steps_per_bar)
        if vel > velocity[bar, pos, drum]:    # a flam or double on one 16th: the louder stays
            velocity[bar, pos, drum] = vel
            offset[bar, pos, drum] = s - q
    return velocity, offset, unknown


def read_info(root: Path) -> list[dict[str, str]]:
    path = root / "info.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}; --root must hold groove/info.csv") from None
    need = {"id", "drummer", "style", "bpm", "beat_type", "time_signature", "midi_filename", "split"}
    if not rows or not need <= set(rows[0]):
        raise DataError(f"{path} is not Groove MIDI's info.csv (columns {', '.join(sorted(need))})")
    return rows


def _groove_root(root: Path) -> Path:
    """``root`` itself or its ``groove/`` (the shared data folder, as `data pop909` takes)."""
    return root if (root / "info.csv").is_file() else root / "groove"


def cache_key(root: Path, rows: list[dict[str, str]]) -> str:
    h = hashlib.sha256(BUILDER.encode())
    h.update(Path(__file__).read_bytes())
    for r in rows:
        p = root / r["midi_filename"]
        st = p.stat() if p.is_file() else None
        h.update(f"{r['midi_filename']}|{r['split']}|{r['beat_type']}|{st and st.st_size}|"
                 f"{st and st.st_mtime_ns}".encode())
    return h.hexdigest()


def _read_report(out: Path) -> dict | None:
    try:
        return json.loads((out / "report.json").read_text())
    except (OSError, ValueError):
        return None


def build_groove(root: str | os.PathLike, out: str | os.PathLike, force: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> GrooveReport:
    """Build the prepared drum set from Groove MIDI under ``root`` (the folder holding
    ``groove/``, or ``groove/`` itself) into ``out`` (replaced atomically).  A second call
    with the same inputs and code returns at once (``cached``); a folder at ``out`` that this
    command did not write is never replaced."""
    t0 = time.perf_counter()
    root, out = _groove_root(Path(root)), Path(out)
    rows = read_info(root)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"{out} exists and is not a folder")
        previous = _read_report(out)
        ours = isinstance(previous, dict) and str(previous.get("builder", "")).startswith("groove")
        if not ours and any(out.iterdir()):
            raise DataError(f"{out} exists and is not a Groove MIDI build (no report.json written by "
                            "`composer data groove`); choose another --out or empty it yourself")
    key = cache_key(root, rows)
    previous = _read_report(out)
    if not force and isinstance(previous, dict) and previous.get("cache_key") == key:
        return GrooveReport(out, previous["n_performances"], previous["n_kept"], previous["n_bars"],
                            tuple(tuple(d) for d in previous["dropped"]), time.perf_counter() - t0, True)
    vel_parts, off_parts, perfs, dropped = [], [], [], []
    first = 0
    unknown_hits = 0
    for i, r in enumerate(rows):
        if progress is not None:
            progress(i, len(rows))
        meter = r["time_signature"]
        if meter not in STEPS_PER_BAR:
            dropped.append((r["id"], f"meter {meter.replace('-', '/')} is not on the drum level's grid"))
            continue
        if r["split"] not in SPLITS:
            dropped.append((r["id"], f"unknown split {r['split']!r}"))
            continue
        spb = STEPS_PER_BAR[meter]
        vel, off, unknown = drum_bars(root / r["midi_filename"], spb)
        unknown_hits += unknown
        if not len(vel):
            dropped.append((r["id"], "no drum hits"))
            continue
        vel_parts.append(vel)
        off_parts.append(off)
        perfs.append({"id": r["id"], "drummer": r["drummer"], "style": r["style"], "bpm": float(r["bpm"]),
                      "beat_type": r["beat_type"], "meter": meter.replace("-", "/"), "steps_per_bar": spb,
                      "split": SPLITS[r["split"]], "first_bar": first, "n_bars": len(vel)})
        first += len(vel)
    if progress is not None:
        progress(len(rows), len(rows))
    velocity = np.concatenate(vel_parts)
    offset = np.concatenate(off_parts)
    split = {s: [p["id"] for p in perfs if p["split"] == s] for s in ("train", "valid", "test")}
    report = {"builder": BUILDER, "cache_key": key, "n_performances": len(rows), "n_kept": len(perfs),
              "n_bars": int(len(velocity)), "dropped": dropped, "unknown_pitch_hits": unknown_hits,
              "kit": [{"name": n, "gm_pitch": p, "reads": list(ps)} for n, p, ps in KIT],
              "licence": "CC BY 4.0 (Groove MIDI Dataset, Gillick et al. 2019)",
              "bars_per_split": {s: int(sum(p["n_bars"] for p in perfs if p["split"] == s)) for s in split}}
    with atomic_dir(out) as tmp:
        np.savez_compressed(tmp / "bars.npz", velocity=velocity, offset=offset)
        (tmp / "performances.json").write_text(json.dumps(perfs, indent=1) + "\n")
        (tmp / "split.json").write_text(json.dumps(split, indent=1) + "\n")
        (tmp / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return GrooveReport(out, len(rows), len(perfs), int(len(velocity)), tuple(map(tuple, dropped)),
                        time.perf_counter() - t0, False)


@dataclass(frozen=True)
class GrooveSet:
    """A prepared set loaded: every bar, and the performances that own them."""

    velocity: np.ndarray        # uint8 [n_bars, 16, N_DRUMS]
    offset: np.ndarray          # float16 [n_bars, 16, N_DRUMS]
    performances: tuple[dict, ...]

    def split(self, name: str) -> tuple[dict, ...]:
        return tuple(p for p in self.performances if p["split"] == name)

    def bars_of(self, perf: dict) -> tuple[np.ndarray, np.ndarray]:
        a, n = perf["first_bar"], perf["n_bars"]
        return self.velocity[a:a + n], self.offset[a:a + n]


def is_groove_set(folder: str | os.PathLike) -> bool:
    report = _read_report(Path(folder))
    return isinstance(report, dict) and str(report.get("builder", "")).startswith("groove")


def load_groove(folder: str | os.PathLike) -> GrooveSet:
    """The prepared set written by :func:`build_groove`; DataError if ``folder`` is not one."""
    folder = Path(folder)
    if not is_groove_set(folder):
        raise DataError(f"{folder} is not a prepared Groove MIDI set; build one with "
                        "`composer data groove --root DATA --out DIR`")
    try:
        with np.load(folder / "bars.npz") as z:
            velocity, offset = z["velocity"], z["offset"]
        perfs = json.loads((folder / "performances.json").read_text())
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"cannot read the prepared set {folder}: {err}") from None
    return GrooveSet(velocity, offset, tuple(perfs))


__all__ = ["STEPS_PER_BAR", "drum_bars", "build_groove", "load_groove", "is_groove_set", "GrooveSet",
           "GrooveReport"]
