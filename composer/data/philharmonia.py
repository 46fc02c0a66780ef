"""Philharmonia Orchestra single-note recordings -> annotated notes for timbre training.

File names carry ``instrument_pitch_duration_dynamic_articulation.mp3``, e.g.
``flute_A4_025_forte_normal.mp3`` (pitch with ``s`` for sharp: ``As4`` = A#4; duration ``025``,
``05``, ``1``, ``15`` seconds or ``long``/``very-long``/``phrase``).  Any other folder of audio
files works too: names that do not parse give a :class:`RecordingInfo` with unknown fields.

The recordings are never copied into the project; loaders take a path.  About 10% of the notes
are held out for evaluation, chosen deterministically from the file name (:func:`is_held_out`).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import AudioError, DataError

AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg", ".aiff", ".aif")

DYNAMIC_VELOCITY = {
    # MIDI velocity standing for each written dynamic (the usual notation-software mapping).
    "pianissimo": 33, "piano": 49, "mezzo-piano": 64, "mezzo-forte": 80,
    "forte": 96, "fortissimo": 112,
}
DURATION_SECONDS = {"025": 0.25, "05": 0.5, "1": 1.0, "15": 1.5}
# Articulations that are plain sustained tones: the ones a MIDI note stands for.
PLAIN_ARTICULATIONS = frozenset({"normal", "arco-normal", "non-vibrato"})

_NOTE_RE = re.compile(r"^([A-Ga-g])(s|#|b)?(-?\d)$")
_STEPS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_pitch(name: str) -> int | None:
    """``A4`` -> 69, ``As4``/``A#4`` -> 70, ``Bb3`` -> 58; None if it is not a pitch name."""
    m = _NOTE_RE.match(name)
    if not m:
        return None
    letter, accidental, octave = m.groups()
    pitch = 12 * (int(octave) + 1) + _STEPS[letter.lower()]
    pitch += {"s": 1, "#": 1, "b": -1, None: 0}[accidental]
    return pitch if 0 <= pitch < 128 else None


@dataclass(frozen=True)
class RecordingInfo:
    """What a file name says about one recording.

    pitch:            MIDI pitch, or None when the name does not carry one.
    duration_seconds: nominal note length in seconds, None for long/phrase/unknown.
    dynamic:          e.g. ``"forte"``, or ``""``; velocity: its MIDI velocity or None.
    articulation:     e.g. ``"normal"``, or ``""``.
    """

    path: Path
    instrument: str
    pitch: int | None
    duration_seconds: float | None
    duration_label: str
    dynamic: str
    articulation: str

    @property
    def velocity(self) -> int | None:
        return DYNAMIC_VELOCITY.get(self.dynamic)

    @property
    def is_plain(self) -> bool:
        """A single sustained tone with a known pitch (not a trill, phrase, pizzicato...)."""
        return (self.pitch is not None and self.articulation in PLAIN_ARTICULATIONS
                and self.duration_label != "phrase" and self.dynamic != "cresc-decresc")


def parse_name(path: str | Path) -> RecordingInfo:
    """Parse ``instrument_pitch_duration_dynamic_articulation.ext``; unknown parts stay empty."""
    path = Path(path)
    parts = path.stem.split("_")
    pitch = parse_pitch(parts[1]) if len(parts) > 1 else None
    if pitch is None:
        # A user's own folder: look for any pitch-like token in the name.
        for token in re.split(r"[_\-\s.]+", path.stem):
            pitch = parse_pitch(token)
            if pitch is not None:
                break
        return RecordingInfo(path, parts[0] if parts else "", pitch, None, "", "", "normal")
    label = parts[2] if len(parts) > 2 else ""
    return RecordingInfo(
        path=path, instrument=parts[0], pitch=pitch,
        duration_seconds=DURATION_SECONDS.get(label), duration_label=label,
        dynamic=parts[3] if len(parts) > 3 else "",
        articulation="_".join(parts[4:]) if len(parts) > 4 else "normal")


def is_held_out(path: str | Path, fraction: float = 0.1) -> bool:
    """Deterministic ~``fraction`` hold-out by a hash of the file name (not the folder)."""
    digest = hashlib.sha1(Path(path).name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < fraction


def list_recordings(folder: str | Path, plain_only: bool = True) -> list[RecordingInfo]:
    """Audio files in ``folder`` (not recursive), sorted by name, parsed.

    ``plain_only`` keeps single sustained tones with a known pitch when the names carry
    Philharmonia-style articulations; files of a user's folder without such names are kept.
    Raises DataError when the folder is missing or holds no audio files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of recordings")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(f"{folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    infos = [parse_name(p) for p in files]
    if plain_only:
        infos = [i for i in infos if i.is_plain or (i.pitch is None and not i.dynamic)]
    return infos


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read any soundfile-readable file as mono float32 [n_samples] at ``sample_rate``.

    Raises AudioError (one line) when the file cannot be decoded or is empty."""
    import soundfile as sf
    from scipy.signal import resample_poly

    from composer.io.atomic import check_regular_file
    from composer.io.audio import MAX_AUDIO_BYTES

    # A regular file only: libsndfile would block on a FIFO and read /dev/zero forever.
    check_regular_file(path, AudioError, "an audio file", MAX_AUDIO_BYTES)
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types; all mean "unreadable"
        raise AudioError(f"cannot read {path}: {str(err).splitlines()[0]}") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{path} holds no samples")
    audio = audio.mean(axis=1)
    if sr != sample_rate:
        g = np.gcd(int(sr), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, sr // g).astype(np.float32)
    return audio
