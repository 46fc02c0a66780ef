"""Where a song's input files are: POP909, its HSA release and (optionally) POP909-CL under
one data root (docs/DATA.md), and each song's meter from POP909's ``index.xlsx``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from composer.errors import DataError

HSA_FILES = ("finalized_chord.txt", "melody.txt", "human_label1.txt", "human_label2.txt",
             "analyzed_key.txt")


@dataclass(frozen=True)
class SongSources:
    """Paths of one song's input files."""

    song_id: str
    midi: Path
    chord_midi: Path
    key_audio: Path
    hsa_dir: Path
    meter: tuple[int, int]  # index.xlsx (num_beats_per_measure, num_quavers_per_beat)
    cl_midi: Path | None = None  # POP909-CL/POP909_processed/NNN.mid (key changes), optional

    def files(self) -> list[Path]:
        """The files a song needs (``cl_midi`` is optional and not listed)."""
        return [self.midi, self.chord_midi, self.key_audio, *(self.hsa_dir / n for n in HSA_FILES)]


def read_meters(index_xlsx: Path) -> dict:
    """song id -> (num_beats_per_measure, num_quavers_per_beat) from POP909's index.xlsx."""
    try:
        import openpyxl
        wb = openpyxl.load_workbook(index_xlsx, read_only=True)
        rows = list(wb.active.iter_rows(values_only=True))
    except Exception as err:  # openpyxl raises many types for bad files
        raise DataError(f"cannot read {index_xlsx}: {err}") from None
    head = [str(h) for h in rows[0]]
    try:
        i_id, i_b, i_q = (head.index(n) for n in ("song_id", "num_beats_per_measure", "num_quavers_per_beat"))
    except ValueError:
        raise DataError(f"{index_xlsx} lacks song_id / num_beats_per_measure / num_quavers_per_beat") from None
    out = {}
    for row in rows[1:]:
        if row[i_id] is None:
            continue
        out[f"{int(row[i_id]):03d}"] = (int(row[i_b]), int(row[i_q]))
    return out


def find_sources(root: Path, song_ids: Sequence[str] | None = None) -> list[SongSources]:
    """The songs under a data root holding ``POP909-Dataset/`` and
    ``hierarchical-structure-analysis/`` (see docs/DATA.md).  Raises DataError if absent."""
    pop = root / "POP909-Dataset" / "POP909"
    hsa = root / "hierarchical-structure-analysis" / "POP909"
    for d in (pop, hsa):
        if not d.is_dir():
            raise DataError(f"{d} not found: --root must be the folder holding POP909-Dataset/ "
                            "and hierarchical-structure-analysis/")
    meters = read_meters(pop / "index.xlsx")
    ids = sorted(d.name for d in pop.iterdir() if d.is_dir() and d.name.isdigit())
    if song_ids is not None:
        wanted = set(song_ids)
        ids = [i for i in ids if i in wanted]
    cl = root / "POP909-CL" / "POP909_processed"
    return [SongSources(i, pop / i / f"{i}.mid", pop / i / "chord_midi.txt", pop / i / "key_audio.txt",
                        hsa / i, meters.get(i, (0, 0)),
                        cl / f"{i}.mid" if (cl / f"{i}.mid").is_file() else None) for i in ids]


__all__ = ["SongSources", "find_sources", "read_meters"]
