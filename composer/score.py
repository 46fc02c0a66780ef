"""The one canonical song representation that every room converts to and from.

Time is in integer ticks at an explicit ``resolution`` (ticks per quarter note, 480 by
default).  Seconds appear only through :meth:`Score.tick_to_seconds` and
:meth:`Score.seconds_to_tick`, the one place where the tempo map is integrated.

All classes are frozen dataclasses holding tuples, so a Score is immutable, hashable
and comparable with ``==`` (the MIDI round trip test relies on this).  Use
:func:`dataclasses.replace` to derive a changed copy.

Pitch classes are integers 0..11 with C = 0.  Chord qualities are the keys of
:data:`CHORD_QUALITIES`.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Literal

from composer.errors import ScoreError
from composer.pitch import PITCH_CLASS_NAMES, key_tonic_name  # re-exported: the Score speaks these names

RESOLUTION = 480
"""Default ticks per quarter note."""


CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    # quality -> intervals above the root, in semitones.  The vocabulary is that of the
    # POP909 chord annotations (Harte syntax), which covers >99.9% of their chords.
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "minmaj7": (0, 3, 7, 11),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "maj6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "sus4(b7)": (0, 5, 7, 10),
}
QUALITY_NAMES: tuple[str, ...] = tuple(CHORD_QUALITIES)

Mode = Literal["major", "minor"]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ScoreError(message)


@dataclass(frozen=True, order=True)
class TempoChange:
    """A tempo from ``tick`` on, stored exactly as MIDI does: microseconds per quarter."""

    tick: int
    us_per_quarter: int

    @classmethod
    def from_bpm(cls, tick: int, bpm: float) -> "TempoChange":
        """Quarter-note tempo ``bpm`` (> 0), rounded to the microsecond like a MIDI file."""
        if not bpm > 0:
            raise ScoreError(f"tempo must be above 0 bpm, got {bpm}")
        return cls(tick, int(round(60_000_000 / bpm)))

    @property
    def bpm(self) -> float:
        return 60_000_000 / self.us_per_quarter


@dataclass(frozen=True, order=True)
class TimeSignature:
    """Meter ``numerator/denominator`` from ``tick`` on (which should start a bar)."""

    tick: int
    numerator: int
    denominator: int

    def ticks_per_bar(self, resolution: int) -> int:
        return self.numerator * resolution * 4 // self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True, order=True)
class KeySignature:
    """Key ``tonic`` (pitch class 0..11) and ``mode`` from ``tick`` on."""

    tick: int
    tonic: int
    mode: Mode = "major"

    def __str__(self) -> str:
        # Spelled as the key signature and the chord names are ("Db major", 5 flats), not
        # "C# major" beside a file in D-flat.
        return f"{key_tonic_name(self.tonic, self.mode)} {self.mode}"


@dataclass(frozen=True, order=True)
class Section:
    """A phrase or section: ``label`` as in the form notation (``A``, ``B``, ``i``, ``o``,
    ``b``, ``x``...), a display ``name`` such as "Verse 1", and its span in bars
    (``start_bar`` counted from 0, ``n_bars`` >= 1)."""

    start_bar: int
    n_bars: int
    label: str
    name: str = ""


@dataclass(frozen=True, order=True)
class ChordSymbol:
    """A chord sounding from ``start_tick`` for ``duration_ticks``: ``root`` and ``bass`` are
    pitch classes, ``quality`` a key of :data:`CHORD_QUALITIES`."""

    start_tick: int
    duration_ticks: int
    root: int
    quality: str
    bass: int

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in CHORD_QUALITIES[self.quality]) | {self.bass}

    @property
    def name(self) -> str:
        """Harte-style name with a slash bass when it differs, e.g. ``C:maj/E``."""
        text = f"{PITCH_CLASS_NAMES[self.root]}:{self.quality}"
        if self.bass != self.root:
            text += f"/{PITCH_CLASS_NAMES[self.bass]}"
        return text

    @property
    def end_tick(self) -> int:
        return self.start_tick + self.duration_ticks


@dataclass(frozen=True, order=True)
class Note:
    """A note: MIDI ``pitch`` 0..127, ``velocity`` 1..127, onset and length in ticks."""

    start_tick: int
    duration_ticks: int
    pitch: int
    velocity: int = 80

    @property
    def end_tick(self) -> int:
        return self.start_tick + self.duration_ticks


@dataclass(frozen=True, order=True)
class ControlChange:
    """A MIDI controller event kept for the renderers (sustain 64, volume 7, pan 10, ...)."""

    tick: int
    number: int
    value: int


@dataclass(frozen=True, order=True)
class PitchBend:
    """A pitch-bend event, ``value`` in -8192..8191 (0 = no bend)."""

    tick: int
    value: int


@dataclass(frozen=True)
class Track:
    """One instrument: a name, a General MIDI ``program`` 0..127 and its events, sorted."""

    name: str
    program: int = 0
    is_drum: bool = False
    notes: tuple[Note, ...] = ()
    controls: tuple[ControlChange, ...] = ()
    pitch_bends: tuple[PitchBend, ...] = ()

    def __post_init__(self) -> None:
        # Sorting here makes equality independent of the order events were added in.
        object.__setattr__(self, "notes", tuple(sorted(self.notes)))
        object.__setattr__(self, "controls", tuple(sorted(self.controls)))
        object.__setattr__(self, "pitch_bends", tuple(sorted(self.pitch_bends)))


@dataclass(frozen=True)
class Score:
    """A whole song.  Every event list is sorted by time on construction.

    ``tempos`` and ``time_signatures`` may be empty: MIDI's defaults (120 bpm, 4/4) apply.
    ``sections`` are in bars of the meter map; ``chords`` and notes are in ticks.
    """

    resolution: int = RESOLUTION
    tempos: tuple[TempoChange, ...] = ()
    time_signatures: tuple[TimeSignature, ...] = ()
    key_signatures: tuple[KeySignature, ...] = ()
    sections: tuple[Section, ...] = ()
    chords: tuple[ChordSymbol, ...] = ()
    tracks: tuple[Track, ...] = ()
    title: str = ""
    _tempo_cache: tuple = field(default=(), init=False, repr=False, compare=False, hash=False)
    _meter_cache: tuple = field(default=(), init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("tempos", "time_signatures", "key_signatures", "sections", "chords"):
            object.__setattr__(self, name, tuple(sorted(getattr(self, name))))
        object.__setattr__(self, "tracks", tuple(self.tracks))

    # ------------------------------------------------------------------ checks
    def validate(self) -> "Score":
        """Raise :class:`ScoreError` naming the first value out of range; return self."""
        _check(self.resolution > 0, f"resolution must be positive, got {self.resolution}")
        for t in self.tempos:
            _check(t.tick >= 0, f"tempo change at negative tick {t.tick}")
            _check(0 < t.us_per_quarter <= 0xFFFFFF,
                   f"tempo at tick {t.tick} out of range: {t.us_per_quarter} us per quarter")
        for ts in self.time_signatures:
            _check(ts.tick >= 0, f"time signature at negative tick {ts.tick}")
            _check(1 <= ts.numerator <= 255, f"time signature numerator {ts.numerator} out of 1..255")
            _check(ts.denominator in (1, 2, 4, 8, 16, 32, 64),
                   f"time signature denominator {ts.denominator} is not a power of two up to 64")
            _check(ts.ticks_per_bar(self.resolution) >= 1,
                   f"time signature {ts} at resolution {self.resolution} gives bars shorter than a tick")
        for k in self.key_signatures:
            _check(k.tick >= 0, f"key signature at negative tick {k.tick}")
            _check(0 <= k.tonic < 12, f"key tonic {k.tonic} out of 0..11")
            _check(k.mode in ("major", "minor"), f"key mode {k.mode!r} is not 'major' or 'minor'")
        for s in self.sections:
            _check(s.start_bar >= 0, f"section {s.label!r} starts at negative bar {s.start_bar}")
            _check(s.n_bars >= 1, f"section {s.label!r} at bar {s.start_bar} has {s.n_bars} bars")
            _check(bool(s.label), f"section at bar {s.start_bar} has an empty label")
        for c in self.chords:
            _check(c.start_tick >= 0, f"chord at negative tick {c.start_tick}")
            _check(c.duration_ticks > 0, f"chord at tick {c.start_tick} has duration {c.duration_ticks}")
            _check(0 <= c.root < 12 and 0 <= c.bass < 12,
                   f"chord at tick {c.start_tick}: root/bass must be pitch classes 0..11")
            _check(c.quality in CHORD_QUALITIES,
                   f"chord at tick {c.start_tick}: unknown quality {c.quality!r}")
        names = set()
        for track in self.tracks:
            where = f"track {track.name!r}"
            _check(track.name not in names, f"two tracks are named {track.name!r}")
            names.add(track.name)
            _check(0 <= track.program < 128, f"{where}: program {track.program} out of 0..127")
            for n in track.notes:
                _check(0 <= n.pitch < 128, f"{where}: pitch {n.pitch} at tick {n.start_tick} out of 0..127")
                _check(1 <= n.velocity < 128,
                       f"{where}: velocity {n.velocity} at tick {n.start_tick} out of 1..127")
                _check(n.start_tick >= 0, f"{where}: note at negative tick {n.start_tick}")
                _check(n.duration_ticks >= 0,
                       f"{where}: note at tick {n.start_tick} has negative duration")
            for c in track.controls:
                _check(c.tick >= 0 and 0 <= c.number < 128 and 0 <= c.value < 128,
                       f"{where}: controller {c.number}={c.value} at tick {c.tick} out of range")
            for b in track.pitch_bends:
                _check(b.tick >= 0 and -8192 <= b.value <= 8191,
                       f"{where}: pitch bend {b.value} at tick {b.tick} out of -8192..8191")
        return self

    # ------------------------------------------------------------------ time
    @property
    def end_tick(self) -> int:
        """The last tick of any note or chord (0 for an empty score)."""
        ends = [n.end_tick for t in self.tracks for n in t.notes]
        ends += [c.end_tick for c in self.chords]
        ends += [self.bar_to_tick(s.start_bar + s.n_bars) for s in self.sections]
        return max(ends, default=0)

    def _tempo_segments(self) -> tuple[list[int], list[float], list[int]]:
        """(start ticks, start seconds, us per quarter) of each tempo segment, cached."""
        if not self._tempo_cache:
            changes = list(self.tempos)
            if not changes or changes[0].tick > 0:
                changes.insert(0, TempoChange(0, 500_000))
            ticks, seconds, us = [], [], []
            elapsed = 0.0
            for i, change in enumerate(changes):
                if i:
                    elapsed += (change.tick - ticks[-1]) * us[-1] / 1e6 / self.resolution
                ticks.append(change.tick)
                seconds.append(elapsed)
                us.append(change.us_per_quarter)
            object.__setattr__(self, "_tempo_cache", (ticks, seconds, us))
        return self._tempo_cache

    def tick_to_seconds(self, tick: int | float) -> float:
        """Seconds from the start at ``tick``, integrating the tempo map."""
        ticks, seconds, us = self._tempo_segments()
        i = bisect.bisect_right(ticks, tick) - 1
        i = max(i, 0)
        return seconds[i] + (tick - ticks[i]) * us[i] / 1e6 / self.resolution

    def seconds_to_tick(self, time_s: float) -> int:
        """The nearest tick to ``time_s`` seconds, inverse of :meth:`tick_to_seconds`."""
        ticks, seconds, us = self._tempo_segments()
        i = max(bisect.bisect_right(seconds, time_s) - 1, 0)
        return int(round(ticks[i] + (time_s - seconds[i]) * 1e6 * self.resolution / us[i]))

    @property
    def duration_seconds(self) -> float:
        return self.tick_to_seconds(self.end_tick)

    def _meter_at(self, tick: int) -> TimeSignature:
        current = TimeSignature(0, 4, 4)
        for ts in self.time_signatures:
            if ts.tick > tick:
                break
            current = ts
        return current

    def _meter_segments(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """(start tick, first bar, ticks per bar, first bar of the next segment) of each
        meter segment, cached; the last segment runs on for ever."""
        if not self._meter_cache:
            meters = list(self.time_signatures) or [TimeSignature(0, 4, 4)]
            if meters[0].tick > 0:
                meters.insert(0, TimeSignature(0, 4, 4))
            ticks, bars, lengths, next_bars = [], [], [], []
            bars_done = 0
            for i, ts in enumerate(meters):
                length = ts.ticks_per_bar(self.resolution)
                ticks.append(ts.tick)
                bars.append(bars_done)
                lengths.append(length)
                if i + 1 < len(meters):
                    # A meter change off the barline cuts the bar short: ceil division.
                    bars_done += -(-(meters[i + 1].tick - ts.tick) // length)
                    next_bars.append(bars_done)
                else:
                    next_bars.append(float("inf"))
            object.__setattr__(self, "_meter_cache", (ticks, bars, lengths, next_bars))
        return self._meter_cache

    def bar_to_tick(self, bar: int) -> int:
        """Start tick of bar number ``bar`` (from 0), following the meter changes.

        A meter change that does not fall on a barline starts a new bar there.
        O(log n) in the number of meter changes (the segment table is cached)."""
        ticks, bars, lengths, next_bars = self._meter_segments()
        i = bisect.bisect_right(next_bars, bar)
        return ticks[i] + (bar - bars[i]) * lengths[i]

    def tick_to_bar(self, tick: int) -> int:
        """The bar (from 0) that contains ``tick`` (0 for a negative tick)."""
        if tick < 0:
            return 0
        ticks, bars, lengths, _ = self._meter_segments()
        i = bisect.bisect_right(ticks, tick) - 1
        return bars[i] + int((tick - ticks[i]) // lengths[i])

    @property
    def n_bars(self) -> int:
        """Bars needed to hold every event, at least 1 for a non-empty score."""
        end = self.end_tick
        return 0 if end == 0 else self.tick_to_bar(end - 1) + 1

    def key_at(self, tick: int) -> KeySignature | None:
        current = None
        for k in self.key_signatures:
            if k.tick > tick:
                break
            current = k
        return current

    def track(self, name: str) -> Track:
        for t in self.tracks:
            if t.name == name:
                return t
        raise ScoreError(f"no track named {name!r}; tracks are {[t.name for t in self.tracks]}")

    def replace(self, **changes) -> "Score":
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)
