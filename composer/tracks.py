"""The song's tracks: their names and General MIDI programs as the cascade writes them, and the
one rule that gives every track of any MIDI file a role (melody, accompaniment, bass, drums).

    from composer.tracks import MELODY, classify_tracks, melody_index
    roles = classify_tracks(read_midi("song.mid"))     # ("melody", "accompaniment", ...)

The plot, the metrics, MusicXML, ``composer export`` and the pipeline read these names and this
rule from here, so a file's melody is the same track whichever of them looks at it.

The rule, track by track: a drum track (``is_drum``) is drums; a track whose name holds the word
"bass" (any case: "Bass", "Synth Bass", not "Bassoon") or whose program is a GM bass (32..39) is
the bass, unless it is named "Melody"; the track named "Melody" (any case, even without notes)
is the melody, else, when there are at least two pitched non-bass tracks with notes, the highest
(by mean pitch) of those that are monophonic-ish (:data:`MAX_POLYPHONY_FOR_MELODY`); every other
track is accompaniment.  A lone pitched track is accompaniment: one piano part is not a melody over
nothing.
"""
from __future__ import annotations

import re
from typing import Literal

import numpy as np

from composer.score import Score, Track

MELODY = "Melody"
PIANO = "Piano"
"""The accompaniment as one track: songs written before the hands were split, and the merged
hands (:func:`composer.band.piano_track`)."""
PIANO_RH = "Piano RH"
PIANO_LH = "Piano LH"
PIANO_TRACKS = (PIANO_RH, PIANO_LH)
"""The accompaniment's two tracks as the cascade writes them (right hand, left hand)."""
BASS = "Bass"
DRUMS = "Drums"
GENERATED_TRACKS = (MELODY, PIANO_RH, PIANO_LH, BASS, DRUMS)
"""The tracks of a composed song, in the order they are written."""

MELODY_PROGRAM = 71   # GM clarinet: a sustained lead whose range holds a sung line where it was written
PIANO_PROGRAM = 0     # GM acoustic grand piano: POP909's accompaniment is a piano part
BASS_PROGRAM = 33     # GM electric bass (finger)
BASS_PROGRAMS = range(32, 40)
"""The GM basses (acoustic .. synth bass 2): a track on one of them is a bass whatever its name."""

Role = Literal["melody", "accompaniment", "bass", "drums"]
ROLES: tuple[Role, ...] = ("melody", "accompaniment", "bass", "drums")

MAX_POLYPHONY_FOR_MELODY = 0.15
"""A track is "monophonic-ish" (a melody candidate) when at most this share of its notes
start while another of its notes still sounds: sung and played lead lines overlap a little
(legato, grace notes); a piano part overlaps on most onsets."""

_BASS_WORD = re.compile(r"\bbass\b", re.IGNORECASE)


def is_melody_name(track: Track) -> bool:
    """True for a track named "Melody" (any case, spaces around ignored)."""
    return track.name.strip().lower() == MELODY.lower()


def is_bass(track: Track) -> bool:
    """True for a pitched track with the word "bass" in its name or a GM bass program."""
    return (not track.is_drum and not is_melody_name(track)
            and (bool(_BASS_WORD.search(track.name)) or track.program in BASS_PROGRAMS))


def _overlap_share(track: Track) -> float:
    """Share of ``track``'s notes that start while an earlier note still sounds."""
    notes = track.notes  # sorted by start tick (Track sorts them)
    if len(notes) < 2:
        return 0.0
    starts = np.fromiter((n.start_tick for n in notes), np.int64, len(notes))
    ends = np.fromiter((n.end_tick for n in notes), np.int64, len(notes))
    running_end = np.maximum.accumulate(ends)[:-1]
    return float(np.mean(starts[1:] < running_end))


def classify_tracks(score: Score) -> tuple[Role, ...]:
    """One role per track of ``score``, in track order, by the rule in the module docstring."""
    roles: list[Role] = []
    for t in score.tracks:
        if t.is_drum:
            roles.append("drums")
        elif is_bass(t):
            roles.append("bass")
        else:
            roles.append("accompaniment")
    pitched = [i for i, r in enumerate(roles) if r == "accompaniment" and score.tracks[i].notes]
    # A named melody wins even when empty: a song whose form has no melodic phrase has a
    # silent Melody track, and its piano's top hand is not to be taken for a lead.
    named = [i for i, r in enumerate(roles) if r == "accompaniment" and is_melody_name(score.tracks[i])]
    if named:
        roles[named[0]] = "melody"
    elif len(pitched) >= 2:
        candidates = [i for i in pitched if _overlap_share(score.tracks[i]) <= MAX_POLYPHONY_FOR_MELODY]
        if candidates:
            best = max(candidates, key=lambda i: np.mean([n.pitch for n in score.tracks[i].notes]))
            roles[best] = "melody"
    return tuple(roles)


def melody_index(score: Score) -> int | None:
    """Index of the melody track of ``score`` (:func:`classify_tracks`), None without one or
    when it has no notes."""
    return next((i for i, role in enumerate(classify_tracks(score))
                 if role == "melody" and score.tracks[i].notes), None)


def lead_index(score: Score) -> int | None:
    """Index of the line to harmonise in ``score`` (``composer arrange``): the melody of the rule
    (:func:`melody_index`); else, in a file that holds only a line, that line: the one pitched
    non-bass track with notes, when it is monophonic-ish.  The rule calls a lone track
    accompaniment because nothing is under it; a file brought to be harmonised is exactly a
    line with nothing under it.  None when neither holds."""
    found = melody_index(score)
    if found is not None:
        return found
    pitched = [i for i, r in enumerate(classify_tracks(score)) if r == "accompaniment" and score.tracks[i].notes]
    if len(pitched) == 1 and _overlap_share(score.tracks[pitched[0]]) <= MAX_POLYPHONY_FOR_MELODY:
        return pitched[0]
    return None


def named_melody_index(score: Score) -> int | None:
    """Index of the first pitched track named "Melody" with notes, None without one: the
    rule's first step alone, for callers that must not guess (a lead sheet by default)."""
    return next((i for i, t in enumerate(score.tracks)
                 if not t.is_drum and t.notes and is_melody_name(t)), None)


__all__ = ["MELODY", "PIANO", "PIANO_RH", "PIANO_LH", "PIANO_TRACKS", "BASS", "DRUMS", "GENERATED_TRACKS",
           "MELODY_PROGRAM", "PIANO_PROGRAM", "BASS_PROGRAM", "BASS_PROGRAMS", "Role", "ROLES",
           "MAX_POLYPHONY_FOR_MELODY", "is_melody_name", "is_bass", "classify_tracks", "melody_index", "lead_index",
           "named_melody_index"]
