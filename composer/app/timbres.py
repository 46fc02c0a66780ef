"""Which timbre each track plays: the Sound panel's menu, the defaults, the checks.

A menu label ("SoundFont: Flute (73)", "Learned: flute", "Drum kit: Jazz (32)") is a timbre
spec (``sf:73``, ``ddsp:flute``) for ``composer.render.mix``; a drum track plays drum kits
only; a track named Melody starts on the learned timbre of its own instrument when one is
installed.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Mapping, Sequence

from composer.app.inputs import short_repr
from composer.errors import ComposerError
from composer.render.ddsp.programs import GM_PROGRAMS
from composer.score import Score
from composer.tracks import MELODY

if TYPE_CHECKING:
    from composer.app.session import AppContext, Version

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
    raise ComposerError(f"unknown timbre {short_repr(label)}: write sf:PROGRAM (0-127) or ddsp:NAME")


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
        if track.name != MELODY or track.is_drum:
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
                            f"not {short_repr(timbres)}")
    names = [t.name for t in score.tracks]
    drums = {t.name for t in score.tracks if t.is_drum}
    kits = {f"sf:{program}" for _, program in DRUM_KITS}
    out = []
    for name, label in (timbres or {}).items():
        if not isinstance(label, (str, type(None))):
            raise ComposerError(f"the timbre of {short_repr(name)} must be text such as sf:73 or ddsp:flute, "
                                f"not {short_repr(label)}")
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


def merged_timbres(ctx: AppContext, current: Version, timbres) -> tuple[tuple[str, str], ...]:
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
