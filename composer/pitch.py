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


def key_tonic_name(tonic: int, mode: str = "major") -> str:
    """The tonic of a key as its key signature spells it: the spelling with the fewest
    sharps or flats, ties broken towards :data:`PITCH_CLASS_NAMES`.  ``(1, "major")`` ->
    ``"Db"`` (5 flats, not C#'s 7 sharps), ``(6, "major")`` -> ``"F#"``, ``(3, "minor")`` ->
    ``"Eb"``, ``(8, "minor")`` -> ``"G#"``.  ``mode`` is "major" or "minor"."""
    offset = 0 if mode == "major" else 9      # a minor key's signature is its relative major's
    fifths = [sf for sf in range(-7, 8) if (sf * 7 + offset) % 12 == tonic % 12]
    best = min(fifths, key=lambda sf: (abs(sf), _tonic_spelling(sf, mode) != PITCH_CLASS_NAMES[tonic % 12]))
    return _tonic_spelling(best, mode)


def _tonic_spelling(fifths: int, mode: str) -> str:
    """The tonic's name of the key with ``fifths`` sharps (> 0) or flats (< 0)."""
    letters = "FCGDAEB"
    index = fifths + (1 if mode == "major" else 4)    # C major is F + 1 fifth; A minor F + 4
    return letters[index % 7] + {-1: "b", 0: "", 1: "#"}[index // 7]


def pitch_name(midi_pitch: int) -> str:
    """MIDI pitch -> scientific name with the plain spelling: 60 -> ``"C4"``, 70 -> ``"Bb4"``."""
    return f"{PITCH_CLASS_NAMES[midi_pitch % 12]}{midi_pitch // 12 - 1}"


__all__ = ["PITCH_CLASS_NAMES", "NATURAL_PITCH_CLASSES", "ACCIDENTAL_SHIFT", "pitch_class_of", "pitch_name",
           "key_tonic_name"]
