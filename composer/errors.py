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
