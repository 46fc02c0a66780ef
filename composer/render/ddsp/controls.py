"""Notes to expressive control curves (f0 and loudness) for a learned timbre.

In the spirit of MIDI-DDSP's expression layer (Wu et al., ICLR 2022), but from statistics
measured on the instrument's own recordings (:class:`~composer.render.ddsp.timbre.Expression`)
rather than a second network:

* **Dynamics**: a note's sustained loudness is the loudness the instrument was measured to
  have at that velocity's written dynamic (pp = 33 ... ff = 112, interpolated) and in that
  note's register (``register_db``: a flute's high notes are louder at the same dynamic, and
  brighter because louder); the output gain keeps the level heard even across registers; expression
  (CC 11) lowers it as the DLS curve ``40 log10(value / 127)`` dB does.  Loudness is what the
  timbre network listens to, so a soft note is also darker, as the recordings are.
* **Envelope**: attack from the current level (silence, or the tail of the previous note)
  rising linearly in amplitude over the measured attack time, shortened by a harder velocity
  and never longer than half the note; the measured overshoot (``decay_db``) relaxing to the
  sustain level over 0.1 s; release falling linearly in dB at the measured rate (40 dB per
  ``release_seconds``) until the next note or silence.  A note that does not join the next
  one legato is held as long as the players held notes of its written length
  (``played_for``: shorter for short notes) before its release begins, never past the next
  note's onset.
* **Articulation**: a note that is not legato starts its attack at least 20 dB below its
  peak, so a repeated or tongued note is heard as a new note even without a rest.
* **Legato**: a note marked legato by the voice allocator glides in over 30 ms (pitch and
  loudness) with no new attack.
* **Vibrato**: the measured rate and depth, starting after the measured onset delay and faded
  in over 0.25 s, on notes long enough to have it.
* **Pitch bend** (range +-2 semitones) and **volume** (CC 7, an output gain) from the MIDI.
* **Velocity beyond timbre**: the measured dynamics may span less (or more) than a MIDI player
  expects; an output gain makes the whole level follow ``40 log10(velocity / 96)`` dB.

All curves are frame-rate float32 arrays ``[n_frames]`` (time-major), frame ``i`` at
``i / frame_rate`` seconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from composer.render.ddsp.timbre import Expression
from composer.render.ddsp.voices import TimedNote

LEGATO_FRAMES = 3          # 30 ms glide at 100 frames per second
DECAY_SECONDS = 0.1
VIBRATO_FADE_SECONDS = 0.25
PITCH_BEND_RANGE = 2.0     # semitones, the General MIDI default
REFERENCE_VELOCITY = 96
REARTICULATION_DB = 20.0


@dataclass(frozen=True, eq=False)
class ControlCurves:
    """One monophonic voice's controls, all float32 [n_frames] at the timbre's frame rate.

    f0_hz:       fundamental in Hz (held through rests so the voice never jumps at an onset).
    loudness_db: A-weighted loudness in dB fed to the timbre network (silence = the
                 instrument's measured floor).
    gain:        linear output gain applied to the voice's audio (volume CC 7, velocity beyond
                 the timbre's measured dynamics).
    """

    f0_hz: np.ndarray
    loudness_db: np.ndarray
    gain: np.ndarray


def dls_db(value: np.ndarray | float, full: float = 127.0) -> np.ndarray:
    """The DLS/GM attenuation ``40 log10(value / full)`` dB (value clamped to >= 1)."""
    return 40.0 * np.log10(np.maximum(np.asarray(value, dtype=np.float64), 1.0) / full)


def fit_range(notes: tuple[TimedNote, ...] | list[TimedNote], pitch_min: int,
              pitch_max: int) -> tuple[tuple[TimedNote, ...], int]:
    """Move notes outside ``pitch_min..pitch_max`` by whole octaves into it (clamped when the
    range is narrower than an octave).  Returns (notes, number moved)."""
    out, moved = [], 0
    for n in notes:
        p = n.pitch
        while p < pitch_min and p + 12 <= 127:
            p += 12
        while p > pitch_max and p - 12 >= 0:
            p -= 12
        if p < pitch_min or p > pitch_max:
            p = min(max(p, pitch_min), pitch_max)
        if p != n.pitch:
            moved += 1
            n = replace(n, pitch=p)
        out.append(n)
    return tuple(out), moved


def step_curve(events: list[tuple[float, float]], n_frames: int, frame_rate: float,
               initial: float) -> np.ndarray:
    """A piecewise-constant curve [n_frames] from (time_s, value) events, ``initial`` before
    the first."""
    curve = np.full(n_frames, initial, np.float64)
    for time_s, value in sorted(events):
        i = int(round(time_s * frame_rate))
        if i < n_frames:
            curve[max(i, 0):] = value
    return curve


def n_frames_for(notes: tuple[TimedNote, ...] | list[TimedNote], expression: Expression,
                 frame_rate: float) -> int:
    """Frames that hold every note plus the longest release to silence."""
    end = max((max(n.end_s, n.start_s + expression.played_for(n.end_s - n.start_s)) for n in notes),
              default=0.0)
    top = max(expression.dynamics_loudness_db) + expression.decay_db
    release = expression.release_seconds * max(1.0, (top - expression.silence_db) / 40.0)
    return int(math.ceil((end + release + 0.05) * frame_rate)) + 1


def voice_controls(notes: tuple[TimedNote, ...] | list[TimedNote], expression: Expression,
                   frame_rate: float, n_frames: int, bend_semitones: np.ndarray | None = None,
                   expression_db: np.ndarray | None = None,
                   volume_db: np.ndarray | None = None) -> ControlCurves:
    """Curves for one monophonic voice (notes sorted, non-overlapping; see module docstring).

    bend_semitones, expression_db, volume_db: optional per-frame float arrays [n_frames]
    (pitch bend in semitones, CC 11 and CC 7 as dB offsets); zeros when None."""
    ex = expression
    silence = ex.silence_db
    level = np.full(n_frames, silence, np.float64)
    midi = np.zeros(n_frames, np.float64)
    vib = np.zeros(n_frames, np.float64)
    gain_db = np.zeros(n_frames, np.float64)
    release_slope = 40.0 / max(ex.release_seconds, 1e-3) / frame_rate       # dB per frame
    notes = sorted(notes)
    if not notes:
        return ControlCurves(np.full(n_frames, 440.0, np.float32), level.astype(np.float32),
                             np.ones(n_frames, np.float32))
    midi[:] = notes[0].pitch
    ref = ex.loudness_for_velocity(REFERENCE_VELOCITY)
    for j, note in enumerate(notes):
        s = min(int(round(note.start_s * frame_rate)), n_frames - 1)
        e = min(max(s + 1, int(round(note.end_s * frame_rate))), n_frames)
        nxt = min(int(round(notes[j + 1].start_s * frame_rate)), n_frames) if j + 1 < len(notes) else n_frames
        nxt = max(nxt, e)
        if not (j + 1 < len(notes) and notes[j + 1].legato):
            # articulation: held as the players held a note of this written length
            played = ex.played_for(note.end_s - note.start_s)
            e = min(max(s + 1, int(round((note.start_s + played) * frame_rate))), nxt)
        sustain = ex.loudness_for_velocity(note.velocity, note.pitch)
        gain_db[s:nxt] = dls_db(note.velocity, REFERENCE_VELOCITY) - (sustain - ref)
        start_level = level[s - 1] if s > 0 else silence
        prev_pitch = midi[s - 1] if s > 0 else note.pitch
        midi[s:] = note.pitch
        if note.legato:
            g = min(LEGATO_FRAMES, e - s)
            ramp = (np.arange(1, g + 1) / g)
            midi[s:s + g] = prev_pitch + (note.pitch - prev_pitch) * ramp
            level[s:s + g] = start_level + (sustain - start_level) * ramp
            body_start = s + g
            level[body_start:e] = sustain
        else:
            hardness = 1.25 - 0.5 * note.velocity / 127.0
            a = max(1, min(int(round(ex.attack_seconds * hardness * frame_rate)), max(1, (e - s) // 2)))
            peak = sustain + ex.decay_db
            # A repeated or tongued note right after another still articulates: its attack
            # starts at least REARTICULATION_DB below its peak.
            start_level = min(start_level, peak - REARTICULATION_DB)
            amp0, amp1 = 10 ** (start_level / 20), 10 ** (peak / 20)
            amps = amp0 + (amp1 - amp0) * np.arange(1, a + 1) / a
            level[s:s + a] = 20 * np.log10(np.maximum(amps, 1e-10))
            d = max(1, int(round(DECAY_SECONDS * frame_rate)))
            decay = peak + (sustain - peak) * np.arange(1, d + 1) / d
            seg = level[s + a:e]
            seg[:] = sustain
            k = min(d, len(seg))
            seg[:k] = decay[:k]
        # release, from the level reached at the note's end until the next note (or the end)
        end_level = level[e - 1]
        if nxt > e:
            tail = end_level - release_slope * np.arange(1, nxt - e + 1)
            level[e:nxt] = np.maximum(tail, silence)
        # vibrato on the sustained part
        delay = int(round(ex.vibrato_delay_seconds * frame_rate))
        if ex.vibrato_depth_cents > 0 and e - s > delay + 2:
            t = np.arange(e - s - delay) / frame_rate
            fade = np.clip(t / VIBRATO_FADE_SECONDS, 0, 1)
            vib[s + delay:e] = ex.vibrato_depth_cents / 100.0 * fade * np.sin(2 * np.pi * ex.vibrato_rate_hz * t)
    midi = midi + vib
    if bend_semitones is not None:
        midi = midi + bend_semitones
    if expression_db is not None:
        level = np.maximum(level + expression_db, silence)
    if volume_db is not None:
        gain_db = gain_db + volume_db
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    return ControlCurves(f0.astype(np.float32), level.astype(np.float32),
                         (10 ** (gain_db / 20)).astype(np.float32))
