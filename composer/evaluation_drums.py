"""``composer eval GENERATED --reference .prepared/groove@test``: the drum measures.

When the reference is a split of a prepared Groove MIDI set (``composer data groove``),
``composer eval`` judges drum parts instead of songs: the measures of
:mod:`composer.metrics.drums`, generated beside real, each with its gap to real in percent
(the target is within 10%).  GENERATED is a folder of MIDI files or one file (its drum
tracks, sections from its markers), or another Groove split (a real-vs-real baseline).  The
OA rows of the generated column are OA(generated, reference); given ``--train`` (another
real split), the reference column of an OA row is OA(train, reference), the real-vs-real
ceiling the generated OA is held to.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from composer.errors import DataError
from composer.io.atomic import atomic_path
from composer.levels.drums import drum_meter, song_sections
from composer.metrics.drums import DrumMeasures, DrumPiece, drum_measures, onset_position_oa, velocity_oa
from composer.representation.drums import bars_from_track
from composer.score import Score, Track
from composer.tracks import DRUMS

MIN_FILL_HITS = 4
"""A fill file's bars with fewer hits are its lead-in or landing, not the fill (as training)."""

ROWS = (
    ("hits_per_bar", "hits per bar (groove bars)"),
    ("onset_oa", "OA onset position per drum"),
    ("groove_consistency", "groove consistency within sections"),
    ("fill_density_ratio", "fill density, phrase end / other bars"),
    ("crash_on_section_starts", "crash on section starts"),
    ("kick_on_beat_1", "kick on beat 1"),
    ("velocity_oa", "velocity OA"),
)


def is_groove_spec(spec: str) -> bool:
    """Whether ``spec`` names a split of a prepared Groove MIDI set (``DIR@SPLIT``)."""
    from composer.data.groove import is_groove_set
    if "@" not in spec or Path(spec).exists():
        return False
    return is_groove_set(spec.rsplit("@", 1)[0])


def groove_pieces(spec: str, styles: Sequence[str] | None = None) -> list[DrumPiece]:
    """The pieces of one split of a prepared Groove MIDI set: a beat performance is one
    section (its first bar a section start), a fill performance its fill bars, each a phrase
    end.  styles: only the performances of these styles (the first part of Groove's "funk/groove1")."""
    from composer.data.groove import load_groove
    folder, split = spec.rsplit("@", 1)
    if split not in ("train", "valid", "test"):
        raise DataError(f"{spec}: unknown split {split!r}; choose train, valid or test")
    data = load_groove(folder)
    pieces = []
    for p in data.split(split):
        if styles is not None and p["style"].split("/")[0] not in styles:
            continue
        vel, _ = data.bars_of(p)
        if p["beat_type"] == "fill":
            vel = vel[(vel > 0).sum(axis=(1, 2)) >= MIN_FILL_HITS]
            if len(vel):
                pieces.append(DrumPiece(vel, p["steps_per_bar"], (), np.ones(len(vel), bool), ()))
        else:
            pieces.append(DrumPiece(vel, p["steps_per_bar"], ((0, len(vel)),), np.zeros(len(vel), bool), (0,)))
    if not pieces:
        raise DataError(f"split {split!r} of {folder} holds no performances")
    return pieces


def song_piece(score: Score) -> DrumPiece | None:
    """A song's drum part as a piece (its drum tracks together), None if it has none."""
    drums = [t for t in score.tracks if t.is_drum and t.notes]
    if not drums:
        return None
    _, spb, bar_ticks = drum_meter(score)
    n_bars = -(-score.end_tick // bar_ticks)
    merged = Track(DRUMS, 0, True, tuple(n for t in drums for n in t.notes))
    vel, _ = bars_from_track(merged, score.resolution, spb, n_bars)
    sections = song_sections(score, n_bars, bar_ticks)
    ends = np.zeros(n_bars, bool)
    for s, nxt in zip(sections, sections[1:]):
        if s.n_bars >= 2:
            ends[s.start_bar + s.n_bars - 1] = True
    return DrumPiece(vel, spb, tuple((s.start_bar, s.n_bars) for s in sections), ends,
                     tuple(s.start_bar for s in sections))


def load_pieces(spec: str, progress: Callable | None = None) -> tuple[list[DrumPiece], int]:
    """(pieces, songs without drums) of a song set or a Groove split."""
    if is_groove_spec(spec):
        return groove_pieces(spec), 0
    from composer.evaluation import load_songs
    songs = load_songs(spec, progress)
    pieces = [song_piece(s) for s in songs.scores]
    kept = [p for p in pieces if p is not None]
    if not kept:
        raise DataError(f"{spec}: none of its {len(pieces)} songs has a drum track")
    return kept, len(pieces) - len(kept)


@dataclass(frozen=True)
class DrumRow:
    name: str
    label: str
    generated: float
    reference: float

    @property
    def gap(self) -> float:
        """|generated - reference| / reference (NaN where undefined)."""
        if not (math.isfinite(self.generated) and math.isfinite(self.reference)) or self.reference == 0:
            return float("nan")
        return abs(self.generated - self.reference) / abs(self.reference)


@dataclass(frozen=True)
class DrumReport:
    generated: str
    reference: str
    train: str | None
    n_generated: int
    n_without_drums: int
    n_reference: int
    rows: tuple[DrumRow, ...]

    def format_table(self, markdown: bool = False) -> str:
        head = ("measure", "generated", "real", "gap")
        lines = []
        body = [(r.label, _fmt(r.generated), _fmt(r.reference),
                 "n/a" if math.isnan(r.gap) else f"{100 * r.gap:.1f}%") for r in self.rows]
        if markdown:
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|---|---:|---:|---:|")
            lines += ["| " + " | ".join(b) + " |" for b in body]
        else:
            w = max(len(b[0]) for b in body)
            lines.append(f"{head[0]:<{w}}  {head[1]:>9}  {head[2]:>9}  {head[3]:>7}")
            lines += [f"{b[0]:<{w}}  {b[1]:>9}  {b[2]:>9}  {b[3]:>7}" for b in body]
        lines.append(f"drum parts: {self.n_generated} generated ({self.n_without_drums} songs without drums "
                     f"left out) against {self.n_reference} real ({self.reference})"
                     + (f"; OA ceilings from {self.train}" if self.train else ""))
        return "\n".join(lines)

    def write_json(self, path: str | Path) -> None:
        data = {"generated": self.generated, "reference": self.reference, "train": self.train,
                "n_generated": self.n_generated, "n_without_drums": self.n_without_drums,
                "n_reference": self.n_reference,
                "rows": [{"name": r.name, "label": r.label, "generated": _num(r.generated),
                          "reference": _num(r.reference), "gap": _num(r.gap)} for r in self.rows]}
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3f}"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def evaluate_drums(generated: str, reference: str, train: str | None = None,
                   progress: Callable | None = None) -> DrumReport:
    gen, n_without = load_pieces(generated, progress)
    ref, _ = load_pieces(reference, progress)
    g, r = drum_measures(gen), drum_measures(ref)
    t: DrumMeasures | None = drum_measures(load_pieces(train, progress)[0]) if train else None
    nan = float("nan")
    rows = (
        DrumRow("hits_per_bar", ROWS[0][1], g.hits_per_bar, r.hits_per_bar),
        DrumRow("onset_oa", ROWS[1][1], onset_position_oa(g, r), onset_position_oa(t, r) if t else nan),
        DrumRow("groove_consistency", ROWS[2][1], g.groove_consistency, r.groove_consistency),
        DrumRow("fill_density_ratio", ROWS[3][1], g.fill_density_ratio, r.fill_density_ratio),
        DrumRow("crash_on_section_starts", ROWS[4][1], g.crash_on_section_starts, r.crash_on_section_starts),
        DrumRow("kick_on_beat_1", ROWS[5][1], g.kick_on_beat_1, r.kick_on_beat_1),
        DrumRow("velocity_oa", ROWS[6][1], velocity_oa(g, r), velocity_oa(t, r) if t else nan),
    )
    return DrumReport(generated, reference, train, len(gen), n_without, len(ref), rows)


__all__ = ["is_groove_spec", "groove_pieces", "song_piece", "load_pieces", "evaluate_drums", "DrumReport",
           "DrumRow"]
