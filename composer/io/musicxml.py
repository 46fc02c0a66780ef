"""MusicXML lead sheets and piano scores from a :class:`~composer.score.Score` (music21 writes the XML).

    write_musicxml(score, "song.musicxml")

What is written, part by part:

* **Lead sheet**: the lead track (the one named "Melody", or the index given as ``lead``;
  ``composer export`` finds it by :func:`composer.tracks.melody_index`, the plot's rule) on one staff, its top line
  only, with the chord symbols above it, a rehearsal mark at every section ("Verse 1") and
  the tempo above the staff, the key and meter (and their changes), the title.  The staff
  is named for the instrument, with its key when it transposes ("Clarinet in B♭",
  written a tone above what sounds).  The tempo counts the beat a player counts: a dotted
  quarter in 6/8 (113 quarters a minute: dotted quarter = 75).  Without a lead, the marks
  and chord symbols go over the first staff;
* **Piano** on a grand staff (one part, treble and bass staff joined by a brace): the
  tracks "Piano RH" and "Piano LH" as they are, or every piano track (GM 0..7) split into
  hands by :func:`composer.arrange.split_hands` (a converted POP909 song);
* **Bass** (:func:`composer.tracks.is_bass`: "bass" in its name or a GM bass, 32..39) in bass
  clef, named "Bass", written an octave above what sounds (as bass parts are read, not three
  ledger lines under the staff);
* any **other** pitched track on its own staff, chords kept: treble or bass clef by its
  range, a guitar's treble clef with an 8 under it, a grand staff when it spans both;
* **drums** on a percussion staff, each GM drum on its usual line (kick, snare, hi-hat,
  cymbals with x heads), each note naming its drum so that a notation program plays a kit.

A staff that cannot show every note it was given (a lead sheet's lower notes of a chord,
notes of one pitch that start together) says how many it leaves out in a warning line.
A note shows an accidental only where the key signature and the bar do not give it (the
rule MuseScore engraves by; no courtesy accidentals).

Readable notation rather than a literal transcription: onsets and releases are rounded to
the 16th grid (so a humanized song reads like the unhumanized one); in one staff the
notes that start together are one chord, held until the next onset of that staff at
the latest (one voice a staff: a note held under later onsets is shortened, as a
lead-sheet reduction does), and a note of a quarter or more that ends a 16th before the
next onset is written to it; and every note and rest is cut at the beat (a quarter, or a
dotted quarter in 6/8 and other compound meters) unless it starts on a beat and lasts
whole beats that one note value can show (a half on beats 1 or 3 of 4/4, a dotted half,
a whole bar), with ties across the cuts.  A rest that fills a bar is one bar rest.  On
the staff that carries the chord symbols, notes and rests are also cut where a chord
starts, so each symbol stands over a note or rest of its own.
Pitches are spelled in the key (D# in F# major) with
:func:`composer.spelling.spell_pitch_class`, chord symbols likewise.

Every failure is one :class:`~composer.errors.NotationError` line.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from composer.errors import ComposerError, NotationError
from composer.io.atomic import atomic_path
from composer.pitch import NATURAL_PITCH_CLASSES
from composer.score import ChordSymbol, KeySignature, Score, Track
from composer.tracks import BASS, MELODY, MELODY_PROGRAM, PIANO, is_bass, is_melody_name, named_melody_index

STEPS_PER_QUARTER = 4
"""The notation grid: 16th notes."""

# Our chord qualities as MusicXML <kind> values (music21's ChordSymbol kinds) and the
# text shown after the root (the lead-sheet spelling of composer.spelling.QUALITY_SUFFIX).
_KINDS = {"maj": "major", "min": "minor", "dim": "diminished", "aug": "augmented",
          "sus2": "suspended-second", "sus4": "suspended-fourth", "7": "dominant",
          "maj7": "major-seventh", "min7": "minor-seventh", "minmaj7": "major-minor",
          "hdim7": "half-diminished", "dim7": "diminished-seventh", "maj6": "major-sixth",
          "min6": "minor-sixth", "sus4(b7)": "dominant"}


def _music21():
    try:
        import music21  # noqa: PLC0415
    except ImportError:
        raise NotationError("MusicXML export needs music21: pip install music21") from None
    return music21


@dataclass(frozen=True)
class _Bar:
    """One measure: its first step, its length in steps, its meter and the beat in steps."""

    start: int
    length: int
    numerator: int
    denominator: int
    beat: int


def _bars(score: Score, n_bars: int) -> list[_Bar]:
    out = []
    res = score.resolution
    for b in range(n_bars):
        lo, hi = score.bar_to_tick(b), score.bar_to_tick(b + 1)
        ts = score._meter_at(lo)
        start, length = _step(lo, res), _step(hi, res) - _step(lo, res)
        if Fraction(hi - lo) * STEPS_PER_QUARTER / res != length:
            raise NotationError(f"bar {b + 1} ({ts}) is not a whole number of 16th notes; "
                                "MusicXML export writes on the 16th grid")
        compound = ts.numerator % 3 == 0 and ts.numerator > 3 and ts.denominator >= 8
        beat = (3 if compound else 1) * 16 // ts.denominator
        out.append(_Bar(start, length, ts.numerator, ts.denominator, max(1, beat)))
    return out


def _step(tick: int, resolution: int) -> int:
    """The nearest 16th step of ``tick`` (halves up)."""
    return int(Fraction(tick * STEPS_PER_QUARTER, resolution) + Fraction(1, 2)) if tick >= 0 else 0


# ---------------------------------------------------------------------- durations
_NOTATABLE = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32}   # 16th .. whole, dotted values, in 16ths


def split_span(start: int, end: int, bar: _Bar) -> list[tuple[int, int]]:
    """``(start, length)`` pieces, in steps from the bar's start, of a note or rest from
    ``start`` to ``end`` inside ``bar``: cut at every beat, except that a piece starting
    on a beat may last whole beats when one note value shows them and it starts on a
    multiple of its own length (a half on beat 1 or 3 of 4/4, a whole bar from beat 1).
    Inside a beat a piece takes the longest value that fits."""
    pieces = []
    p = start
    beat = bar.beat
    while p < end:
        if p % beat == 0:
            whole = (end - p) // beat * beat
            n = whole
            while n > beat and not (n in _NOTATABLE and (p % n == 0 or p == 0)):
                n -= beat
            if n >= beat and n in _NOTATABLE:
                pieces.append((p, n))
                p += n
                continue
        stop = min(end, (p // beat + 1) * beat)
        n = max(x for x in _NOTATABLE if x <= stop - p)
        pieces.append((p, n))
        p += n
    return pieces


# ---------------------------------------------------------------------- events
def _grid_chords(track_notes, resolution: int, monophonic: bool) -> list[tuple[int, int, tuple[int, ...]]]:
    """``(start_step, end_step, pitches)`` of one staff: notes on the 16th grid, those
    starting together as one chord held until its longest note ends or the staff's
    next onset, whichever is first (a melody: only its highest note)."""
    by_start: dict[int, list[tuple[int, int]]] = {}
    for n in track_notes:
        s = _step(n.start_tick, resolution)
        e = max(s + 1, _step(n.end_tick, resolution))
        by_start.setdefault(s, []).append((n.pitch, e))
    starts = sorted(by_start)
    out = []
    for i, s in enumerate(starts):
        group = by_start[s]
        end = max(e for _, e in group)
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
            # A note of a quarter or more released a 16th early is articulation, not a
            # rest: written to the next onset (the bass's 7/16 notes would otherwise read
            # quarter, tied dotted eighth, 16th rest).
            if starts[i + 1] - end == 1 and end - s >= STEPS_PER_QUARTER:
                end = starts[i + 1]
        pitches = sorted({p for p, _ in group})
        if monophonic:
            pitches = pitches[-1:]
        out.append((s, end, tuple(pitches)))
    return out


def _spelled_pitch(m21, midi: int, key: KeySignature | None):
    from composer.spelling import spell_pitch_class  # noqa: PLC0415

    letter, accidental = spell_pitch_class(midi % 12, key)
    natural = NATURAL_PITCH_CLASSES[letter]
    octave = (midi - accidental - natural) // 12 - 1
    p = m21.pitch.Pitch(f"{letter}{octave}")
    if accidental:
        p.accidental = m21.pitch.Accidental({1: "sharp", -1: "flat"}[accidental])
    return p


def _cut_at(start: int, end: int, cuts: tuple[int, ...], bar: _Bar) -> list[tuple[int, int]]:
    """:func:`split_span` of ``start..end`` after cutting it at each step of ``cuts`` inside it."""
    edges = [start, *(c for c in cuts if start < c < end), end]
    return [piece for a, b in zip(edges, edges[1:]) for piece in split_span(a, b, bar)]


def _fill_measures(m21, part, events, bars: list[_Bar], score: Score, clef, drums: bool = False,
                   cuts: dict[int, tuple[int, ...]] | None = None) -> None:
    """Append one Measure per bar to ``part`` with ``events`` (see :func:`_grid_chords`)
    cut at bar lines and beats, tied across the cuts, and rests in the gaps.  ``drums``:
    the pitches are GM drums, written as unpitched notes on a percussion staff.  ``cuts``:
    per bar index, steps from the bar's start where a chord symbol starts; notes and rests
    are cut there too, so each symbol stands over a note or rest of its own (over a bar
    rest or inside a held note, MuseScore crowded a bar's symbols over its first beat)."""
    cuts = cuts or {}
    res = score.resolution
    per_bar: list[list[tuple[int, int, tuple[int, ...], bool, bool]]] = [[] for _ in bars]
    starts = np.array([b.start for b in bars])
    for s, e, pitches in events:
        i = int(np.searchsorted(starts, s, side="right") - 1)
        if i < 0 or i >= len(bars):
            continue
        first = True
        while s < e and i < len(bars):
            bar = bars[i]
            stop = min(e, bar.start + bar.length)
            per_bar[i].append((s - bar.start, stop - bar.start, pitches, not first, stop < e))
            first = False
            s = stop
            i += 1
    for i, bar in enumerate(bars):
        measure = m21.stream.Measure(number=i + 1)
        if i == 0:
            measure.insert(0, clef)
        if i == 0 or (bar.numerator, bar.denominator) != (bars[i - 1].numerator, bars[i - 1].denominator):
            measure.insert(0, m21.meter.TimeSignature(f"{bar.numerator}/{bar.denominator}"))
        key = score.key_at(score.bar_to_tick(i))
        prev = score.key_at(score.bar_to_tick(i - 1)) if i else None
        if key is not None and not drums and (i == 0 or prev is None or (prev.tonic, prev.mode) != (key.tonic, key.mode)):
            measure.insert(0, _m21_key(m21, key))
        items = sorted(per_bar[i])
        here = cuts.get(i, ())
        if not items and not here:
            rest = m21.note.Rest(quarterLength=Fraction(bar.length, STEPS_PER_QUARTER))
            rest.fullMeasure = True
            measure.insert(0, rest)
            part.append(measure)
            continue
        pos = 0
        for s, e, pitches, tied_in, tied_out in items + [(bar.length, bar.length, (), False, False)]:
            if s > pos:
                for p, n in _cut_at(pos, s, here, bar):
                    measure.insert(Fraction(p, STEPS_PER_QUARTER),
                                   m21.note.Rest(quarterLength=Fraction(n, STEPS_PER_QUARTER)))
            if not pitches:
                break
            key_here = score.key_at(score.bar_to_tick(i) + (s * res) // STEPS_PER_QUARTER)
            pieces = _cut_at(s, e, here, bar)
            for j, (p, n) in enumerate(pieces):
                ql = Fraction(n, STEPS_PER_QUARTER)
                if drums:
                    obj = _drum_hits(m21, pitches, ql)
                else:
                    spelled = [_spelled_pitch(m21, x, key_here) for x in pitches]
                    obj = (m21.note.Note(spelled[0], quarterLength=ql) if len(spelled) == 1
                           else m21.chord.Chord(spelled, quarterLength=ql))
                into = tied_in or j > 0
                out = tied_out or j + 1 < len(pieces)
                if into or out:
                    obj.tie = m21.tie.Tie("continue" if into and out else "stop" if into else "start")
                measure.insert(Fraction(p, STEPS_PER_QUARTER), obj)
            pos = e
        part.append(measure)


def _tempo_mark(m21, bpm: float, bar: _Bar):
    """The metronome mark of ``bpm`` quarter notes a minute in ``bar``'s meter: the beat a
    player counts, a dotted quarter in 6/8 (113 quarters -> dotted quarter = 75), with
    the exact quarter tempo in ``<sound tempo>`` for playback; drawn above the staff."""
    if bar.beat == STEPS_PER_QUARTER:
        mark = m21.tempo.MetronomeMark(number=round(bpm, 2), referent=m21.note.Note(type="quarter"))
    else:
        number = Fraction(round(bpm * 100), 100) * STEPS_PER_QUARTER / bar.beat
        referent = m21.note.Note(quarterLength=Fraction(bar.beat, STEPS_PER_QUARTER))
        # A whole number of the counted beat is shown; <sound tempo> keeps the exact tempo.
        mark = m21.tempo.MetronomeMark(number=round(number), referent=referent, numberSounding=number)
    mark.placement = "above"
    return mark


# GM drum -> (line on a percussion staff, notehead), as drum parts are commonly written
# (kick in the bottom space, snare on the third space, cymbals above the staff with x heads).
_DRUM_LINES = {
    35: ("F4", "normal"), 36: ("F4", "normal"), 37: ("C5", "x"), 38: ("C5", "normal"),
    39: ("C5", "x"), 40: ("C5", "normal"), 41: ("G4", "normal"), 42: ("G5", "x"),
    43: ("A4", "normal"), 44: ("D4", "x"), 45: ("B4", "normal"), 46: ("G5", "circle-x"),
    47: ("D5", "normal"), 48: ("E5", "normal"), 49: ("A5", "x"), 50: ("E5", "normal"),
    51: ("F5", "x"), 52: ("A5", "x"), 53: ("F5", "diamond"), 54: ("E5", "x"), 55: ("A5", "x"),
    56: ("E5", "triangle"), 57: ("A5", "x"), 59: ("F5", "x"),
}
_OTHER_DRUM = ("B5", "x")
"""Line and notehead of a GM drum not in :data:`_DRUM_LINES` (shakers, congas, ...)."""


def _drum_hits(m21, pitches: tuple[int, ...], quarter_length):
    """The unpitched note (one drum) or percussion chord (several) of GM drum ``pitches``."""
    hits = []
    for line, head in sorted({_DRUM_LINES.get(p, _OTHER_DRUM) for p in pitches}):
        hit = m21.note.Unpitched(displayName=line)
        hit.notehead = head
        hits.append(hit)
    if len(hits) == 1:
        hits[0].quarterLength = quarter_length
        return hits[0]
    return m21.percussion.PercussionChord(hits, quarterLength=quarter_length)


def _m21_key(m21, key: KeySignature):
    from composer.spelling import key_signature_name  # noqa: PLC0415

    name = key_signature_name(key.tonic, key.mode).rstrip("m").replace("b", "-")
    return m21.key.Key(name, key.mode)


def _chord_symbol(m21, chord: ChordSymbol, key: KeySignature | None):
    from composer.spelling import chord_text, pitch_class_name  # noqa: PLC0415

    root = pitch_class_name(chord.root, key).replace("b", "-")
    kwargs = {"root": root, "kind": _KINDS[chord.quality]}
    if chord.bass != chord.root:
        kwargs["bass"] = pitch_class_name(chord.bass, key).replace("b", "-")
    symbol = m21.harmony.ChordSymbol(**kwargs)
    # The text shown is our lead-sheet spelling ("m7b5", "7sus4"), not music21's guess.
    text = chord_text(chord, key)
    symbol.chordKindStr = text[len(pitch_class_name(chord.root, key)):].split("/")[0]
    if chord.quality == "sus4(b7)":
        # A dominant seventh with the 4th for the 3rd, as MusicXML spells 7sus4 (degrees
        # count from the dominant chord).  A sus4 with "add 7, alter -1" was a diminished
        # 7th there, and MuseScore engraved it "sus4♭7".
        symbol.addChordStepModification(m21.harmony.ChordStepModification("add", 4, 0))
        symbol.addChordStepModification(m21.harmony.ChordStepModification("subtract", 3, 0))
    return symbol


# ---------------------------------------------------------------------- parts
def _clef_for(m21, notes, program: int | None = None):
    """Bass clef for a part mostly under G3, a guitar's treble clef with an 8 under it (GM
    24..31; written as it sounds, read an octave up), else the treble clef."""
    pitches = [n.pitch for n in notes]
    if program is not None and 24 <= program <= 31:
        return m21.clef.Treble8vbClef()
    return m21.clef.BassClef() if pitches and float(np.median(pitches)) < 55 else m21.clef.TrebleClef()


def _accidental_text(name: str) -> str:
    """``"B-"`` -> ``"B♭"``, ``"F#"`` -> ``"F♯"``: a pitch name as a staff label shows it."""
    return name.replace("-", "\u266d").replace("#", "\u266f")


def _instrument(m21, program: int, name: str, part_id: str, role: str = "other", drums: bool = False):
    """The music21 instrument of a part.  ``role`` "lead": named for the instrument a player
    holds, with its key when it transposes ("Clarinet in B♭", written a tone above the
    piano); "bass": "Bass", written an octave above what sounds, as bass players read;
    otherwise named ``name``.  ``drums``: a drum kit on channel 10."""
    if drums:
        inst = m21.instrument.UnpitchedPercussion()
        inst.midiChannel = 9
    else:
        try:
            inst = m21.instrument.instrumentFromMidiProgram(program)
        except Exception:  # music21 raises its own errors for programs it has no class for
            inst = m21.instrument.Instrument()
            inst.midiProgram = program
    if role == "lead" and program in _KEYBOARD_PROGRAMS:
        # A tune on a piano program (POP909's MELODY track) is not a pianist's part: named
        # "Melody", not a second "Piano" beside the accompaniment's grand staff.
        name = MELODY
    elif role == "lead" and inst.instrumentName:
        name = inst.instrumentName
        shift = inst.transposition
        if shift is not None and shift.semitones % 12:
            # The key of a transposing instrument: the sounding pitch of its written C.
            name += " in " + _accidental_text(m21.pitch.Pitch("C4").transpose(shift).name)
        inst.partAbbreviation = inst.instrumentAbbreviation and inst.instrumentAbbreviation + "."
    elif role == "bass":
        name = BASS
        inst.transposition = m21.interval.Interval("P-8")
        inst.partAbbreviation = inst.instrumentAbbreviation = "Bs."
    inst.partName = name
    # Fixed ids (music21 draws random ones), so equal Scores give equal bytes.
    inst.partId = part_id
    inst.instrumentId = f"{part_id}-I1"
    return inst


LEAD_NAMED = "named"
"""``lead`` of :func:`score_to_music21`: the track named "Melody" (any case), if any."""

_KEYBOARD_PROGRAMS = range(0, 8)
"""GM pianos (0..7): written on a grand staff, the hands split by pitch."""


def _lead_index(score: Score, lead: int | str | None) -> int | None:
    if lead == LEAD_NAMED:
        return named_melody_index(score)
    if lead is not None and not (0 <= int(lead) < len(score.tracks) and not score.tracks[int(lead)].is_drum):
        raise NotationError(f"track {lead} cannot be the lead: the song has {len(score.tracks)} tracks "
                            "and a drum track has no melody")
    return None if lead is None else int(lead)


def _is_wide(track: Track) -> bool:
    """A part too wide for one staff: a tenth of its notes under F3 and a tenth over G4."""
    pitches = np.array([n.pitch for n in track.notes])
    return bool(len(pitches) and np.quantile(pitches, 0.1) < 53 and np.quantile(pitches, 0.9) > 67)


def _left_out(name: str, n_notes: int, events: list[tuple[int, int, tuple[int, ...]]], why: str) -> str | None:
    """The line that says how many of a staff's ``n_notes`` its ``events`` do not show."""
    shown = sum(len(pitches) for _, _, pitches in events)
    return None if shown >= n_notes else f"{name}: {n_notes - shown} of {n_notes} notes not written ({why})"


def score_to_music21(score: Score, lead: int | str | None = LEAD_NAMED, lead_only: bool = False):
    """The music21 ``stream.Score`` of ``score``: parts as in the module docstring.

    lead: index of the track written as the lead sheet (its top line, with the chord
    symbols and marks), None for none, or :data:`LEAD_NAMED` (default): the track named
    "Melody".  lead_only: the lead sheet alone (one staff; a song without a lead is
    refused).  A line for each staff that does not show every note goes out as a warning."""
    out, notices = _build(score, lead, lead_only)
    for line in notices:
        warnings.warn(line, stacklevel=2)
    return out


def _build(score: Score, lead: int | str | None, lead_only: bool = False):
    """(music21 Score, lines naming what was left out) of ``score``; see score_to_music21."""
    m21 = _music21()
    from composer import arrange  # noqa: PLC0415
    from composer.io.midi import is_left_hand_of  # noqa: PLC0415

    score.validate()
    n_bars = score.n_bars
    if n_bars == 0:
        raise NotationError("the song has no notes, chords or sections: nothing to write as MusicXML")
    bars = _bars(score, n_bars)
    res = score.resolution
    lead_index = _lead_index(score, lead)
    out = m21.stream.Score()
    # The Score's pitches are what sounds.  Said so, music21 writes a transposing
    # instrument (the clarinet lead, GM 71, in B-flat; a bass an octave up) at its written
    # pitch with <transpose>; left unknown it wrote the sounding pitch beside <transpose>,
    # and MuseScore played the clarinet a whole tone low.
    out.atSoundingPitch = True
    out.metadata = m21.metadata.Metadata()
    out.metadata.title = score.title or "Untitled"
    out.metadata.movementName = score.title or "Untitled"
    out.metadata.composer = "composer"   # music21 writes "Music21" as the composer otherwise
    notices: list[str] = []
    parts: list = []          # in score order; the first carries tempo, marks and chords
    ids = iter(f"P{k}" for k in range(1, 10_000))

    # Steps where chord symbols start, per bar: the first staff (which carries them) is cut
    # there.
    chord_cuts: dict[int, tuple[int, ...]] = {}
    for c in score.chords:
        b = score.tick_to_bar(c.start_tick)
        if b < len(bars) and 0 < _step(c.start_tick, res) - bars[b].start < bars[b].length:
            chord_cuts[b] = (*chord_cuts.get(b, ()), _step(c.start_tick, res) - bars[b].start)

    def staff(track_name: str, program: int, role: str, notes, clef, monophonic=False, drums=False):
        part = m21.stream.Part(id=next(ids))
        part.insert(0, _instrument(m21, program, track_name, part.id, role, drums))
        events = _grid_chords(notes, res, monophonic)
        if drums:
            # A drum hit is written up to the next hit or the next quarter-note beat,
            # whichever comes first: 8th-note hi-hats read as eighths, not 16ths and rests.
            nexts = [start for start, _, _ in events[1:]] + [None]
            events = [(start, max(end, min(nxt or start + STEPS_PER_QUARTER,
                                           (start // STEPS_PER_QUARTER + 1) * STEPS_PER_QUARTER)), hit)
                      for (start, end, hit), nxt in zip(events, nexts)]
        _fill_measures(m21, part, events, bars, score, clef, drums, None if parts else chord_cuts)
        why = ("a lead sheet is one line: the top note of each chord" if monophonic
               else "notes of one pitch that start together are written once")
        notices.append(_left_out(track_name, len(notes), events, why))
        parts.append(part)

    def grand_staff(track_name: str, program: int, rh_notes, lh_notes, n_notes: int) -> None:
        pid = next(ids)
        rh, lh = m21.stream.PartStaff(id=pid + "RH"), m21.stream.PartStaff(id=pid + "LH")
        # One instrument for both staves: music21 would give the left hand its own, which
        # MuseScore reports as an instrument change it cannot find.
        for hand in (rh, lh):
            hand.insert(0, _instrument(m21, program, track_name, pid))
        events = []
        first = not parts
        for hand, notes, clef in ((rh, rh_notes, m21.clef.TrebleClef()), (lh, lh_notes, m21.clef.BassClef())):
            hand_events = _grid_chords(notes, res, False)
            _fill_measures(m21, hand, hand_events, bars, score, clef,
                           cuts=chord_cuts if first and hand is rh else None)
            events += hand_events
        notices.append(_left_out(track_name, n_notes, events,
                                 "notes of one pitch that start together are written once"))
        parts.extend([rh, lh])
        out.insert(0, m21.layout.StaffGroup([rh, lh], name=track_name, abbreviation=track_name[:3] + ".",
                                            symbol="brace", barTogether=True))

    def split(tracks):
        from composer.score import Note  # noqa: PLC0415
        both = [n for t in tracks for n in t.notes]
        rows = np.array([(_step(n.start_tick, res), max(1, _step(n.end_tick, res) - _step(n.start_tick, res)),
                          n.pitch, n.velocity) for n in both], dtype=np.int64).reshape(-1, 4)
        unit = Fraction(res, STEPS_PER_QUARTER)
        # Split notes are on the grid; their ticks round back to the same steps.
        return tuple([Note(int(s * unit), int(d * unit), int(p), int(v)) for s, d, p, v in hand]
                     for hand in arrange.split_hands(rows))

    tracks = score.tracks
    if lead_index is not None:
        t = tracks[lead_index]
        staff(t.name, t.program, "lead" if is_melody_name(t) else "other", t.notes,
              _clef_for(m21, t.notes) if t.notes else m21.clef.TrebleClef(), monophonic=True)
    elif lead_only:
        raise NotationError(f"no melody to write as a lead sheet: name the melody's track \"{MELODY}\"")
    rest = [] if lead_only else [(i, t) for i, t in enumerate(tracks) if i != lead_index and t.notes]
    keyboards = [(i, t) for i, t in rest if not t.is_drum and not is_bass(t) and t.program in _KEYBOARD_PROGRAMS]
    if len(keyboards) == 2 and is_left_hand_of(keyboards[1][1], keyboards[0][1]):
        # The generator's two hands ("Piano RH", "Piano LH"), each on its own staff.
        right, left = keyboards[0][1], keyboards[1][1]
        grand_staff(right.name.removesuffix(" RH"), right.program, right.notes, left.notes,
                    len(right.notes) + len(left.notes))
    elif keyboards:
        # Every piano track on one grand staff, the hands split by pitch (a converted POP909
        # song's accompaniment and bridge tracks are one pianist's part).
        rh_notes, lh_notes = split([t for _, t in keyboards])
        grand_staff(keyboards[0][1].name if len(keyboards) == 1 else PIANO, keyboards[0][1].program,
                    rh_notes, lh_notes, sum(len(t.notes) for _, t in keyboards))
    for i, t in rest:
        if t.is_drum or any(i == j for j, _ in keyboards):
            continue
        if is_bass(t):
            staff(t.name, t.program, "bass", t.notes, m21.clef.BassClef())
        elif _is_wide(t):
            rh_notes, lh_notes = split([t])
            grand_staff(t.name, t.program, rh_notes, lh_notes, len(t.notes))
        else:
            staff(t.name, t.program, "other", t.notes, _clef_for(m21, t.notes, t.program))
    for i, t in rest:
        if t.is_drum:
            staff(t.name, t.program, "drums", t.notes, m21.clef.PercussionClef(), drums=True)
    if not parts:     # chords or sections only: one empty lead staff carries them
        staff(MELODY, MELODY_PROGRAM, "lead", (), m21.clef.TrebleClef(), monophonic=True)

    measures = list(parts[0].getElementsByClass("Measure"))
    for t in score.tempos:
        b = score.tick_to_bar(t.tick)
        if b < len(measures):
            offset = Fraction(_step(t.tick, res) - bars[b].start, STEPS_PER_QUARTER)
            measures[b].insert(offset, _tempo_mark(m21, t.bpm, bars[b]))
    for s in score.sections:
        if s.start_bar < len(measures):
            mark = m21.expressions.RehearsalMark(s.name or s.label)
            # Marks over the music, where a player looks for them (a <direction> without a
            # placement is drawn under the staff by MuseScore).
            mark.placement = "above"
            measures[s.start_bar].insert(0, mark)
    for c in score.chords:
        step = _step(c.start_tick, res)
        b = score.tick_to_bar(c.start_tick)
        if b < len(measures) and step < bars[b].start + bars[b].length:
            measures[b].insert(Fraction(step - bars[b].start, STEPS_PER_QUARTER),
                               _chord_symbol(m21, c, score.key_at(c.start_tick)))
    for part in parts:
        out.insert(0, part)
    out.toWrittenPitch(inPlace=True)
    for part in out.parts:
        if not part.getElementsByClass(m21.instrument.UnpitchedPercussion):   # a drum staff has no key
            _respell_wide_keys(part)
            _make_accidentals(part)
    return out, tuple(line for line in notices if line)


_SHARP_ORDER = "FCGDAEB"


def _key_alters(sharps: int) -> dict[str, int]:
    """The alteration the key signature of ``sharps`` (negative: flats) gives each letter."""
    alters = dict.fromkeys("CDEFGAB", 0)
    for step in _SHARP_ORDER[:sharps] if sharps > 0 else _SHARP_ORDER[::-1][:-sharps]:
        alters[step] = 1 if sharps > 0 else -1
    return alters


def _make_accidentals(part) -> None:
    """Show an accidental on exactly the notes of ``part`` that need one, by the rule
    MuseScore engraves by (Note::updateAccidental): a note needs one when its alteration
    differs from what its line (letter and octave) carries at that point of the bar, the
    key signature's or the last accidental on that line in the bar; a tied-over note shows
    none, and when it differs from its line the next note on that line shows its own
    (natural included).

    music21's makeAccidentals did this with courtesy accidentals besides: across octaves
    in a bar, after a bar line, and for the pitches of chord symbols, which it counted as
    the bar's notes (seed 3: 17 on the lead sheet for 13 needed, 172 on the piano for 74);
    a player reads those as printed mistakes."""
    m21 = _music21()
    sharps = 0
    for measure in part.getElementsByClass("Measure"):
        keys = list(measure.getElementsByClass("KeySignature"))
        if keys:
            sharps = keys[0].sharps
        signature = _key_alters(sharps)
        lines: dict[tuple[str, int], tuple[int, bool]] = {}   # line -> (alteration, tie context)
        for element in measure.flatten().notes:
            if isinstance(element, m21.harmony.ChordSymbol):
                continue
            tied_over = element.tie is not None and element.tie.type in ("stop", "continue")
            for pitch in element.pitches:
                line = (pitch.step, pitch.implicitOctave)
                alter = int(pitch.alter)
                current, tie_context = lines.get(line, (signature[pitch.step], False))
                show = False
                if tied_over:
                    if alter != current or tie_context:
                        lines[line] = (alter, True)
                elif alter != current or tie_context:
                    show = True
                    lines[line] = (alter, False)
                if show:
                    if pitch.accidental is None:
                        pitch.accidental = m21.pitch.Accidental("natural")
                    pitch.accidental.displayStatus = True
                elif pitch.accidental is not None:
                    pitch.accidental.displayStatus = False
    part.streamStatus.accidentals = True


_MAX_WRITTEN_SHARPS = 6
"""A transposed part's key with more accidentals than this is written enharmonically: the
clarinet in F# major concert reads A-flat major (4 flats), not G# major (8 sharps, which
MusicXML readers cannot show)."""


def _respell_wide_keys(part) -> None:
    """Respell, measure by measure, the stretches of a part (after the transposition to
    written pitch) whose key has more than :data:`_MAX_WRITTEN_SHARPS` sharps or flats:
    a diminished second moves the key 12 fifths and every note and chord symbol with it,
    at the same sounding pitch."""
    sharps = None
    for measure in part.getElementsByClass("Measure"):
        keys = list(measure.getElementsByClass("KeySignature"))
        if keys:
            sharps = keys[0].sharps
        if sharps is not None and abs(sharps) > _MAX_WRITTEN_SHARPS:
            measure.transpose("d2" if sharps > 0 else "d-2", inPlace=True)


def musicxml_bytes(score: Score, lead: int | str | None = LEAD_NAMED, lead_only: bool = False) -> bytes:
    """The MusicXML (partwise, uncompressed) of ``score``, ``lead`` and ``lead_only`` as in
    :func:`score_to_music21`; raises :class:`NotationError`."""
    m21 = _music21()
    stream = score_to_music21(score, lead, lead_only)
    try:
        exporter = m21.musicxml.m21ToXml.GeneralObjectExporter(stream)
        data = exporter.parse()
    except ComposerError:
        raise
    except Exception as err:  # music21's exporter raises many kinds; one line for the user
        raise NotationError(f"music21 could not write MusicXML: {err}".splitlines()[0]) from None
    # The encoding date is the only thing that changes from day to day; equal Scores give
    # equal bytes without it.
    data = re.sub(rb"\s*<encoding-date>[^<]*</encoding-date>", b"", data)
    for part in stream.parts:
        if part.getElementsByClass(m21.instrument.UnpitchedPercussion):
            data = _name_drums(data, part.id)
    return data


def _drum_sound(line: str, head: str) -> int:
    """The GM drum (MIDI note) written on ``line`` (``"F4"``) with ``head``: the first of
    :data:`_DRUM_LINES` that is written so, else 54 (a tambourine)."""
    # 36 (Bass Drum 1, the usual GM kick) before 35 on the same line.
    return next((p for p, written in sorted(_DRUM_LINES.items(), key=lambda kv: (kv[0] == 35, kv[0]))
                 if written == (line, head)), 54)


def _name_drums(data: bytes, part_id: str) -> bytes:
    """``data`` with the drum part ``part_id`` made a drum kit MuseScore knows: one
    <score-instrument> with its <midi-unpitched> sound per drum written, and each note
    naming its drum.  (music21 writes one "Percussion" instrument with no sounds, which
    MuseScore opens as a pitched staff playing F4, C5 and G5.)"""
    head, sep, body = data.partition(f'<part id="{part_id}">'.encode())
    used: dict[tuple[str, str], int] = {}

    def note(match: re.Match) -> bytes:
        text = match.group(0)
        step = re.search(rb"<display-step>(\w)</display-step>\s*<display-octave>(\d)</display-octave>", text)
        if step is None:
            return text
        notehead = re.search(rb"<notehead[^>]*>([^<]+)</notehead>", text)
        line = (step.group(1) + step.group(2)).decode(), notehead.group(1).decode() if notehead else "normal"
        sound = used.setdefault(line, _drum_sound(*line))
        # <instrument> follows <duration> and any <tie> (MusicXML's order within <note>).
        return re.sub(rb"(<duration>\d+</duration>(?:\s*<tie [^>]*/>)*)",
                      rb'\1<instrument id="' + f"{part_id}-I{sound + 1}".encode() + rb'" />', text, count=1)

    end = body.index(b"</part>")
    body = re.sub(rb"<note>.*?</note>", note, body[:end], flags=re.S) + body[end:]
    instruments = "".join(f'<score-instrument id="{part_id}-I{p + 1}"><instrument-name>{_GM_DRUM_NAMES.get(p, "Drum")}'
                          f"</instrument-name></score-instrument>" for p in sorted(set(used.values())))
    midi = "".join(f'<midi-instrument id="{part_id}-I{p + 1}"><midi-channel>10</midi-channel>'
                   f"<midi-unpitched>{p + 1}</midi-unpitched></midi-instrument>" for p in sorted(set(used.values())))
    head = re.sub(rb'(<score-part id="' + part_id.encode() + rb'">.*?)<score-instrument.*?</midi-instrument>',
                  lambda m: m.group(1) + (instruments + midi).encode(), head, count=1, flags=re.S)
    return head + sep + body


_GM_DRUM_NAMES = {35: "Acoustic Bass Drum", 36: "Bass Drum", 37: "Side Stick", 38: "Snare", 39: "Hand Clap",
                  40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat", 43: "High Floor Tom",
                  44: "Pedal Hi-Hat", 45: "Low Tom", 46: "Open Hi-Hat", 47: "Low-Mid Tom", 48: "Hi-Mid Tom",
                  49: "Crash Cymbal", 50: "High Tom", 51: "Ride Cymbal", 53: "Ride Bell", 54: "Tambourine",
                  56: "Cowbell"}


MUSICXML_SUFFIXES = (".musicxml", ".xml")
ENGRAVED_SUFFIXES = (".pdf", ".svg", ".png")
"""What :func:`write_lead_sheet` engraves: PDF (all pages in one file), or SVG / PNG
(one file a page: ``song.svg``, then ``song-2.svg``... when there are more)."""
MUSESCORE_COMMANDS = ("mscore3", "mscore", "musescore3", "musescore")


def write_lead_sheet(score: Score, path: str | Path, lead: int | str | None = LEAD_NAMED,
                     timeout_s: float = 300.0) -> tuple[Path, ...]:
    """Engrave the lead sheet of ``score`` (the lead's line with its chord symbols, rehearsal
    marks, key, meter and tempo, on one staff) at ``path`` (.pdf, .svg or .png) with
    MuseScore, headless; returns the files written (one a page for SVG and PNG).

    Raises :class:`NotationError` for a song without a lead, a missing MuseScore (naming
    the fix) or a MuseScore that fails; nothing is left at ``path`` then."""
    import os  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ENGRAVED_SUFFIXES:
        raise NotationError(f"{path}: a lead sheet is written as .pdf, .svg or .png")
    data = musicxml_bytes(score, lead, lead_only=True)
    program = next((found for name in MUSESCORE_COMMANDS if (found := shutil.which(name))), None)
    if program is None:
        raise NotationError("engraving a lead sheet needs MuseScore 3 (mscore3): apt-get install musescore3 "
                            "(make system-deps), or write MusicXML with -o song.musicxml")
    with tempfile.TemporaryDirectory(prefix="composer-engrave-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir(mode=0o700)
        source = work / "lead.musicxml"
        source.write_bytes(data)
        # Headless, with a home of its own: MuseScore writes settings and needs a private
        # runtime folder; no display, no network.
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(work / "home"),
               "XDG_RUNTIME_DIR": str(work / "home"), "XDG_CONFIG_HOME": str(work / "home")}
        target = work / ("lead" + suffix)
        try:
            run = subprocess.run([program, "-o", str(target), str(source)], env=env, capture_output=True,
                                 text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise NotationError(f"MuseScore took more than {timeout_s:.0f} s to engrave the lead sheet") from None
        pages = [target] if suffix == ".pdf" else sorted(work.glob(f"lead-*{suffix}"),
                                                         key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        pages = [p for p in pages if p.exists()]
        if run.returncode != 0 or not pages:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise NotationError(f"MuseScore could not engrave the lead sheet: {last}")
        names = [path] + [path.with_name(f"{path.stem}-{k}{path.suffix}") for k in range(2, len(pages) + 1)]
        for page, name in zip(pages, names):
            try:
                with atomic_path(name, suffix=name.suffix) as out:
                    out.write_bytes(page.read_bytes())
            except ComposerError:
                raise
            except OSError as err:
                raise NotationError(f"cannot write {name}: {err.strerror or err}") from None
    return tuple(names)


def write_musicxml(score: Score, path: str | Path, lead: int | str | None = LEAD_NAMED) -> None:
    """Write ``score`` as MusicXML at ``path`` (``.musicxml`` or ``.xml``), atomically;
    ``lead`` as in :func:`score_to_music21`."""
    path = Path(path)
    if path.suffix.lower() not in MUSICXML_SUFFIXES:
        raise NotationError(f"{path}: a MusicXML file ends in .musicxml or .xml "
                            "(compressed .mxl is not written)")
    data = musicxml_bytes(score, lead)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            tmp.write_bytes(data)
    except ComposerError:
        raise
    except OSError as err:
        raise NotationError(f"cannot write {path}: {err.strerror or err}") from None


__all__ = ["write_musicxml", "musicxml_bytes", "score_to_music21", "split_span", "MUSICXML_SUFFIXES",
           "LEAD_NAMED", "write_lead_sheet", "ENGRAVED_SUFFIXES"]
