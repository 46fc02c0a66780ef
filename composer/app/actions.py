"""What the app's buttons do, without Gradio: compose, open, render, regenerate, undo, stems.

Kept apart from ``ui.py`` so that the logic is tested directly and the UI module only wires
widgets to these functions.  The pieces:

- :class:`AppContext`: what every session shares (the pipeline, one Mixer, the limits, the
  output root).  Built once by ``app.py``; no module globals (DESIGN rule 9).
- :class:`Session`: one browser tab's (or one API client's) private folder, its song
  history for undo, and its cancel flag.
- :class:`Version`: one state of the song (Score, MIDI, view PNG, audio), immutable.
- :func:`read_inputs`: the Compose fields checked as the CLI checks them, with messages in
  the app's words (field names, not command-line flags).

Every output goes into the session's folder under a fresh random name, written atomically;
bad input raises ComposerError with one line, which the UI shows as a toast.
"""
from __future__ import annotations

import html
import math
import os
import re
import secrets
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal, Mapping, Sequence

from composer.errors import ComposerError, FormError, MidiError
from composer.form import MAX_SONG_BARS, PartialForm, Phrase, format_form
from composer.limits import MAX_SEED, MAX_STEPS
# The meters the cascade writes, the pipeline's list: the app's meter menu and its check.
from composer.pipeline import SUPPORTED_METERS as METERS
from composer.pitch import PITCH_CLASS_NAMES
from composer.render.ddsp.evaluate import GM_PROGRAMS
from composer.score import Score

SOUNDFONT_DEFAULT = "SoundFont: the track's own program"
# A short list of General MIDI programs a songwriter reaches for first (program numbers from 0).
SOUNDFONT_PROGRAMS = (
    ("Acoustic Grand Piano", 0), ("Electric Piano", 4), ("Vibraphone", 11), ("Nylon Guitar", 24),
    ("Steel Guitar", 25), ("Acoustic Bass", 32), ("Fingered Bass", 33), ("Violin", 40),
    ("Cello", 42), ("Strings", 48), ("Choir Aahs", 52), ("Trumpet", 56), ("Alto Sax", 65),
    ("Tenor Sax", 66), ("Clarinet", 71), ("Flute", 73), ("Synth Lead", 80), ("Warm Pad", 89),
)
# The General MIDI drum kits (bank 128 programs) a drum track can play; a drum track plays
# nothing else (a learned timbre or a melodic program would be ignored by the renderer).
DRUM_KITS = (("Standard", 0), ("Room", 8), ("Power", 16), ("Electronic", 24), ("TR-808", 25),
             ("Jazz", 32), ("Brush", 40), ("Orchestra", 48))
KEY_MODEL_CHOOSES = "(model chooses)"
KEYS = [KEY_MODEL_CHOOSES] + [f"{t} {m}" for m in ("major", "minor")
                              for t in PITCH_CLASS_NAMES]
FORM_PRESETS: tuple[tuple[str, str], ...] = (
    ("Pop song", "i4A8B8A8B8o4"),
    ("Verse, chorus, bridge", "i4A8B8A8B8C8B8o4"),
    ("Ballad (AABA)", "i4A8A8B8A8o4"),
    ("Short sketch", "A8B8"),
    ("Intro and verse, the model writes the rest", "i4A8*"),
    ("Verse, 16 bars for the model, chorus", "A8?16B8"),
)
FORM_HELP = ("Form: a letter and a number of bars per phrase. A verse, B chorus, C, D... bridges "
             "(with melody); i intro, o outro, other lowercase letters instrumental. "
             "?8 leaves 8 bars to the model; a final * lets it finish the song. "
             "Empty: the model chooses everything.")
LEVEL_NOTES = "new notes"
LEVEL_CHORDS = "new chords and notes"
LEVEL_DRUMS = "new drums"
WHOLE_SONG = "the whole song"
AudioFormat = Literal["wav", "flac"]

# The app's own range: the tempo is narrower than the CLI's (composer.limits, 20..400 bpm)
# because the app is shared: tempo 5 made a 57-minute song.  Bars, steps, seeds and the form
# are the CLI's (MAX_SONG_BARS, composer.limits.MAX_STEPS and MAX_SEED).
TEMPO_RANGE = (30.0, 300.0)
MAX_TAKES = 4

Progress = Callable[[str, float, float], None]
"""``progress(stage, done, total)``: stage is "form", "chords", "notes" or "audio"."""


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

    def warm_up(self) -> None:
        """Load now what the first song would load: the drawing, notation and audio
        libraries, the SoundFont and the learned timbre a melody starts on, and make one
        2-bar song with audio and stems (a few seconds).  The first Compose is quicker, and
        the server's size after start is the size it returns to between users (these stay
        loaded either way)."""
        import composer.io.musicxml  # noqa: F401, PLC0415 - music21 and its corpus tables
        import composer.plot  # noqa: F401, PLC0415
        from composer.render.mix import TrackTimbre  # noqa: PLC0415

        mixer = self.get_mixer()
        mixer.soundfont  # noqa: B018 - checks the SoundFont file
        from composer.render.soundfont import load_fluidsynth  # noqa: PLC0415

        load_fluidsynth()
        from composer.pipeline import MELODY_PROGRAM  # noqa: PLC0415
        from composer.score import Track  # noqa: PLC0415

        melody = Track("Melody", MELODY_PROGRAM)
        lead = default_timbres(Score(tracks=(melody,)), self.installed_timbres).get("Melody")
        if lead is not None:
            mixer.renderer_for(TrackTimbre("ddsp", lead.removeprefix("ddsp:")))
        # And one small song through every step (compose, draw, MusicXML, mix, stems): what
        # the libraries set up on first use (fonts, music21's tables, FluidSynth's presets,
        # torch's kernels) is ~170 MB that stayed after the first user and never grew after.
        session = Session(self.out_root, prefix="warmup-")
        try:
            compose(self, session, read_inputs("A2", seed=0, steps=2), audio=True)
            stems_zip(self, session)
        finally:
            session.remove()

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
    volume per track, -inf muted.
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


# ---------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class SongInputs:
    """The Compose fields, checked: None means "the model chooses"."""

    form: str | None = None
    bars: int | None = None
    key: str | None = None
    tempo: float | None = None
    meter: str = "4/4"
    seed: int | None = None
    steps: int | None = None
    bass: bool = True
    chords: str | None = None
    drums: bool = True
    parsed_form: PartialForm | None = field(default=None, compare=False, repr=False)
    """``form`` as the pipeline read it (once, by :func:`read_inputs`), passed down to compose."""


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def _number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ComposerError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ComposerError(f"{what} must be a number, not {value!r}")
    return number


def _whole(value, what: str, lo: int, hi: int) -> int | None:
    """None for a blank field, else an int in lo..hi; a one-line error otherwise."""
    if _blank(value):
        return None
    number = _number(value, what)
    if number != int(number) or not lo <= number <= hi:
        raise ComposerError(f"{what} must be a whole number from {lo} to {hi}, not {number:g}")
    return int(number)


def read_inputs(form: str | None = "", bars=None, key: str | None = None, tempo=None,
                meter: str | None = "4/4", seed=None, steps=None, bass: bool = True,
                chords: str | None = None, drums: bool = True) -> SongInputs:
    """Check the Compose fields as ``composer generate`` checks its options, before any work.

    Blank fields (None, "", NaN) mean "the model chooses".  ``chords``: a chord chart
    (``| C | Am | F G |``, :mod:`composer.chart`) the song is written over; its bars are
    the song's.  ``drums``: add the drum level's Drums track (when the models have one).
    Raises ComposerError with one line in the app's words: "Bars must be a
    whole number from 1 to 512, not 2.5".
    """
    from composer.form import parse_partial_form  # noqa: PLC0415
    from composer.pipeline import read_options  # noqa: PLC0415

    form_text = None if _blank(form) else str(form).strip()
    n_bars = _whole(bars, "Bars", 1, MAX_SONG_BARS)
    partial = None
    if form_text is not None:
        try:  # the grammar's message, headed by the field
            partial = parse_partial_form(form_text)
        except FormError as err:
            raise FormError(f"Form: {err}") from None
        covered = partial.n_bars
        if n_bars is not None and not partial.open_end and partial.is_complete and n_bars != covered:
            raise FormError(f"the form has {covered} bars but Bars says {n_bars}: clear one of them, "
                            "or end the form with * or a ?N gap")
        if n_bars is not None and n_bars < covered:
            raise FormError(f"the form already has {covered} bars but Bars says {n_bars}")
    key_text = None if _blank(key) or key == KEY_MODEL_CHOOSES else str(key).strip()
    bpm = None if _blank(tempo) else _number(tempo, "Tempo")
    if bpm is not None and not TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1]:
        raise ComposerError(f"Tempo must be {TEMPO_RANGE[0]:g} to {TEMPO_RANGE[1]:g} bpm, not {bpm:g}")
    meter_text = "4/4" if _blank(meter) else str(meter).strip()
    if meter_text not in METERS:
        raise ComposerError(f"Meter must be one of {', '.join(METERS)}, not {meter_text!r}")
    # Text fields become numbers here, with the field's name in the message; the ranges are
    # the pipeline's (composer.limits).
    seed_value = _whole(seed, "Seed", 0, MAX_SEED)
    n_steps = _whole(steps, "Sampler steps", 1, MAX_STEPS)
    # The pipeline's own reading of them all (the key's check is its alone; the form as text,
    # for its ASCII check), so that the app can never accept what the CLI refuses.  The form
    # parsed above goes down to compose, which does not read it again.
    m = read_options(form_text, n_bars, key_text, bpm, meter_text, n_steps, seed=seed_value).meter
    chart = None if _blank(chords) else str(chords).strip()
    if chart is not None:
        from composer.chart import ChartError, parse_chart  # noqa: PLC0415

        try:
            chart_bars = parse_chart(chart, m.beats_per_bar).n_bars
        except ChartError as err:
            raise ChartError(f"Chords: {err}") from None
        if n_bars is not None and n_bars != chart_bars:
            raise ComposerError(f"the chords have {chart_bars} bars but Bars says {n_bars}: clear Bars")
    return SongInputs(form_text, n_bars, key_text, bpm, meter_text, seed_value, n_steps, bool(bass), chart,
                      bool(drums), partial)


def _short(value, limit: int = 40) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters: a 600-character form
    typed back in full drowns the one thing the message says."""
    text = repr(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


_FLAG_WORDS = {"--bars": "Bars", "--tempo": "Tempo", "--steps": "Sampler steps", "--seed": "Seed",
               "--form": "Form", "--key": "Key", "--meter": "Meter", "--timbre": "timbre"}


def user_message(err: BaseException, *hidden: str | os.PathLike) -> str:
    """``err`` as one line for a user of the app: command-line flags named as the app's
    fields ("--bars" -> "Bars"), and server paths (``hidden`` folders, absolute paths) cut
    down to the file's name, so nothing about the server's disk is shown."""
    from composer.errors import escape_controls  # noqa: PLC0415

    # Escaped first: a name's escape sequence or bidi override must not restyle the page's text.
    text = " ".join(escape_controls(str(err)).split()) or type(err).__name__
    for flag, word in _FLAG_WORDS.items():
        text = re.sub(re.escape(flag) + r"\b", word, text)
    for folder in hidden:  # a path inside our folders: its file name only
        if folder:
            text = re.sub(re.escape(str(Path(folder))) + r"(?:/[^\s/'\"]+)*/([^\s/'\"]+)", r"\1", text)
    text = re.sub(r"(?:/[^\s/'\"]+)+/([^\s/'\"]+)", r"\1", text)  # any other absolute path too
    cwd = os.getcwd()
    if len(cwd) > 1:  # the server's working folder, however it is written
        text = text.replace(cwd + os.sep, "").replace(cwd, ".")
    text = text.replace("pass --force to overwrite it", "try again")
    text = re.sub(r"`composer generate`", "the Compose tab", text)
    # Advice for the command line means nothing in a browser.
    text = re.sub(r"\s*\(`composer inspect`[^)]*\)", "", text)
    text = re.sub(r"`composer (?:inspect|render|convert)[^`]*`", "a MIDI editor", text)
    # Python's bytes reprs (b'MThd') as the bytes they show.
    text = re.sub(r"\bb'((?:[^'\\]|\\.)*)'", r"'\1'", text)
    text = re.sub(r'\bb"((?:[^"\\]|\\.)*)"', r"'\1'", text)
    # A quoted value of the user's, cut: the message must stay one short line.
    text = re.sub(r"'([^']{60})[^']{4,}'", r"'\1...'", text)
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------------------- timbres
def timbre_choices(installed: Sequence[str], drum: bool = False) -> list[str]:
    """Dropdown labels: the track's own program, GM programs, then the learned timbres; for
    a drum track its own kit and the GM drum kits only."""
    labels = [SOUNDFONT_DEFAULT]
    if drum:
        return labels + [f"Drum kit: {name} ({program})" for name, program in DRUM_KITS]
    labels += [f"SoundFont: {name} ({program})" for name, program in SOUNDFONT_PROGRAMS]
    labels += [f"Learned: {name}" for name in installed]
    return labels


def timbre_spec(label: str | None) -> str | None:
    """A dropdown label (or a spec itself: ``sf:73``, ``ddsp:flute``) as a timbre spec, None
    for the default (the track's own program)."""
    if label is None or not str(label).strip() or label == SOUNDFONT_DEFAULT:
        return None
    label = str(label).strip()
    if label.startswith("Learned: "):
        return "ddsp:" + label.removeprefix("Learned: ")
    if label.startswith(("SoundFont: ", "Drum kit: ")) and label.endswith(")"):
        return "sf:" + label.rsplit("(", 1)[1].rstrip(")")
    if re.fullmatch(r"sf:\d{1,3}|ddsp:[\w.-]+|\d{1,3}", label):
        return label if ":" in label else f"sf:{label}"
    raise ComposerError(f"unknown timbre {_short(label)}: write sf:PROGRAM (0-127) or ddsp:NAME")


def timbre_label(spec: str | None, installed: Sequence[str], drum: bool = False) -> str:
    """The dropdown label for a spec (the inverse of :func:`timbre_spec` on the choices)."""
    if spec is None:
        return SOUNDFONT_DEFAULT
    for label in timbre_choices(installed, drum):
        if timbre_spec(label) == spec:
            return label
    return SOUNDFONT_DEFAULT


def default_timbres(score: Score, installed: Sequence[str]) -> dict[str, str | None]:
    """The timbre each track starts with: a track named Melody plays the learned timbre of
    its own General MIDI instrument when one is installed (the composer's clarinet lead ->
    ``ddsp:clarinet``, a flute melody -> ``ddsp:flute``: each beats its SoundFont program on
    held-out notes, see the README), every other track its own program."""
    def learned(track) -> str | None:
        if track.name != "Melody" or track.is_drum:
            return None
        names = [n for n in installed if track.program in GM_PROGRAMS.get(n, ())]
        return f"ddsp:{names[0]}" if names else None
    return {t.name: learned(t) for t in score.tracks}


def check_timbres(score: Score, timbres: Mapping[str, str | None] | None,
                  installed: Sequence[str], *, strict: bool = True) -> tuple[tuple[str, str], ...]:
    """The (track name, spec) pairs to render ``score`` with.  Keys are track names; with
    ``strict`` a name the song lacks is an error, else it is dropped (a choice made before
    composing for a track the new song does not have, e.g. Bass with bass off).  A learned
    timbre that is not installed is an error naming the installed ones."""
    if timbres is not None and not isinstance(timbres, Mapping):
        raise ComposerError('timbres must map track names to timbres, e.g. {"Melody": "ddsp:flute"}, '
                            f"not {_short(timbres)}")
    names = [t.name for t in score.tracks]
    drums = {t.name for t in score.tracks if t.is_drum}
    kits = {f"sf:{program}" for _, program in DRUM_KITS}
    out = []
    for name, label in (timbres or {}).items():
        if not isinstance(label, (str, type(None))):
            raise ComposerError(f"the timbre of {_short(name)} must be text such as sf:73 or ddsp:flute, "
                                f"not {_short(label)}")
        spec = timbre_spec(label)
        # "Piano" names both hands of a song composer wrote (as `--timbre Piano=...` does)
        if name not in names and {f"{name} RH", f"{name} LH"} <= set(names):
            if spec is not None:
                out += [(f"{name} RH", spec), (f"{name} LH", spec)]
            continue
        if name not in names:
            if strict:
                raise ComposerError(f"no track {name!r} in this song; its tracks are {', '.join(names)}")
            continue
        if spec is None:
            continue
        if name in drums and spec not in kits:
            raise ComposerError(f"{name} is a drum track: it plays a drum kit ("
                                + ", ".join(f"sf:{p} {k}" for k, p in DRUM_KITS) + f"), not {spec}")
        if spec.startswith("ddsp:") and spec[5:] not in installed:
            raise ComposerError(f"unknown learned timbre {spec[5:]!r}; installed: "
                                f"{', '.join(installed) or 'none'}")
        out.append((name, spec))
    return tuple(out)


# ---------------------------------------------------------------------------- describing
def describe(score: Score, seed: int | None, name: str | None = None,
             edits: Sequence[str] = ()) -> str:
    """A few Markdown lines: form, sections, key(s), tempo, meter, tracks, the seed that
    composed the song and the parts rewritten since (each with its own seed)."""
    lines = []
    if name:
        lines.append(f"**{name}**")
    if score.sections:
        form = format_form([Phrase(s.label, s.n_bars) for s in score.sections])
        lines.append(f"**Form** `{form}` ({score.n_bars} bars, {score.duration_seconds:.0f} s)")
        lines.append("**Sections** " + " | ".join(
            f"{i + 1}. {s.name or s.label} (bars {s.start_bar + 1}-{s.start_bar + s.n_bars})"
            for i, s in enumerate(sorted(score.sections))))
    else:
        lines.append(f"{score.n_bars} bars, {score.duration_seconds:.0f} s")
    keys = ", ".join(str(k) for k in score.key_signatures) or "none"
    meter = ", ".join(str(t) for t in score.time_signatures) or "4/4"
    tempo = f"{score.tempos[0].bpm:.0f} bpm" if score.tempos else "120 bpm"
    lines.append(f"**Key** {keys} · **Tempo** {tempo} · **Meter** {meter}")
    lines.append("**Tracks** " + ", ".join(f"{t.name} ({len(t.notes)} notes)" for t in score.tracks))
    if seed is not None:
        lines.append(f"**Seed** {seed}")
    if edits:
        lines.append("**Rewritten** " + "; then ".join(edits))
    return "\n\n".join(lines)


def section_choices(score: Score) -> list[str]:
    """Labels for the section picker: "1. Intro (bars 1-4)"."""
    return [f"{i + 1}. {s.name or s.label} (bars {s.start_bar + 1}-{s.start_bar + s.n_bars})"
            for i, s in enumerate(sorted(score.sections))]


def is_editable(score: Score) -> bool:
    """Whether :meth:`Composer.regenerate` can work on ``score``: sections that tile its bars
    from bar 1, and the Melody and piano tracks it rewrites (one "Piano", or the two hands
    "Piano RH" / "Piano LH" that composer writes since the piano was split)."""
    bar = 0
    for s in sorted(score.sections):
        if s.start_bar != bar:
            return False
        bar += s.n_bars
    names = {t.name for t in score.tracks}
    return bar > 0 and "Melody" in names and ("Piano" in names or {"Piano RH", "Piano LH"} <= names)


# ---------------------------------------------------------------------------- the work
def _checked(session: Session | None, progress: Progress | None) -> Progress:
    """A progress callback that also stops the work when the session's Cancel is pressed."""

    def report(stage: str, done: float, total: float) -> None:
        if session is not None and session.cancel.is_set():
            raise Cancelled("stopped")
        if progress is not None:
            progress(stage, done, total)

    return report


def file_stem(score: Score, name: str, seed: int | None, n_edits: int = 0) -> str:
    """A download's name without suffix, saying which song it is: ``song-seed5-A-minor-96bpm``
    (``-edit2`` after two rewrites); an opened file keeps its own name (``-edit1`` ...)."""
    parts = [re.sub(r"[^\w-]+", "_", name).strip("_")[:60] or "song"]
    if seed is not None:  # (an opened file's own name says what it is)
        parts.append(f"seed{seed}")
        if score.key_signatures:
            parts.append(str(score.key_signatures[0]).replace("#", "sharp").replace(" ", "-"))
        if score.tempos:
            parts.append(f"{score.tempos[0].bpm:.0f}bpm")
    if n_edits:
        parts.append(f"edit{n_edits}")
    return re.sub(r"[^\w-]+", "_", "-".join(parts))


def _write_musicxml(session: Session, score: Score, stem: str) -> Path | None:
    """The song as MusicXML for a notation program or a DAW's score view; None (and one log
    line) when the song cannot be written as notation."""
    import logging  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from composer.errors import NotationError  # noqa: PLC0415
    from composer.io.musicxml import write_musicxml  # noqa: PLC0415

    path = session.fresh(stem, ".musicxml")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a staff's left-out notes: the MIDI file has them all
            write_musicxml(score, path)
    except NotationError as err:
        logging.getLogger("composer.app").info("no MusicXML: %s", err)
        return None
    return path


@dataclass(frozen=True)
class RollMap:
    """Where the bars of a drawn song lie, for the page's playhead and bar picking.

    x: the left edge of bars 1..n and the song's end, as fractions of the picture's width
    (n + 1 values, increasing); seconds: the time of each of those bar lines in the audio;
    sections: (first bar, last bar, name), 1-based and inclusive, as the picker names them;
    zoom: the picture is drawn this many times the width of the whole-song view (the page
    shows it that many frames wide, scrolling); song: names the version drawn, so that the
    page keeps the bars picked when only the zoom changes.
    """

    x: tuple[float, ...]
    seconds: tuple[float, ...]
    sections: tuple[tuple[int, int, str], ...] = ()
    zoom: int = 1
    song: str = ""

    def to_json(self) -> str:
        import json  # noqa: PLC0415

        return json.dumps({"x": [round(v, 5) for v in self.x], "s": [round(v, 4) for v in self.seconds],
                           "sections": [list(s) for s in self.sections], "zoom": self.zoom,
                           "song": self.song}, separators=(",", ":"))


def roll_map(score: Score, image) -> RollMap:
    """The :class:`RollMap` of ``score`` as ``composer.plot.draw_score`` drew it (``image``,
    its RollImage: pixel = x_scale * tick + x_offset)."""
    n_bars = max(score.n_bars, max((s.start_bar + s.n_bars for s in score.sections), default=0), 1)
    ticks = [score.bar_to_tick(b) for b in range(n_bars + 1)]
    return RollMap(tuple((image.x_scale * t + image.x_offset) / image.width_px for t in ticks),
                   tuple(score.tick_to_seconds(t) for t in ticks),
                   tuple((s.start_bar + 1, s.start_bar + s.n_bars, s.name or s.label) for s in sorted(score.sections)))


def _write_view(session: Session, score: Score, title: str, stem: str = "view",
                zoom: int = 1, song: str | None = None) -> tuple[Path, RollMap]:
    from composer.plot import DEFAULT_WIDTH_PX, draw_score  # noqa: PLC0415

    path = session.fresh(stem + ("-view" if zoom == 1 else f"-view-x{zoom}"), ".png")
    # Zoomed, the picture is drawn wider (not magnified): notes longer, text the same size.
    image = draw_score(score, path, title=title, width_px=DEFAULT_WIDTH_PX * zoom)
    return path, replace(roll_map(score, image), zoom=zoom, song=song or path.name)


def _view_title(name: str, seed: int | None, edits: Sequence[str]) -> str:
    title = f"{name} · seed {seed}" if seed is not None else name
    if edits:
        title += f" · {len(edits)} part{'s' if len(edits) > 1 else ''} rewritten"
    return title


ZOOM_LEVELS = (1, 2, 3, 5)
"""The piano roll's zooms: the view drawn 1600 px wide times these (5: 8,000 px, the most
``composer plot`` draws)."""


def zoom_view(session: Session, zoom) -> tuple[Path, RollMap]:
    """The current version's view drawn ``zoom`` (one of :data:`ZOOM_LEVELS`) times as wide,
    and its RollMap; drawn once per version and zoom (kept while the version is in the
    history).  Not an undo step: the song is unchanged."""
    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    if zoom not in ZOOM_LEVELS:
        raise ComposerError(f"zoom must be one of {', '.join(map(str, ZOOM_LEVELS))}, not {_short(zoom)}")
    if zoom == 1:
        return current.view_path, current.roll
    key = (current.view_path, zoom)
    cached = session.views.get(key)
    if cached is None or not cached[0].exists():
        stem = file_stem(current.score, current.name, current.seed, len(current.edits))
        cached = _write_view(session, current.score, _view_title(current.name, current.seed, current.edits),
                             stem, zoom, song=current.view_path.name)
        # only the versions still in the history keep their zoomed views
        kept = {v.view_path for v in session.history + session.future}
        session.views = {k: v for k, v in session.views.items() if k[0] in kept}
        session.views[key] = cached
    return cached


def check_format(fmt) -> AudioFormat:
    if fmt not in ("wav", "flac"):
        raise ComposerError(f"audio format must be wav or flac, not {_short(fmt)}")
    return fmt


def check_gains(score: Score, gains: Mapping[str, float | None] | None) -> tuple[tuple[str, float], ...]:
    """(track name, dB) volumes for ``score``: a number of dB in the mixer's range, or None /
    "mute" for a muted track; names the song lacks are dropped (a choice made for the song
    before), 0 dB ones left out.  One line for anything else."""
    from composer.render.mix import GAIN_RANGE_DB  # noqa: PLC0415

    if gains is None:
        return ()
    if not isinstance(gains, Mapping):
        raise ComposerError(f'gains must map track names to dB, e.g. {{"Melody": -3, "Bass": "mute"}}, '
                            f"not {_short(gains)}")
    names = {t.name for t in score.tracks}
    out = []
    lo, hi = GAIN_RANGE_DB
    for name, value in gains.items():
        if value is None or (isinstance(value, str) and value.strip().lower() == "mute"):
            gain = float("-inf")
        else:
            gain = _number(value, f"The volume of {_short(name)}")
            if not lo <= gain <= hi:
                raise ComposerError(f"the volume of {_short(name)} must be {lo:g} to {hi:+g} dB, not {gain:g}")
        hands = [f"{name} RH", f"{name} LH"]
        for track in ([name] if name in names else [h for h in hands if h in names]):
            if gain != 0:
                out.append((track, gain))
    return tuple(out)


def _levels(gains: tuple[tuple[str, float], ...]):
    from composer.render.mix import GainOption, MixLevels  # noqa: PLC0415

    return MixLevels(gains=tuple(GainOption(name, db) for name, db in gains))


def render_audio(ctx: AppContext, session: Session, score: Score,
                 timbres: tuple[tuple[str, str], ...], fmt: AudioFormat = "wav",
                 progress: Progress | None = None,
                 gains: tuple[tuple[str, float], ...] = (), stem: str = "audio") -> tuple[Path, object]:
    """Render ``score`` with (track name, spec) timbres and (track name, dB) volumes into a
    fresh file of the session, the lead balanced over the band (``composer.render.mix``);
    returns (path, gain plan).  Reports stage "audio" in seconds of music rendered."""
    from composer.io.audio import write_normalised_blocks  # noqa: PLC0415
    from composer.render.mix import parse_timbre_options, resolve_timbres  # noqa: PLC0415

    check_format(fmt)
    seconds = score.duration_seconds
    limit = ctx.limits.max_audio_seconds
    if seconds > limit:
        raise ComposerError(f"the song is {seconds / 60:.0f} minutes long; this app renders audio "
                            f"up to {limit / 60:.0f} minutes (download the MIDI and use composer render)")
    report = _checked(session, progress)
    mixer = ctx.get_mixer()
    chosen = resolve_timbres(score, parse_timbre_options([f"{n}={s}" for n, s in timbres]))
    rate = ctx.sample_rate
    total = max(seconds, 1e-3)

    def blocks():
        done = 0
        report("audio", 0, total)
        for block in mixer.render_blocks(score, rate, chosen, _levels(gains)):
            done += len(block)
            report("audio", min(done / rate, total), total)
            yield block

    path = session.fresh(stem, f".{fmt}")
    # 64 MB held in memory per render, beyond that a temporary file: the server's memory stays
    # bounded with several renders at once.
    written = write_normalised_blocks(path, blocks(), rate, 2, memory_limit_mb=64.0)
    return path, written.plan


def _finish(ctx: AppContext, session: Session, score: Score, *, seed: int | None, name: str,
            timbres: tuple[tuple[str, str], ...], audio: bool, fmt: AudioFormat,
            progress: Progress | None, edits: tuple[str, ...] = (),
            gains: tuple[tuple[str, float], ...] = ()) -> Version:
    from composer.io.midi import write_midi  # noqa: PLC0415

    stem = file_stem(score, name, seed, len(edits))
    midi_path = session.fresh(stem, ".mid")
    write_midi(score, midi_path)
    musicxml_path = _write_musicxml(session, score, stem) if is_editable(score) else None
    view, where = _write_view(session, score, _view_title(name, seed, edits), stem)
    audio_path = plan = None
    if audio:
        audio_path, plan = render_audio(ctx, session, score, timbres, fmt, progress, gains, stem)
    return Version(score, midi_path, view, describe(score, seed, edits=edits), seed, audio_path, timbres,
                   is_editable(score), name, plan, edits, gains, musicxml_path, (), where)


def compose(ctx: AppContext, session: Session, inputs: SongInputs,
            timbres: Mapping[str, str | None] | None = None, *, audio: bool = True,
            fmt: AudioFormat = "wav", progress: Progress | None = None,
            gains: Mapping[str, float | None] | None = None, takes: int = 1,
            chord_track: bool = False) -> Version:
    """Write a new song with ``ctx.composer`` and make it the session's current version.

    ``timbres`` maps track names to dropdown labels or specs; names the new song lacks are
    dropped, tracks not named play :func:`default_timbres`; ``gains`` maps track names to
    volumes in dB (None: muted).  A blank seed draws a fresh one (so two untouched Composes
    give two songs); the seed used is in the summary.  ``takes`` (1..:data:`MAX_TAKES`): that
    many songs of the same settings, seeds ``seed``, ``seed + 1``, ... (each one's summary
    says its own), kept in ``session.takes``; the first is current, :func:`choose_take`
    keeps another.  ``chord_track``: add the Chords track (``composer.chart.chord_track``),
    muted in the mix unless ``gains`` names it."""
    check_format(fmt)
    n_takes = _whole(takes, "Takes", 1, MAX_TAKES) or 1
    first = inputs.seed if inputs.seed is not None else int(secrets.randbits(31))
    made = []
    # the form as read_inputs parsed it (a SongInputs made by hand has only the text)
    form = inputs.parsed_form if inputs.parsed_form is not None else inputs.form
    for k in range(n_takes):
        seed = (first + k) % (MAX_SEED + 1)

        def report(stage: str, done: float, total: float, k=k) -> None:
            if session.cancel.is_set():
                raise Cancelled("stopped")
            if progress is not None:
                progress(f"take {k + 1}/{n_takes} {stage}" if n_takes > 1 else stage, done, total)

        if inputs.chords is not None:
            from composer.chart import compose_from_chart  # noqa: PLC0415

            score = compose_from_chart(ctx.composer, inputs.chords, form=form, key=inputs.key,
                                       tempo=inputs.tempo, meter=inputs.meter, seed=seed, steps=inputs.steps,
                                       progress=report, bass=inputs.bass, drums=inputs.drums)
        else:
            score = ctx.composer.compose(form=form, bars=inputs.bars, key=inputs.key, tempo=inputs.tempo,
                                         meter=inputs.meter, seed=seed, steps=inputs.steps, progress=report,
                                         bass=inputs.bass, drums=inputs.drums)
        volumes = dict(gains or {}) if isinstance(gains, Mapping) or gains is None else gains
        if chord_track:
            from composer.chart import CHORD_TRACK, with_chord_track  # noqa: PLC0415

            score = with_chord_track(score)
            volumes = {CHORD_TRACK: None, **volumes}  # for the DAW: silent in our mix
        merged = {**default_timbres(score, ctx.installed_timbres), **dict(timbres or {})}
        chosen = check_timbres(score, merged, ctx.installed_timbres, strict=False)
        version = _finish(ctx, session, score, seed=seed, name="song", timbres=chosen, audio=audio,
                          fmt=fmt, progress=report, gains=check_gains(score, volumes))
        version = replace(version, chord_track=bool(chord_track))
        if inputs.chords is not None:  # the seed alone does not make this song again
            chart = " ".join(inputs.chords.split())
            version = replace(version, summary=version.summary + "\n\n**Over your chords** `"
                              + (chart if len(chart) <= 120 else chart[:117] + "...") + "`")
        made.append(version)
    version = session.push(made[0])
    session.takes = tuple(made) if n_takes > 1 else ()
    return version


def choose_take(session: Session, take: int) -> Version:
    """Keep take number ``take`` (1-based) of the last Compose: it replaces the take shown
    (choosing among takes is not an undo step)."""
    if not session.takes:
        raise ComposerError("compose several takes first")
    number = _whole(take, "Take", 1, len(session.takes))
    if number is None:
        raise ComposerError("choose a take")
    takes = session.takes
    version = session.replace_current(takes[number - 1])
    session.takes = takes
    return version


def open_midi(ctx: AppContext, session: Session, path: str | os.PathLike | None) -> Version:
    """Take a MIDI file a user uploaded as the session's current version (drawn, no audio)."""
    from composer.io.midi import read_midi  # noqa: PLC0415

    if not path:
        raise MidiError("upload a MIDI file first")
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise MidiError("the upload did not arrive; try again") from None
    if size > ctx.limits.max_upload_bytes:
        raise MidiError(f"{path.name} is {size / 2**20:.1f} MB; this app takes MIDI files up to "
                        f"{ctx.limits.max_upload_bytes / 2**20:.0f} MB")
    score = read_midi(path)
    if not any(t.notes for t in score.tracks):
        raise MidiError(f"{path.name} has no notes")
    # Checked before the view is drawn: a file of one note 2**28 ticks long is valid MIDI,
    # but its bar lines alone would keep the drawing busy for minutes, and it could never
    # be rendered anyway.
    from composer.render.base import check_render_limits  # noqa: PLC0415
    check_render_limits(score)
    # And what export and plot refuse (bars, sections, chords, tempos, tracks): 20,000
    # sections on one tick last two seconds, and each is drawn.
    from composer.limits import check_song_limits  # noqa: PLC0415
    check_song_limits(score, path.name, "the app draws")
    # (a file downloaded after rewrites counts its rewrites again from here)
    name = re.sub(r"-edit\d+$", "", Path(path.name).stem)[:60] or "upload"
    # The timbres a composed song starts with, so that a song composed here and opened again
    # (or sent to /render and /regenerate) sounds as it did: its lead on the learned timbre.
    timbres = check_timbres(score, default_timbres(score, ctx.installed_timbres), ctx.installed_timbres,
                            strict=False)
    version = _finish(ctx, session, score, seed=None, name=name, timbres=timbres, audio=False,
                      fmt="wav", progress=None)
    return session.push(replace(version, summary=describe(score, None, path.name)))


def arrange(ctx: AppContext, session: Session, *, seed=None, key: str | None = None, tempo=None,
            meter: str | None = None, form: str | None = None, bass: bool = True, drums: bool = True,
            audio: bool = True, fmt: AudioFormat = "wav", progress: Progress | None = None,
            steps: int | None = None) -> Version:
    """Harmonise the current song's melody (an opened file's, by the track rule): chords,
    accompaniment, bass and drums written under it, its notes kept exactly
    (:meth:`composer.pipeline.Composer.arrange`), pushed as a new version (undo goes back to
    the file).  A file with chords and no melody gets a melody and the rest over its chords
    (``composer.chart.file_chords``).  Blank key, tempo, meter and form: the file's (its markers, else phrases of 8
    bars over the melody).  The result is a song like a composed one: played, rewritten part by
    part, undone."""
    from composer.harmonise import describe_arrangement, read_lead  # noqa: PLC0415
    from composer.tracks import lead_index  # noqa: PLC0415

    current = session.current
    if current is None:
        raise ComposerError("open a MIDI file with a melody first")
    check_format(fmt)
    seed_value = _whole(seed, "Seed", 0, MAX_SEED)
    seed_value = seed_value if seed_value is not None else int(secrets.randbits(31))
    options = {"form": None if _blank(form) else str(form).strip(),
               "key": None if _blank(key) or key == KEY_MODEL_CHOOSES else str(key).strip(),
               "tempo": None if _blank(tempo) else _number(tempo, "Tempo"),
               "meter": None if _blank(meter) else str(meter).strip()}
    report = _checked(session, progress)
    if lead_index(current.score) is None and current.score.chords:
        # chords and no melody (a Chords track, chord markers): the melody and the rest over them
        from composer.chart import compose_from_chart, file_chords  # noqa: PLC0415

        grid, meter_text, file_tempo = file_chords(current.score, options["meter"])
        score = compose_from_chart(ctx.composer, grid, form=options["form"], key=options["key"],
                                   tempo=options["tempo"] if options["tempo"] is not None else file_tempo,
                                   meter=meter_text, seed=seed_value, steps=steps, progress=report,
                                   bass=bool(bass), drums=bool(drums))
        said = f"**Over the chords of {current.name}** a melody and the rest written, its chords kept"
    else:
        lead = read_lead(current.score, **options)     # a file without a melody costs nothing
        score = ctx.composer.arrange(current.score, seed=seed_value, progress=report, bass=bool(bass),
                                     drums=bool(drums), steps=steps, **options)
        said = (f"**Under the melody of {current.name}** "
                + html.escape(" · ".join(describe_arrangement(lead, score, seed_value)[1:]), quote=False))
    chosen = check_timbres(score, default_timbres(score, ctx.installed_timbres), ctx.installed_timbres,
                           strict=False)
    version = _finish(ctx, session, score, seed=seed_value, name=current.name, timbres=chosen, audio=audio,
                      fmt=fmt, progress=report)
    return session.push(replace(version, summary=version.summary + "\n\n" + said))


def _merged_timbres(ctx: AppContext, current: Version, timbres) -> tuple[tuple[str, str], ...]:
    """``timbres`` (track name -> label or spec; every key must be a track of the song: the
    old app dropped "0", "1", "2" silently) over the version's own: a track not named keeps
    the timbre it had, a track named with the SoundFont default plays its own program."""
    check_timbres(current.score, timbres, ctx.installed_timbres, strict=True)  # the checks, one line
    names = {t.name for t in current.score.tracks}
    merged: dict[str, str | None] = dict(current.timbres)
    for name, label in (timbres or {}).items():
        # "Piano" names both hands, as in check_timbres; a hand named alone wins over it.
        for track in [name] if name in names else [f"{name} RH", f"{name} LH"]:
            merged[track] = label
    return check_timbres(current.score, merged, ctx.installed_timbres, strict=True)


def render(ctx: AppContext, session: Session, timbres: Mapping[str, str | None] | None = None,
           fmt: AudioFormat = "wav", progress: Progress | None = None,
           gains: Mapping[str, float | None] | None = None) -> Version:
    """Render the current version with a timbre per track name over its own (see
    :func:`_merged_timbres`) and ``gains`` (track name -> dB, None muted; None keeps the
    version's).  Replaces the current version's audio; the score is unchanged, so this is
    not an undo step."""
    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    check_format(fmt)
    chosen = _merged_timbres(ctx, current, timbres)
    volumes = check_gains(current.score, gains) if gains is not None else current.gains
    audio_path, plan = render_audio(ctx, session, current.score, chosen, fmt, progress, volumes,
                                    file_stem(current.score, current.name, current.seed, len(current.edits)))
    return session.replace_current(replace(current, audio_path=audio_path, timbres=chosen, gain_plan=plan,
                                           gains=volumes))


def has_drum_level(ctx: AppContext) -> bool:
    """Whether the models write drums (a models folder without ``drums/`` has no drum level)."""
    return getattr(ctx.composer, "drum_level", None) is not None


def regenerate(ctx: AppContext, session: Session, *, section: int | None = None,
               bars: tuple[int, int] | None = None, whole_song: bool = False, level: str = LEVEL_NOTES,
               seed=None, steps: int | None = None, timbres: Mapping[str, str | None] | None = None,
               audio: bool = True, fmt: AudioFormat = "wav",
               progress: Progress | None = None,
               gains: Mapping[str, float | None] | None = None) -> Version:
    """Write one part of the current song anew and push it as a new version (undo goes back).

    section: 1-based section number; bars: (first, last) 1-based and inclusive, as musicians
    count and as the view labels them; whole_song: every bar; level: "new notes" (same
    chords), "new chords and notes" or "new drums" (only the drum hits there, from the drum
    level; every other track exactly as it was).  Everything outside the part stays exactly.
    Notes and chords need a song written by composer; drums are written for any song (one
    opened without drums gets a Drums track).  Audio is rendered again (with ``timbres``
    over the current version's, and its volumes unless ``gains``) when ``audio``.  The
    version keeps the seed that composed the song; the rewrite and its own seed are listed
    in its summary."""
    levels = {LEVEL_NOTES: "notes", LEVEL_CHORDS: "chords", LEVEL_DRUMS: "drums",
              "notes": "notes", "chords": "chords", "drums": "drums"}
    if level not in levels:  # the arguments first, then the song
        raise ComposerError(f"choose {LEVEL_NOTES!r}, {LEVEL_CHORDS!r} or {LEVEL_DRUMS!r}, not {_short(level)}")
    level = levels[level]
    current = session.current
    if current is None:
        raise ComposerError("compose a song first")
    if level == "drums" and not has_drum_level(ctx):
        raise ComposerError("these models have no drum level (a models folder with drums/), so no new drums")
    if level != "drums" and not current.editable:
        raise ComposerError("only songs written by composer can be changed part by part; compose one first")
    score = current.score
    # An opened file's bars are its own (its markers need not tile it); composer's are its sections'.
    n_bars = sum(s.n_bars for s in score.sections) if current.editable else score.n_bars
    n_sections = len(score.sections) if current.editable else 0
    if bars is not None and all(_blank(b) for b in bars):
        bars = None
    if section is not None and bars is not None:
        raise ComposerError("give a section or a bar range (from_bar, to_bar), not both")
    if (section is not None or bars is not None) and whole_song:
        raise ComposerError("give a section, a bar range or the whole song, not two of them")
    if section is None and bars is None and not whole_song:
        raise ComposerError("choose either a section or a bar range")
    check_format(fmt)
    if whole_song:
        start, end = 0, n_bars
        what = WHOLE_SONG
    elif section is not None:
        if not n_sections:
            raise ComposerError("this song has no sections to choose from; give a bar range")
        number = _whole(section, "Section", 1, n_sections)
        if number is None:
            raise ComposerError("choose a section")
        part = sorted(score.sections)[number - 1]
        start, end = part.start_bar, part.start_bar + part.n_bars
        what = f"section {number} ({part.name or part.label})"
    else:
        first = _whole(bars[0], "From bar", 1, n_bars)
        last = _whole(bars[1], "To bar", 1, n_bars)
        if first is None or last is None:
            raise ComposerError(f"give the bars to change: From bar and To bar, 1 to {n_bars}")
        if last < first:
            raise ComposerError(f"To bar ({last}) comes before From bar ({first})")
        start, end = first - 1, last
        what = f"bars {first}-{last}"
    seed_value = _whole(seed, "Seed", 0, MAX_SEED)
    seed_value = seed_value if seed_value is not None else int(secrets.randbits(31))
    _merged_timbres(ctx, current, timbres)  # a bad timbre or volume costs nothing
    if gains is not None:
        check_gains(score, gains)
    report = _checked(session, progress)
    if level == "drums":
        if not whole_song and not any(t.is_drum for t in score.tracks):
            # A song without drums gets a whole drum part (a few bars of drums alone would
            # start and stop in the middle of the band); the summary says so.
            whole_song, what = True, f"{WHOLE_SONG} (it had no drums)"
        new = _new_drums(ctx, score, None if whole_song else (start, end), seed_value, steps, report)
    else:
        new = ctx.composer.regenerate(score, bars=(start, end), level=level, seed=seed_value, steps=steps,
                                      progress=report)
    if current.chord_track and level == "chords":  # new chords in the part: the Chords track follows them
        from composer.chart import with_chord_track  # noqa: PLC0415

        new = with_chord_track(new)
    chosen = _merged_timbres(ctx, current, timbres)
    volumes = check_gains(new, gains) if gains is not None else current.gains
    written = {"notes": LEVEL_NOTES, "chords": LEVEL_CHORDS, "drums": LEVEL_DRUMS}[level]
    edit = f"{what}: {written}, seed {seed_value}"
    version = _finish(ctx, session, new, seed=current.seed, name=current.name, timbres=chosen, audio=audio,
                      fmt=fmt, progress=progress, edits=current.edits + (edit,), gains=volumes)
    if current.seed is None:  # an opened file: its summary is headed by its own name, as open_midi's
        version = replace(version, summary=describe(new, None, current.name, version.edits))
    return session.push(replace(version, chord_track=current.chord_track))


def _new_drums(ctx: AppContext, score: Score, bars: tuple[int, int] | None, seed: int,
               steps: int | None, report: Progress) -> Score:
    """``score`` with new drums in bars ``start .. end - 1`` (0-based; None: the whole part)
    drawn from the drum level's stream of ``seed`` (as a song composed with that seed draws
    its drums), every other hit and track kept (``composer.levels.drums.regenerate_drums``)."""
    from composer.levels.drums import DEFAULT_STEPS, regenerate_drums  # noqa: PLC0415
    from composer.pipeline import level_generators  # noqa: PLC0415

    return regenerate_drums(ctx.composer.drum_level, score, bars, level_generators(seed)["drums"],
                            steps=steps or DEFAULT_STEPS, progress=lambda i, n: report("drums", i, n))


def lead_sheet(ctx: AppContext, session: Session) -> Version:
    """Engrave the current song's lead sheet (the melody with its chord symbols, rehearsal
    marks, key, meter and tempo; ``composer.io.musicxml.write_lead_sheet``, MuseScore
    headless) as PNG pages, kept with the version (a second press shows them again)."""
    from composer.io.musicxml import write_lead_sheet  # noqa: PLC0415

    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    if current.lead_sheet and all(p.exists() for p in current.lead_sheet):
        return current
    stem = file_stem(current.score, current.name, current.seed, len(current.edits))
    pages = write_lead_sheet(current.score, session.fresh(stem + "-lead-sheet", ".png"))
    return session.replace_current(replace(current, lead_sheet=tuple(pages)))


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


def stems_zip(ctx: AppContext, session: Session, fmt: AudioFormat = "wav",
              progress: Progress | None = None) -> Path:
    """One audio file per track of the current version, with the mix's gain (so they add up
    to the mix in a DAW), zipped.  Renders the mix first when it has none yet."""
    from composer.io.atomic import atomic_path, make_folder  # noqa: PLC0415
    from composer.render.mix import parse_timbre_options, resolve_timbres  # noqa: PLC0415
    from composer.render.stems import write_stems  # noqa: PLC0415

    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    check_format(fmt)
    if current.gain_plan is None:
        current = render(ctx, session, None, fmt, progress)
    report = _checked(session, progress)
    report("audio", 0, 1)
    score = current.score
    chosen = resolve_timbres(score, parse_timbre_options([f"{n}={s}" for n, s in current.timbres]))
    stems = ctx.get_mixer().render_stems(score, ctx.sample_rate, chosen, _levels(current.gains))
    zip_path = session.fresh(file_stem(score, current.name, current.seed, len(current.edits)) + "-stems", ".zip")
    folder = session.fresh("stems", "")
    make_folder(folder, "stems")
    try:
        # The CLI's writer (names, the mix's gain and ceiling), then through the atomic writer,
        # as every output: a full disk is one message, and no half-written zip is offered.
        paths = write_stems(stems, current.gain_plan, folder, f".{fmt}",
                            progress=lambda i, n: report("audio", i, n))
        with atomic_path(zip_path, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for path in paths:
                zf.write(path, path.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return zip_path


# ---------------------------------------------------------------------------- housekeeping
def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def cleanup_outputs(root: str | os.PathLike, max_age_s: float, max_total_bytes: int,
                    now: float | None = None, keep: Sequence[str | os.PathLike] = (),
                    api_max_age_s: float | None = None) -> list[Path]:
    """Remove session folders under ``root`` untouched for ``max_age_s`` seconds (an API
    call's, named :data:`API_PREFIX`..., after ``api_max_age_s``), then the oldest ones until
    the rest fit in ``max_total_bytes``; folders in ``keep`` (the sessions working now) stay.
    Returns the folders removed, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    kept = {Path(k).resolve() for k in keep}
    folders = []
    for p in root.iterdir():
        if p.is_dir() and p.resolve() not in kept:
            try:
                folders.append((p.stat().st_mtime, p))
            except OSError:
                continue
    folders.sort()
    removed = []
    total = sum(folder_bytes(p) for _, p in folders) + sum(folder_bytes(k) for k in kept if k.is_dir())
    for mtime, p in folders:
        age_limit = api_max_age_s if api_max_age_s is not None and p.name.startswith(API_PREFIX) else max_age_s
        if now - mtime > age_limit or total > max_total_bytes:
            size = folder_bytes(p)
            shutil.rmtree(p, ignore_errors=True)
            total -= size
            removed.append(p)
    return removed
