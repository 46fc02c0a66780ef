"""One POP909 song -> one :class:`~composer.data.example.SongExample`, step by step: the HSA
grid, the played MIDI and its own 16th grid, the alignment between them, the notes on the
grid, the chords' beat shift, the keys per bar.  A song that fails a step is dropped with
the reason (:class:`SongBuildResult`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.data.example import SongExample
from composer.data.pop909.align import Alignment, align_steps
from composer.data.pop909.chords import chord_tone_share, fit_chord_shift
from composer.data.pop909.hsa import HsaSong, read_hsa_song
from composer.data.pop909.keys import BarKeys, bar_keys
from composer.data.pop909.labels import parse_midi_chord_roots, read_lines
from composer.data.pop909.sources import SongSources
from composer.data.pop909.steps import (TICKS_PER_STEP, MidiSteps, clean_notes, grid_phase,
                                        notes_to_grid, offgrid_share, quantise_ticks)
from composer.data.pop909.tracks import main_tempo_bpm, read_played_song
from composer.errors import DataError, FormError
from composer.score import Score

MIN_MELODY_MATCH = 0.5
"""Songs whose aligned MIDI melody matches fewer of melody.txt's onsets than this are dropped."""
MAX_OFFGRID_SHARE = 0.15
"""Songs with more than this share of onsets far (>= 30 ticks) from the 16th grid are dropped
(triplet / compound-meter subdivisions that a 16th grid cannot hold)."""
DEFAULT_VELOCITY = 80


@dataclass(frozen=True)
class SongBuildResult:
    """What building one song gave: kept (with its figures) or dropped (with a reason).
    One row of report.json's ``songs``."""

    song_id: str
    kept: bool
    reason: str = ""
    n_bars: int = 0
    beats_per_bar: int = 0
    melody_match: float = float("nan")
    offset_changes: int = 0
    offgrid_share: float = float("nan")
    melody_chord_tone: float = float("nan")
    accomp_chord_tone: float = float("nan")
    melody_chord_tone_shifted: float = float("nan")
    accomp_chord_tone_shifted: float = float("nan")
    n_key_changes: int = 0
    key_source: str = ""
    key_agreement_with_audio: float = float("nan")
    cl_match: float = float("nan")
    chord_shift_beats: int = 0
    form_repaired: int = 0
    form_alt_repaired: int = 0
    notes_dropped: int = 0
    notes: str = ""


def build_song(src: SongSources) -> tuple[SongBuildResult, SongExample | None]:
    """Build one song; never raises for a data problem (it becomes a drop reason)."""
    try:
        return _build_song(src)
    except (DataError, FormError) as err:
        return _drop(src.song_id, str(err))


def _drop(song_id: str, reason: str, **figures) -> tuple[SongBuildResult, None]:
    return SongBuildResult(song_id, False, reason=reason, **figures), None


def _build_song(src: SongSources) -> tuple[SongBuildResult, SongExample | None]:
    missing = [f for f in src.files() if not f.is_file()]
    if missing:
        return _drop(src.song_id, f"missing file {missing[0].name}")
    hsa = read_hsa_song(src.hsa_dir, src.meter)
    played = read_played_song(src.midi)

    # The MIDI's own step grid: 16ths at the phase the notes were played to.
    onsets = played.onset_ticks
    origin = grid_phase(onsets)
    offgrid = offgrid_share(onsets, origin)
    if offgrid > MAX_OFFGRID_SHARE:
        return _drop(src.song_id, f"{offgrid:.0%} of onsets lie 30 or more ticks off the 16th grid "
                                  f"(triplets / compound meter)", offgrid_share=round(offgrid, 4))
    steps = MidiSteps.of(onsets, origin, Score(tempos=played.tempos))

    al = _align(hsa, played.melody, steps, src)
    if al.melody_match < MIN_MELODY_MATCH:
        return _drop(src.song_id, f"the MIDI melody matches only {al.melody_match:.0%} of melody.txt "
                                  f"onsets at the best alignment", melody_match=round(al.melody_match, 4))
    inv = al.midi_to_grid_step(steps.n_steps)

    accomp, n_dropped = notes_to_grid(played.accompaniment, origin, inv, hsa.n_steps)
    accomp = clean_notes(accomp)
    melody = _melody_on_grid(hsa, played.melody, origin, inv)
    chord, chord_shift = fit_chord_shift(accomp, hsa.chord)
    keys = bar_keys(src.key_audio, src.hsa_dir, src.cl_midi,
                    np.concatenate([played.melody, played.accompaniment]), steps, inv,
                    hsa.n_bars, hsa.beats_per_bar)
    # The song ends where the grid's last step lands in the MIDI.
    last_tick = origin + (hsa.n_steps + int(al.offset_steps[-1])) * TICKS_PER_STEP
    example = SongExample(
        song_id=src.song_id, tempo_bpm=main_tempo_bpm(played.tempos, last_tick),
        meter=(hsa.beats_per_bar, 4), beats_per_bar=hsa.beats_per_bar, n_bars=hsa.n_bars,
        form=hsa.forms[0], form_alt=hsa.forms[1],
        key_tonic=(keys.codes % 12).astype(np.int8), key_mode=(keys.codes // 12).astype(np.int8),
        chord_root=chord[:, 0].copy(), chord_quality=chord[:, 1].copy(), chord_bass=chord[:, 2].copy(),
        melody=melody, accompaniment=accomp).check()
    result = _kept(src.song_id, hsa, al, offgrid, example, chord, chord_shift, keys, n_dropped)
    return result, example


def _align(hsa: HsaSong, melody_rows: np.ndarray, steps: MidiSteps, src: SongSources) -> Alignment:
    """The HSA grid against the MIDI steps, by the melodies and the chord roots
    (``chord_midi.txt``'s, in seconds, against HSA's unshifted ones)."""
    midi_roots = parse_midi_chord_roots(read_lines(src.chord_midi), steps.step_of_seconds, steps.n_steps)
    return align_steps(hsa.melody, quantise_ticks(melody_rows[:, 0], steps.origin_tick), melody_rows[:, 2],
                       hsa.chord[:, 0].astype(np.int64), midi_roots, hsa.n_bars * hsa.beats_per_bar)


def _melody_on_grid(hsa: HsaSong, melody_rows: np.ndarray, origin_tick: int, inv: np.ndarray) -> np.ndarray:
    """``melody.txt``'s notes (already on the grid) with the velocities of the aligned MIDI
    melody notes at the same step and pitch (the median of those found, where none is)."""
    n_steps = hsa.n_steps
    mgrid, _ = notes_to_grid(melody_rows, origin_tick, inv, n_steps)
    vel_of = {(int(s), int(p)): int(v) for s, _, p, v in mgrid}
    gm = hsa.melody[hsa.melody[:, 0] < n_steps]
    vels = np.array([vel_of.get((int(s), int(p)), 0) for s, _, p in gm], dtype=np.int32)
    fallback = int(np.median(vels[vels > 0])) if (vels > 0).any() else DEFAULT_VELOCITY
    vels[vels == 0] = fallback
    melody = np.zeros((len(gm), 4), np.int32)
    if len(gm):
        melody[:, 0], melody[:, 2], melody[:, 3] = gm[:, 0], gm[:, 2], vels
        melody[:, 1] = np.minimum(gm[:, 1], n_steps - gm[:, 0])
    return clean_notes(melody)


def _kept(song_id: str, hsa: HsaSong, al: Alignment, offgrid: float, example: SongExample,
          chord: np.ndarray, chord_shift: int, keys: BarKeys, n_dropped: int) -> SongBuildResult:
    """The figures of a kept song: the chord-tone shares with the chords as placed and one
    beat late (the misaligned control), the alignment and the keys."""
    melody, accomp = example.melody, example.accompaniment
    return SongBuildResult(
        song_id, True, n_bars=hsa.n_bars, beats_per_bar=hsa.beats_per_bar,
        melody_match=round(al.melody_match, 4), offset_changes=al.n_offset_changes,
        offgrid_share=round(offgrid, 4),
        melody_chord_tone=_r(chord_tone_share(melody, chord)),
        accomp_chord_tone=_r(chord_tone_share(accomp, chord)),
        melody_chord_tone_shifted=_r(chord_tone_share(melody, chord, 1)),
        accomp_chord_tone_shifted=_r(chord_tone_share(accomp, chord, 1)),
        n_key_changes=int(np.count_nonzero(np.diff(keys.codes))), key_source=keys.source,
        key_agreement_with_audio=_r(keys.agreement_with_audio), cl_match=_r(keys.cl_match),
        chord_shift_beats=chord_shift, form_repaired=hsa.form_repairs[0],
        form_alt_repaired=hsa.form_repairs[1], notes_dropped=n_dropped, notes=hsa.note)


def _r(x: float) -> float:
    """Rounded to 4 places for report.json; NaN stays NaN."""
    return round(x, 4) if x == x else x


__all__ = ["DEFAULT_VELOCITY", "MAX_OFFGRID_SHARE", "MIN_MELODY_MATCH", "SongBuildResult", "build_song"]
