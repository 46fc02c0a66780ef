"""The band's parts and the Score around them: what the cascade's notes become on the page.

    parts = arrange_parts(melody, piano, grid, sections, steps_per_bar, rng, bass=True)
    tracks = [notes_track(MELODY, MELODY_PROGRAM, parts.melody, step),
              *piano_tracks(parts.piano, step, chords, resolution)]

The levels write step notes (``int32 [n, 4]``: start step, duration in steps, pitch, velocity;
16th-note steps); :class:`composer.pipeline.Composer` turns them into the song's tracks here,
one chain for compose, regenerate and arrange (:func:`arrange_parts`: the arrangement of
:mod:`composer.arrange` for players, a bass line from the chords, velocities shaped by metre,
section and phrase and a little seeded jitter), and names the sections ("Intro", "Verse 1",
"Chorus 2": :func:`named_sections`).  The way back is here too: the form plan, meter and chords
of a Score the cascade wrote (:func:`plan_from_score`, :func:`grid_from_score`), which
regeneration and a MIDI file's chords start from.  Track names and programs are those of
:mod:`composer.tracks`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer import arrange
from composer.arrange import monophonic
from composer.errors import ComposerError
from composer.form import FormPlan, Phrase
from composer.grid import STEPS_PER_BEAT
from composer.options import Meter, parse_meter
from composer.representation.harmony import ChordGrid
from composer.score import QUALITY_NAMES, KeySignature, Note, Score, Section, TimeSignature, Track
# Songs written before the hands were split have one track "Piano" (PIANO), which piano_track
# and Composer.regenerate still read.
from composer.tracks import PIANO, PIANO_PROGRAM, PIANO_TRACKS

# ---------------------------------------------------------------------------- sections
SECTION_NAMES = {"i": "Intro", "o": "Outro", "A": "Verse", "B": "Chorus"}
"""Display names of the label letters; other capitals are bridges, other lowercase
letters (non-melodic) interludes."""


def section_name(label: str) -> str:
    if label in SECTION_NAMES:
        return SECTION_NAMES[label]
    return "Bridge" if label.isupper() else "Interlude"


def named_sections(phrases: tuple[Phrase, ...] | list[Phrase]) -> tuple[Section, ...]:
    """Sections for a form, named "Verse 1", "Chorus 2"... (a name used once has no number)."""
    names = [section_name(p.label) for p in phrases]
    total = {n: names.count(n) for n in names}
    seen: dict[str, int] = {}
    out, bar = [], 0
    for ph, name in zip(phrases, names):
        seen[name] = seen.get(name, 0) + 1
        out.append(Section(bar, ph.n_bars, ph.label, f"{name} {seen[name]}" if total[name] > 1 else name))
        bar += ph.n_bars
    return tuple(out)


# ---------------------------------------------------------------------------- the band's parts
def shape_velocities(notes: np.ndarray, steps_per_bar: int, sections: tuple[Section, ...],
                     base: int, rng: np.random.Generator) -> np.ndarray:
    """Velocities for step notes ``int [n, 4]`` (column 3 replaced, 1..127): ``base``, plus
    accents on the downbeat (+8) and other beats (+3), minus off-beats (-4); choruses +6,
    intros / outros / interludes -6; the last bar of a phrase -4 (a phrase breathes out);
    plus seeded jitter of +-4."""
    notes = np.array(notes, dtype=np.int32).reshape(-1, 4)
    if not len(notes):
        return notes
    start = notes[:, 0]
    pos = start % steps_per_bar
    vel = np.full(len(notes), float(base))
    vel += np.where(pos == 0, 8, np.where(pos % STEPS_PER_BEAT == 0, 3, -4))
    bar = start // steps_per_bar
    for s in sections:
        inside = (bar >= s.start_bar) & (bar < s.start_bar + s.n_bars)
        if s.label == "B":
            vel[inside] += 6
        elif s.label.islower():
            vel[inside] -= 6
        vel[inside & (bar == s.start_bar + s.n_bars - 1)] -= 4
    vel += rng.integers(-4, 5, len(notes))
    notes[:, 3] = np.clip(np.round(vel), 1, 127).astype(np.int32)
    return notes


def bass_line(grid: ChordGrid, steps_per_bar: int) -> np.ndarray:
    """A bass part from the chords: the chord's bass note (A1..G#2) on every chord change,
    on each downbeat and on the bar's middle beat, held until the next (minus a 16th).
    Returns step notes ``int32 [n, 4]`` (velocity 0, set later)."""
    bpb = grid.beats_per_bar
    rows = []
    beats = np.arange(grid.n_beats)
    hits = []
    for b in beats:
        if grid.root[b] < 0:
            continue
        in_bar = b % bpb
        changed = b == 0 or (grid.root[b], grid.quality[b], grid.bass[b]) != (
            grid.root[b - 1], grid.quality[b - 1], grid.bass[b - 1])
        if changed or in_bar == 0 or (bpb == 4 and in_bar == 2):
            hits.append(int(b))
    for i, b in enumerate(hits):
        end = min(hits[i + 1] if i + 1 < len(hits) else b + bpb, grid.n_beats)
        j = b + 1
        while j < end and grid.root[j] >= 0:
            j += 1
        end = j
        pc = int(grid.bass[b] if grid.bass[b] >= 0 else grid.root[b])
        dur = max(1, (end - b) * STEPS_PER_BEAT - 1)
        rows.append((b * STEPS_PER_BEAT, dur, 33 + (pc - 9) % 12, 0))
    return np.asarray(rows, dtype=np.int32).reshape(-1, 4)


MELODY_VELOCITY = 88
PIANO_VELOCITY = 66
BASS_VELOCITY = 78
"""Base velocities of :func:`shape_velocities` for the lead, the piano and the bass (in
:func:`arrange_parts`): the lead loudest and the piano softest, so the line reads over the band."""


@dataclass(frozen=True)
class Arranged:
    """The parts as players play them: step notes ``int32 [n, 4]`` (start, duration, pitch,
    velocity); ``bass`` is None when no bass was asked for."""

    melody: np.ndarray
    piano: np.ndarray
    bass: np.ndarray | None


def arrange_parts(melody: np.ndarray, piano: np.ndarray, grid: ChordGrid, sections: tuple[Section, ...],
                  steps_per_bar: int, rng: np.random.Generator, bass: bool,
                  window: tuple[int, int] | None = None) -> Arranged:
    """The arrangement (composer/arrange.py), one chain for compose and regenerate: no melody
    where the form has none, one voice, each phrase in the lead's range; the piano on its
    sections' grooves; a bass from the chords (when ``bass``); velocities shaped from
    :data:`MELODY_VELOCITY`, :data:`PIANO_VELOCITY` and :data:`BASS_VELOCITY`, drawn from
    ``rng`` in that order (melody, piano, bass), so a seed gives the same song.

    window: ``(first step, end step)``: keep only the notes that start inside it, cut at its
    end (regeneration); the piano's groove is still that of the whole section, the kept bars
    included, so it is tightened before the cut.  None: the whole song."""

    def inside(notes: np.ndarray) -> np.ndarray:
        if window is None:
            return notes
        lo, hi = window
        notes = notes[(notes[:, 0] >= lo) & (notes[:, 0] < hi)]
        notes[:, 1] = np.minimum(notes[:, 0] + notes[:, 1], hi) - notes[:, 0]
        return notes

    melody = arrange.silence_sections(monophonic(inside(melody)), sections, steps_per_bar)
    melody = arrange.fit_melody_range(melody, sections, steps_per_bar)
    melody = shape_velocities(melody, steps_per_bar, sections, MELODY_VELOCITY, rng)
    piano = inside(arrange.tighten_groove(piano, sections, steps_per_bar))
    piano = shape_velocities(piano, steps_per_bar, sections, PIANO_VELOCITY, rng)
    line = (shape_velocities(inside(bass_line(grid, steps_per_bar)), steps_per_bar, sections, BASS_VELOCITY, rng)
            if bass else None)
    return Arranged(melody, piano, line)


def notes_track(name: str, program: int, notes: np.ndarray, step: int, controls: tuple = ()) -> Track:
    """A pitched Track of step notes ``notes`` (``step`` ticks per 16th), with ``controls``."""
    return Track(name, program, False, tuple(
        Note(int(s) * step, int(d) * step, int(p), int(v)) for s, d, p, v in notes), controls)


def piano_track(score: Score) -> Track:
    """The whole accompaniment as one Track "Piano": both hands of :data:`PIANO_TRACKS`
    merged, or the single "Piano" track of a song written before the hands were split."""
    names = [t.name for t in score.tracks]
    if all(n in names for n in PIANO_TRACKS):
        rh, lh = (score.track(n) for n in PIANO_TRACKS)
        return Track(PIANO, rh.program, False, rh.notes + lh.notes)
    return score.track(PIANO)


def piano_tracks(piano: np.ndarray, step: int, chords, resolution: int) -> tuple[Track, Track]:
    """The two hands of step notes ``piano``, each with the sustain pedal (the hands share a
    MIDI channel, but a renderer may give each its own)."""
    rh, lh = arrange.split_hands(piano)
    both = notes_track(PIANO, PIANO_PROGRAM, piano, step).notes
    pedal = arrange.sustain_pedal(chords, both, resolution)
    return (notes_track(PIANO_TRACKS[0], PIANO_PROGRAM, rh, step, pedal),
            notes_track(PIANO_TRACKS[1], PIANO_PROGRAM, lh, step, pedal))


def key_signatures(plan: FormPlan, bar_ticks: int) -> tuple[KeySignature, ...]:
    """A key signature wherever the plan's key changes (the first bar's at tick 0)."""
    out, last = [], None
    for bar, (t, m) in enumerate(zip(plan.key_tonic, plan.key_mode)):
        if (t, m) != last:
            out.append(KeySignature(bar * bar_ticks, int(t), "minor" if m else "major"))
            last = (t, m)
    return tuple(out)


# ---------------------------------------------------------------------------- Score <-> plan
def plan_from_score(score: Score) -> tuple[FormPlan, Meter]:
    """The form plan (phrases from the sections, a key per bar) and meter of a Score made
    by :meth:`composer.pipeline.Composer.compose` (or any Score whose sections tile its bars from bar 0)."""
    ts = score.time_signatures[0] if score.time_signatures else TimeSignature(0, 4, 4)
    meter = parse_meter(f"{ts.numerator}/{ts.denominator}")
    sections = sorted(score.sections)
    bar = 0
    phrases = []
    for s in sections:
        if s.start_bar != bar:
            raise ComposerError(f"the score's sections do not tile its bars (gap or overlap at bar "
                                f"{bar + 1}); regenerate needs a song made by `composer generate`")
        phrases.append(Phrase(s.label, s.n_bars))
        bar += s.n_bars
    if not phrases:
        raise ComposerError("the score has no sections; regenerate needs a song made by `composer generate`")
    bar_ticks = ts.ticks_per_bar(score.resolution)
    tonic, mode = [], []
    for b in range(bar):
        k = score.key_at(b * bar_ticks) or KeySignature(0, 0, "major")
        tonic.append(k.tonic)
        mode.append(1 if k.mode == "minor" else 0)
    return FormPlan(tuple(phrases), tuple(tonic), tuple(mode)), meter


def grid_from_score(score: Score, n_bars: int, beats_per_bar: int) -> ChordGrid:
    """The chord per beat of a Score's chord symbols (-1 where none sounds)."""
    n = n_bars * beats_per_bar
    root = -np.ones(n, np.int8)
    qual = -np.ones(n, np.int8)
    bass = -np.ones(n, np.int8)
    res = score.resolution
    for c in score.chords:
        first = -(-c.start_tick // res)
        last = min(n, -(-c.end_tick // res))
        for b in range(max(0, first), last):
            root[b], qual[b], bass[b] = c.root, QUALITY_NAMES.index(c.quality), c.bass
    return ChordGrid(root, qual, bass, beats_per_bar)


__all__ = ["SECTION_NAMES", "section_name", "named_sections", "shape_velocities", "bass_line",
           "MELODY_VELOCITY", "PIANO_VELOCITY", "BASS_VELOCITY", "Arranged", "arrange_parts", "notes_track",
           "piano_track", "piano_tracks", "key_signatures", "plan_from_score", "grid_from_score"]
