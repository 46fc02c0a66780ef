"""Choose a renderer per track and mix: SoundFont programs and (later) DDSP timbres.

A track's timbre is a :class:`TrackTimbre`: ``kind`` "sf" (a General MIDI program, or
drum kit for a drum track, played by FluidSynth) or "ddsp" (a named DDSP timbre).  The
command line spells them ``TRACK=sf:73`` or ``TRACK=ddsp:flute``, where TRACK is a track
name or a 0-based track index; tracks not named keep their own program on the SoundFont.

:class:`Mixer` groups the tracks by renderer, renders each group of tracks as one Score,
and sums the groups sample by sample.  All "sf" tracks go through one FluidSynth pass
(as a MIDI file would play, sharing the reverb); each other kind is handed to a factory
``value -> Renderer`` registered for that kind, e.g. ``{"ddsp": load_ddsp_timbre}``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Literal, Mapping, Sequence

import numpy as np

from composer.audio import Audio
from composer.errors import RenderError
from composer.render.base import Renderer, check_render_limits
from composer.render.soundfont import SoundFontRenderer
from composer.score import Score

TimbreKind = Literal["sf", "ddsp"]
TIMBRE_KINDS: tuple[str, ...] = ("sf", "ddsp")

RendererFactory = Callable[[str], Renderer]
"""Builds the renderer for one timbre value of a kind (e.g. "flute" -> a DDSP renderer)."""


@dataclass(frozen=True)
class TrackTimbre:
    """How one track sounds.

    kind:   "sf" (SoundFont, ``value`` a GM program 0..127, the drum kit for a drum track)
            or "ddsp" (``value`` the name of a DDSP timbre).
    value:  the program number as text for "sf", the timbre name for "ddsp".
    """

    kind: TimbreKind
    value: str

    def __post_init__(self) -> None:
        if self.kind not in TIMBRE_KINDS:
            raise RenderError(f"unknown timbre kind {self.kind!r}; use one of {', '.join(TIMBRE_KINDS)}")
        if self.kind == "sf":
            if not _is_number(self.value) or not 0 <= int(self.value) <= 127:
                raise RenderError(f"SoundFont program must be 0..127, got {self.value!r} (e.g. sf:73 is a flute)")
        elif not self.value:
            raise RenderError(f"{self.kind} timbre needs a name, e.g. {self.kind}:flute")

    @property
    def program(self) -> int:
        """The GM program of an "sf" timbre."""
        if self.kind != "sf":
            raise RenderError(f"{self} is not a SoundFont program")
        return int(self.value)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class TimbreOption:
    """One ``TRACK=KIND:VALUE`` option: ``track`` is a track name or a 0-based index."""

    track: str
    timbre: TrackTimbre


def parse_timbre(text: str) -> TrackTimbre:
    """``"sf:73"`` -> TrackTimbre("sf", "73"); ``"ddsp:flute"`` -> TrackTimbre("ddsp", "flute").

    A bare number is taken as a SoundFont program.
    """
    text = text.strip()
    if _is_number(text):
        return TrackTimbre("sf", text)
    kind, sep, value = text.partition(":")
    if not sep:
        raise RenderError(f"timbre {text!r} must look like sf:PROGRAM or ddsp:NAME")
    return TrackTimbre(kind.strip().lower(), value.strip())  # type: ignore[arg-type]


def parse_timbre_options(options: Sequence[str]) -> tuple[TimbreOption, ...]:
    """Parse ``["Melody=sf:73", "0=ddsp:flute"]`` into TimbreOptions (in the given order;
    a later option for the same track wins)."""
    parsed = []
    for option in options:
        track, sep, spec = option.partition("=")
        if not sep or not track.strip():
            raise RenderError(f"timbre option {option!r} must look like TRACK=sf:PROGRAM or TRACK=ddsp:NAME")
        parsed.append(TimbreOption(track.strip(), parse_timbre(spec)))
    return tuple(parsed)


def parse_program_options(options: Sequence[str]) -> tuple[TimbreOption, ...]:
    """Parse ``--program TRACK=N`` options: the same as ``TRACK=sf:N``."""
    parsed = []
    for option in options:
        track, sep, number = option.partition("=")
        if not sep or not track.strip() or not _is_number(number.strip()):
            raise RenderError(f"program option {option!r} must look like TRACK=N with N in 0..127")
        parsed.append(TimbreOption(track.strip(), TrackTimbre("sf", number.strip())))
    return tuple(parsed)


def resolve_timbres(score: Score, options: Sequence[TimbreOption] = ()) -> tuple[TrackTimbre, ...]:
    """One TrackTimbre per track of ``score``, in track order.

    A track not named by any option keeps ``sf:<its program>``.  An option names a track
    by exact name first, else by 0-based index, else a two-handed part by its name without
    the hand ("Piano" for "Piano RH" and "Piano LH"); a name that matches nothing is an
    error listing the tracks.
    """
    timbres = [TrackTimbre("sf", str(t.program)) for t in score.tracks]
    names = [t.name for t in score.tracks]
    for option in options:
        hands = [i for i, n in enumerate(names) if n in (option.track + " RH", option.track + " LH")]
        if option.track in names:
            indices = [names.index(option.track)]
        elif _is_number(option.track) and int(option.track) < len(names):
            indices = [int(option.track)]
        elif hands:
            indices = hands
        else:
            listing = ", ".join(f"{i}={n!r}" for i, n in enumerate(names)) or "none"
            raise RenderError(f"no track {option.track!r} in this song; tracks are {listing}")
        for index in indices:
            if option.timbre.kind != "sf" and score.tracks[index].is_drum:
                # A learned timbre plays pitches: drum notes (kick = 36, snare = 38...) through a
                # flute would be a tune of wrong notes, and the DDSP renderer skips drum tracks,
                # which left the track silent.  The track keeps its drum kit, and the user is told.
                warnings.warn(f"track {index} {names[index]!r} is a drum track; {option.timbre} plays "
                              "pitched notes, so it keeps the SoundFont drum kit", stacklevel=2)
                continue
            timbres[index] = option.timbre
    return tuple(timbres)


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²', '８' and '١٢', which int() then
    refuses or reads as a number the user never typed."""
    return text.isascii() and text.isdigit()


def apply_sf_programs(score: Score, timbres: Sequence[TrackTimbre]) -> Score:
    """The Score with each "sf" track's program set from its timbre; others unchanged."""
    tracks = tuple(replace(t, program=tb.program) if tb.kind == "sf" else t
                   for t, tb in zip(score.tracks, timbres))
    return score.replace(tracks=tracks)


@dataclass(frozen=True, eq=False)
class Stem:
    """One track rendered alone: its name, timbre and Audio (float32 [n_samples, 2])."""

    track_name: str
    timbre: TrackTimbre
    audio: Audio


def mix_audio(parts: Sequence[Audio], sample_rate: int) -> Audio:
    """Sum Audio of possibly different lengths (zero-padded to the longest), as stereo.

    Mono parts are spread to both channels.
    """
    n = max((p.n_samples for p in parts), default=0)
    out = np.zeros((n, 2), dtype=np.float32)
    for part in parts:
        if part.sample_rate != sample_rate:
            raise RenderError(f"cannot mix audio at {part.sample_rate} Hz into {sample_rate} Hz")
        samples = part.samples if part.n_channels == 2 else np.repeat(part.samples[:, :1], 2, axis=1)
        out[: part.n_samples] += samples
    return Audio(out, sample_rate)


def default_factories() -> dict[str, RendererFactory]:
    """The renderer factories shipped with composer for the kinds other than "sf":
    "ddsp" -> :class:`composer.render.ddsp.renderer.DDSPRenderer` (imported when first used)."""

    def ddsp(name: str) -> Renderer:
        from composer.render.ddsp.renderer import load_ddsp_renderer  # noqa: PLC0415 - torch is heavy

        return load_ddsp_renderer(name)

    return {"ddsp": ddsp}


class Mixer:
    """Render a Score with a renderer chosen per track, and mix.

    soundfont:  the SoundFontRenderer for "sf" tracks (built with the default SoundFont
                when None).
    factories:  for every other kind, a function from timbre value to a Renderer, e.g.
                ``{"ddsp": load_ddsp_timbre}``; a kind without one is refused clearly.
    """

    def __init__(self, soundfont: SoundFontRenderer | None = None,
                 factories: Mapping[str, RendererFactory] | None = None) -> None:
        self._soundfont = soundfont
        self._factories = {**default_factories(), **dict(factories or {})}
        self._renderers: dict[tuple[str, str], Renderer] = {}

    @property
    def soundfont(self) -> SoundFontRenderer:
        if self._soundfont is None:
            self._soundfont = SoundFontRenderer()
        return self._soundfont

    def renderer_for(self, timbre: TrackTimbre) -> Renderer:
        """The renderer for a non-"sf" timbre, built once per (kind, value)."""
        key = (timbre.kind, timbre.value)
        if key not in self._renderers:
            factory = self._factories.get(timbre.kind)
            if factory is None:
                raise RenderError(f"no {timbre.kind} renderer is available for timbre {timbre}; "
                                  "use an sf:PROGRAM timbre")
            self._renderers[key] = factory(timbre.value)
        return self._renderers[key]

    def _groups(self, score: Score, timbres: Sequence[TrackTimbre]) -> Iterator[tuple[Renderer, Score]]:
        """(renderer, sub-score) pairs that together hold every track once."""
        if len(timbres) != len(score.tracks):
            raise RenderError(f"{len(timbres)} timbres for {len(score.tracks)} tracks")
        score = apply_sf_programs(score, timbres)
        sf_tracks = tuple(t for t, tb in zip(score.tracks, timbres) if tb.kind == "sf")
        if sf_tracks or not score.tracks:
            yield self.soundfont, score.replace(tracks=sf_tracks)
        seen: list[TrackTimbre] = []
        for tb in timbres:
            if tb.kind != "sf" and tb not in seen:
                seen.append(tb)
                tracks = tuple(t for t, other in zip(score.tracks, timbres) if other == tb)
                yield self.renderer_for(tb), score.replace(tracks=tracks)

    def is_soundfont_only(self, timbres: Sequence[TrackTimbre]) -> bool:
        return all(tb.kind == "sf" for tb in timbres)

    def render(self, score: Score, sample_rate: int = 44100,
               timbres: Sequence[TrackTimbre] | None = None) -> Audio:
        """The whole mix as stereo Audio (float32 [n_samples, 2], unnormalised)."""
        check_render_limits(score)
        timbres = resolve_timbres(score) if timbres is None else tuple(timbres)
        parts = [renderer.render(sub, sample_rate) for renderer, sub in self._groups(score, timbres)]
        return mix_audio(parts, sample_rate)

    def render_blocks(self, score: Score, sample_rate: int = 44100,
                      timbres: Sequence[TrackTimbre] | None = None) -> Iterator[np.ndarray]:
        """Stream the mix as float32 blocks [n, 2].  Streams from FluidSynth when every track
        is "sf" (memory bounded by a block); otherwise renders the mix whole first."""
        check_render_limits(score)
        timbres = resolve_timbres(score) if timbres is None else tuple(timbres)
        if self.is_soundfont_only(timbres):
            yield from self.soundfont.render_blocks(apply_sf_programs(score, timbres), sample_rate)
            return
        audio = self.render(score, sample_rate, timbres)
        step = self.soundfont.block_samples
        for start in range(0, audio.n_samples, step):
            yield audio.samples[start:start + step]

    def render_stems(self, score: Score, sample_rate: int = 44100,
                     timbres: Sequence[TrackTimbre] | None = None) -> tuple[Stem, ...]:
        """Each track rendered alone, all padded to the same length (the longest)."""
        check_render_limits(score)
        timbres = resolve_timbres(score) if timbres is None else tuple(timbres)
        score = apply_sf_programs(score, timbres)
        audios = []
        for track, tb in zip(score.tracks, timbres):
            renderer = self.soundfont if tb.kind == "sf" else self.renderer_for(tb)
            audios.append(renderer.render(score.replace(tracks=(track,)), sample_rate))
        n = max((a.n_samples for a in audios), default=0)
        stems = []
        for track, tb, audio in zip(score.tracks, timbres, audios):
            stems.append(Stem(track.name, tb, mix_audio([audio, Audio(np.zeros((n, 2)), sample_rate)],
                                                        sample_rate)))
        return tuple(stems)
