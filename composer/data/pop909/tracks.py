"""The original POP909 MIDI file (``POP909/NNN/NNN.mid``) as the build uses it: note rows of
its MELODY, PIANO and BRIDGE tracks and its tempo map, read by :mod:`composer.io.midi`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from composer.errors import DataError, MidiError
from composer.io.midi import read_midi
from composer.score import RESOLUTION, Score, TempoChange

MELODY_TRACK = "MELODY"
ACCOMPANIMENT_TRACKS = ("PIANO", "BRIDGE")  # BRIDGE (a secondary melody) is absent in some songs
DEFAULT_US_PER_QUARTER = 500_000  # MIDI's tempo before the first tempo event (120 bpm)


@dataclass(frozen=True, eq=False)
class PlayedSong:
    """A POP909 MIDI file at 480 ticks per quarter (the few files written at 960 are rounded
    to the nearest tick).

    melody:        int64 [n, 4] (start_tick, end_tick, pitch, velocity) of MELODY, sorted.
    accompaniment: the same for PIANO, then BRIDGE (each sorted).
    tempos:        the tempo changes, sorted, the first at tick 0."""

    melody: np.ndarray
    accompaniment: np.ndarray
    tempos: tuple[TempoChange, ...]

    @property
    def onset_ticks(self) -> np.ndarray:
        """int64: every onset, melody first."""
        return np.concatenate([self.melody[:, 0], self.accompaniment[:, 0]])


def read_played_song(path: Path) -> PlayedSong:
    """Read a POP909 MIDI file; DataError (a drop reason) if it cannot be read or lacks a
    MELODY or PIANO track."""
    try:
        score = read_midi(path)
    except MidiError as err:
        raise DataError(str(err)) from None
    names = {t.name for t in score.tracks}
    if MELODY_TRACK not in names or ACCOMPANIMENT_TRACKS[0] not in names:
        raise DataError("MIDI file lacks a MELODY or PIANO track")
    accompaniment = [note_rows(score, name) for name in ACCOMPANIMENT_TRACKS]
    return PlayedSong(note_rows(score, MELODY_TRACK), np.concatenate(accompaniment), tempo_map(score))


def _at_480(ticks: np.ndarray, resolution: int) -> np.ndarray:
    """Ticks at ``resolution`` -> the nearest tick at 480 per quarter."""
    if resolution == RESOLUTION:
        return ticks
    return (ticks * RESOLUTION + resolution // 2) // resolution


def note_rows(score: Score, track_name: str) -> np.ndarray:
    """int64 [n, 4] (start_tick, end_tick, pitch, velocity) at 480 PPQ of the track named
    ``track_name`` (none: no rows), sorted by start, end, pitch, velocity."""
    notes = [n for t in score.tracks if t.name == track_name for n in t.notes]
    rows = np.array([(n.start_tick, n.end_tick, n.pitch, n.velocity) for n in notes],
                    dtype=np.int64).reshape(-1, 4)
    # The end is rescaled on its own (not start + rescaled duration), so a note ends on
    # the tick its note-off is nearest to.
    rows[:, :2] = _at_480(rows[:, :2], score.resolution)
    return rows[np.lexsort(rows.T[::-1])]


def tempo_map(score: Score) -> tuple[TempoChange, ...]:
    """The file's tempo changes at 480 PPQ, repeats removed, with MIDI's 120 bpm from tick 0
    where the file sets no tempo there."""
    res = score.resolution
    tempos = sorted({TempoChange(int(_at_480(np.int64(t.tick), res)), t.us_per_quarter)
                     for t in score.tempos})
    if not tempos or tempos[0].tick > 0:
        tempos.insert(0, TempoChange(0, DEFAULT_US_PER_QUARTER))
    return tuple(tempos)


def main_tempo_bpm(tempos: Sequence[TempoChange], end_tick: int) -> float:
    """The song's main tempo: the median bpm weighted by how long each tempo lasts up to
    ``end_tick``, rounded to 0.01 (the first tempo if none lasts)."""
    ticks = [t.tick for t in tempos] + [max(end_tick, tempos[-1].tick + 1)]
    spans = np.diff(ticks).clip(min=0).astype(float)
    bpm = np.array([t.bpm for t in tempos])
    if spans.sum() <= 0:
        return float(bpm[0])
    order = np.argsort(bpm)
    cum = np.cumsum(spans[order])
    return float(round(bpm[order][np.searchsorted(cum, cum[-1] / 2)], 2))


__all__ = ["ACCOMPANIMENT_TRACKS", "MELODY_TRACK", "PlayedSong", "main_tempo_bpm", "note_rows",
           "read_played_song", "tempo_map"]
