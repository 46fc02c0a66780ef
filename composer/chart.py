"""Songs from a chord chart: ``| C | Am | F G |`` as a songwriter writes it, and the rest
written under and over it by the cascade.

A chart is bars between bar lines; a bar holds one chord name per equal part of the bar
(``| F G |`` in 4/4 is two beats each; 1, 2 or 4 chords in 4/4, 1 or 3 in 3/4 ...), ``%``
repeats the bar before, and ``N.C.`` is a bar without a chord.  Chord names are those of
the MIDI files' cue markers (:func:`composer.spelling.parse_chord_text`: ``C``, ``Am7``,
``F#m7b5``, ``G7/B``, ``Bb:maj7`` ...).

:func:`compose_from_chart` keeps the chords exactly: phrases of 8 bars over the chart's bars
(4 where 4 are left; a phrase whose chords return takes its label again; N.C. bars at the
ends an intro and an outro), or the given form, in the chart's key (given, else estimated
from the chords' notes), and the melody and
accompaniment levels write the notes over them
(:meth:`composer.pipeline.Composer.compose_over`).
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from composer.errors import ComposerError
from composer.harmonise import form_of, key_of_weights
from composer.form import MAX_SONG_BARS, PartialForm
from composer.options import Meter
from composer.representation.harmony import ChordGrid
from composer.score import CHORD_QUALITIES, QUALITY_NAMES, Note, Score, Track
from composer.spelling import parse_chord_text

MAX_CHART_CHARS = 8000
"""A chart longer than this is refused before it is read (512 bars of two chords fit)."""



class ChartError(ComposerError):
    """A chord chart that cannot be read."""


def _short(text: str) -> str:
    return repr(text) if len(text) <= 24 else repr(text[:20] + "...")


def parse_chart(text: str, beats_per_bar: int) -> ChordGrid:
    """A chord per beat from a chart (see the module docstring); ``beats_per_bar`` quarter
    beats per bar (3 for 3/4 and 6/8).  Raises ChartError with one line."""
    if len(text) > MAX_CHART_CHARS:
        raise ChartError(f"the chord chart has {len(text):,} characters; at most {MAX_CHART_CHARS:,}")
    cells = [cell.strip() for cell in re.split(r"\|+", text.strip())]
    # A chart may start and end with a bar line, or not.
    if cells and not cells[0]:
        cells = cells[1:]
    if cells and not cells[-1]:
        cells = cells[:-1]
    if not cells:
        raise ChartError("the chord chart has no bars: write them between bar lines, e.g. | C | Am | F G |")
    if len(cells) > MAX_SONG_BARS:
        raise ChartError(f"the chord chart has {len(cells)} bars; a song has at most {MAX_SONG_BARS}")
    beats = []
    previous: list[tuple[int, int, int]] | None = None
    for number, cell in enumerate(cells, start=1):
        names = cell.split()
        if names == ["%"]:
            if previous is None:
                raise ChartError("bar 1 is %, but there is no bar before it to repeat")
            bar = previous
        elif not names:
            raise ChartError(f"bar {number} is empty: write a chord, % to repeat the bar before, or N.C.")
        else:
            if beats_per_bar % len(names):
                fits = [n for n in range(1, beats_per_bar + 1) if beats_per_bar % n == 0]
                raise ChartError(f"bar {number} has {len(names)} chords; a bar of {beats_per_bar} beats takes "
                                 + ", ".join(map(str, fits[:-1])) + f" or {fits[-1]}")
            bar = []
            for name in names:
                if name.upper() in ("N.C.", "NC", "N.C"):
                    chord = (-1, -1, -1)
                else:
                    parsed = parse_chord_text(name)
                    if parsed is None or parsed[1] not in CHORD_QUALITIES:
                        raise ChartError(f"bar {number}: {_short(name)} is not a chord name "
                                         "(e.g. C, Am7, F#m7b5, G7/B)")
                    root, quality, bass = parsed
                    chord = (root, QUALITY_NAMES.index(quality), bass)
                bar += [chord] * (beats_per_bar // len(names))
        beats += bar
        previous = bar
    arr = np.array(beats, dtype=np.int8).reshape(-1, 3)
    return ChordGrid(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(), beats_per_bar)


def estimate_key(grid: ChordGrid) -> tuple[int, int]:
    """(tonic 0..11, mode 0 major / 1 minor) of a chord grid: the Krumhansl-Kessler profile
    that best correlates with the beats its chords' notes sound (the bass counted twice);
    ties go to the key whose tonic chord ends the chart.  C major for a chart of N.C. only."""
    weight = np.zeros(12)
    for root, quality, bass in zip(grid.root, grid.quality, grid.bass):
        if root < 0:
            continue
        for interval in CHORD_QUALITIES[QUALITY_NAMES[quality]]:
            weight[(root + interval) % 12] += 1
        weight[bass] += 1
    last = next(((int(r), int(q)) for r, q in zip(grid.root[::-1], grid.quality[::-1]) if r >= 0), None)
    minor_chord = QUALITY_NAMES[last[1]].startswith("min") if last else False
    return key_of_weights(weight, lambda tonic, mode: last is not None and last[0] == tonic
                          and minor_chord == bool(mode))


def file_chords(score: Score, meter: str | None = None) -> tuple[ChordGrid, Meter, float]:
    """(a chord per beat, the meter (parsed), the first tempo in bpm) of a MIDI file's chord symbols
    (its Chords track or chord cue markers, as :func:`composer.io.midi.read_midi` reads them),
    for a song over a file that brings chords and no melody.  A chord that starts inside a beat
    sounds from the next beat (the levels' chords are per beat)."""
    from composer.harmonise import file_meter  # noqa: PLC0415
    from composer.band import grid_from_score  # noqa: PLC0415

    m = file_meter(score, meter)
    n_bars = -(-max(c.end_tick for c in score.chords) // (m.beats_per_bar * score.resolution))
    if n_bars > MAX_SONG_BARS:
        raise ChartError(f"the file's chords last {n_bars} bars; a song has at most {MAX_SONG_BARS}")
    tempo = score.tempos[0].bpm if score.tempos else 120.0   # a file without a tempo plays at 120
    return grid_from_score(score, n_bars, m.beats_per_bar), m, tempo


def compose_from_chart(composer, chart: str | ChordGrid, form: str | PartialForm | None = None,
                       key: str | tuple[int, int] | None = None, tempo: float | None = None,
                       meter: str | Meter = "4/4", seed: int = 0,
                       steps: int | None = None, progress: Callable[[str, float, float], None] | None = None,
                       bass: bool = True, humanize: bool = False, drums: bool = True) -> Score:
    """A song over the chords of ``chart`` (a chart's text, or a chord per beat: :func:`file_chords`), kept exactly: phrases of 8 bars by the chart's
    repetitions (:func:`composer.harmonise.form_of`), or ``form`` when given (it must cover the
    chart's bars; the form level fills its ``?N`` and ``*``), in ``key`` (default: estimated),
    then melody and accompaniment by the note levels, and the drums of the drum level when
    the models have one.  ``composer`` is a :class:`composer.pipeline.Composer`; other
    options as its ``compose``."""
    from composer.levels.form import sample_form  # noqa: PLC0415
    from composer.options import draw_tempo, read_options  # noqa: PLC0415
    from composer.pipeline import FORM_STEPS, level_generators  # noqa: PLC0415

    options = read_options(form, None, key, tempo, meter, steps, seed=seed)
    form, parsed_key, m = options.form, options.key, options.meter
    grid = parse_chart(chart, m.beats_per_bar) if isinstance(chart, str) else chart
    if grid.beats_per_bar != m.beats_per_bar:
        raise ChartError(f"chords of {grid.beats_per_bar} beats a bar do not fit {m}")
    n_bars = grid.n_beats // m.beats_per_bar
    tonic_mode = parsed_key if parsed_key is not None else estimate_key(grid)
    if tempo is None:
        tempo = draw_tempo(np.random.default_rng(seed))
    def plan_for(text: str | PartialForm | None):
        return sample_form(composer.form_level, form=text, bars=n_bars, key=tonic_mode,
                           generator=level_generators(seed)["form"], steps=steps or FORM_STEPS,
                           progress=None if progress is None else (lambda i, n: progress("form", i, n)))

    if form is None:
        # A chart is written to be sung over: phrases of 8 bars (4 where 4 are left) over its
        # chords, N.C. bars at its ends an intro and an outro, and a phrase whose chords come
        # back takes the label it had (composer/harmonise.py).  The form level, asked for the
        # chart's bars, wrote intros and outros without melody over half a 16-bar chart.
        from composer.form import FormPlan  # noqa: PLC0415

        r, q, b = (np.asarray(a, np.int64) for a in (grid.root, grid.quality, grid.bass))
        chords = np.where(r >= 0, (r * 20 + q) * 12 + b, -1)   # one number per chord (N.C. -1)
        plan = FormPlan(tuple(form_of(chords, m.beats_per_bar)), (tonic_mode[0],) * n_bars,
                        (tonic_mode[1],) * n_bars)
    else:
        plan = plan_for(form)
    score = composer.compose_over(plan, grid, m, float(tempo), seed, steps, progress, bass, humanize)
    if drums and getattr(composer, "drum_level", None) is not None:
        from composer.levels.drums import add_drums  # noqa: PLC0415

        # As Composer.compose adds them: after humanizing, from the seed's drum stream.
        score = add_drums(composer.drum_level, score, level_generators(seed)["drums"], humanize=humanize,
                          progress=None if progress is None else (lambda i, n: progress("drums", i, n)))
    return score


CHORD_TRACK = "Chords"
"""The name of the optional block-chord track (:func:`with_chord_track`)."""


def chord_track(score: Score, program: int = 0, velocity: int = 64) -> Track:
    """The song's chord symbols as block chords a DAW plays: for each chord its bass note in
    the octave from C2 and its tones from the root in the octave from C3 (upwards), held for
    the chord's length; GM ``program`` (default piano)."""
    notes = []
    for c in score.chords:
        pitches = {36 + c.bass} | {48 + c.root + i for i in CHORD_QUALITIES[c.quality]}
        notes += [Note(c.start_tick, c.duration_ticks, p, velocity) for p in sorted(pitches)]
    return Track(CHORD_TRACK, program, False, tuple(sorted(notes, key=lambda n: (n.start_tick, n.pitch))))


def with_chord_track(score: Score) -> Score:
    """``score`` with its Chords track (:func:`chord_track`) last, made anew from its chord
    symbols (a regenerated part's new chords included)."""
    tracks = tuple(t for t in score.tracks if t.name != CHORD_TRACK)
    return score.replace(tracks=tracks + (chord_track(score),)).validate()
