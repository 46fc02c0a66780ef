"""General MIDI rendering with FluidSynth: a Score in, stereo Audio out.

Built on pyfluidsynth's ``Synth`` and ``get_samples`` with no audio driver: this module
schedules every MIDI event itself, in sample time, from the Score's tempo map
(``Score.tick_to_seconds``), and pulls audio from the synthesiser between events.  Audio
comes out in fixed-size blocks (:meth:`SoundFontRenderer.render_blocks`), so a caller that
streams them to disk keeps memory bounded however long the song.

Each track gets a MIDI channel of its own, so its program, controllers (volume 7, pan 10,
expression 11, sustain 64, ...) and pitch bend never leak into another track.  Drum tracks go
to channels ``c`` with ``c % 16 == 9`` (MIDI channel 10, which FluidSynth treats as a drum
channel) and select bank 128; melodic tracks take the other channels.  FluidSynth's reverb
and chorus are on.  After the last event the synthesiser keeps running until it falls
silent (release and reverb tails), at most ``max_tail_seconds``.

FluidSynth quantises event times to its 64-sample internal block (1.45 ms at 44.1 kHz),
exactly like the ``fluidsynth`` command line.

pyfluidsynth loads libfluidsynth when it is imported and raises ImportError when the
library is missing, so it is imported only inside :func:`load_fluidsynth`: a missing optional
part fails when called, not at import.
"""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from composer.audio import Audio
from composer.errors import RenderError
from composer.render.base import check_render_limits
from composer.score import Score, Track

DEFAULT_SOUNDFONT = Path(__file__).resolve().parents[2] / "soundfonts" / "FluidR3Mono_GM.sf3"
"""The committed General MIDI SoundFont (FluidR3 Mono GM, MIT licence)."""

N_CHANNELS = 256
"""MIDI channels of the synthesiser: one per track (drums on every 16th, from channel 9)."""
DRUM_BANK = 128
"""The SoundFont bank that holds the GM drum kits."""

# Event kinds, in the order they apply when several fall on the same sample: controllers
# and pitch bend before notes (a pedal pressed with a chord holds it), note-offs before
# note-ons (a repeated note is released, then struck again), and the note-off of a
# zero-length note last of all, so that it still sounds for one FluidSynth block.
_CC, _BEND, _OFF, _ON, _OFF_ZERO = 0, 1, 2, 3, 4


def load_fluidsynth():
    """Import pyfluidsynth, turning a missing libfluidsynth into one RenderError line."""
    try:
        import fluidsynth  # noqa: PLC0415 - lazily, see the module docstring
    except (ImportError, OSError) as err:
        raise RenderError(
            "libfluidsynth is not installed; install it with `apt-get install fluidsynth` "
            f"(or `make system-deps`): {err}") from None
    return fluidsynth


@contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what C libraries write to file descriptor 2 meanwhile (FluidSynth's log, GLib's
    criticals from libinstpatch) into the yielded list, as one string, instead of the terminal."""
    captured: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield captured  # no file descriptor 2 to redirect: leave the output where it goes
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", errors="replace"))


def _fluid_reason(log: str) -> str:
    """The first ``fluidsynth: error:`` of a log, as `` (reason)``, or ``""``."""
    for line in log.splitlines():
        if line.startswith("fluidsynth: error:") and "Failed to load" not in line:
            return f" ({line.removeprefix('fluidsynth: error:').strip()})"
    return ""


def check_soundfont(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is a readable SoundFont (.sf2 / .sf3), else raise.

    A SoundFont is a RIFF file of form type ``sfbk``; anything else is refused here with
    one line rather than by FluidSynth with a log message and a failed load.
    """
    from composer.io.atomic import check_regular_file  # noqa: PLC0415

    path = Path(path)
    if not os.path.lexists(path):
        raise RenderError(f"SoundFont {path} not found; pass --soundfont PATH to an .sf2 or .sf3 file")
    # A regular file only (FluidSynth would block on a FIFO and read /dev/zero forever).
    check_regular_file(path, RenderError, "a SoundFont (.sf2/.sf3)")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as err:
        raise RenderError(f"cannot read SoundFont {path}: {err.strerror}") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(f"{path} is not a SoundFont (.sf2/.sf3 RIFF 'sfbk' file)")
    return path


@dataclass(frozen=True)
class ChannelPlan:
    """Where one track plays: its FluidSynth ``channel`` (0-based), ``bank`` and ``program``."""

    track_name: str
    channel: int
    bank: int
    program: int


def plan_channels(tracks: tuple[Track, ...]) -> tuple[ChannelPlan, ...]:
    """One channel per track: drums on channels 9, 25, 41, ... (``c % 16 == 9``), the rest
    on the remaining channels in track order.  Returns a plan per track, in track order."""
    n_drums = sum(t.is_drum for t in tracks)
    if n_drums > N_CHANNELS // 16 or len(tracks) - n_drums > N_CHANNELS - N_CHANNELS // 16:
        # Beyond that FluidSynth's program_select fails, which read as "no preset".
        raise RenderError(f"the song has {len(tracks) - n_drums} melodic and {n_drums} drum tracks; "
                          f"FluidSynth's {N_CHANNELS} channels play at most "
                          f"{N_CHANNELS - N_CHANNELS // 16} and {N_CHANNELS // 16}: merge some tracks")
    plans = []
    melodic = (c for c in range(100_000) if c % 16 != 9)
    drums = (c for c in range(9, 100_000, 16))
    for track in tracks:
        if track.is_drum:
            plans.append(ChannelPlan(track.name, next(drums), DRUM_BANK, track.program))
        else:
            plans.append(ChannelPlan(track.name, next(melodic), 0, track.program))
    return tuple(plans)


@dataclass(frozen=True, eq=False)
class EventList:
    """Every MIDI event of a Score in sample time, sorted.

    samples:  int64 [n_events], the sample index at which each event applies.
    kinds:    int8 [n_events], one of the ``_CC`` ... ``_OFF_ZERO`` codes.
    channels, data1, data2: int32 [n_events]; for notes pitch and velocity, for
              controllers number and value, for pitch bend the value -8192..8191 in data1.
    """

    samples: np.ndarray
    kinds: np.ndarray
    channels: np.ndarray
    data1: np.ndarray
    data2: np.ndarray

    def __len__(self) -> int:
        return int(self.samples.shape[0])

    @property
    def last_sample(self) -> int:
        return int(self.samples[-1]) if len(self) else 0


def schedule_events(score: Score, plans: tuple[ChannelPlan, ...], sample_rate: int) -> EventList:
    """Turn the Score's notes, controllers and pitch bends into an :class:`EventList`.

    Ticks go to seconds through ``Score.tick_to_seconds`` (the tempo map), then to the
    nearest sample.  Ties are broken by kind (see ``_CC`` ...), then by track order.
    """
    ticks, seconds, us = score._tempo_segments()
    seg_ticks = np.asarray(ticks, dtype=np.float64)
    seg_seconds = np.asarray(seconds, dtype=np.float64)
    seg_scale = np.asarray(us, dtype=np.float64) / 1e6 / score.resolution

    def to_samples(tick_array: np.ndarray) -> np.ndarray:
        # Vectorised Score.tick_to_seconds: the same piecewise-linear tempo map.
        i = np.maximum(np.searchsorted(seg_ticks, tick_array, side="right") - 1, 0)
        secs = seg_seconds[i] + (tick_array - seg_ticks[i]) * seg_scale[i]
        return np.round(secs * sample_rate).astype(np.int64)

    parts = []
    for order, (track, plan) in enumerate(zip(score.tracks, plans)):
        ch = plan.channel
        if track.notes:
            arr = np.array([(n.start_tick, n.end_tick, n.pitch, n.velocity) for n in track.notes],
                           dtype=np.int64)
            on = to_samples(arr[:, 0].astype(np.float64))
            off = to_samples(arr[:, 1].astype(np.float64))
            zero = off <= on
            off = np.where(zero, on, off)
            n = len(arr)
            parts.append((on, np.full(n, _ON), np.full(n, ch), arr[:, 2], arr[:, 3], np.full(n, order)))
            parts.append((off, np.where(zero, _OFF_ZERO, _OFF), np.full(n, ch), arr[:, 2],
                          np.zeros(n, np.int64), np.full(n, order)))
        if track.controls:
            arr = np.array([(c.tick, c.number, c.value) for c in track.controls], dtype=np.int64)
            n = len(arr)
            parts.append((to_samples(arr[:, 0].astype(np.float64)), np.full(n, _CC), np.full(n, ch),
                          arr[:, 1], arr[:, 2], np.full(n, order)))
        if track.pitch_bends:
            arr = np.array([(b.tick, b.value) for b in track.pitch_bends], dtype=np.int64)
            n = len(arr)
            parts.append((to_samples(arr[:, 0].astype(np.float64)), np.full(n, _BEND), np.full(n, ch),
                          arr[:, 1], np.zeros(n, np.int64), np.full(n, order)))
    if not parts:
        empty = np.zeros(0, np.int64)
        return EventList(empty, empty.astype(np.int8), *(empty.astype(np.int32),) * 3)
    samples, kinds, channels, d1, d2, orders = (np.concatenate(col) for col in zip(*parts))
    # Stable sort on (sample, kind, track order); within a track the Score's own order stays.
    index = np.lexsort((orders, kinds, samples))
    return EventList(samples[index], kinds[index].astype(np.int8), channels[index].astype(np.int32),
                     d1[index].astype(np.int32), d2[index].astype(np.int32))


class SoundFontRenderer:
    """Render Scores with FluidSynth and a General MIDI SoundFont.

    soundfont:         path to an .sf2 / .sf3 file; default :data:`DEFAULT_SOUNDFONT`.
    gain:              FluidSynth's master gain (``synth.gain``), default 0.2 as in the
                       ``fluidsynth`` command line; output is int16 inside FluidSynth, so a
                       higher gain risks clipping on dense songs.  Loudness is set later.
    reverb, chorus:    FluidSynth's effects, on by default.
    block_samples:     samples per block yielded by :meth:`render_blocks` (default 65536).
    max_tail_seconds:  how long to keep rendering after the last event while the sound
                       dies away (release and reverb tails), default 10 s.
    silence_level:     peak |sample| (of 1.0 full scale) under which the tail counts as
                       silent, default 1e-4 (-80 dBFS).

    Each render builds a fresh synthesiser (a few milliseconds: samples are loaded on
    demand per preset, ``synth.dynamic-sample-loading``), so renders never depend on each
    other, and frees it when the last block has been produced or the generator is closed.
    """

    def __init__(self, soundfont: str | os.PathLike | None = None, *, gain: float = 0.2,
                 reverb: bool = True, chorus: bool = True, block_samples: int = 65536,
                 max_tail_seconds: float = 10.0, silence_level: float = 1e-4) -> None:
        self.soundfont = check_soundfont(DEFAULT_SOUNDFONT if soundfont is None else soundfont)
        if not 0 < gain <= 10:
            raise RenderError(f"FluidSynth gain must be in (0, 10], got {gain}")
        if block_samples < 64:
            raise RenderError(f"block_samples must be at least 64, got {block_samples}")
        self.gain = float(gain)
        self.reverb = bool(reverb)
        self.chorus = bool(chorus)
        self.block_samples = int(block_samples)
        self.max_tail_seconds = float(max_tail_seconds)
        self.silence_level = float(silence_level)

    # ------------------------------------------------------------------ synth
    def _new_synth(self, sample_rate: int):
        """A fresh synthesiser with the SoundFont loaded: (synth, sfid).

        Fresh for every render, because ``system_reset`` leaves effect state (the chorus
        LFO phase) behind, and a render must not depend on the one before it.  With
        ``synth.dynamic-sample-loading`` loading takes milliseconds: only the presets a
        song selects are read and decoded.
        """
        fluidsynth = load_fluidsynth()
        # 256 channels: one per track even for large orchestral files.
        synth = fluidsynth.Synth(gain=self.gain, samplerate=float(sample_rate), channels=N_CHANNELS, **{
            "synth.reverb.active": int(self.reverb),
            "synth.chorus.active": int(self.chorus),
            "synth.dynamic-sample-loading": 1,
        })
        # A broken file makes FluidSynth (and GLib) log several lines to stderr: they are
        # folded into the one error line; after a good load, anything logged is passed on.
        with _stderr_captured() as log:
            sfid = synth.sfload(str(self.soundfont))
        text = "".join(log)
        if sfid < 0:
            synth.delete()
            raise RenderError(f"FluidSynth could not load SoundFont {self.soundfont}{_fluid_reason(text)}; "
                              "is it a valid .sf2/.sf3 file?")
        if text:
            sys.stderr.write(text)
        return synth, sfid

    def _select_programs(self, synth, sfid: int, plans: tuple[ChannelPlan, ...]) -> None:
        for plan in plans:
            if synth.program_select(plan.channel, sfid, plan.bank, plan.program) == 0:
                continue
            # A SoundFont without this preset: fall back to the bank's first one (piano or the
            # standard kit), as a GM module does, rather than leaving the channel silent.
            if synth.program_select(plan.channel, sfid, plan.bank, 0) != 0:
                raise RenderError(f"SoundFont {self.soundfont.name} has no preset in bank {plan.bank} "
                                  f"for track {plan.track_name!r}")

    # ------------------------------------------------------------------ render
    def estimate_samples(self, score: Score, sample_rate: int) -> int:
        """Samples up to the last event, without the tail (for progress bars)."""
        return int(round(score.duration_seconds * sample_rate))

    def render_blocks(self, score: Score, sample_rate: int = 44100) -> Iterator[np.ndarray]:
        """Yield the song as float32 blocks [n, 2] (stereo, time-major, full scale 1.0).

        Every block has ``block_samples`` samples except the last.  The blocks together
        cover every event plus the tail until silence (at most ``max_tail_seconds``).
        """
        if sample_rate not in range(8000, 192_001):
            raise RenderError(f"sample rate must be 8000..192000 Hz, got {sample_rate}")
        check_render_limits(score)
        plans = plan_channels(score.tracks)
        events = schedule_events(score, plans, sample_rate)
        if not len(events):
            return  # nothing to play: no samples at all, rather than a block of dither
        synth, sfid = self._new_synth(sample_rate)
        try:
            self._select_programs(synth, sfid, plans)
            yield from self._run(synth, events, sample_rate)
        finally:
            synth.delete()

    def _run(self, synth, events: EventList, sample_rate: int) -> Iterator[np.ndarray]:

        block = self.block_samples
        buf = np.empty((block, 2), dtype=np.float32)
        filled = 0  # samples of buf already rendered
        position = 0  # absolute sample index of the synth
        last_peak = 0  # peak |int16| of the most recent get_samples call

        def pull(n: int):
            """Render n samples into buf, yielding full blocks as they complete."""
            nonlocal filled, position, last_peak
            last_peak = 0
            while n > 0:
                take = min(n, block - filled)
                raw = synth.get_samples(take)
                last_peak = max(last_peak, int(raw.max()), -int(raw.min()))
                buf[filled:filled + take] = raw.reshape(take, 2) * np.float32(1 / 32768)
                filled += take
                position += take
                n -= take
                if filled == block:
                    yield buf.copy()
                    filled = 0

        samples, kinds, channels = events.samples, events.kinds, events.channels
        data1, data2 = events.data1, events.data2
        i, n_events = 0, len(events)
        while i < n_events:
            when = int(samples[i])
            if when > position:
                yield from pull(when - position)
            # Apply every event at this sample.
            while i < n_events and samples[i] == when:
                kind, ch = kinds[i], int(channels[i])
                if kind == _ON:
                    synth.noteon(ch, int(data1[i]), int(data2[i]))
                elif kind == _CC:
                    synth.cc(ch, int(data1[i]), int(data2[i]))
                elif kind == _BEND:
                    synth.pitch_bend(ch, int(data1[i]))
                else:
                    synth.noteoff(ch, int(data1[i]))
                i += 1

        # The tail: run on until FluidSynth has no voice left and the effects have died away.
        chunk = 4096
        tail_end = position + int(self.max_tail_seconds * sample_rate)
        threshold = self.silence_level * 32768
        while position < tail_end:
            yield from pull(min(chunk, tail_end - position))
            if synth.get_active_voice_count() == 0 and last_peak <= threshold:
                break
        if filled:
            yield buf[:filled].copy()

    def render(self, score: Score, sample_rate: int = 44100) -> Audio:
        """The whole song as stereo :class:`Audio` (float32 [n_samples, 2])."""
        blocks = list(self.render_blocks(score, sample_rate))
        samples = np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)
        return Audio(samples, sample_rate)
