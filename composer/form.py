"""A song's form in words: phrases, the form notation (full and partial), key names, FormPlan.

``i4A8B8A8B8b4B8o4`` is a list of phrases, each a letter and a length in bars.
Uppercase letters are phrases with a melody (``A``, ``B``, ``C`` ... ``X``); lowercase
ones have none (``i`` intro, ``o`` outro, ``b``/``x``/``c`` other).  Whole-song
generation groups the letters into the six phrase types of Wang et al. (ICLR 2024):
A, B, other melodic, intro, outro, other non-melodic (:data:`PHRASE_TYPES`).

A partial form (:func:`parse_partial_form`, what a user may ask for) extends the notation:

* ``?N`` -- N bars whose phrases are generated (``i4A8?16o4``);
* ``*``  -- only at the end: the rest of the song, and its length, are generated (``i4A8*``).

A key is written as a tonic and a mode (:func:`parse_key`: ``"A minor"`` -> (9, 1)).
A :class:`FormPlan` (phrases + a key per bar) is what the form level produces and the chord
level consumes; as a tensor it is :mod:`composer.representation.form`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from composer.errors import FormError
from composer.pitch import key_tonic_name, pitch_class_of

PHRASE_TYPES = ("A", "B", "M", "i", "o", "x")
"""The six phrase types: A, B, other melodic (M), intro, outro, other non-melodic (x)."""

MAX_PHRASE_BARS = 64
MAX_SONG_BARS = 512


@dataclass(frozen=True)
class Phrase:
    """One phrase: its ``label`` letter and length ``n_bars`` (>= 1)."""

    label: str
    n_bars: int

    @property
    def has_melody(self) -> bool:
        return self.label.isupper()

    @property
    def phrase_type(self) -> int:
        """Index into :data:`PHRASE_TYPES`."""
        return phrase_type_of(self.label)


def phrase_type_of(label: str) -> int:
    """Map a label letter to one of the six phrase types (index into PHRASE_TYPES)."""
    if label == "A":
        return 0
    if label == "B":
        return 1
    if label.isupper():
        return 2
    if label == "i":
        return 3
    if label == "o":
        return 4
    return 5


@dataclass(frozen=True)
class FormPlan:
    """A song's form: its phrases and a key per bar.

    phrases:   the phrases in order (label letter + bars); they cover ``n_bars`` bars.
    key_tonic: per bar, pitch class 0..11 of the key (length n_bars).
    key_mode:  per bar, 0 = major, 1 = minor (length n_bars).
    """

    phrases: tuple[Phrase, ...]
    key_tonic: tuple[int, ...]
    key_mode: tuple[int, ...]

    def __post_init__(self) -> None:
        n = sum(p.n_bars for p in self.phrases)
        if n < 1 or len(self.key_tonic) != n or len(self.key_mode) != n:
            raise FormError(f"form plan: {n} bars of phrases but {len(self.key_tonic)} keys")

    @property
    def n_bars(self) -> int:
        return len(self.key_tonic)

    @property
    def form(self) -> str:
        """The phrase string, e.g. ``i4A8B8o4``."""
        return format_form(self.phrases)

    def bar_phrase_index(self) -> np.ndarray:
        """int64 [n_bars]: index of the phrase each bar belongs to."""
        return np.repeat(np.arange(len(self.phrases)), [p.n_bars for p in self.phrases])

    def bar_labels(self) -> tuple[str, ...]:
        """The label letter of every bar."""
        return tuple(p.label for p in self.phrases for _ in range(p.n_bars))

    def phrase_starts(self) -> np.ndarray:
        """int64 [n_phrases]: first bar of each phrase."""
        return np.cumsum([0] + [p.n_bars for p in self.phrases[:-1]])

    def key_names(self) -> str:
        """Keys in order of appearance, e.g. ``"C major -> D major (bar 65)"``."""
        parts, last = [], None
        for bar, (t, m) in enumerate(zip(self.key_tonic, self.key_mode)):
            if (t, m) != last:
                mode = "minor" if m else "major"
                name = f"{key_tonic_name(int(t), mode)} {mode}"     # as the key signature spells it
                parts.append(name if last is None else f"{name} (bar {bar + 1})")
                last = (t, m)
        return " -> ".join(parts)


@dataclass(frozen=True)
class Gap:
    """``?N`` in a partial form: N bars whose phrases are generated."""

    n_bars: int


@dataclass(frozen=True)
class PartialForm:
    """A parsed partial form: ``parts`` (Phrase or Gap, in order) and ``open_end`` (a
    trailing ``*``: the rest of the song and its length are generated)."""

    parts: tuple[Phrase | Gap, ...]
    open_end: bool

    @property
    def n_bars(self) -> int:
        """Bars the parts cover (the song's length when not open-ended)."""
        return sum(p.n_bars for p in self.parts)

    @property
    def is_complete(self) -> bool:
        return not self.open_end and all(isinstance(p, Phrase) for p in self.parts)


def parse_form(text: str) -> tuple[Phrase, ...]:
    """Parse ``i4A8B8o4`` into phrases.

    Raises :class:`FormError` with a one-line message that points at the offending
    character, e.g. ``bad form 'A8B?': expected a phrase letter at position 4 ('?')``.
    """
    form = _read_form(text, partial=False)
    return tuple(p for p in form.parts if isinstance(p, Phrase))


def parse_partial_form(text: str) -> PartialForm:
    """Parse a full or partial form string (``i4A8?16B8o4``, ``A8B8*``, ``?32``).

    Raises :class:`FormError` with one line pointing at the offending character.
    """
    return _read_form(text, partial=True)


def _read_form(text: str, partial: bool) -> PartialForm:
    """The one reader of form strings; ``partial`` allows ``?N`` and a final ``*``.  The
    messages of a full form do not mention what it may not contain."""
    source = text
    text = text.strip()
    if not text:
        raise FormError("empty form string: write phrases as letter + bars, e.g. 'i4A8B8A8o4'"
                        + (" ('?N' = N bars to generate, a final '*' = generate the rest)" if partial else ""))
    parts: list[Phrase | Gap] = []
    open_end = False
    i = 0
    while i < len(text):
        ch = text[i]
        if partial and ch == "*":
            if i != len(text) - 1:
                raise FormError(f"bad form {source!r}: '*' at position {i + 1} may only end the form "
                                f"(found {text[i + 1]!r} after it)")
            open_end = True
            i += 1
            continue
        if not ((partial and ch == "?") or (ch.isascii() and ch.isalpha())):
            expected = "a phrase letter, '?' or '*'" if partial else "a phrase letter"
            raise FormError(f"bad form {source!r}: expected {expected} at position {i + 1} ({ch!r}); "
                            "write phrases as letter + bars, e.g. 'i4A8B8A8o4'")
        j = i + 1
        while j < len(text) and text[j].isascii() and text[j].isdigit():
            j += 1
        what = f"{ch!r}" if partial else f"phrase {ch!r}"
        if j == i + 1:
            where = repr(text[j]) if j < len(text) else "end of string"
            raise FormError(f"bad form {source!r}: {what} at position {i + 1} needs a number of bars "
                            f"(found {where})")
        n_bars = int(text[i + 1:j])
        limit = MAX_SONG_BARS if ch == "?" else MAX_PHRASE_BARS
        if not 1 <= n_bars <= limit:
            rule = f"it may have 1 to {limit}" if partial else f"a phrase has 1 to {limit}"
            raise FormError(f"bad form {source!r}: {what} at position {i + 1} has {n_bars} bars; {rule}")
        parts.append(Gap(n_bars) if ch == "?" else Phrase(ch, n_bars))
        i = j
    if not parts and open_end:
        raise FormError(f"bad form {source!r}: '*' alone says nothing; leave the form out instead")
    total = sum(p.n_bars for p in parts)
    if total > MAX_SONG_BARS:
        raise FormError(f"form {source!r} has {total} bars; at most {MAX_SONG_BARS} are supported")
    return PartialForm(tuple(parts), open_end)


def format_form(phrases: tuple[Phrase, ...] | list[Phrase]) -> str:
    """Inverse of :func:`parse_form`."""
    return "".join(f"{p.label}{p.n_bars}" for p in phrases)


def form_bars(phrases: tuple[Phrase, ...] | list[Phrase]) -> int:
    return sum(p.n_bars for p in phrases)


def parse_key(text: str) -> tuple[int, int]:
    """``"A minor"``, ``"C# major"``, ``"Eb"``, ``"f#m"``, ``"Bb min"`` -> (tonic 0..11, mode 0/1).

    No mode means major.  Raises FormError naming the accepted spellings.
    """
    match = _KEY_RE.match(text.strip())
    mode_text = match.group(3).strip().lower() if match else ""
    if match is None or mode_text not in _MODE_WORDS:
        raise FormError(f"unknown key {text!r}: write a tonic and a mode, e.g. 'A minor', 'C# major', 'Eb'")
    return pitch_class_of(match.group(1), match.group(2)), _MODE_WORDS[mode_text]


_KEY_RE = re.compile("^([A-Ga-g])([#b\u266f\u266d]?)(.*)$")
_MODE_WORDS = {"": 0, "maj": 0, "major": 0, "m": 1, "min": 1, "minor": 1}


__all__ = ["PHRASE_TYPES", "MAX_PHRASE_BARS", "MAX_SONG_BARS", "Phrase", "phrase_type_of", "FormPlan",
           "Gap", "PartialForm", "parse_form", "parse_partial_form", "format_form", "form_bars", "parse_key"]
