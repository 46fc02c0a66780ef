"""One prepared training song, the contract between the data builders and the models.

A prepared dataset folder (written by ``composer data pop909``) holds::

    DIR/songs/<song_id>.npz    one SongExample each (SongExample.save / SongExample.load)
    DIR/split.json             {"train": [ids], "valid": [ids], "test": [ids]}
    DIR/report.json            kept / dropped songs with reasons, alignment figures

Time grid: bars start at step 0 of the song; a step is a 16th note (a quarter of a
quarter-note beat); a bar has ``beats_per_bar * 4`` steps.  Every per-bar or per-beat
array is time-major and covers exactly ``n_bars`` bars.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from composer.errors import DataError
from composer.io.atomic import atomic_path, read_regular_file
from composer.form import format_form, parse_form
from composer.score import (QUALITY_NAMES, RESOLUTION, ChordSymbol, KeySignature, Note, Score,
                            Section, TempoChange, TimeSignature, Track)
from composer.grid import STEPS_PER_BEAT
from composer.tracks import MELODY, PIANO

MODES = ("major", "minor")


@dataclass(frozen=True, eq=False)
class SongExample:
    """A song on the 16th-note grid, with its form, keys and chords.

    Fields (arrays are numpy, time-major):
      song_id:        e.g. ``"001"``.
      tempo_bpm:      the song's main quarter-note tempo, > 0.
      meter:          (numerator, denominator), e.g. (4, 4) or (3, 4).
      beats_per_bar:  quarter-note beats per bar (4 for 4/4, 3 for 3/4 and 6/8).
      n_bars:         number of bars; the form strings sum to exactly this.
      form:           phrase string of annotator 1, e.g. ``"i4A8B8o4"``.
      form_alt:       phrase string of annotator 2 (another valid reading, same length).
      key_tonic:      int8 [n_bars], pitch class 0..11 of each bar's key.
      key_mode:       int8 [n_bars], 0 = major, 1 = minor.
      chord_root:     int8 [n_bars * beats_per_bar], pitch class, -1 = no chord.
      chord_quality:  int8 [n_bars * beats_per_bar], index into QUALITY_NAMES, -1 = none.
      chord_bass:     int8 [n_bars * beats_per_bar], pitch class, -1 = no chord.
      melody:         int32 [n_notes, 4], columns (start_step, duration_steps, pitch, velocity).
      accompaniment:  int32 [n_notes, 4], same columns.
    """

    song_id: str
    tempo_bpm: float
    meter: tuple[int, int]
    beats_per_bar: int
    n_bars: int
    form: str
    form_alt: str
    key_tonic: np.ndarray
    key_mode: np.ndarray
    chord_root: np.ndarray
    chord_quality: np.ndarray
    chord_bass: np.ndarray
    melody: np.ndarray
    accompaniment: np.ndarray

    @property
    def steps_per_bar(self) -> int:
        return self.beats_per_bar * STEPS_PER_BEAT

    @property
    def n_beats(self) -> int:
        return self.n_bars * self.beats_per_bar

    def check(self) -> "SongExample":
        """Raise DataError if the arrays do not fit together; return self."""
        def fail(msg: str) -> None:
            raise DataError(f"song {self.song_id}: {msg}")
        for form in (self.form, self.form_alt):
            if sum(p.n_bars for p in parse_form(form)) != self.n_bars:
                fail(f"form {form!r} does not cover {self.n_bars} bars")
        for name in ("key_tonic", "key_mode"):
            if getattr(self, name).shape != (self.n_bars,):
                fail(f"{name} has shape {getattr(self, name).shape}, expected ({self.n_bars},)")
        for name in ("chord_root", "chord_quality", "chord_bass"):
            if getattr(self, name).shape != (self.n_beats,):
                fail(f"{name} has shape {getattr(self, name).shape}, expected ({self.n_beats},)")
        for name in ("melody", "accompaniment"):
            notes = getattr(self, name)
            if notes.ndim != 2 or notes.shape[1] != 4:
                fail(f"{name} must be [n, 4], got {notes.shape}")
            if len(notes) and (notes[:, 0].min() < 0 or notes[:, 1].min() < 1
                               or (notes[:, 0] + notes[:, 1]).max() > self.n_bars * self.steps_per_bar):
                fail(f"{name} has notes outside the song's {self.n_bars} bars")
        return self

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz atomically (temporary file, then rename)."""
        path = Path(path)
        arrays = {}
        for f in fields(self):
            value = getattr(self, f.name)
            arrays[f.name] = np.asarray(value)
        with atomic_path(path, suffix=".npz.tmp") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SongExample":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(
                    song_id=str(z["song_id"]),
                    tempo_bpm=float(z["tempo_bpm"]),
                    meter=(int(z["meter"][0]), int(z["meter"][1])),
                    beats_per_bar=int(z["beats_per_bar"]),
                    n_bars=int(z["n_bars"]),
                    form=str(z["form"]),
                    form_alt=str(z["form_alt"]),
                    key_tonic=z["key_tonic"].astype(np.int8),
                    key_mode=z["key_mode"].astype(np.int8),
                    chord_root=z["chord_root"].astype(np.int8),
                    chord_quality=z["chord_quality"].astype(np.int8),
                    chord_bass=z["chord_bass"].astype(np.int8),
                    melody=z["melody"].astype(np.int32).reshape(-1, 4),
                    accompaniment=z["accompaniment"].astype(np.int32).reshape(-1, 4),
                )
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"cannot read prepared song {path}: {err}") from None

    # ------------------------------------------------------------------ views
    def to_score(self, use_alt_form: bool = False) -> Score:
        """The song as a Score: tempo, meter, keys, sections, chords, tracks Melody + Piano."""
        res = RESOLUTION
        step = res // STEPS_PER_BEAT
        bar_ticks = self.steps_per_bar * step
        keys = []
        for bar in range(self.n_bars):
            tonic, mode = int(self.key_tonic[bar]), MODES[int(self.key_mode[bar])]
            if not keys or (keys[-1].tonic, keys[-1].mode) != (tonic, mode):
                keys.append(KeySignature(bar * bar_ticks, tonic, mode))
        sections, bar = [], 0
        counts: dict[str, int] = {}
        for phrase in parse_form(self.form_alt if use_alt_form else self.form):
            counts[phrase.label] = counts.get(phrase.label, 0) + 1
            sections.append(Section(bar, phrase.n_bars, phrase.label,
                                    f"{phrase.label}{counts[phrase.label]}"))
            bar += phrase.n_bars
        chords = []
        beat = 0
        while beat < self.n_beats:
            end = beat + 1
            key = (self.chord_root[beat], self.chord_quality[beat], self.chord_bass[beat])
            while end < self.n_beats and (self.chord_root[end], self.chord_quality[end],
                                          self.chord_bass[end]) == key:
                end += 1
            if key[0] >= 0 and key[1] >= 0:
                chords.append(ChordSymbol(beat * res, (end - beat) * res, int(key[0]),
                                          QUALITY_NAMES[int(key[1])], int(key[2] if key[2] >= 0 else key[0])))
            beat = end

        def notes(rows: np.ndarray) -> tuple[Note, ...]:
            return tuple(Note(int(s) * step, int(d) * step, int(p), int(v)) for s, d, p, v in rows)

        return Score(
            resolution=res,
            tempos=(TempoChange.from_bpm(0, self.tempo_bpm),),
            time_signatures=(TimeSignature(0, *self.meter),),
            key_signatures=tuple(keys),
            sections=tuple(sections),
            chords=tuple(chords),
            tracks=(Track(MELODY, 0, False, notes(self.melody)),
                    Track(PIANO, 0, False, notes(self.accompaniment))),
            title=self.song_id,
        )


def train_and_valid(prepared_dir: str | os.PathLike | None, train: list[SongExample] | None = None,
                    valid: list[SongExample] | None = None) -> tuple[list[SongExample], list[SongExample]]:
    """A training task's two splits: the songs given (tests pass them in), else those of the
    prepared folder."""
    return (train if train is not None else load_split(prepared_dir, "train"),
            valid if valid is not None else load_split(prepared_dir, "valid"))


def load_split(prepared_dir: str | os.PathLike, split: str) -> list[SongExample]:
    """All SongExamples of one split ("train", "valid" or "test") of a prepared folder."""
    root = Path(prepared_dir)
    split_file = root / "split.json"
    if not split_file.is_file():
        raise DataError(f"{root} is not a prepared dataset (no split.json); "
                        "build one with `composer data pop909 --root DATA --out DIR`")
    try:
        ids = json.loads(read_regular_file(split_file, MAX_SPLIT_BYTES, DataError, "a split.json"))
    except ValueError as err:
        raise DataError(f"cannot read {split_file}: {err}") from None
    if not isinstance(ids, dict) or not all(isinstance(v, list) for v in ids.values()):
        raise DataError(f"{split_file} is not a split file ({{\"train\": [ids], ...}}); rebuild it "
                        "with `composer data pop909`")
    if split not in ids:
        raise DataError(f"split {split!r} not in {split_file}; it has {sorted(ids)}")
    for song_id in ids[split]:
        # An id becomes a file name: "../../x" or "/etc/passwd" must not become a path.
        if not (isinstance(song_id, str) and _SONG_ID.fullmatch(song_id)):
            raise DataError(f"{split_file}: song id {song_id!r} in split {split!r} is not a plain name "
                            "(letters, digits, '_' and '-'); rebuild it with `composer data pop909`")
    return [SongExample.load(root / "songs" / f"{song_id}.npz") for song_id in ids[split]]


MAX_SPLIT_BYTES = 16 * 2**20
"""Largest split.json read (POP909's is 7 kB)."""
_SONG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", re.ASCII)


__all__ = ["SongExample", "load_split", "train_and_valid", "STEPS_PER_BEAT", "MODES", "format_form"]
