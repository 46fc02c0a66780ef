"""The text files of POP909 and its HSA release, line by line: chord lines
(``finalized_chord.txt``), key names (``key_audio.txt``, ``analyzed_key.txt``), the melody
(``melody.txt``) and the MIDI chord roots (``chord_midi.txt``).  Pure parsers: a malformed
line raises :class:`~composer.errors.DataError`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from composer.errors import DataError
from composer.pitch import pitch_class_of
from composer.score import CHORD_QUALITIES, QUALITY_NAMES

_DEGREE = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 2, 11: 5, 13: 9}
_CHORD_LINE = re.compile(r"^\s*(\S.*?)\s*\[([^\]]*)\]\s*(.*?)\s*$")
_EXTENSION_BASE = {"maj9": "maj7", "maj11": "maj7", "maj13": "maj7", "9": "7", "11": "7", "13": "7",
                   "min9": "min7", "min11": "min7", "min13": "min7", "": "maj"}


def read_lines(path: Path) -> list[str]:
    """The lines of a text file (undecodable bytes replaced); DataError if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from None


def read_one_line(path: Path) -> str:
    """A one-line file (a phrase label, ``analyzed_key.txt``) as one stripped string."""
    return "".join(read_lines(path)).strip()


def parse_note_name(name: str) -> int:
    """``"C"`` -> 0, ``"F#"`` -> 6, ``"Db"`` -> 1, ``"Cb"`` -> 11.  Raises DataError."""
    name = name.strip()
    pc = pitch_class_of(name[:1], name[1:])
    if pc is None:
        raise DataError(f"not a note name: {name!r}")
    return pc


def degree_interval(degree: str) -> int:
    """Harte bass degree (``"3"``, ``"b7"``, ``"#4"``) -> semitones above the root, 0..11."""
    m = re.fullmatch(r"([b#]*)(\d+)", degree.strip())
    if not m or int(m.group(2)) not in _DEGREE:
        raise DataError(f"not a chord degree: {degree!r}")
    shift = m.group(1).count("#") - m.group(1).count("b")
    return (_DEGREE[int(m.group(2))] + shift) % 12


def quality_from_intervals(intervals: Iterable[int]) -> int:
    """Index into QUALITY_NAMES of the chord vocabulary entry that best covers ``intervals``.

    ``intervals`` are semitones above the root (0..11).  An exact match wins; otherwise the
    largest vocabulary chord whose intervals are all present (extensions such as 9ths,
    11ths and 13ths are dropped: ``maj9`` -> ``maj7``, ``min11`` -> ``min7``,
    ``sus4(b7,9)`` -> ``sus4(b7)``); ties go to the earlier, plainer quality.  -1 when no
    vocabulary chord fits (e.g. a bare fifth).
    """
    have = frozenset(i % 12 for i in intervals) | {0}
    best, best_size = -1, 0
    for index, name in enumerate(QUALITY_NAMES):
        ivs = frozenset(CHORD_QUALITIES[name])
        if ivs == have:
            return index
        if ivs <= have and len(ivs) > best_size:
            best, best_size = index, len(ivs)
    return best


def quality_from_name(text: str) -> int:
    """Harte quality text -> index into QUALITY_NAMES, -1 if it does not reduce to one.

    Extensions are dropped: ``maj(9)`` -> ``maj``, ``min7(11)`` -> ``min7``, ``maj9`` ->
    ``maj7``, ``13`` -> ``7``, ``sus4(b7,9)`` and the cut-off ``sus4(b7`` -> ``sus4(b7)``."""
    text = text.strip()
    if text in CHORD_QUALITIES:
        return QUALITY_NAMES.index(text)
    if text.startswith("sus4(b7"):
        return QUALITY_NAMES.index("sus4(b7)")
    base = text.split("(")[0]
    base = _EXTENSION_BASE.get(base, base)
    return QUALITY_NAMES.index(base) if base in CHORD_QUALITIES else -1


@dataclass(frozen=True)
class ChordEvent:
    """One line of ``finalized_chord.txt``: a chord lasting ``duration_beats`` quarter beats.

    ``root``/``bass`` are pitch classes and ``quality`` an index into QUALITY_NAMES; all
    three are -1 for "no chord" (``N``) or a chord outside the vocabulary."""

    root: int
    quality: int
    bass: int
    duration_beats: float


def parse_chord_line(line: str) -> ChordEvent | None:
    """Parse ``"B:maj7/3 [3, 6, 10, 11] 11 2"`` (name, chord tones, root, beats).

    Root, quality and bass degree come from the name (extensions dropped, see
    :func:`quality_from_name`): the listed tones are wrong for some qualities (every
    ``maj7`` lists a minor seventh, while the accompaniment plays the major seventh 128
    times as long, docs/DATA.md).  Only a name that reduces to no vocabulary chord is read
    from its tones (:func:`quality_from_intervals`).  ``N`` lines have no root field
    (``N [] 4``).
    Returns None for a blank line; raises DataError for a malformed one.
    """
    if not line.strip():
        return None
    m = _CHORD_LINE.match(line)
    if not m:
        raise DataError(f"bad chord line {line.strip()!r}: expected 'name [tones] root beats'")
    name, tones_text, rest = m.groups()
    numbers = rest.split()
    try:
        duration = float(numbers[-1])
        tones = [int(t) for t in tones_text.replace(",", " ").split()]
    except (IndexError, ValueError):
        raise DataError(f"bad chord line {line.strip()!r}: expected 'name [tones] root beats'") from None
    if not duration > 0:
        raise DataError(f"bad chord line {line.strip()!r}: duration must be positive")
    if name.startswith("N") or ":" not in name:
        return ChordEvent(-1, -1, -1, duration)
    root_name, _, quality_text = name.partition(":")
    root = parse_note_name(root_name)
    bass = root
    if "/" in quality_text:
        quality_text, _, degree = quality_text.rpartition("/")
        try:
            bass = (root + degree_interval(degree)) % 12
        except DataError:
            bass = root
    quality = quality_from_name(quality_text)
    if quality < 0:
        quality = quality_from_intervals((t - root) % 12 for t in tones)
    if quality < 0:
        return ChordEvent(-1, -1, -1, duration)
    return ChordEvent(root, quality, bass, duration)


def parse_chord_file(lines: Iterable[str]) -> list[ChordEvent]:
    """The chords of ``finalized_chord.txt``, blank lines skipped."""
    return [e for e in (parse_chord_line(line) for line in lines) if e]


def parse_label_key(text: str) -> tuple[int, int]:
    """A key as POP909's label files write it: ``"Gb:maj"`` -> (6, 0); ``"C#:min"`` -> (1, 1).
    (tonic pitch class, mode index into MODES).  Not a form-string key
    (:func:`composer.form.parse_key`)."""
    m = re.fullmatch(r"\s*([A-G][#b]*):(maj|min)\S*\s*", text)
    if not m:
        raise DataError(f"not a key: {text!r}")
    return parse_note_name(m.group(1)), 0 if m.group(2) == "maj" else 1


def parse_melody(lines: Iterable[str]) -> np.ndarray:
    """``melody.txt`` (``pitch duration_16ths`` per line, pitch 0 = rest) -> int32 [n, 3]
    rows (start_step, duration_steps, pitch) of the sounding notes, from step 0."""
    rows, step = [], 0
    for line in lines:
        if not line.strip():
            continue
        parts = line.split()
        try:
            pitch, dur = int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            raise DataError(f"bad melody line {line.strip()!r}: expected 'pitch duration'") from None
        if dur < 0 or not 0 <= pitch < 128:
            raise DataError(f"bad melody line {line.strip()!r}: pitch 0..127, duration >= 0")
        if pitch > 0 and dur > 0:
            rows.append((step, dur, pitch))
        step += dur
    return np.array(rows, dtype=np.int32).reshape(-1, 3)


def parse_midi_chord_roots(lines: Iterable[str], to_step: Callable[[float], int],
                           n_midi_steps: int) -> np.ndarray:
    """``chord_midi.txt`` (``start_s end_s Root:quality``) -> int64 [n_midi_steps]: the chord
    root at each MIDI step, -1 where none; ``to_step`` places seconds on the MIDI steps.
    Unreadable lines are skipped: the roots only steer the alignment."""
    roots = np.full(n_midi_steps, -1, np.int64)
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            s0, s1 = to_step(float(parts[0])), to_step(float(parts[1]))
            root = -1 if parts[2].startswith("N") else parse_note_name(parts[2].split(":")[0])
        except (ValueError, DataError):
            continue
        roots[max(s0, 0):max(min(s1, n_midi_steps), 0)] = root
    return roots


__all__ = ["ChordEvent", "parse_chord_line", "parse_chord_file", "parse_label_key", "parse_melody",
           "parse_midi_chord_roots", "parse_note_name", "quality_from_intervals", "quality_from_name",
           "degree_interval", "read_lines", "read_one_line"]
