"""Voice allocation: a track's notes (chords included) split into monophonic voices.

Every voice is then played by the same timbre (one batch through the network) and mixed.
Notes are taken in onset order (lowest pitch first within a chord); each goes to the free voice
whose last pitch is nearest (smooth voice leading), a new voice while fewer than ``max_voices``
exist, and is dropped otherwise (counted, so the caller can warn once).  A note that starts
shortly before the previous note of its voice ends (at most ``legato_seconds`` and at most half
that note) is a legato join: the previous note is cut at the new onset and the new note is
marked ``legato`` so that it glides in without a new attack.  So is a note of another pitch that
starts when the previous one ends, or at most ``touch_seconds`` after it (the previous note is
held to the new onset): a written line whose notes touch is a slur, as a singer or a wind player
would phrase it, not a string of tongued notes (issue 21; the SoundFont's instruments also play
such joins without a dip).  A repeated pitch that touches is still re-attacked: otherwise the two
notes would be heard as one.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, order=True)
class TimedNote:
    """A note in seconds: ``start_s`` / ``end_s`` (end >= start), MIDI ``pitch`` and ``velocity``;
    ``legato`` when it joins the previous note of its voice without a new attack."""

    start_s: float
    end_s: float
    pitch: int
    velocity: int
    legato: bool = False


@dataclass(frozen=True)
class VoiceAllocation:
    """``voices``: tuple of monophonic note tuples, each sorted and non-overlapping;
    ``n_dropped``: notes that found no voice."""

    voices: tuple[tuple[TimedNote, ...], ...]
    n_dropped: int


TOUCH_SECONDS = 0.02
"""Two notes touch when the second starts at most this long after the first ends: 2 frames at
100 frames/s, less than a listener hears as a gap inside a line."""


def allocate_voices(notes: list[TimedNote] | tuple[TimedNote, ...], max_voices: int = 8,
                    legato_seconds: float = 0.08, touch_seconds: float = TOUCH_SECONDS) -> VoiceAllocation:
    """Split ``notes`` into at most ``max_voices`` monophonic voices (see module docstring)."""
    if max_voices < 1:
        raise ValueError("max_voices must be at least 1")
    ordered = sorted(notes, key=lambda n: (n.start_s, n.pitch, n.end_s))
    voices: list[list[TimedNote]] = []
    dropped = 0
    for note in ordered:
        best, best_cost, legato = None, None, False
        for i, voice in enumerate(voices):
            last = voice[-1]
            overlap = last.end_s - note.start_s
            if last.start_s >= note.start_s:
                continue                                   # same onset: a chord, needs another voice
            joins = (0 < overlap <= min(legato_seconds, 0.5 * (last.end_s - last.start_s))
                     or (-touch_seconds <= overlap <= 0 and last.pitch != note.pitch))
            if overlap > 0 and not joins:
                continue
            cost = abs(last.pitch - note.pitch) + (0 if overlap <= 0 else 0.5)
            if best_cost is None or cost < best_cost:
                best, best_cost, legato = i, cost, joins
        if best is None:
            if len(voices) >= max_voices:
                dropped += 1
                continue
            voices.append([note])
            continue
        voice = voices[best]
        if legato:
            voice[-1] = replace(voice[-1], end_s=note.start_s)
            note = replace(note, legato=True)
        voice.append(note)
    return VoiceAllocation(tuple(tuple(v) for v in voices), dropped)
