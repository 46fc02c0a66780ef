"""A song under your melody: chords, accompaniment, bass and drums written for a melody you bring.

    composer = Composer.from_pretrained()
    score = composer.arrange(read_midi("melody.mid"), seed=1)      # the melody kept note for note

The chord level is not conditioned on a melody (it writes chords from the form and key alone),
so the melody is heard by choosing: :func:`harmonise` draws ``candidates`` whole-song chord
grids from the chord level in one batch (seeded), and keeps, phrase by phrase, the candidate
whose chords hold the most of the melody (:func:`chord_fit`: the share of the melody's
sounding time on tones of the chord under it, the strong beats counted twice).  Every chord
is then one the chord level wrote for that form and key, in its own progressions; the melody
only picks among them.  The note level writes the accompaniment with the melody known (as it
does under the melody level's melody), the bass follows the chords, the drums the band.

What is read from the file (:func:`read_lead`):

* the melody: the track of :func:`composer.tracks.lead_index` (the project's rule: the track
  named "Melody", else the highest monophonic-ish one; a file of one line is that line);
* meter, tempo map and key signatures (options override them; several signatures, a
  modulating song, are taken as written); a key signature that the melody's notes contradict
  (C major over a melody in E major: a DAW's default) gives way to the key estimated from the
  melody, as does no signature at all;
* an estimated key is one per phrase (:func:`phrase_keys`): the song's key (the
  Krumhansl-Kessler profile that best fits the whole melody) unless a phrase or a run of
  phrases fits another key clearly better, each key change costing :data:`MODULATION_COST`
  (bars of melody times correlation gained).  The plan's key per bar then sets the chord
  level's keys and the song's key signatures (one at each change); the melody is not moved.
  On the 74 POP909 test songs (melody-read phrases; benchmarks/harmonise_keys.py) per-bar key
  accuracy (tonic and mode) goes 0.741 -> 0.745 (0.582 -> 0.679 on the 10 songs whose
  annotation changes key), 0.162 key changes per song against 0.135 annotated, 7 of the 10
  modulating songs get a change, 2 of the 64 others do (one of them, 080, really goes up a
  tone for its last chorus: POP909's key_audio.txt has it, the POP909-CL annotation does not);
  the strong-beat chord-tone share of the chosen chords (16 draws) goes 0.624 -> 0.634 over
  all 74, 0.538 -> 0.621 on the 9 whose keys differ;
* the form: the file's section markers when they tile its bars from bar 1; else phrases that
  follow the melody's repeats over the bars it sounds (:func:`form_of`: a phrase whose melody
  comes back gets the label it had), an intro and an outro for the bars before and after it.

The melody is kept exactly: its notes (pitch, onset, duration, velocity) go into the song's
Melody track as they are, moved only to the song's 480 ticks per quarter (a finer file's
ticks round to the nearest 1/480 beat, as every MIDI file composer writes).  The levels read
it on their 16th-note grid: notes off that grid (triplets, swing, a pushed note) are read at
the nearest 16th for choosing chords and writing the accompaniment, and stay where they are in
the song.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # only a type here: `composer --help` and `arrange --help` must not load torch
    import torch

from composer.errors import ComposerError, FormError
from composer.arrange import monophonic
from composer.form import MAX_SONG_BARS, FormPlan, Phrase, parse_form, parse_key
from composer.grid import STEPS_PER_BEAT
from composer.options import Meter, parse_meter
from composer.representation.harmony import ChordGrid
from composer.representation.pianoroll import MELODY_RANGE
from composer.score import CHORD_QUALITIES, QUALITY_NAMES, RESOLUTION, Note, Score, TempoChange, Track

DEFAULT_CANDIDATES = 16
"""Chord grids drawn per song to choose from.  On the 74 POP909 test songs (real melody, form
and keys; benchmarks/harmonise_fit.py) the share of strong-beat melody onsets on a chord tone
is 0.472 for one unguided draw, 0.573 / 0.599 / 0.642 for the best per phrase of 4 / 8 / 16,
against 0.721 for the songs' own chords.  A batch of 16 takes about six times one draw (a
40-bar song: 0.3 s for one draw on an idle core), 8 about three times."""
MAX_CANDIDATES = 32
STRONG_WEIGHT = 2.0
"""How much a melody step on a strong beat (the bar's first beat; the third of 4/4, the second
dotted quarter of 6/8) counts against one elsewhere in :func:`chord_fit`."""
PHRASE_BARS = 8
"""Length of the repeats a form read from music looks for, and of a phrase of new material
with no repeat ahead (:func:`form_of`)."""
SAME_PHRASE = 0.75
"""A phrase whose positions agree with an earlier phrase's (the same pitch class or chord) on
at least this share of those where either sounds takes that phrase's label (a returning
melody, a returning section).  On the POP909 validation songs 0.65 to 0.8 score within 0.02
of each other (F1 against the human labels, benchmarks/form_returns.py)."""


ARRANGED_TITLE = "composer arrange seed"
"""How the title of an arranged song begins (``composer arrange seed 3``): it stays through
regeneration and a MIDI file's round trip, so a song opened again still says its melody is
the user's (:func:`is_arranged`)."""


def is_arranged(score: Score) -> bool:
    """Whether ``score`` was written by ``Composer.arrange`` under a melody the user brought
    (its title says so): the melody that ``Composer.regenerate(keep_melody=True)`` keeps, and
    the app keeps by default."""
    return score.title.startswith(ARRANGED_TITLE + " ")


class ArrangeError(ComposerError):
    """A file or option that cannot be arranged (no melody, an unsupported meter ...)."""


@dataclass(frozen=True)
class Lead:
    """A melody to arrange, read from a file (:func:`read_lead`).

    melody: the melody track, kept exactly (at :data:`composer.score.RESOLUTION`), named as
    the file named it; steps: its notes on the 16th grid, ``int32 [n, 4]`` (start, duration,
    pitch, velocity), one voice, what the levels read; off_grid: how many of its notes start
    or end off that grid; plan: form and keys; meter: 4/4, 3/4, 2/4 or 6/8, parsed once; tempos: the
    tempo map; form_from / key_from: where they came from ("option", "markers", "melody";
    "option", "file", "melody"); left_out: the names of the file's other tracks."""

    melody: Track
    steps: np.ndarray
    off_grid: int
    plan: FormPlan
    meter: Meter
    tempos: tuple[TempoChange, ...]
    form_from: str
    key_from: str
    left_out: tuple[str, ...]


# ---------------------------------------------------------------------------- reading a file
def read_lead(score: Score, form: str | None = None, key: str | None = None, tempo: float | None = None,
              meter: str | None = None) -> Lead:
    """The melody of ``score`` and what the cascade needs around it; options (as ``composer
    generate`` takes them) override the file.  Raises :class:`ArrangeError` (one line)."""
    from composer.limits import check_tempo  # noqa: PLC0415
    from composer.tracks import MELODY, lead_index  # noqa: PLC0415

    index = lead_index(score)
    if index is None:
        raise ArrangeError(f"no melody found: name the melody's track \"{MELODY}\", or give a file whose "
                           "melody is its highest one-note-at-a-time track")
    m = file_meter(score, meter)
    if tempo is not None:
        check_tempo(tempo)
    src = score.tracks[index]
    notes = tuple(Note(_tick(n.start_tick, score.resolution),
                              max(1, _tick(n.end_tick, score.resolution) - _tick(n.start_tick, score.resolution)),
                         n.pitch, n.velocity) for n in src.notes)
    melody = Track(src.name, src.program, False, notes)
    step = RESOLUTION // STEPS_PER_BEAT
    steps, off_grid = melody_steps(notes, step)
    bar_ticks = m.steps_per_bar * step
    n_bars = -(-max(n.end_tick for n in notes) // bar_ticks)
    phrases, form_from = _phrases(score, form, n_bars, steps, m.steps_per_bar)
    n_bars = sum(p.n_bars for p in phrases)
    if n_bars > MAX_SONG_BARS:
        raise ArrangeError(f"the melody lasts {n_bars} bars of {m}; a song has at most {MAX_SONG_BARS}")
    tonic, mode, key_from = _keys(score, key, steps, n_bars, bar_ticks, phrases, m.steps_per_bar)
    tempos = ((TempoChange.from_bpm(0, tempo),) if tempo is not None
              else tuple(TempoChange(_tick(t.tick, score.resolution), t.us_per_quarter) for t in score.tempos)
              or (TempoChange.from_bpm(0, 120.0),))           # a file without a tempo plays at 120
    left_out = tuple(t.name or f"Track {i + 1}" for i, t in enumerate(score.tracks) if i != index and t.notes)
    return Lead(melody, steps, off_grid, FormPlan(tuple(phrases), tonic, mode), m, tempos, form_from,
                key_from, left_out)


def _tick(tick: int, resolution: int) -> int:
    """A tick of a file at ``resolution`` on the song's :data:`RESOLUTION` (nearest tick)."""
    return (tick * RESOLUTION + resolution // 2) // resolution


def file_meter(score: Score, meter: str | None = None) -> Meter:
    """The meter to read a file in, parsed (the one :func:`parse_meter` of an arrangement):
    ``meter`` when given, else the file's one meter (4/4 without one); ArrangeError for a file
    that changes meter or is in one composer does not write."""
    if meter is not None:
        return parse_meter(meter)
    # Of several time signatures at one tick the last holds (as every reader takes it, and
    # Score.tick_to_bar: POP909 files carry 1/4 and 4/4 at tick 0), and one that repeats the
    # meter before it changes nothing.
    at_tick = {t.tick: t for t in score.time_signatures}      # (Score keeps them sorted)
    meters = []
    for t in at_tick.values():
        if not meters or (t.numerator, t.denominator) != (meters[-1].numerator, meters[-1].denominator):
            meters.append(t)
    if len(meters) > 1:
        later = meters[1]
        raise ArrangeError(f"the file changes meter (to {later.numerator}/{later.denominator} at bar "
                           f"{score.tick_to_bar(later.tick) + 1}); arrange writes one meter: give --meter")
    text = "4/4" if not meters else str(meters[0])
    try:
        return parse_meter(text)
    except ComposerError:
        raise ArrangeError(f"the file is in {text}, a meter composer does not write: give --meter "
                           "(4/4, 3/4, 2/4 or 6/8) to read it in one") from None


def melody_steps(notes: tuple[Note, ...], step: int) -> tuple[np.ndarray, int]:
    """(the notes on the 16th grid as one voice ``int32 [n, 4]``, how many were off it): each
    onset and end at the nearest 16th, at least one 16th long; of notes that start together
    the highest is kept and a note ends where the next begins (the sung line)."""
    rows = []
    off = 0
    for n in notes:
        off += bool(n.start_tick % step or n.end_tick % step)
        start = (n.start_tick + step // 2) // step
        end = (n.end_tick + step // 2) // step
        rows.append((start, max(1, end - start), n.pitch, n.velocity))
    return monophonic(np.asarray(rows, np.int32).reshape(-1, 4)), off


def _phrases(score: Score, form: str | None, n_bars: int, steps: np.ndarray,
             steps_per_bar: int) -> tuple[list[Phrase], str]:
    """The song's phrases and where they came from: the ``form`` option (which must cover the
    melody's bars), the file's section markers (when they tile its bars from bar 1 and hold
    the melody), else :func:`melody_form`."""
    if form is not None:
        phrases = list(parse_form(form))
        covered = sum(p.n_bars for p in phrases)
        if covered < n_bars:
            raise FormError(f"the form {form!r} has {covered} bars but the melody lasts {n_bars}: "
                            "give a form of that many bars, or leave it out")
        return phrases, "option"
    sections = sorted(score.sections)
    bar, phrases = 0, []
    for s in sections:
        if s.start_bar != bar or not (len(s.label) == 1 and s.label.isascii() and s.label.isalpha()):
            break
        phrases.append(Phrase(s.label, s.n_bars))
        bar += s.n_bars
    else:
        if phrases and bar >= n_bars:
            return phrases, "markers"
    return melody_form(steps, n_bars, steps_per_bar), "melody"


def melody_form(steps: np.ndarray, n_bars: int, steps_per_bar: int) -> list[Phrase]:
    """Phrases for a melody (step notes) with no form: :func:`form_of` its pitch class per 16th,
    a pickup in the second half of a bar ending the intro, a note a 16th early or late agreeing
    (a sung melody's returns are rarely on the same 16ths)."""
    pc = np.full(n_bars * steps_per_bar, -1, np.int64)
    for s, d, p, _ in steps:
        pc[s:min(s + d, len(pc))] = p % 12
    return form_of(pc, steps_per_bar, pickup=True, tolerance=1)


def form_of(values: np.ndarray, per_bar: int, pickup: bool = False, tolerance: int = 0) -> list[Phrase]:
    """Phrases for music with no form, from ``values`` (int [n_bars * per_bar]: what sounds at
    each position, -1 nothing; a melody's pitch class per 16th, a chart's chord per beat): an
    intro ``i`` over the bars before the first sound (with ``pickup``, a bar sounding only in
    its second half ends the intro), an outro ``o`` after the last, and between them phrases
    that follow the music's repeats.  Left to right, a phrase starting where an earlier
    phrase's music comes back (its own length, else its first 8 or 4 bars agreeing on
    :data:`SAME_PHRASE` of the positions where either sounds, a value matching one up to
    ``tolerance`` positions away) is a return and takes its label; new material runs to the
    next bar where some repeat of 8 or 4 bars begins (4 to 16 bars on, the first statement of
    a returning section starting a phrase of its own), else :data:`PHRASE_BARS` bars, and
    takes the next letter (A, B, C ...).  A repeat beginning less than 4 bars on lengthens the
    phrase before instead; fewer than 4 bars left join the last phrase."""
    values = np.asarray(values, np.int64)
    bars = values.reshape(-1, per_bar)
    n_bars = len(bars)
    sounding = np.nonzero(bars.max(axis=1) >= 0)[0]
    if not len(sounding):
        return [Phrase("A", n_bars)]
    first, last = int(sounding[0]), int(sounding[-1]) + 1
    if pickup and first + 1 < last and bars[first, :per_bar // 2].max() < 0:
        first += 1   # a pickup in the second half of a bar leads into the phrase of the next bar
    starts = [int(c) + first for c in _repeat_starts(values[first * per_bar:last * per_bar], per_bar, tolerance)]
    found: list[list] = []          # [start bar, bars, label]
    bar = first
    while bar < last:
        left = last - bar
        if found and left < 4:
            found[-1][1] += left   # a remainder too short for a phrase joins the one before
            break
        back = _return_of(values, per_bar, tolerance, found, bar, last)
        if back is not None:
            found.append([bar, *back])
            bar += back[0]
            continue
        soon = [c for c in starts if bar < c < bar + 4]
        if found and soon and found[-1][1] + soon[0] - bar <= 16:
            found[-1][1] += soon[0] - bar    # (a repeat just ahead: the phrase before runs up to it)
            bar = soon[0]
            continue
        take = next((c - bar for c in starts if bar + 4 <= c <= min(bar + 16, last)), min(PHRASE_BARS, left))
        if left - take in (1, 2, 3):
            take = left
        used = {lab for _, _, lab in found}
        found.append([bar, int(take), next((c for c in "ABCDEFGHJKLMNPQRSTUVWYZ" if c not in used), "A")])
        bar += take
    phrases = [Phrase("i", first)] if first else []
    phrases += [Phrase(label, length) for _, length, label in found]
    if last < n_bars:
        phrases.append(Phrase("o", n_bars - last))
    return phrases


def _agree(a: np.ndarray, b: np.ndarray, tolerance: int) -> np.ndarray:
    """bool per position: a's value is one of b's within ``tolerance`` positions and b's one of
    a's (a note played a 16th early or late still agrees)."""
    near_a, near_b = a == b, a == b
    for t in range(1, tolerance + 1):
        near_a[:-t] |= a[:-t] == b[t:]
        near_a[t:] |= a[t:] == b[:-t]
        near_b[:-t] |= b[:-t] == a[t:]
        near_b[t:] |= b[t:] == a[:-t]
    return near_a & near_b


def _agreement(values: np.ndarray, per_bar: int, tolerance: int, old: int, new: int, length: int) -> float:
    """The share of positions where either sounds at which the ``length``-bar windows from
    bars ``old`` and ``new`` agree (1 where neither sounds: the same silence)."""
    a = values[old * per_bar:(old + length) * per_bar]
    b = values[new * per_bar:(new + length) * per_bar]
    sounding = (a >= 0) | (b >= 0)
    return float((_agree(a, b, tolerance) & sounding).sum() / sounding.sum()) if sounding.any() else 1.0


def _return_of(values: np.ndarray, per_bar: int, tolerance: int, found: list, bar: int,
               last: int) -> tuple[int, str] | None:
    """(bars, label) of the earlier phrase whose music comes back at ``bar`` (its own length,
    else its first 8 or 4 bars; the longest, then the closest agreement, then the earliest),
    None for new material."""
    best = None
    for start, length, label in found:
        for n in dict.fromkeys((length, min(length, PHRASE_BARS))):
            if start + n > bar or bar + n > last:
                continue
            share = _agreement(values, per_bar, tolerance, start, bar, n)
            if share >= SAME_PHRASE:
                if best is None or (n, share) > best[:2]:
                    best = (int(n), share, label)
                break
    return None if best is None else (best[0], best[2])


def _repeat_starts(values: np.ndarray, per_bar: int, tolerance: int, length: int = PHRASE_BARS) -> np.ndarray:
    """The bars where a repeat of ``length`` bars begins: of each run of windows ``d`` bars
    apart (not overlapping) that agree on :data:`SAME_PHRASE` (as :func:`_agreement`), the
    pair that agrees most (the first such): a run also holds windows that reach a bar or two
    into the music before the repeat, which agree less."""
    n_bars = len(values) // per_bar
    begins: set[int] = set()
    for d in range(length, n_bars - length + 1):
        shift = d * per_bar
        a, b = values[:-shift], values[shift:]
        sounding = (a >= 0) | (b >= 0)
        hits = np.concatenate([[0], np.cumsum(_agree(a, b, tolerance) & sounding)])
        counts = np.concatenate([[0], np.cumsum(sounding)])
        i = np.arange(n_bars - d - length + 1)
        h = hits[(i + length) * per_bar] - hits[i * per_bar]
        c = counts[(i + length) * per_bar] - counts[i * per_bar]
        share = np.where(c > 0, h / np.maximum(c, 1), 1.0)
        same = np.concatenate([[False], share >= SAME_PHRASE, [False]])
        edges = np.flatnonzero(same[1:] != same[:-1])       # run starts and ends, in pairs
        for start, end in zip(edges[::2], edges[1::2]):
            best = int(start + np.argmax(share[start:end]))
            begins.update((best, best + d))
    return np.array(sorted(begins), np.int64)


# Krumhansl & Kessler's key profiles (probe-tone ratings, C major and C minor).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def key_of_weights(weight: np.ndarray, home: Callable[[int, int], bool] | None = None) -> tuple[int, int]:
    """(tonic, mode) whose Krumhansl-Kessler profile best correlates with ``weight`` (float
    [12], how much each pitch class sounds); ties go to a key for which ``home(tonic, mode)``
    is True (the piece ends there).  C major for no weight at all.  The key of a melody (here)
    and of a chord chart (composer/chart.py)."""
    weight = np.asarray(weight, dtype=np.float64)
    if not weight.any():
        return 0, 0
    best = None
    for mode, profile in ((0, KK_MAJOR), (1, KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(weight, np.roll(profile, tonic))[0, 1])
            score = (round(r, 6), bool(home is not None and home(tonic, mode)))
            if best is None or score > best[0]:
                best = (score, tonic, mode)
    return best[1], best[2]


def _melody_key(steps: np.ndarray) -> tuple[int, int]:
    """The key of a melody: the Krumhansl-Kessler profile that best fits its pitch classes
    weighted by duration; ties to the key whose tonic is its last note."""
    weight = np.bincount(steps[:, 2] % 12, weights=steps[:, 1], minlength=12)
    last = int(steps[-1, 2] % 12)
    return key_of_weights(weight, lambda tonic, mode: tonic == last)


def _signature(tonic: int, mode: int) -> int:
    """The key signature of a key as its major tonic (A minor and C major: 0)."""
    return (tonic + 3 * mode) % 12


def _keys(score: Score, key: str | None, steps: np.ndarray, n_bars: int, bar_ticks: int,
          phrases: list[Phrase] | None = None,
          steps_per_bar: int | None = None) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """(tonic per bar, mode per bar, where from): the ``key`` option (one key); the file's key
    signatures (several: a modulating song, taken as written; one: taken when the melody's
    estimated key has the same signature, else the estimate: a signature the notes contradict
    is a default the file was saved with); else the key estimated from the melody, per phrase
    (:func:`phrase_keys`: the song's key, another for a run of ``phrases`` whose melody fits it
    clearly better; one key for the song without phrases)."""
    if key is not None:
        tonic, mode = parse_key(key)
        return (tonic,) * n_bars, (mode,) * n_bars, "option"
    estimate = _melody_key(steps)
    keys = sorted(score.key_signatures, key=lambda k: k.tick)
    distinct = {(k.tonic, k.mode) for k in keys}
    if len(distinct) > 1 or (len(distinct) == 1 and _signature(keys[0].tonic, keys[0].mode == "minor")
                             == _signature(*estimate)):
        tonic, mode = [], []
        for bar in range(n_bars):
            tick = bar * bar_ticks
            k = next((k for k in reversed(keys) if _tick(k.tick, score.resolution) <= tick), keys[0])
            tonic.append(k.tonic)
            mode.append(1 if k.mode == "minor" else 0)
        return tuple(tonic), tuple(mode), "file"
    if phrases is None or steps_per_bar is None:
        return (estimate[0],) * n_bars, (estimate[1],) * n_bars, "melody"
    tonic, mode = phrase_keys(steps, phrases, steps_per_bar, estimate)
    return tonic, mode, "melody"


MODULATION_COST = 4.0
"""What a key change costs in :func:`phrase_keys`, in bars of melody times correlation: a run
of phrases moves to another key when its bars of melody (sounding 16ths / steps per bar), each
weighted by how much better the phrase's melody correlates with that key's profile than with
the song's, add up to more than this for each change (one for a run to the end, as a last
chorus a tone up; two for a run that comes back).  A 16-bar last chorus needs a gain of 0.25 in
correlation, an 8-bar phrase in the middle 1.0 (a near-impossible gain: a phrase leaning on the
subdominant stays home).  Chosen on the 86 POP909 validation songs (melody-read phrases,
benchmarks/harmonise_keys.py): per-bar key accuracy 0.673 for one key, 0.693 / 0.694 / 0.697 /
0.695 / 0.693 at a cost of 3 / 3.5 / 4 / 4.5 / 5; false modulations (songs of one annotated
key given a change) 2 / 1 / 1 / 1 / 1 of 67; songs with an annotated change given one 13 / 13 /
13 / 12 / 11 of 19; a cost of 2 invents changes in 6 songs, 1 in 17."""


def _profiles() -> np.ndarray:
    """float [24, 12]: the Krumhansl-Kessler profile of every key, index ``12 * mode + tonic``."""
    return np.stack([np.roll(profile, tonic) for profile in (KK_MAJOR, KK_MINOR) for tonic in range(12)])


def phrase_keys(steps: np.ndarray, phrases, steps_per_bar: int, song_key: tuple[int, int],
                cost: float = MODULATION_COST) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(tonic per bar, mode per bar) for a melody (step notes) over ``phrases``: the song's key
    ``song_key`` unless a run of consecutive phrases fits another key clearly better.  Each
    phrase's melody (pitch classes weighted by sounding 16ths) is correlated with the
    Krumhansl-Kessler profile of every key whose signature differs from the song key's (its
    relative major or minor has the same notes: a melody cannot tell them apart); a phrase in a
    key gains (correlation with that key - correlation with the song's key) times its bars of
    melody, and the keys per phrase are the path of most gain (Viterbi) where each change of key
    costs ``cost`` (:data:`MODULATION_COST`), starting from the song's key.  A phrase without
    melody (an intro, an interlude, an outro) gains nothing anywhere, so it keeps the key of the
    phrase before it (an intro: the song's key)."""
    steps = np.asarray(steps, dtype=np.int64).reshape(-1, 4)
    lengths = [int(p.n_bars) for p in phrases]
    bounds = np.cumsum([0] + lengths) * steps_per_bar
    weights = np.zeros((len(lengths), 12))
    for s, d, pitch, _ in steps:
        for i in range(len(lengths)):
            overlap = min(s + d, bounds[i + 1]) - max(s, bounds[i])
            if overlap > 0:
                weights[i, pitch % 12] += overlap
    home = 12 * song_key[1] + song_key[0]
    keys = [k for k in range(24) if k == home or _signature(k % 12, k // 12) != _signature(*song_key)]
    profiles = _profiles()[keys]
    gain = np.zeros((len(lengths), len(keys)))
    for i, w in enumerate(weights):
        if w.any() and np.ptp(w) > 0:
            r = np.array([np.corrcoef(w, p)[0, 1] for p in profiles])
            gain[i] = (r - r[keys.index(home)]) * w.sum() / steps_per_bar
    start = keys.index(home)
    score = gain[0] - cost * (np.arange(len(keys)) != start)
    back = []
    for g in gain[1:]:
        best = int(np.argmax(score))
        moved = score[best] - cost
        back.append(np.where(score >= moved, np.arange(len(keys)), best))
        score = np.maximum(score, moved) + g
    state = int(np.argmax(score)) if score.max() > score[start] + 1e-9 else start
    path = [state]
    for b in reversed(back):
        state = int(b[state])
        path.append(state)
    chosen = [keys[k] for k in reversed(path)]
    per_bar = np.repeat(chosen, lengths)
    return tuple(int(k % 12) for k in per_bar), tuple(int(k // 12) for k in per_bar)


# ---------------------------------------------------------------------------- choosing chords
def chord_tones(grid: ChordGrid) -> np.ndarray:
    """bool [n_beats, 12]: the pitch classes of each beat's chord, bass included (none for N.C.)."""
    table = np.zeros((grid.n_beats, 12), bool)
    for b, (root, quality, bass) in enumerate(zip(grid.root, grid.quality, grid.bass)):
        if root >= 0 and quality >= 0:
            table[b, [(int(root) + i) % 12 for i in CHORD_QUALITIES[QUALITY_NAMES[int(quality)]]]] = True
            table[b, int(bass if bass >= 0 else root)] = True
    return table


def step_weights(n_bars: int, meter: Meter) -> np.ndarray:
    """float [n_bars * steps per bar]: :data:`STRONG_WEIGHT` on the steps of a strong beat
    (the bar's first beat; the third of 4/4; the second dotted quarter of 6/8), 1 elsewhere."""
    pos = np.arange(meter.steps_per_bar)
    strong = pos < STEPS_PER_BEAT
    if (meter.numerator, meter.denominator) in ((4, 4), (6, 8)):
        half = meter.steps_per_bar // 2
        strong |= (pos >= half) & (pos < half + STEPS_PER_BEAT)
    return np.tile(np.where(strong, STRONG_WEIGHT, 1.0), n_bars)


def chord_fit(grid: ChordGrid, steps: np.ndarray, meter: Meter) -> tuple[np.ndarray, np.ndarray]:
    """(fit, weight), each float [n_bars]: per bar, the weighted 16th steps where the melody
    (step notes ``steps``) sounds a tone of the chord under it, and the weighted steps where
    it sounds at all (:func:`step_weights`); fit / weight is the share 0..1."""
    return _fit(chord_tones(grid), steps, meter, grid.n_bars)


def _fit(tones: np.ndarray, steps: np.ndarray, meter: Meter, n_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`chord_fit` over ``tones`` (bool [n_beats, 12], each beat's chord tones)."""
    spb = meter.steps_per_bar
    pc = np.full(n_bars * spb, -1, np.int64)
    for s, d, p, _ in steps:
        pc[s:min(s + d, len(pc))] = p % 12
    w = step_weights(n_bars, meter)
    sounding = pc >= 0
    tones = tones[np.arange(len(pc)) // STEPS_PER_BEAT]
    hit = sounding & tones[np.arange(len(pc)), np.maximum(pc, 0)]
    return (np.add.reduceat(w * hit, np.arange(0, len(pc), spb)),
            np.add.reduceat(w * sounding, np.arange(0, len(pc), spb)))


def song_fit(song: Score, lead: Lead) -> float:
    """The share 0..1 of :func:`chord_fit` of ``lead``'s melody under ``song``'s chord symbols
    (what the CLI and the app report of an arranged song)."""
    n_beats = lead.plan.n_bars * lead.meter.beats_per_bar
    tones = np.zeros((n_beats, 12), bool)
    for c in song.chords:
        first, last = -(-c.start_tick // song.resolution), min(n_beats, -(-c.end_tick // song.resolution))
        tones[max(first, 0):max(last, 0), sorted(c.pitch_classes)] = True
    fit, weight = _fit(tones, lead.steps, lead.meter, lead.plan.n_bars)
    return float(fit.sum() / max(weight.sum(), 1e-9))


def describe_arrangement(lead: Lead, song: Score, seed: int) -> list[str]:
    """What ``composer arrange`` and the app say of an arranged song: form and where it came
    from, key, tempo, seed; the melody kept; the chords' fit; the tracks left out."""
    from composer.form import format_form  # noqa: PLC0415

    whence = {"option": "given", "markers": "from the file's markers", "melody": "from the melody",
              "file": "the file's"}
    keys = ", ".join(str(k) for k in song.key_signatures)
    lines = [f"form {format_form(lead.plan.phrases)} ({lead.plan.n_bars} bars, {whence[lead.form_from]}), "
             f"key {keys} ({whence[lead.key_from] if lead.key_from != 'melody' else 'estimated from the melody'}), "
             f"tempo {song.tempos[0].bpm:.0f} bpm, seed {seed}",
             f"melody: track {lead.melody.name or '(unnamed)'!r}, {len(lead.melody.notes)} notes kept exactly"
             + (f" ({lead.off_grid} off the 16th grid: kept where they are, read at the nearest 16th)"
                if lead.off_grid else ""),
             f"chords: {song_fit(song, lead):.0%} of the melody on chord tones (strong beats counted twice)"]
    if lead.left_out:
        names = ", ".join(repr(n) for n in lead.left_out[:6]) + (" ..." if len(lead.left_out) > 6 else "")
        lines.append(f"left out: {names}")
    return lines


def choose_chords(candidates: list[ChordGrid], steps: np.ndarray, plan: FormPlan,
                  meter: Meter, bars: tuple[int, int] | None = None) -> tuple[ChordGrid, np.ndarray]:
    """(the grid made of, per phrase, the candidate whose chords fit the melody best, the
    chosen candidate's index per phrase); ties go to the earlier candidate, a phrase without
    melody keeps the first candidate's chords (so its neighbours' join is the model's own when
    it can be).  bars: ``(start, end)`` (0-based, end exclusive): choose only there, per part
    of a phrase inside the range (a regenerated range, ``Composer.regenerate(keep_melody=True)``);
    outside it the first candidate's chords stay (index 0 for a phrase outside)."""
    fits = np.stack([chord_fit(c, steps, meter)[0] for c in candidates])     # [k, n_bars]
    bpb = candidates[0].beats_per_bar
    root, quality, bass = (np.array(getattr(candidates[0], f)) for f in ("root", "quality", "bass"))
    lo, hi = (0, plan.n_bars) if bars is None else (int(bars[0]), int(bars[1]))
    chosen = []
    for start, phrase in zip(plan.phrase_starts(), plan.phrases):
        a, b = max(int(start), lo), min(int(start) + phrase.n_bars, hi)
        if a >= b:
            chosen.append(0)
            continue
        best = int(np.argmax(fits[:, a:b].sum(axis=1)))
        chosen.append(best)
        beats = slice(a * bpb, b * bpb)
        for arr, field in ((root, "root"), (quality, "quality"), (bass, "bass")):
            arr[beats] = getattr(candidates[best], field)[beats]
    return ChordGrid(root, quality, bass, bpb), np.asarray(chosen)


def harmonise(chord_level, plan: FormPlan, steps: np.ndarray, meter: Meter, generator: torch.Generator,
              candidates: int = DEFAULT_CANDIDATES, sampler_steps: int = 20, variation: float = 0.5,
              progress: Callable[[int, int], None] | None = None) -> ChordGrid:
    """Chords for the melody ``steps`` (step notes, absolute pitches) over ``plan``:
    ``candidates`` grids of the chord level (one batch, from ``generator``), kept per phrase by
    :func:`choose_chords`."""
    from composer.levels.chords import sample_chord_candidates  # noqa: PLC0415
    if not 1 <= int(candidates) <= MAX_CANDIDATES:
        raise ArrangeError(f"candidates must be 1 to {MAX_CANDIDATES}, not {candidates}")
    drawn = sample_chord_candidates(chord_level, plan, meter.beats_per_bar, k=int(candidates),
                                    generator=generator, steps=sampler_steps, variation=variation,
                                    progress=progress)
    return choose_chords(drawn, steps, plan, meter)[0]


def conditioning_melody(steps: np.ndarray, shift: int) -> np.ndarray:
    """The melody as the note level reads it: in C (``shift``), where it sounds (the piano is
    written around the melody's real register), unless its middle lies outside the melody
    range's inner two octaves: then moved by whole octaves into them (a line written for a bass
    clarinet is read as a singer's); a note still outside the range is folded in by octaves."""
    notes = np.array(steps, dtype=np.int64).reshape(-1, 4)
    notes[:, 2] += shift
    if len(notes):
        middle = float(np.median(notes[:, 2]))
        low, high = MELODY_RANGE.low + 12, MELODY_RANGE.high - 12
        if not low <= middle <= high:
            notes[:, 2] += 12 * int(np.ceil((low - middle) / 12) if middle < low else -np.ceil((middle - high) / 12))
        notes[:, 2] = MELODY_RANGE.fold(notes[:, 2])
    return notes


def with_lead(score: Score, lead: Lead) -> Score:
    """``score`` with its Melody track replaced by the user's notes exactly (named "Melody",
    so that every reader finds it, on the user's program) and the file's tempo map."""
    from composer.tracks import MELODY  # noqa: PLC0415

    melody = Track(MELODY, lead.melody.program, False, lead.melody.notes)
    return score.replace(tracks=tuple(melody if t.name == MELODY else t for t in score.tracks),
                         tempos=lead.tempos).validate()


__all__ = ["ARRANGED_TITLE", "is_arranged", "ArrangeError", "Lead", "read_lead", "file_meter", "melody_steps", "melody_form", "form_of", "key_of_weights",
           "chord_tones", "step_weights", "chord_fit", "song_fit", "describe_arrangement", "choose_chords",
           "harmonise", "conditioning_melody", "with_lead", "phrase_keys", "DEFAULT_CANDIDATES", "MAX_CANDIDATES",
           "MODULATION_COST",
           "STRONG_WEIGHT", "PHRASE_BARS", "SAME_PHRASE"]
