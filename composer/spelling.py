"""Spelling: pitch classes, keys and chord symbols as a lead sheet writes them, and chord names
read back.  Key-aware (F# major writes D#, Gb major Eb) and shared by the MIDI files' chord
and key events, the plot's chord labels, MusicXML and ``composer midi``.

    chord_text(ChordSymbol(0, 480, 3, "min", 3), KeySignature(0, 6, "major"))   # "D#m"
    parse_chord_text("Am7/G")                                                    # (9, "min7", 7)
"""
from __future__ import annotations

import re

from composer.pitch import NATURAL_PITCH_CLASSES, key_tonic_name, pitch_class_of
from composer.score import CHORD_QUALITIES, PITCH_CLASS_NAMES, ChordSymbol, KeySignature

# Chord quality -> DAW-style suffix written after the root ("Am7", "Bm7b5", "G7sus4").
QUALITY_SUFFIX: dict[str, str] = {
    "maj": "", "min": "m", "dim": "dim", "aug": "aug", "sus2": "sus2", "sus4": "sus4",
    "7": "7", "maj7": "maj7", "min7": "m7", "minmaj7": "m(maj7)", "hdim7": "m7b5",
    "dim7": "dim7", "maj6": "6", "min6": "m6", "sus4(b7)": "7sus4",
}
assert set(QUALITY_SUFFIX) == set(CHORD_QUALITIES)
# Suffixes accepted on reading: ours, the Harte names, and common lead-sheet spellings.
_SUFFIX_TO_QUALITY: dict[str, str] = {
    **{q: q for q in CHORD_QUALITIES},
    "M": "maj", "major": "maj", "-": "min", "minor": "min", "mi": "min", "o": "dim",
    "+": "aug", "sus": "sus4", "M7": "maj7", "Maj7": "maj7", "^7": "maj7", "-7": "min7",
    "mi7": "min7", "mM7": "minmaj7", "m(M7)": "minmaj7", "mmaj7": "minmaj7",
    "m7(b5)": "hdim7", "ø": "hdim7", "ø7": "hdim7", "o7": "dim7", "°7": "dim7", "°": "dim",
    "M6": "maj6", "7sus": "sus4(b7)", "sus4(b7)": "sus4(b7)",
    **{suffix: q for q, suffix in QUALITY_SUFFIX.items()},
}
_CHORD_RE = re.compile(r"^([A-G])([#b]?)(?::?)(.*?)(?:/([A-G])([#b]?))?$")
_CHORD_RE = re.compile(r"^([A-G])([#b]?)(?::?)(.*?)(?:/([A-G])([#b]?))?$")


LETTERS = "CDEFGAB"
# Semitones above the tonic -> (scale degree 0..6, alteration against the key's scale).
# Major: the chromatic degrees are the borrowed bII, bIII, bVI, bVII and the raised #IV
# (secondary dominants' leading tone).  Minor (natural minor as the base): the raised
# 6th and 7th of melodic/harmonic minor, the major III (Picardy) and #IV.
_DEGREES = {
    "major": {0: (0, 0), 1: (1, -1), 2: (1, 0), 3: (2, -1), 4: (2, 0), 5: (3, 0), 6: (3, 1),
              7: (4, 0), 8: (5, -1), 9: (5, 0), 10: (6, -1), 11: (6, 0)},
    "minor": {0: (0, 0), 1: (1, -1), 2: (1, 0), 3: (2, 0), 4: (2, 1), 5: (3, 0), 6: (3, 1),
              7: (4, 0), 8: (5, 0), 9: (5, 1), 10: (6, 0), 11: (6, 1)},
}
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


def spell_pitch_class(pc: int, key: KeySignature | None = None) -> tuple[str, int]:
    """``(letter, accidental)`` of pitch class ``pc`` spelled in ``key``: the letter of its
    scale degree (F# major: 3 -> ``("D", 1)``, D#; Gb major: 3 -> ``("E", -1)``, Eb), the key
    spelled as :func:`key_signature_name` spells it.  A chromatic note whose degree
    spelling would need a double accidental or an unusual white-key name (B#, E#, Cb, Fb)
    takes the plain name instead.  Without a key: :data:`PITCH_CLASS_NAMES`."""
    pc %= 12
    if key is None:
        name = PITCH_CLASS_NAMES[pc]
        return name[0], {"#": 1, "b": -1}.get(name[1:], 0)
    tonic_name = key_signature_name(key.tonic, key.mode).rstrip("m")
    tonic_letter = LETTERS.index(tonic_name[0])
    degree, alteration = _DEGREES[key.mode][(pc - key.tonic) % 12]
    letter = LETTERS[(tonic_letter + degree) % 7]
    accidental = (pc - NATURAL_PITCH_CLASSES[letter] + 6) % 12 - 6
    odd = accidental != 0 and letter + ("#" if accidental > 0 else "b") in ("B#", "E#", "Cb", "Fb")
    # Minor's raised degrees are leading tones and keep their letter (E# in F# minor's C#7).
    leading = key.mode == "minor" and alteration > 0 and degree in (2, 5, 6)
    if abs(accidental) > 1 or (alteration and odd and not leading):
        # F## in G# minor, B# for #IV in F# major: a lead sheet writes G and C.  These all
        # land on white keys, where PITCH_CLASS_NAMES is the plain name.
        return PITCH_CLASS_NAMES[pc], 0
    return letter, accidental


def pitch_class_name(pc: int, key: KeySignature | None = None) -> str:
    """``"D#"``, ``"Eb"``, ``"B"``: :func:`spell_pitch_class` as text."""
    letter, accidental = spell_pitch_class(pc, key)
    return letter + {1: "#", -1: "b", 0: ""}[accidental]


def chord_text(chord: ChordSymbol, key: KeySignature | None = None) -> str:
    """The DAW-readable name of ``chord``: root, suffix and a slash bass, e.g. ``"Am7/G"``,
    spelled in ``key`` when given (F# major: ``"D#m"``, not ``"Ebm"``)."""
    text = pitch_class_name(chord.root, key) + QUALITY_SUFFIX[chord.quality]
    if chord.bass != chord.root:
        text += "/" + pitch_class_name(chord.bass, key)
    return text


def parse_chord_text(text: str) -> tuple[int, str, int] | None:
    """``(root, quality, bass)`` of a chord name such as ``"Am7/G"`` or ``"A:min7/G"``;
    None when ``text`` is not a chord name this module knows."""
    match = _CHORD_RE.match(text.strip())
    if not match:
        return None
    letter, accidental, suffix, bass_letter, bass_accidental = match.groups()
    quality = _SUFFIX_TO_QUALITY.get(suffix)
    if quality is None:
        return None
    root = pitch_class_of(letter, accidental)
    bass = pitch_class_of(bass_letter, bass_accidental) if bass_letter else root
    return root, quality, bass


def key_signature_name(tonic: int, mode: str) -> str:
    """mido's key name for ``tonic`` (0..11) and ``mode``: the spelling with the fewest
    accidentals, ties broken towards :data:`PITCH_CLASS_NAMES` (F# major, Eb minor)."""
    return key_tonic_name(tonic, mode) + ("" if mode == "major" else "m")



__all__ = ["QUALITY_SUFFIX", "LETTERS", "spell_pitch_class", "pitch_class_name", "chord_text",
           "parse_chord_text", "key_signature_name"]
