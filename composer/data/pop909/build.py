"""The whole prepared set: every song built (in worker processes), the split, report.json,
a cache key over code and inputs, and the folder replaced atomically."""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from composer.data.pop909.song import SongBuildResult, build_song
from composer.data.pop909.sources import SongSources, find_sources
from composer.errors import DataError
from composer.io.atomic import atomic_dir

BUILDER_VERSION = "pop909-v1"
"""Bumped by hand when the output format changes; the cache key also hashes the builder's code."""
SPLIT_SHARES = {"test": 1, "valid": 1}  # of 10 hash buckets; the rest is train
_COMPOSER = Path(__file__).resolve().parents[2]
BUILDER_CODE = (*sorted(Path(__file__).resolve().parent.glob("*.py")), _COMPOSER / "data" / "example.py",
                _COMPOSER / "io" / "midi.py", _COMPOSER / "pitch.py")
"""The code a build's output depends on beyond the score types: this package, the SongExample
format, the MIDI reader and the pitch-name table."""

Progress = Callable[[int, int], None]


def song_split(song_id: str) -> str:
    """Deterministic split of a song id: bucket = sha256(id) mod 10; 0 -> test, 1 -> valid,
    2..9 -> train (80/10/10 in expectation, stable when songs are added or dropped)."""
    bucket = int(hashlib.sha256(song_id.encode()).hexdigest(), 16) % 10
    if bucket < SPLIT_SHARES["test"]:
        return "test"
    if bucket < SPLIT_SHARES["test"] + SPLIT_SHARES["valid"]:
        return "valid"
    return "train"


def make_split(song_ids: Iterable[str]) -> dict:
    out = {"train": [], "valid": [], "test": []}
    for sid in sorted(song_ids):
        out[song_split(sid)].append(sid)
    return out


def cache_key(sources: Sequence[SongSources]) -> str:
    """Hash of the builder's code, the output format and every input file's size and mtime."""
    h = hashlib.sha256()
    h.update(BUILDER_VERSION.encode())
    for module in BUILDER_CODE:
        h.update(module.read_bytes())
    for src in sources:
        h.update(f"{src.song_id}{src.meter}".encode())
        for f in src.files() + ([src.cl_midi] if src.cl_midi else []):
            try:
                st = f.stat()
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                h.update(f"{f.name}:missing".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class BuildReport:
    """Summary of a build (also written, with per-song rows, to report.json)."""

    out: Path
    n_songs: int
    n_kept: int
    dropped: tuple[tuple[str, str], ...]
    medians: dict
    seconds: float
    cached: bool


def build_pop909(root: str | os.PathLike, out: str | os.PathLike, workers: int = 2, force: bool = False,
                 song_ids: Sequence[str] | None = None, progress: Progress | None = None) -> BuildReport:
    """Build the prepared POP909 set into ``out`` (songs/, split.json, report.json).

    The build goes to a temporary folder beside ``out`` and is renamed into place, so a
    reader never sees a half-built set.  If ``out`` already holds a build with the same
    cache key (code + inputs), nothing is done unless ``force``.  ``out`` must be absent,
    empty or an earlier build of this command (its report.json says so), else DataError:
    ``force`` rebuilds a build, it never deletes a folder that is not one.
    """
    t0 = time.perf_counter()
    root, out = Path(root), Path(out)
    _check_out(out)
    sources = find_sources(root, song_ids)
    if not sources:
        raise DataError(f"no POP909 songs found under {root}")
    key = cache_key(sources)
    if not force:
        previous = _up_to_date(out, key)
        if previous is not None:
            return BuildReport(out, previous["n_songs"], previous["n_kept"],
                               tuple((d["song_id"], d["reason"]) for d in previous["dropped"]),
                               previous["medians"], time.perf_counter() - t0, True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        songs_dir = tmp / "songs"
        songs_dir.mkdir()
        results = _build_songs(sources, songs_dir, workers, progress)
        kept = [r for r in results if r.kept]
        dropped = [r for r in results if not r.kept]
        split = make_split(r.song_id for r in kept)
        medians = _medians(kept)
        seconds = time.perf_counter() - t0
        report = {
            "builder": BUILDER_VERSION, "cache_key": key, "root": str(root),
            "n_songs": len(results), "n_kept": len(kept), "n_dropped": len(dropped),
            "split_sizes": {k: len(v) for k, v in split.items()},
            "medians": medians, "build_seconds": round(seconds, 1),
            "dropped": [{"song_id": r.song_id, "reason": r.reason} for r in dropped],
            "songs": [asdict(r) for r in results],
        }
        (tmp / "split.json").write_text(json.dumps(split, indent=1) + "\n")
        (tmp / "report.json").write_text(json.dumps(_no_nan(report), indent=1, allow_nan=False) + "\n")
    return BuildReport(out, len(results), len(kept), tuple((r.song_id, r.reason) for r in dropped),
                       medians, seconds, False)


def _build_one(args: tuple[SongSources, str]) -> SongBuildResult:
    """Build a song and save it into the songs folder if kept (run in a worker process)."""
    src, songs_dir = args
    result, example = build_song(src)
    if example is not None:
        example.save(Path(songs_dir) / f"{src.song_id}.npz")
    return result


def _build_songs(sources: Sequence[SongSources], songs_dir: Path, workers: int,
                 progress: Progress | None) -> list[SongBuildResult]:
    """Every song's result, in the order of ``sources``; ``progress(done, total)`` after each."""
    jobs = [(s, str(songs_dir)) for s in sources]
    if workers <= 1:
        results = map(_build_one, jobs)
        return _with_progress(results, len(jobs), progress)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return _with_progress(pool.map(_build_one, jobs, chunksize=4), len(jobs), progress)


def _with_progress(results: Iterable[SongBuildResult], total: int,
                   progress: Progress | None) -> list[SongBuildResult]:
    out = []
    for result in results:
        out.append(result)
        if progress:
            progress(len(out), total)
    return out


def _median(values: Iterable[float]) -> float:
    vals = [v for v in values if v == v]
    return round(float(np.median(vals)), 4) if vals else float("nan")


def _medians(kept: Sequence[SongBuildResult]) -> dict:
    """The set's figures: medians over the kept songs (NaN rows left out)."""
    return {
        "melody_chord_tone": _median(r.melody_chord_tone for r in kept),
        "accomp_chord_tone": _median(r.accomp_chord_tone for r in kept),
        "melody_chord_tone_shifted_1_beat": _median(r.melody_chord_tone_shifted for r in kept),
        "accomp_chord_tone_shifted_1_beat": _median(r.accomp_chord_tone_shifted for r in kept),
        "melody_match": _median(r.melody_match for r in kept),
    }


def _read_report(out: Path) -> dict | None:
    """``out``'s report.json parsed, None if it is absent or unreadable."""
    try:
        return json.loads((out / "report.json").read_text())
    except (OSError, ValueError):
        return None


def _is_build(report) -> bool:
    """Whether a parsed report.json is one this command wrote."""
    return isinstance(report, dict) and str(report.get("builder", "")).startswith("pop909")


def _check_out(out: Path) -> None:
    """Refuse an ``out`` that exists and is neither empty nor a build of this command: not
    even ``force`` replaces it, so a typo in --out cannot delete someone's folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    if not _is_build(_read_report(out)) and any(out.iterdir()):
        raise DataError(f"{out} exists and is not a POP909 build (no report.json written by "
                        "`composer data pop909`); choose another --out or empty it yourself")


def _up_to_date(out: Path, key: str) -> dict | None:
    """The report of the build in ``out`` if it was made with cache key ``key``, else None."""
    previous = _read_report(out)
    if _is_build(previous) and previous.get("cache_key") == key and (out / "split.json").is_file():
        return previous
    return None


def _no_nan(value):
    """The report as strict JSON: NaN (a figure that is undefined for a song) -> null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


__all__ = ["BUILDER_VERSION", "BuildReport", "build_pop909", "cache_key", "make_split", "song_split"]
