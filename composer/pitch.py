"""Pitch-class names: the one table from note letters to pitch classes and back.

Everything that reads or writes a note name (chord symbols, key names, POP909's labels,
MusicXML spelling, the app's key menu) goes through this module, so a name means the
same pitch class everywhere.
"""
from __future__ import annotations

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
"""Plain spelling of each pitch class (sharps for C#/F#, flats elsewhere, as pop charts write them)."""

NATURAL_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
"""Pitch class of each white-key letter."""

ACCIDENTAL_SHIFT = {"#": 1, "b": -1, "": 0, "\u266f": 1, "\u266d": -1}
"""Semitones an accidental moves a letter (ASCII and Unicode sharp/flat)."""


def pitch_class_of(letter: str, accidentals: str = "") -> int | None:
    """``("F", "#")`` -> 6, ``("C", "b")`` -> 11, ``("E", "bb")`` -> 2; None when ``letter``
    is not A-G (either case) or an accidental is not a sharp or flat sign.  The caller
    raises its own error, in its own words."""
    natural = NATURAL_PITCH_CLASSES.get(letter.upper())
    if natural is None:
        return None
    shift = 0
    for ch in accidentals:
        if ch not in ACCIDENTAL_SHIFT or not ch:
            return None
        shift += ACCIDENTAL_SHIFT[ch]
    return (natural + shift) % 12


def pitch_name(midi_pitch: int) -> str:
    """MIDI pitch -> scientific name with the plain spelling: 60 -> ``"C4"``, 70 -> ``"Bb4"``."""
    return f"{PITCH_CLASS_NAMES[midi_pitch % 12]}{midi_pitch // 12 - 1}"


__all__ = ["PITCH_CLASS_NAMES", "NATURAL_PITCH_CLASSES", "ACCIDENTAL_SHIFT", "pitch_class_of", "pitch_name"]
