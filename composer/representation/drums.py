"""Drum bars on the 16th grid: the drum level's view of a drum Track.

A drum part is two arrays, **bar-major then time-major**:

* ``velocity`` uint8 ``[n_bars, MAX_STEPS, N_DRUMS]``: 0 = no hit, else the MIDI velocity;
* ``offset`` float ``[n_bars, MAX_STEPS, N_DRUMS]``: where the hit falls from its 16th, a
  fraction of a 16th in [-0.5, 0.5) (0 where there is no hit, and on a quantised part).

Axis 1 is the 16th of the bar (a bar of ``steps_per_bar`` < 16, as 3/4, leaves the rest
empty); axis 2 is the drum of :data:`KIT`.  :func:`bars_from_track` and
:func:`track_from_bars` are the Score <-> array pair (round trip exact for on-grid hits of
the kit's GM pitches, one per drum and 16th).
"""
from __future__ import annotations

import numpy as np

from composer.grid import STEPS_PER_BEAT
from composer.score import Note, Track
from composer.tracks import DRUMS

MAX_STEPS = 16
"""Sixteenths in the longest bar (4/4); shorter bars are padded with no hits."""

KIT: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("kick", 36, (35, 36)),
    ("snare", 38, (37, 38, 39, 40)),         # rim clicks and the rim shot (37, 40) play as snare
    ("closed hat", 42, (22, 42, 44)),        # the TD-11's hat edge (22) and the pedal hat (44)
    ("open hat", 46, (26, 46)),
    ("low tom", 43, (41, 43, 58)),
    ("mid tom", 47, (45, 47)),
    ("high tom", 50, (48, 50)),
    ("crash", 49, (49, 52, 55, 57)),         # china (52) and splash (55) count as crashes
    ("ride", 51, (51, 53, 59)),              # bell (53) and edge (59)
)
"""The drum level's kit: (name, General MIDI pitch written, GM / Groove MIDI pitches read as
it).  The nine classes of the Groove MIDI paper (Gillick et al. 2019)."""

DRUM_NAMES = tuple(k[0] for k in KIT)
GM_PITCHES = tuple(k[1] for k in KIT)
N_DRUMS = len(KIT)
KICK, SNARE, CLOSED_HAT, OPEN_HAT, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE = range(N_DRUMS)
FILL_DRUMS = (SNARE, LOW_TOM, MID_TOM, HIGH_TOM)
"""The drums a fill is played on (the fill measure counts them, the drum level's fills must play them)."""
PITCH_TO_DRUM = {p: i for i, (_, _, pitches) in enumerate(KIT) for p in pitches}

DRUM_CHANNEL = 9
"""MIDI channel 10 (0-based 9): General MIDI's percussion channel."""

HIT_TICKS_PER_STEP = 1
"""A drum hit lasts one 16th in the written file (GM drums ignore note-off)."""


def bars_from_track(track: Track, resolution: int, steps_per_bar: int, n_bars: int | None = None,
                    start_tick: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A drum track as (velocity uint8, offset float32) ``[n_bars, MAX_STEPS, N_DRUMS]``.

    Bars are ``steps_per_bar`` 16ths (1..16) from ``start_tick``; a hit goes to its nearest
    16th (the louder of two on one 16th stays); pitches outside :data:`KIT` are left out;
    n_bars: default, up to the bar of the last hit."""
    if not 1 <= steps_per_bar <= MAX_STEPS:
        raise ValueError(f"steps_per_bar must be 1..{MAX_STEPS}, not {steps_per_bar}")
    step_ticks = resolution / STEPS_PER_BEAT
    hits = [(n.start_tick - start_tick) / step_ticks for n in track.notes]
    q = [int(np.floor(s + 0.5)) for s in hits]
    if n_bars is None:
        n_bars = (max(q, default=-1) // steps_per_bar) + 1
    velocity = np.zeros((n_bars, MAX_STEPS, N_DRUMS), np.uint8)
    offset = np.zeros((n_bars, MAX_STEPS, N_DRUMS), np.float32)
    for note, s, k in zip(track.notes, hits, q):
        drum = PITCH_TO_DRUM.get(note.pitch)
        if drum is None or k < 0:
            continue
        bar, pos = divmod(k, steps_per_bar)
        if bar >= n_bars:
            continue
        if note.velocity > velocity[bar, pos, drum]:
            velocity[bar, pos, drum] = note.velocity
            offset[bar, pos, drum] = s - k
    return velocity, offset


def track_from_bars(velocity: np.ndarray, offset: np.ndarray | None, resolution: int,
                    steps_per_bar: int, name: str = DRUMS, start_tick: int = 0) -> Track:
    """The drum Track of bars ``velocity`` [n_bars, MAX_STEPS, N_DRUMS] (hits > 0), each
    hit a 16th long at its GM pitch, moved by ``offset`` (fractions of a 16th; None = on the
    grid) but never before ``start_tick``."""
    step_ticks = resolution // STEPS_PER_BEAT
    notes = []
    bars, steps, drums = np.nonzero(velocity[:, :steps_per_bar])
    for b, s, d in zip(bars, steps, drums):
        tick = start_tick + (int(b) * steps_per_bar + int(s)) * step_ticks
        if offset is not None:
            tick += int(round(float(offset[b, s, d]) * step_ticks))
        notes.append(Note(max(start_tick, tick), step_ticks * HIT_TICKS_PER_STEP, GM_PITCHES[d],
                          int(velocity[b, s, d])))
    return Track(name, 0, True, tuple(notes))


# ---------------------------------------------------------------------------- the net's view
DRUM_CHANNELS = 3 * N_DRUMS
"""Channels of one bar for the net: hit (+1 / -1), velocity in [-1, 1] (-1 = no hit), offset
x 2 in [-1, 1) (0 = no hit), nine drums each."""

STYLE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rock", ("rock",)),
    ("funk", ("funk",)),
    ("jazz", ("jazz",)),
    ("latin", ("latin", "afrocuban", "afrobeat", "highlife")),
    ("hiphop", ("hiphop", "reggae")),
    ("soul", ("soul", "gospel", "blues")),
    ("punk", ("punk",)),
    ("pop", ("pop", "dance")),
    ("other", ("neworleans", "country", "middleeastern")),
)
"""The drum level's styles, each a group of Groove MIDI's top-level styles (a style of a few
performances alone would be too rare to learn)."""
STYLES = tuple(s for s, _ in STYLE_GROUPS)
STYLE_OF = {name: i for i, (_, names) in enumerate(STYLE_GROUPS) for name in names}

METERS = ("4/4", "3/4", "6/8")
"""Meters of the bars the level was trained on (2/4 is written as the first half of 4/4)."""
INTENSITIES = ("light", "medium", "heavy")

BAR_COND_CHANNELS = 1 + len(INTENSITIES) + len(STYLES) + 1 + len(METERS)
"""Per bar: fill (1), intensity one-hot (3), style one-hot (9), tempo ((bpm - 120) / 40),
meter one-hot (3)."""


def style_index(style: str) -> int:
    """Index into :data:`STYLES` of a Groove MIDI style string ("funk/groove1" -> funk)."""
    return STYLE_OF.get(style.split("/")[0], STYLES.index("other"))


def bar_condition(fill: bool, intensity: int, style: int, bpm: float, meter: str) -> np.ndarray:
    """float32 [BAR_COND_CHANNELS]: the condition of one bar (see :data:`BAR_COND_CHANNELS`)."""
    c = np.zeros(BAR_COND_CHANNELS, np.float32)
    c[0] = float(fill)
    c[1 + intensity] = 1.0
    c[1 + len(INTENSITIES) + style] = 1.0
    c[1 + len(INTENSITIES) + len(STYLES)] = (float(bpm) - 120.0) / 40.0
    c[2 + len(INTENSITIES) + len(STYLES) + METERS.index(meter)] = 1.0
    return c


def to_drum_array(velocity: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Bars (velocity uint8, offset float) [n, MAX_STEPS, N_DRUMS] -> float32 [n,
    DRUM_CHANNELS, MAX_STEPS], the net's channels-first view."""
    hit = velocity > 0
    v = np.where(hit, velocity.astype(np.float32) / 127.0 * 2.0 - 1.0, -1.0)
    o = np.where(hit, np.clip(offset.astype(np.float32), -0.5, 0.5) * 2.0, 0.0)
    x = np.concatenate([np.where(hit, 1.0, -1.0), v, o], axis=2).astype(np.float32)
    return np.ascontiguousarray(x.transpose(0, 2, 1))


def from_drum_array(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float [n, DRUM_CHANNELS, MAX_STEPS] -> (velocity uint8, offset float32) [n, MAX_STEPS,
    N_DRUMS]: a hit where the hit channel is > 0, its velocity 1..127, its offset in
    [-0.5, 0.5)."""
    x = np.asarray(x, np.float32).transpose(0, 2, 1)
    hit = x[:, :, :N_DRUMS] > 0
    vel = np.clip(np.round((x[:, :, N_DRUMS:2 * N_DRUMS] + 1.0) / 2.0 * 127.0), 1, 127)
    off = np.clip(x[:, :, 2 * N_DRUMS:] / 2.0, -0.5, 0.49)
    return np.where(hit, vel, 0).astype(np.uint8), np.where(hit, off, 0.0).astype(np.float32)


__all__ = ["MAX_STEPS", "KIT", "DRUM_NAMES", "GM_PITCHES", "N_DRUMS", "PITCH_TO_DRUM", "DRUM_CHANNEL",
           "KICK", "SNARE", "CLOSED_HAT", "OPEN_HAT", "LOW_TOM", "MID_TOM", "HIGH_TOM", "CRASH", "RIDE", "FILL_DRUMS",
           "bars_from_track", "track_from_bars", "DRUM_CHANNELS", "STYLE_GROUPS", "STYLES", "METERS",
           "INTENSITIES", "BAR_COND_CHANNELS", "style_index", "bar_condition", "to_drum_array",
           "from_drum_array"]
