"""Form strings: the phrase notation of the POP909 structure labels.

``i4A8B8A8B8b4B8o4`` is a list of phrases, each a letter and a length in bars.
Uppercase letters are phrases with a melody (``A``, ``B``, ``C`` ... ``X``); lowercase
ones have none (``i`` intro, ``o`` outro, ``b``/``x``/``c`` other).  Whole-song
generation groups the letters into the six phrase types of Wang et al. (ICLR 2024):
A, B, other melodic, intro, outro, other non-melodic (:data:`PHRASE_TYPES`).
"""
from __future__ import annotations

from dataclasses import dataclass

from composer.errors import FormError

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


def parse_form(text: str) -> tuple[Phrase, ...]:
    """Parse ``i4A8B8o4`` into phrases.

    Raises :class:`FormError` with a one-line message that points at the offending
    character, e.g. ``bad form 'A8B?': expected a letter at position 4 ('?')``.
    """
    source = text
    text = text.strip()
    if not text:
        raise FormError("empty form string: write phrases as letter + bars, e.g. 'i4A8B8A8o4'")
    phrases: list[Phrase] = []
    i = 0
    total = 0
    while i < len(text):
        ch = text[i]
        if not (ch.isascii() and ch.isalpha()):
            raise FormError(
                f"bad form {source!r}: expected a phrase letter at position {i + 1} ({ch!r}); "
                "write phrases as letter + bars, e.g. 'i4A8B8A8o4'")
        j = i + 1
        while j < len(text) and text[j].isascii() and text[j].isdigit():
            j += 1
        if j == i + 1:
            where = repr(text[j]) if j < len(text) else "end of string"
            raise FormError(
                f"bad form {source!r}: phrase {ch!r} at position {i + 1} needs a number of bars "
                f"(found {where})")
        n_bars = int(text[i + 1:j])
        if not 1 <= n_bars <= MAX_PHRASE_BARS:
            raise FormError(
                f"bad form {source!r}: phrase {ch!r} at position {i + 1} has {n_bars} bars; "
                f"a phrase has 1 to {MAX_PHRASE_BARS}")
        total += n_bars
        phrases.append(Phrase(ch, n_bars))
        i = j
    if total > MAX_SONG_BARS:
        raise FormError(f"form {source!r} has {total} bars; at most {MAX_SONG_BARS} are supported")
    return tuple(phrases)


def format_form(phrases: tuple[Phrase, ...] | list[Phrase]) -> str:
    """Inverse of :func:`parse_form`."""
    return "".join(f"{p.label}{p.n_bars}" for p in phrases)


def form_bars(phrases: tuple[Phrase, ...] | list[Phrase]) -> int:
    return sum(p.n_bars for p in phrases)
