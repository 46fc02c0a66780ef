"""Arranging the note level's output for players: what a musician would fix before a session.

Pure functions on step notes (``int32 [n, 4]``: start_step, duration_steps, pitch, velocity,
16th-note steps, the layout of :mod:`composer.representation.pianoroll`) and on Tracks:

* :func:`fit_melody_range` moves each phrase of the melody by whole octaves into the lead
  instrument's range (GM clarinet: D3..C7), then folds the few notes still outside;
* :func:`silence_sections` removes the melody from sections that have none (intro, outro,
  interludes: the lower-case labels);
* :func:`tighten_groove` moves the piano's stray 16th-note onsets onto the section's own
  groove (a rhythm no other bar of the section plays, next to one most bars play);
* :func:`split_hands` gives each piano note to the right or the left hand, so notation
  programs can write a grand staff without clef changes;
* :func:`sustain_pedal` presses CC64 through each chord where the piano plays, lifting it
  at every chord change (legato pedalling);
* :func:`humanize` moves onsets, releases and velocities by small seeded amounts.

Why the clarinet: the melody level writes a sung line in a singer's register (POP909's
vocal lines: median B4, 5% of their notes below C4, almost none below D3), and the
clarinet's range holds all of it where it was written.  The flute (C4 up, the lead until
issue 10) had every phrase that dipped below C4 lifted an octave: on 48 validation songs the
tune's median rose from C5 to F#5 and it sat above the whole piano at 81% of its onsets,
against 60% in real songs (66% as written).  The learned ``ddsp:clarinet`` is
also the closest of the shipped timbres to its recordings (62 of 69 held-out notes closer
than the SoundFont).  Octaves per phrase, not a program chosen by range: a whole phrase
moved by an octave keeps its contour and intervals, while choosing the instrument by range
would change the sound of the song from one seed to the next.  A note moved alone (after
the phrase shift) is the rare outlier of a phrase wider than the range.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from composer.score import ChordSymbol, ControlChange, Note, Section, Track

LEAD_RANGE = (50, 96)
"""Sounding range of the lead (GM 71, clarinet), MIDI D3..C7 inclusive: the range of the
Philharmonia clarinet notes ``ddsp:clarinet`` learned from (its model card)."""
GROOVE_STRAY = 0.3
GROOVE_COMMON = 0.5
""":func:`tighten_groove`: an onset position (step within the bar) that fewer than 30% of a
section's bars use is a stray; it moves by one step onto a neighbouring position that at
least half of the bars use.  Chosen on the validation split: the note level's piano keeps
its pattern less than POP909's pianists do (groove consistency 0.776 against 0.839 on
validation songs); on 48 songs of the whole cascade strays below 0.25 gave 0.795, below 0.3
0.836; moving every onset under one half overshoots (0.90 on 24 songs).  See
docs/ARCHITECTURE.md, "The pipeline"."""
SUSTAIN = 64
"""MIDI controller number of the sustain (damper) pedal."""
PEDAL_DELAY_TICKS_PER_BEAT = 8
"""The pedal goes down a 32nd after a chord change (1/8 beat): lifted at the change so the
old harmony stops, pressed again once the new chord's notes have sounded (legato pedalling)."""


def is_melodic(label: str) -> bool:
    """Whether a form label carries a melody: upper case (A verse, B chorus, C bridge...);
    lower case (i intro, o outro, x interludes) are instrumental."""
    return not label.islower()


def _section_of_steps(starts: np.ndarray, sections: Sequence[Section], steps_per_bar: int) -> np.ndarray:
    """Index into ``sections`` of the section holding each step (-1 outside every section)."""
    out = np.full(len(starts), -1, dtype=np.int64)
    for i, s in enumerate(sections):
        lo, hi = s.start_bar * steps_per_bar, (s.start_bar + s.n_bars) * steps_per_bar
        out[(starts >= lo) & (starts < hi)] = i
    return out


def fit_melody_range(notes: np.ndarray, sections: Sequence[Section], steps_per_bar: int,
                     low: int = LEAD_RANGE[0], high: int = LEAD_RANGE[1]) -> np.ndarray:
    """Step notes ``int32 [n, 4]`` with each section's melody moved by the whole octaves
    (-3..+3) that leave the fewest notes outside ``low..high`` (MIDI, inclusive), ties to
    the smallest move, then to the phrase's middle nearest the range's middle; notes still
    outside are then moved alone by octaves into the range.  Notes outside every section
    are treated as one more phrase.  Order and every other column are kept."""
    notes = np.array(notes, dtype=np.int32).reshape(-1, 4)
    if not len(notes):
        return notes
    which = _section_of_steps(notes[:, 0], sections, steps_per_bar)
    centre = (low + high) / 2
    for phrase in np.unique(which):
        rows = which == phrase
        pitch = notes[rows, 2].astype(np.int64)
        best = min(range(-3, 4), key=lambda k: (
            int(np.sum((pitch + 12 * k < low) | (pitch + 12 * k > high))), abs(k),
            abs((pitch.min() + pitch.max()) / 2 + 12 * k - centre)))
        pitch = pitch + 12 * best
        pitch = np.where(pitch < low, pitch + 12 * ((low - pitch + 11) // 12), pitch)
        pitch = np.where(pitch > high, pitch - 12 * ((pitch - high + 11) // 12), pitch)
        notes[rows, 2] = pitch
    return notes


def tighten_groove(notes: np.ndarray, sections: Sequence[Section], steps_per_bar: int,
                   stray: float = GROOVE_STRAY, common: float = GROOVE_COMMON) -> np.ndarray:
    """Step notes ``int32 [n, 4]`` with each section's stray onsets moved onto its groove.

    Per section, the share of its bars (those with an onset) that have an onset at each
    step of the bar is its groove.  A note whose onset position has a share below
    ``stray`` moves one step, within its bar, to the neighbour with the larger share if that
    share is at least ``common``; its release stays where it was.  Two notes of one pitch
    that then start together become the longer one, and a note of one pitch that now
    overlaps the next is cut where that one starts.  Notes outside every section are one
    more section.  Returns the notes sorted by (start, pitch)."""
    notes = np.array(notes, dtype=np.int32).reshape(-1, 4)
    if not len(notes):
        return notes
    which = _section_of_steps(notes[:, 0], sections, steps_per_bar)
    for section in np.unique(which):
        rows = np.nonzero(which == section)[0]
        bar, pos = np.divmod(notes[rows, 0], steps_per_bar)
        used = np.zeros((len(np.unique(bar)), steps_per_bar), dtype=bool)
        used[np.unique(bar, return_inverse=True)[1], pos] = True
        if len(used) < 2:
            continue
        share = used.mean(axis=0)
        for row, p in zip(rows.tolist(), pos.tolist()):
            if share[p] >= stray:
                continue
            moves = [d for d in (-1, 1) if 0 <= p + d < steps_per_bar and share[p + d] >= common]
            if not moves:
                continue
            d = max(moves, key=lambda m: (share[p + m], -m))
            end = notes[row, 0] + notes[row, 1]
            notes[row, 0] += d
            notes[row, 1] = max(1, end - notes[row, 0])
    notes = notes[np.lexsort((-notes[:, 1], notes[:, 2], notes[:, 0]))]
    # one note per (start, pitch): the longest, which the sort put first
    first = np.ones(len(notes), dtype=bool)
    first[1:] = (notes[1:, 0] != notes[:-1, 0]) | (notes[1:, 2] != notes[:-1, 2])
    notes = notes[first]
    # a pitch sounds once at a time: cut each note where the next of its pitch starts
    by_pitch = np.lexsort((notes[:, 0], notes[:, 2]))
    for a, b in zip(by_pitch[:-1].tolist(), by_pitch[1:].tolist()):
        if notes[a, 2] == notes[b, 2] and notes[a, 0] + notes[a, 1] > notes[b, 0]:
            notes[a, 1] = notes[b, 0] - notes[a, 0]
    return notes


def silence_sections(notes: np.ndarray, sections: Sequence[Section], steps_per_bar: int) -> np.ndarray:
    """Step notes without those that start in a section with no melody (:func:`is_melodic`),
    and with any note that runs into such a section cut where it begins."""
    notes = np.array(notes, dtype=np.int32).reshape(-1, 4)
    quiet = [(s.start_bar * steps_per_bar, (s.start_bar + s.n_bars) * steps_per_bar)
             for s in sections if not is_melodic(s.label)]
    if not len(notes) or not quiet:
        return notes
    keep = np.ones(len(notes), dtype=bool)
    for lo, hi in quiet:
        keep &= ~((notes[:, 0] >= lo) & (notes[:, 0] < hi))
    notes = notes[keep]
    ends = notes[:, 0] + notes[:, 1]
    for lo, _ in quiet:
        cut = (notes[:, 0] < lo) & (ends > lo)
        ends = np.where(cut, lo, ends)
    notes[:, 1] = ends - notes[:, 0]
    return notes


# Hand-split costs per semitone.  The staff matters most: right-hand notes below G3 and
# left-hand notes above D4 make a notation program change clef.  Measured in MuseScore 3
# on three generated songs (seeds 3, 5, 11; clef changes on the left-hand staff): register
# weight 2 with a stretch weight 10 and a ceiling of E4 gave 33, 40, 12; weight 4 with
# stretch 0.1 and a ceiling of D4 gives 0, 2, 0 (the right hand never changes clef).  The
# stretch past a 9th only breaks ties: the note level's voicings often span more than any
# hand, and a readable staff is what the split is for.
_HAND_SPAN = 14
_SPAN_WEIGHT = 0.1
_REGISTER_WEIGHT = 4.0
_MOVE_WEIGHT = 0.25
_RH_FLOOR = 55
_LH_CEILING = 62


def split_hands(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right hand, left hand) step notes of a piano part ``int32 [n, 4]``.

    The notes that start together are one grip: sorted by pitch, the lowest k go to the
    left hand, choosing k to minimise (per semitone) 4 x how far right-hand notes lie
    below G3 and left-hand notes above D4, 0.1 x how far each hand stretches past a 9th,
    plus 0.25 x how far each hand's middle moves from its last grip (so a line near middle
    C stays in one hand).  Every note goes to exactly one hand."""
    notes = np.array(notes, dtype=np.int32).reshape(-1, 4)
    if not len(notes):
        return notes.copy(), notes.copy()
    order = np.lexsort((notes[:, 2], notes[:, 0]))
    notes = notes[order]
    left = np.zeros(len(notes), dtype=bool)
    rh_at, lh_at = 67.0, 48.0
    starts = notes[:, 0]
    bounds = np.flatnonzero(np.diff(starts)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(notes)]):
        pitch = notes[lo:hi, 2].astype(np.float64)
        best, best_cost = 0, np.inf
        for k in range(len(pitch) + 1):
            lh, rh = pitch[:k], pitch[k:]
            cost = 0.0
            for hand in (lh, rh):
                if len(hand):
                    cost += _SPAN_WEIGHT * max(0.0, hand[-1] - hand[0] - _HAND_SPAN)
            cost += _REGISTER_WEIGHT * (np.sum(np.maximum(0, _RH_FLOOR - rh))
                                        + np.sum(np.maximum(0, lh - _LH_CEILING)))
            if len(lh):
                cost += _MOVE_WEIGHT * abs(lh.mean() - lh_at)
            if len(rh):
                cost += _MOVE_WEIGHT * abs(rh.mean() - rh_at)
            if cost < best_cost:
                best, best_cost = k, cost
        left[lo:lo + best] = True
        # A hand is where its last grip was.
        if best:
            lh_at = pitch[:best].mean()
        if best < len(pitch):
            rh_at = pitch[best:].mean()
    return notes[~left], notes[left]


def sustain_pedal(chords: Sequence[ChordSymbol], notes: Sequence[Note],
                  resolution: int) -> tuple[ControlChange, ...]:
    """CC64 events for a piano playing ``notes`` (ticks) over ``chords``: for each chord
    during which a note starts, the pedal goes down a 32nd after the chord starts (127) and
    comes up where the chord ends (0).  Where the piano is silent the pedal stays up."""
    delay = max(1, resolution // PEDAL_DELAY_TICKS_PER_BEAT)
    starts = np.sort(np.fromiter((n.start_tick for n in notes), dtype=np.int64, count=len(notes)))
    out: list[ControlChange] = []
    for c in chords:
        if c.duration_ticks <= delay:
            continue
        i = np.searchsorted(starts, c.start_tick)
        if i < len(starts) and starts[i] < c.end_tick:
            out.append(ControlChange(c.start_tick + delay, SUSTAIN, 127))
            out.append(ControlChange(c.end_tick, SUSTAIN, 0))
    return tuple(out)


HUMANIZE_ONSET_SD_TICKS = 8
"""Standard deviation of the onset shift at 480 PPQ: 8 ticks, 8 ms at 120 bpm (drummers and
pianists in pop recordings deviate by ~10-20 ms)."""
HUMANIZE_MAX_TICKS = 14
"""Largest onset or release shift: under a 128th (15 ticks), so MuseScore still reads the
file as machine-made and keeps its tempo (it beat-tracks files it calls human-played)."""
HUMANIZE_VELOCITY_SD = 5


def humanize(tracks: Sequence[Track], rng: np.random.Generator, resolution: int = 480) -> tuple[Track, ...]:
    """Tracks with seeded human timing and dynamics: the notes that start together in a
    track (a hand's chord) move together by N(0, 8 ticks), each release by its own N(0, 8
    ticks), both clipped to +-14 ticks (scaled to ``resolution``, from 480 PPQ), and each
    velocity by N(0, 5), clipped to 1..127.  A note never starts before 0, keeps at least
    half its length, and ends before the next onset of its pitch in its track (so no two
    notes of a pitch overlap) and no later than the last note of all ``tracks`` ended
    before (a release moved past the song's last bar line made a bar of its own in every
    reader: 148 bars for a 147-bar song).  Drum tracks move too; controllers stay where
    they are."""
    scale = resolution / 480
    sd, cap = HUMANIZE_ONSET_SD_TICKS * scale, HUMANIZE_MAX_TICKS * scale
    song_end = max((n.end_tick for t in tracks for n in t.notes), default=0)
    out = []
    for track in tracks:
        if not track.notes:
            out.append(track)
            continue
        starts = np.array([n.start_tick for n in track.notes], dtype=np.int64)
        ends = np.array([n.end_tick for n in track.notes], dtype=np.int64)
        pitch = np.array([n.pitch for n in track.notes], dtype=np.int64)
        vel = np.array([n.velocity for n in track.notes], dtype=np.float64)
        onsets, group = np.unique(starts, return_inverse=True)
        shift = np.clip(np.round(rng.normal(0, sd, len(onsets))), -cap, cap).astype(np.int64)[group]
        release = np.clip(np.round(rng.normal(0, sd, len(starts))), -cap, cap).astype(np.int64)
        vel = np.clip(np.round(vel + rng.normal(0, HUMANIZE_VELOCITY_SD, len(vel))), 1, 127).astype(np.int64)
        new_start = np.maximum(0, starts + shift)
        length = ends - starts
        new_end = np.maximum(ends + shift + release, new_start + (length + 1) // 2)
        new_end = np.maximum(new_start, np.minimum(new_end, song_end))
        new_end = np.where(length == 0, new_start, new_end)
        # No overlap with the next note of the same pitch.
        order = np.lexsort((new_start, pitch))
        for a, b in zip(order[:-1], order[1:]):
            if pitch[a] == pitch[b] and new_end[a] > new_start[b]:
                new_end[a] = max(new_start[a], new_start[b])
        notes = tuple(Note(int(s), int(e - s), int(p), int(v))
                      for s, e, p, v in zip(new_start, new_end, pitch, vel))
        out.append(Track(track.name, track.program, track.is_drum, notes, track.controls,
                         track.pitch_bends))
    return tuple(out)


__all__ = ["monophonic", "LEAD_RANGE", "SUSTAIN", "is_melodic", "fit_melody_range", "silence_sections",
           "split_hands", "sustain_pedal", "humanize", "HUMANIZE_ONSET_SD_TICKS",
           "HUMANIZE_MAX_TICKS", "HUMANIZE_VELOCITY_SD"]


def monophonic(notes: np.ndarray) -> np.ndarray:
    """Step notes ``int [n, 4]`` cut so none overlaps the next onset (one voice)."""
    notes = np.array(notes, dtype=np.int32).reshape(-1, 4)
    if len(notes) < 2:
        return notes
    notes = notes[np.lexsort((-notes[:, 2], notes[:, 0]))]
    _, first = np.unique(notes[:, 0], return_index=True)
    notes = notes[first]
    ends = notes[:, 0] + notes[:, 1]
    nxt = np.append(notes[1:, 0], np.iinfo(np.int32).max)
    notes[:, 1] = np.minimum(ends, nxt) - notes[:, 0]
    return notes
