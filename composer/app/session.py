"""A user's session: its folder, its song's versions (undo, redo, takes), its cancel flag.

- :class:`AppContext`: what every session shares (the pipeline, one Mixer, the limits, the
  output root).  Built once by ``app.py`` (or ``ui.build_ui``) and passed to every function:
  the app keeps nothing in module globals, so tests build as many apps as they like.
- :class:`Session`: one browser tab's (or one API client's) private folder, its song
  history for undo and redo, the last Compose's takes, and its cancel flag
  (:func:`checked` turns it into a progress callback that stops the work).
- :class:`Version`: one state of the song (Score, MIDI, view PNG, audio), immutable.
"""
from __future__ import annotations

import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from composer.app.inputs import read_whole
from composer.errors import ComposerError
from composer.score import Score

if TYPE_CHECKING:
    from composer.app.roll import RollMap

Progress = Callable[[str, float, float], None]
"""``progress(stage, done, total)``: stage is a level of the cascade as ``composer.pipeline``
reports it ("form", "chords", "melody", "notes", "drums"; ``done`` of ``total`` net calls) or
"audio" (seconds of music rendered, or stems written); with several takes, "take 2/3 notes"."""


class Cancelled(ComposerError):
    """The user pressed Cancel; the work stopped at the next step."""


class Unchanged(Exception):
    """Nothing to do for this event (e.g. a picker emptied by a new song): no output changes."""


@dataclass(frozen=True)
class AppLimits:
    """What one server allows.

    max_upload_bytes: largest MIDI file taken (also Gradio's upload limit);
    max_audio_seconds: longest song rendered to audio (a 512-bar song at 60 bpm is 34 minutes:
    audio that long is ~0.7 GB of float samples per track while mixing; download the MIDI and
    use `composer render` for it); session_max_age_s: a session folder untouched this long is
    removed (an API call's folder after ``api_max_age_s``: its client fetches the files at
    once); max_total_bytes: the output root is trimmed, oldest session first, to this size;
    max_undo: versions kept per session for undo (each holds a Score in memory);
    queue_size / concurrency: Gradio's queue length and jobs run at once (two CPU cores)."""

    max_upload_bytes: int = 4 * 2 ** 20
    max_audio_seconds: float = 600.0
    session_max_age_s: float = 2 * 3600.0
    api_max_age_s: float = 600.0
    max_total_bytes: int = 2 * 2 ** 30
    max_undo: int = 10
    queue_size: int = 32
    concurrency: int = 2


@dataclass
class AppContext:
    """What all sessions share: the pipeline (``composer.pipeline.Composer``), one Mixer (its
    SoundFont and learned timbres loaded once), the output root and the limits."""

    composer: object
    out_root: Path
    installed_timbres: tuple[str, ...] = ()
    limits: AppLimits = field(default_factory=AppLimits)
    mixer: object | None = None
    sample_rate: int = 44100

    def __post_init__(self) -> None:
        self.out_root = Path(self.out_root)
        self.out_root.mkdir(parents=True, exist_ok=True)

    def get_mixer(self):
        if self.mixer is None:
            from composer.render.mix import Mixer  # noqa: PLC0415 - loads FluidSynth lazily

            self.mixer = Mixer()
        return self.mixer


@dataclass(frozen=True)
class Version:
    """One state of a session's song.

    score: the song; midi_path / view_path: its MIDI file and piano-roll PNG;
    audio_path: the rendered mix or None; timbres: the (track name, timbre spec) it was
    rendered with; seed: the seed that wrote it (None for an opened file); summary: Markdown;
    musicxml_path: the song as MusicXML (a lead sheet over the piano and bass) or None;
    lead_sheet: the engraved lead sheet's pages (PNG), once asked for; roll: where the view
    drew each bar (:class:`RollMap`); chord_track: the song carries a Chords track (block
    chords for a DAW, muted in the mix unless its volume is set), kept up to date by regenerate;
    editable: whether regenerate can work on it (sections that tile the song, Melody and
    Piano tracks: a song made by composer); gain_plan: the mix's gain, reused for stems;
    edits: what was rewritten since ``seed`` wrote it ("section 3 (Chorus): new notes, seed
    11"), so the summary says how to make this song again; gains: (track name, dB) the user's
    volume per track, -inf muted; users_melody: the Melody track is a melody the user brought
    (Harmonise, or an opened file that composer arranged: ``harmonise.is_arranged``), so
    "Change a part" keeps it unless told otherwise (``actions.regenerate(keep_melody=...)``).
    """

    score: Score
    midi_path: Path
    view_path: Path
    summary: str
    seed: int | None = None
    audio_path: Path | None = None
    timbres: tuple[tuple[str, str], ...] = ()
    editable: bool = False
    name: str = "song"
    gain_plan: object | None = field(default=None, compare=False, repr=False)
    edits: tuple[str, ...] = ()
    gains: tuple[tuple[str, float], ...] = ()
    musicxml_path: Path | None = None
    lead_sheet: tuple[Path, ...] = ()
    roll: RollMap | None = field(default=None, compare=False, repr=False)
    chord_track: bool = False
    users_melody: bool = False


API_PREFIX = "api-"
"""Folder names of API calls' sessions start with this (they are removed sooner)."""


class Session:
    """One user's private state: a folder of outputs (``out_root/<random>``), the version
    history (newest last, at most ``max_undo``) and a cancel flag.  The folder name is 128
    random bits, never derived from anything another user can see."""

    def __init__(self, out_root: str | os.PathLike, max_undo: int = 10, prefix: str = "") -> None:
        self.folder = Path(out_root) / (prefix + secrets.token_hex(16))
        self.history: list[Version] = []
        self.future: list[Version] = []  # versions undone, newest last, for redo
        self.takes: tuple[Version, ...] = ()  # the last Compose's takes, when it made several
        self.views: dict[tuple[Path, int], tuple[Path, RollMap]] = {}  # (view, zoom) -> zoomed view
        self.max_undo = max_undo
        self.cancel = threading.Event()

    def press(self) -> None:
        """A work button was pressed: clear the cancel flag now, before the job waits in the
        queue, so that a Cancel pressed while it waits still stops it at its first step (the
        work itself never clears the flag)."""
        self.cancel.clear()

    @property
    def current(self) -> Version | None:
        return self.history[-1] if self.history else None

    def touch(self) -> Path:
        """The folder, created if needed and marked as used now (cleanup goes by mtime)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.utime(self.folder)
        return self.folder

    def push(self, version: Version) -> Version:
        self.future.clear()  # a new version starts a new line: what was undone is not redone
        self.takes = ()
        self.history.append(version)
        del self.history[:-self.max_undo]
        return version

    def replace_current(self, version: Version) -> Version:
        if self.history:
            self.history[-1] = version
        else:
            self.history.append(version)
        return version

    def fresh(self, stem: str, suffix: str) -> Path:
        """A new file name in the folder: ``stem`` + suffix, numbered when taken (the name is
        what a download is saved as; the folder's random name keeps it private)."""
        folder = self.touch()
        path, n = folder / f"{stem}{suffix}", 1
        while path.exists():
            n += 1
            path = folder / f"{stem}-{n}{suffix}"
        return path

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def checked(session: Session | None, progress: Progress | None) -> Progress:
    """A progress callback that also stops the work when the session's Cancel is pressed."""

    def report(stage: str, done: float, total: float) -> None:
        if session is not None and session.cancel.is_set():
            raise Cancelled("stopped")
        if progress is not None:
            progress(stage, done, total)

    return report


def choose_take(session: Session, take: int) -> Version:
    """Keep take number ``take`` (1-based) of the last Compose: it replaces the take shown
    (choosing among takes is not an undo step)."""
    if not session.takes:
        raise ComposerError("compose several takes first")
    number = read_whole(take, "Take", 1, len(session.takes))
    if number is None:
        raise ComposerError("choose a take")
    takes = session.takes
    version = session.replace_current(takes[number - 1])
    session.takes = takes
    return version


def undo(session: Session) -> Version:
    """Go back to the previous version (its files are still in the session's folder)."""
    if len(session.history) < 2:
        raise ComposerError("nothing to undo")
    session.future.append(session.history.pop())
    return session.history[-1]


def redo(session: Session) -> Version:
    """Go forward again to the version the last undo left (until a new version is made)."""
    if not session.future:
        raise ComposerError("nothing to redo")
    session.history.append(session.future.pop())
    return session.history[-1]
