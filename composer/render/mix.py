"""Choose a renderer per track and mix: SoundFont programs and (later) DDSP timbres.

A track's timbre is a :class:`TrackTimbre`: ``kind`` "sf" (a General MIDI program, or
drum kit for a drum track, played by FluidSynth) or "ddsp" (a named DDSP timbre).  The
command line spells them ``TRACK=sf:73`` or ``TRACK=ddsp:flute``, where TRACK is a track
name or a 0-based track index; tracks not named keep their own program on the SoundFont.

:class:`Mixer` renders every track alone and sums them with a gain per track: the lead (a
track named Melody) is set :data:`LEAD_OVER_BAND_DB` over the loudest other track, measured
on the tracks themselves (:func:`active_level_db`), then the user's gains apply
(``--gain Melody=-3``, ``Drums=mute``).  Stems are the same gained tracks, so they add up to
the mix.  "sf" tracks are played by FluidSynth, each on its own synthesiser streaming side by
side; each other kind is handed to a factory ``value -> Renderer`` registered for that kind,
e.g. ``{"ddsp": load_ddsp_timbre}``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Literal, Mapping, Sequence

import numpy as np

from composer.audio import Audio
from composer.errors import RenderError
from composer.render.base import Renderer, check_render_limits
from composer.render.soundfont import SoundFontRenderer, plan_channels
from composer.score import Score
from composer.tracks import MELODY

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
    """One track rendered alone: its name, timbre, Audio (float32 [n_samples, 2]) and the
    gain in dB it was given in the mix (already applied to ``audio``; -inf: muted)."""

    track_name: str
    timbre: TrackTimbre
    audio: Audio
    gain_db: float = 0.0


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


# ---------------------------------------------------------------------------- levels
LEAD_OVER_BAND_DB = 4.0
"""How far the lead sits over the loudest backing track, in dB of RMS taken over the time
each track sounds (:func:`active_level_db`).  Pop mixes put the lead a few dB over the band
(the issue's guide: 2-6 dB).  Without it the learned clarinet sat 12.3 dB over the loudest
other track of `generate --seed 3 --form i4A8B8A8B8o4`, and the SoundFont clarinet 1.8 dB
under it: each renderer's own level, not a choice."""
LEAD_NAMES = frozenset({"melody", "lead", "vocal", "vocals", "voice"})
"""Track names (any case) that play the lead role; every other track is the band."""
MAX_BALANCE_DB = 30.0
"""The balance moves a lead by at most this much: a lead of a few grace notes measured
against a full band must not be raised 60 dB."""
GAIN_RANGE_DB = (-60.0, 24.0)
"""The per-track gains a user may give (``--gain Melody=-3``); ``mute`` silences a track."""
LEVEL_FRAME = 2048
"""Samples per frame of :func:`active_level_db` (46 ms at 44.1 kHz)."""


@dataclass(frozen=True)
class GainOption:
    """One ``TRACK=DB`` option: ``track`` a track name or 0-based index (a two-handed part
    by its name without the hand), ``gain_db`` added after the balance; -inf mutes."""

    track: str
    gain_db: float


@dataclass(frozen=True)
class MixLevels:
    """How loud each track sits in a mix.

    lead_over_band_db: the lead tracks (:data:`LEAD_NAMES`) are set this many dB over the
    loudest other track, both measured by :func:`active_level_db` on the track rendered alone
    (at most :data:`MAX_BALANCE_DB` of change); None leaves every track at its renderer's level.
    gains: the user's per-track gains, applied after the balance.
    """

    lead_over_band_db: float | None = LEAD_OVER_BAND_DB
    gains: tuple[GainOption, ...] = ()


UNBALANCED = MixLevels(lead_over_band_db=None)
"""Every track at its renderer's own level (the mixer's behaviour before the balance)."""


def parse_gain_options(options: Sequence[str]) -> tuple[GainOption, ...]:
    """``["Melody=-3", "Drums=mute", "Piano=+1.5"]`` -> GainOptions (a later one for the same
    track wins).  Gains are dB in :data:`GAIN_RANGE_DB`, or ``mute``."""
    parsed = []
    lo, hi = GAIN_RANGE_DB
    for option in options:
        track, sep, value = str(option).partition("=")
        value = value.strip().lower()
        if not sep or not track.strip() or not value:
            raise RenderError(f"gain option {option!r} must look like TRACK=DB (e.g. {MELODY}=-3) or TRACK=mute")
        if value in ("mute", "off"):
            parsed.append(GainOption(track.strip(), float("-inf")))
            continue
        try:
            gain = float(value.removesuffix("db"))
        except ValueError:
            raise RenderError(f"gain option {option!r}: {value!r} is not a number of dB (or mute)") from None
        if not lo <= gain <= hi:  # also refuses nan and inf
            raise RenderError(f"gain option {option!r}: the gain must be {lo:g} to {hi:+g} dB, or mute")
        parsed.append(GainOption(track.strip(), gain))
    return tuple(parsed)


def _track_indices(names: Sequence[str], track: str) -> list[int]:
    """The tracks an option names: exact name, else 0-based index, else both hands."""
    if track in names:
        return [names.index(track)]
    if _is_number(track) and int(track) < len(names):
        return [int(track)]
    hands = [i for i, n in enumerate(names) if n in (track + " RH", track + " LH")]
    if hands:
        return hands
    listing = ", ".join(f"{i}={n!r}" for i, n in enumerate(names)) or "none"
    raise RenderError(f"no track {track!r} in this song; tracks are {listing}")


def resolve_gains(score: Score, options: Sequence[GainOption] = ()) -> tuple[float, ...]:
    """The user's gain in dB per track of ``score`` (0 where none is given, -inf muted)."""
    gains = [0.0] * len(score.tracks)
    names = [t.name for t in score.tracks]
    for option in options:
        for index in _track_indices(names, option.track):
            gains[index] = option.gain_db
    return tuple(gains)


def is_lead(track) -> bool:
    """Whether a track plays the lead role in the mix (by its name, :data:`LEAD_NAMES`)."""
    return not track.is_drum and track.name.strip().lower() in LEAD_NAMES


def active_level_db(blocks: Iterable[np.ndarray], frame: int = LEVEL_FRAME) -> float:
    """RMS level in dBFS of audio blocks [n, channels], over the time the audio sounds.

    The mean square is taken per frame of ``frame`` samples (channels averaged), and only
    frames that sound count, gated as ITU-R BS.1770 gates loudness: over -70 dBFS, then
    within 20 dB of the mean of those.  So a melody that plays half the song is measured on
    its phrases, not diluted by its rests.  -inf for silence.
    """
    energies = []
    for block in blocks:
        power = np.square(np.asarray(block, dtype=np.float64)).reshape(len(block), -1).mean(axis=1)
        n_frames = -(-len(power) // frame)
        if n_frames:
            padded = np.zeros(n_frames * frame)
            padded[:len(power)] = power
            sums = padded.reshape(n_frames, frame).sum(axis=1)
            counts = np.full(n_frames, frame)
            counts[-1] = len(power) - (n_frames - 1) * frame
            energies.append(sums / counts)
    if not energies:
        return float("-inf")
    e = np.concatenate(energies)
    e = e[e > 1e-7]  # -70 dBFS
    if not len(e):
        return float("-inf")
    e = e[e > e.mean() * 0.01]  # within 20 dB of the sounding mean
    return float(10 * np.log10(e.mean()))


def default_factories() -> dict[str, RendererFactory]:
    """The renderer factories shipped with composer for the kinds other than "sf":
    "ddsp" -> :class:`composer.render.ddsp.renderer.DDSPRenderer` (imported when first used)."""

    def ddsp(name: str) -> Renderer:
        from composer.render.ddsp.renderer import load_ddsp_renderer  # noqa: PLC0415 - torch is heavy

        return load_ddsp_renderer(name)

    return {"ddsp": ddsp}


class Mixer:
    """Render a Score with a renderer chosen per track, and mix them at balanced levels.

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

    @property
    def block_samples(self) -> int:
        return self.soundfont.block_samples

    def _track_blocks(self, score: Score, index: int, timbre: TrackTimbre, sample_rate: int,
                      held: dict[int, np.ndarray]) -> Iterator[np.ndarray]:
        """Track ``index`` of ``score`` (programs already applied) rendered alone, as stereo
        float32 blocks of :attr:`block_samples`.  A SoundFont track streams from FluidSynth
        (memory bounded by a block); any other renderer makes the whole track, which is kept
        in ``held`` so that measuring it and mixing it render it once."""
        sub = score.replace(tracks=(score.tracks[index],))
        if timbre.kind == "sf":
            yield from self.soundfont.render_blocks(sub, sample_rate)
            return
        if index not in held:
            audio = self.renderer_for(timbre).render(sub, sample_rate)
            held[index] = mix_audio([audio], sample_rate).samples
        samples, step = held[index], self.block_samples
        for start in range(0, len(samples), step):
            yield samples[start:start + step]

    def track_gains(self, score: Score, sample_rate: int, timbres: Sequence[TrackTimbre],
                    levels: MixLevels | None = None,
                    held: dict[int, np.ndarray] | None = None) -> tuple[float, ...]:
        """The gain in dB of each track in the mix: the balance (the lead over the band,
        measured on each track rendered alone) plus the user's gain; -inf for a muted track.
        ``score`` has its programs applied (:func:`apply_sf_programs`)."""
        levels = MixLevels() if levels is None else levels
        held = {} if held is None else held
        user = resolve_gains(score, levels.gains)
        balance = [0.0] * len(score.tracks)
        if levels.lead_over_band_db is not None:
            audible = [i for i, t in enumerate(score.tracks) if t.notes and user[i] > float("-inf")]
            leads = [i for i in audible if is_lead(score.tracks[i])]
            band = [i for i in audible if i not in leads]
            if leads and band:
                measured = {i: active_level_db(self._track_blocks(score, i, timbres[i], sample_rate, held))
                            for i in leads + band}
                lead_db = max(measured[i] for i in leads)
                band_db = max(measured[i] for i in band)
                if np.isfinite(lead_db) and np.isfinite(band_db):
                    change = float(np.clip(band_db + levels.lead_over_band_db - lead_db,
                                           -MAX_BALANCE_DB, MAX_BALANCE_DB))
                    for i in leads:
                        balance[i] = change
        return tuple(b + u for b, u in zip(balance, user))

    def render(self, score: Score, sample_rate: int = 44100,
               timbres: Sequence[TrackTimbre] | None = None, levels: MixLevels | None = None) -> Audio:
        """The whole mix as stereo Audio (float32 [n_samples, 2], unnormalised), balanced
        by ``levels`` (default :class:`MixLevels`: the lead a few dB over the band)."""
        blocks = list(self.render_blocks(score, sample_rate, timbres, levels))
        return Audio(np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32), sample_rate)

    def render_blocks(self, score: Score, sample_rate: int = 44100,
                      timbres: Sequence[TrackTimbre] | None = None,
                      levels: MixLevels | None = None) -> Iterator[np.ndarray]:
        """Stream the mix as float32 blocks [n, 2]: every track rendered alone and summed
        with its gain (:meth:`track_gains`), so that the stems add up to the mix exactly.
        SoundFont tracks stream from FluidSynth side by side (memory bounded by a block per
        track); other timbres render their whole track first."""
        check_render_limits(score)
        # A synth per track runs side by side, so the song must still fit what one GM synth
        # plays: 65,535 tracks meant 65,535 FluidSynth instances at once, and a crash.
        plan_channels(score.tracks)
        timbres = resolve_timbres(score) if timbres is None else tuple(timbres)
        if len(timbres) != len(score.tracks):
            raise RenderError(f"{len(timbres)} timbres for {len(score.tracks)} tracks")
        score = apply_sf_programs(score, timbres)
        held: dict[int, np.ndarray] = {}
        gains_db = self.track_gains(score, sample_rate, timbres, levels, held)
        streams = [(self._track_blocks(score, i, timbres[i], sample_rate, held), np.float32(10 ** (g / 20)))
                   for i, g in enumerate(gains_db) if score.tracks[i].notes and g > float("-inf")]
        while streams:
            parts = [(next(blocks, None), gain) for blocks, gain in streams]
            streams = [s for s, (block, _) in zip(streams, parts) if block is not None]
            parts = [(block, gain) for block, gain in parts if block is not None]
            if not parts:
                break
            out = np.zeros((max(len(b) for b, _ in parts), 2), np.float32)
            for block, gain in parts:
                out[:len(block)] += block * gain
            yield out

    def render_stems(self, score: Score, sample_rate: int = 44100,
                     timbres: Sequence[TrackTimbre] | None = None,
                     levels: MixLevels | None = None) -> tuple[Stem, ...]:
        """Each track rendered alone with its gain in the mix (:meth:`track_gains`; a muted
        track is silent), all padded to the same length: they add up to :meth:`render`."""
        check_render_limits(score)
        timbres = resolve_timbres(score) if timbres is None else tuple(timbres)
        if len(timbres) != len(score.tracks):
            raise RenderError(f"{len(timbres)} timbres for {len(score.tracks)} tracks")
        score = apply_sf_programs(score, timbres)
        held: dict[int, np.ndarray] = {}
        gains_db = self.track_gains(score, sample_rate, timbres, levels, held)
        audios = []
        for i, gain_db in enumerate(gains_db):
            blocks = list(self._track_blocks(score, i, timbres[i], sample_rate, held)) \
                if score.tracks[i].notes and gain_db > float("-inf") else []
            held.pop(i, None)
            samples = np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)
            audios.append(samples * np.float32(10 ** (gain_db / 20)) if blocks else samples)
        n = max((len(a) for a in audios), default=0)
        stems = []
        for track, tb, samples, gain_db in zip(score.tracks, timbres, audios, gains_db):
            padded = np.zeros((n, 2), np.float32)
            padded[:len(samples)] = samples
            stems.append(Stem(track.name, tb, Audio(padded, sample_rate), gain_db))
        return tuple(stems)
