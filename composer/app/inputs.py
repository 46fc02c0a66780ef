"""The app's fields: what the menus offer and how a field is read and checked.

- The Compose menus: keys, meters (``composer.options.SUPPORTED_METERS``), form presets, the
  levels a part is rewritten at, the audio formats.
- :func:`read_inputs`: the Compose fields checked as ``composer generate`` checks its options
  (the ranges are ``composer.limits``', and the CLI's option check,
  ``composer.options.read_options``, runs on them), with messages in the app's words (field
  names, not command-line flags).  The app's own facts stay here: its narrower tempo range
  and the text fields' conversion with the field's name.
- :func:`check_gains`: the Sound panel's volumes; :func:`user_message`: any error as the one
  line a user of the app is shown.

Bad input raises ComposerError with one line, which the UI shows beside the button.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

from composer.errors import ComposerError, FormError
from composer.form import MAX_SONG_BARS, PartialForm
from composer.limits import MAX_SEED, MAX_STEPS
# The meters the cascade writes (composer.options): the app's meter menu and its check.
from composer.options import SUPPORTED_METERS as METERS
from composer.pitch import PITCH_CLASS_NAMES
from composer.score import Score

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

# The app's own range: the tempo is narrower than the CLI's (composer.limits.MIN_TEMPO_BPM ..
# MAX_TEMPO_BPM) because the app is shared and renders every song it writes (the slowest
# tempo makes the longest audio).  Bars, steps, seeds and the form are the CLI's
# (MAX_SONG_BARS, composer.limits.MAX_STEPS and MAX_SEED).
TEMPO_RANGE = (30.0, 300.0)
MAX_TAKES = 4


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


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def read_number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ComposerError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ComposerError(f"{what} must be a number, not {value!r}")
    return number


def read_whole(value, what: str, lo: int, hi: int) -> int | None:
    """None for a blank field, else an int in lo..hi; a one-line error otherwise."""
    if is_blank(value):
        return None
    number = read_number(value, what)
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
    from composer.options import read_options  # noqa: PLC0415

    form_text = None if is_blank(form) else str(form).strip()
    n_bars = read_whole(bars, "Bars", 1, MAX_SONG_BARS)
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
    key_text = None if is_blank(key) or key == KEY_MODEL_CHOOSES else str(key).strip()
    bpm = None if is_blank(tempo) else read_number(tempo, "Tempo")
    if bpm is not None and not TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1]:
        raise ComposerError(f"Tempo must be {TEMPO_RANGE[0]:g} to {TEMPO_RANGE[1]:g} bpm, not {bpm:g}")
    meter_text = "4/4" if is_blank(meter) else str(meter).strip()
    if meter_text not in METERS:
        raise ComposerError(f"Meter must be one of {', '.join(METERS)}, not {meter_text!r}")
    # Text fields become numbers here, with the field's name in the message; the ranges are
    # the CLI's (composer.limits).
    seed_value = read_whole(seed, "Seed", 0, MAX_SEED)
    n_steps = read_whole(steps, "Sampler steps", 1, MAX_STEPS)
    # The CLI's own reading of them all, composer.options (the key's check is its alone), so
    # that the app can never accept what the CLI refuses.  The form goes in parsed (the grammar
    # already refused what is not ASCII), and down to compose, which does not read it again.
    m = read_options(partial, n_bars, key_text, bpm, meter_text, n_steps, seed=seed_value).meter
    chart = None if is_blank(chords) else str(chords).strip()
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


def short_repr(value, limit: int = 40) -> str:
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


def check_format(fmt) -> AudioFormat:
    if fmt not in ("wav", "flac"):
        raise ComposerError(f"audio format must be wav or flac, not {short_repr(fmt)}")
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
                            f"not {short_repr(gains)}")
    names = {t.name for t in score.tracks}
    out = []
    lo, hi = GAIN_RANGE_DB
    for name, value in gains.items():
        if value is None or (isinstance(value, str) and value.strip().lower() == "mute"):
            gain = float("-inf")
        else:
            gain = read_number(value, f"The volume of {short_repr(name)}")
            if not lo <= gain <= hi:
                raise ComposerError(f"the volume of {short_repr(name)} must be {lo:g} to {hi:+g} dB, not {gain:g}")
        hands = [f"{name} RH", f"{name} LH"]
        for track in ([name] if name in names else [h for h in hands if h in names]):
            if gain != 0:
                out.append((track, gain))
    return tuple(out)
