"""One family of errors that the CLI turns into a single line and a non-zero exit.

Every message says what is wrong and, where there is one, how to fix it.  Library
exceptions (mido, fluidsynth, soundfile, ...) are caught at the room's border and
re-raised as one of these, so that a user never sees a raw traceback.
"""


class ComposerError(Exception):
    """Base class: anything the user can fix. ``str(err)`` is one line."""


class ScoreError(ComposerError):
    """A Score holds a value out of range (raised by ``Score.validate``)."""


class MidiError(ComposerError):
    """A MIDI file cannot be read or written."""


class FormError(ComposerError):
    """A form string is malformed or impossible."""


class DataError(ComposerError):
    """A dataset folder is missing or not in the expected layout."""


class ModelError(ComposerError):
    """A checkpoint folder is missing, of the wrong version or inconsistent."""


class RenderError(ComposerError):
    """Audio cannot be rendered (missing library, SoundFont, timbre, ...)."""


class AudioError(ComposerError):
    """An audio file cannot be read or written."""


class NotationError(ComposerError):
    """A score cannot be written as notation (MusicXML)."""


# Characters that must not reach a terminal raw inside one error line: C0/C1 controls (a
# newline would split the line, an escape sequence would restyle the terminal), line and
# paragraph separators, bidirectional overrides (they reorder what follows them), and the
# lone surrogates that stand for a file name's undecodable bytes.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as a Python escape (``\\n``,
    ``\\x1b``, ``\\u202e``, ``\\udcff``), so that a message stays one line and shows what is
    really in a name."""
    import unicodedata  # noqa: PLC0415

    out = []
    for char in text:
        if char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs"):
            out.append(repr(char)[1:-1] if char not in "'\"\\" else char)
        else:
            out.append(char)
    return "".join(out)


def quote_path(path: object) -> str:
    """A file name for a message: ``str(path)`` with its control characters escaped."""
    return escape_controls(str(path))
