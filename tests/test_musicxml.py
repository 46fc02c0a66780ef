"""MusicXML export: note values cut at beats, a hand-built song read back by music21, the CLI."""
from __future__ import annotations

from xml.etree import ElementTree

import pytest

from composer.cli import main
from composer.errors import NotationError
from composer.io.midi import write_midi
from composer.io.musicxml import _Bar, musicxml_bytes, split_span, write_musicxml
from composer.score import (ChordSymbol, KeySignature, Note, Score, Section, TempoChange,
                            TimeSignature, Track)

music21 = pytest.importorskip("music21")

FOUR = _Bar(0, 16, 4, 4, 4)
SIX_EIGHT = _Bar(0, 12, 6, 8, 6)


@pytest.mark.parametrize("bar, start, end, pieces", [
    (FOUR, 0, 16, [(0, 16)]),                       # whole bar: one whole note
    (FOUR, 0, 8, [(0, 8)]),                         # half on beat 1
    (FOUR, 8, 16, [(8, 8)]),                        # half on beat 3
    (FOUR, 4, 12, [(4, 4), (8, 4)]),                # half on beat 2: shows beat 3
    (FOUR, 0, 12, [(0, 12)]),                       # dotted half
    (FOUR, 4, 16, [(4, 4), (8, 8)]),
    (FOUR, 1, 4, [(1, 3)]),                         # inside a beat: one value
    (FOUR, 2, 7, [(2, 2), (4, 3)]),                 # across a beat: cut at the beat
    (FOUR, 3, 16, [(3, 1), (4, 4), (8, 8)]),
    (FOUR, 0, 5, [(0, 4), (4, 1)]),
    (SIX_EIGHT, 0, 12, [(0, 12)]),                  # dotted half fills 6/8
    (SIX_EIGHT, 0, 5, [(0, 4), (4, 1)]),            # 5/16 is no single value
    (SIX_EIGHT, 3, 9, [(3, 3), (6, 3)]),            # cut at the dotted-quarter beat
])
def test_notes_and_rests_are_cut_at_beats(bar, start, end, pieces):
    assert split_span(start, end, bar) == pieces
    assert sum(n for _, n in pieces) == end - start


def song() -> Score:
    """F# major, 3/4 at 96 bpm, two sections, chords on the beat, melody + two hands + bass."""
    bar = 3 * 480
    melody = Track("Melody", 73, notes=(
        Note(bar, 480, 70), Note(bar + 480, 960, 75),          # A#4, D#5 (a half on beat 2)
        Note(2 * bar, 240, 73), Note(2 * bar + 240, 240, 78), Note(2 * bar + 480, 960, 77)))
    rh = Track("Piano RH", 0, notes=tuple(Note(b * bar, bar, p) for b in range(4) for p in (66, 70, 73)))
    lh = Track("Piano LH", 0, notes=tuple(Note(b * bar, bar, 42) for b in range(4)))
    bass = Track("Bass", 33, notes=tuple(Note(b * bar, 960, 30) for b in range(4)))
    return Score(
        tempos=(TempoChange.from_bpm(0, 96),), time_signatures=(TimeSignature(0, 3, 4),),
        key_signatures=(KeySignature(0, 6, "major"),),
        sections=(Section(0, 1, "i", "Intro"), Section(1, 3, "A", "Verse 1")),
        chords=(ChordSymbol(0, bar, 6, "maj", 6), ChordSymbol(bar, bar, 3, "min7", 3),
                ChordSymbol(2 * bar, bar, 10, "min", 10), ChordSymbol(3 * bar, bar, 1, "sus4(b7)", 1)),
        tracks=(melody, rh, lh, bass), title="Test song")


def parsed(score: Score):
    return music21.converter.parseData(musicxml_bytes(score).decode("utf-8"), format="musicxml")


def test_music21_reads_key_tempo_meter_parts_marks_and_chords():
    back = parsed(song())
    assert back.metadata.bestTitle == "Test song"
    parts = back.parts
    # The lead named for its instrument (GM 73, a flute), the piano's two staves, the bass.
    assert [p.partName for p in parts] == ["Flute", "Piano", "Piano", "Bass"]
    lead = parts[0]
    assert lead.recurse().getElementsByClass("KeySignature")[0].sharps == 6
    assert lead.recurse().getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    assert lead.recurse().getElementsByClass("MetronomeMark")[0].number == 96
    assert [m.content for m in lead.recurse().getElementsByClass("RehearsalMark")] == ["Intro", "Verse 1"]
    symbols = list(lead.recurse().getElementsByClass("ChordSymbol"))
    assert [s.root().name for s in symbols] == ["F#", "D#", "A#", "C#"]           # spelled in F# major
    assert [s.chordKind for s in symbols] == ["major", "minor-seventh", "minor", "dominant-seventh"]
    # Each symbol holds its chord's notes: the 7sus4 a dominant seventh with the 4th for the
    # 3rd (C# F# G# B), not the diminished 7th that "sus4, add 7, alter -1" says in MusicXML.
    assert [{p.pitchClass for p in s.pitches} for s in symbols] == [
        set(c.pitch_classes) for c in song().chords]
    assert [s.measureNumber for s in symbols] == [1, 2, 3, 4]
    # Melody pitches spelled in the key; the half note on beat 2 of 3/4 is a quarter tied to a quarter.
    notes = list(lead.recurse().getElementsByClass(music21.note.Note))
    assert [n.pitch.nameWithOctave for n in notes][:3] == ["A#4", "D#5", "D#5"]
    assert notes[1].tie.type == "start" and notes[2].tie.type == "stop"
    # The grand staff: treble over bass, brace.
    assert parts[1].recurse().getElementsByClass("Clef")[0].sign == "G"
    assert parts[2].recurse().getElementsByClass("Clef")[0].sign == "F"
    group = back.getElementsByClass("StaffGroup")[0]
    assert group.symbol == "brace" and len(group.getSpannedElements()) == 2
    assert [p.nameWithOctave for p in parts[1].recurse().notes[0].pitches] == ["F#4", "A#4", "C#5"]


def test_humanized_timing_is_written_on_the_grid():
    plain = song()
    moved = plain.replace(tracks=tuple(
        Track(t.name, t.program, t.is_drum, tuple(Note(n.start_tick + 9, n.duration_ticks - 13, n.pitch, n.velocity)
                                                  for n in t.notes)) for t in plain.tracks))
    assert musicxml_bytes(moved) == musicxml_bytes(plain)


def test_bad_input_is_one_error_and_nothing_is_written(tmp_path):
    with pytest.raises(NotationError, match="no notes"):
        musicxml_bytes(Score())
    with pytest.raises(NotationError, match=".musicxml"):
        write_musicxml(song(), tmp_path / "song.pdf")
    assert list(tmp_path.iterdir()) == []


def test_export_cli(tmp_path, capsys):
    mid = tmp_path / "song.mid"
    write_midi(song(), mid)
    out = tmp_path / "song.musicxml"
    assert main(["export", str(mid), "-o", str(out)]) == 0
    assert "2 sections, 4 chord symbols, 4 bars" in capsys.readouterr().out
    assert out.read_bytes() == musicxml_bytes(song())
    # Exists: --force needed; a bad input or output name: one line, exit 2, nothing written.
    assert main(["export", str(mid), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    for args, words in (([str(tmp_path / "missing.mid"), "-o", str(tmp_path / "a.musicxml")], "no such file"),
                        ([str(mid), "-o", str(tmp_path / "a.mxl")], "ends in .musicxml"),
                        ([str(out), "-o", str(tmp_path / "b.musicxml")], "not a MIDI file")):
        assert main(["export", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("composer: error:") and err.count("\n") == 1 and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid", "song.musicxml"]
    empty = tmp_path / "empty.mid"
    write_midi(Score(), empty)
    assert main(["export", str(empty), "-o", str(tmp_path / "c.musicxml")]) == 2
    assert "nothing to write" in capsys.readouterr().err
    assert not (tmp_path / "c.musicxml").exists()


def test_a_transposing_lead_is_written_at_its_written_pitch():
    # The composer's lead is a B-flat clarinet (GM 71): the part must say <transpose> and
    # write each note a whole tone above what sounds, so that a reader plays what the MIDI
    # plays (writing the sounding pitch beside <transpose> made MuseScore play it a tone low).
    from dataclasses import replace
    base = song()
    clarinet = replace(base, tracks=(Track("Melody", 71, notes=base.tracks[0].notes), *base.tracks[1:]))
    xml = musicxml_bytes(clarinet).decode("utf-8")
    # Two transposing parts: the clarinet (a tone) and the bass (an octave).
    assert xml.count("<transpose>") == 2 and "<chromatic>-2</chromatic>" in xml
    back = music21.converter.parseData(xml, format="musicxml")
    written = [n.pitch.midi for n in back.parts[0].recurse().getElementsByClass(music21.note.Note)]
    assert written[:3] == [72, 77, 77]                      # A#4, D#5 written as B#4 / C5, F5
    sounding = back.parts[0].toSoundingPitch()
    assert [n.pitch.midi for n in sounding.recurse().getElementsByClass(music21.note.Note)][:3] == [70, 75, 75]
    # The staff says what a player holds and how it transposes.
    assert back.parts[0].partName == "Clarinet in B\u266d"
    # The piano is written as it sounds.
    assert [p.midi for p in back.parts[1].recurse().notes[0].pitches] == [66, 70, 73]


def xml_tree(score: Score):
    import xml.etree.ElementTree as ET
    return ET.fromstring(musicxml_bytes(score))


def test_the_bass_is_written_an_octave_up_in_bass_clef_and_named_bass():
    root = xml_tree(song())
    names = [(p.findtext("part-name"), p.findtext("part-abbreviation")) for p in root.iter("score-part")]
    assert names[-1] == ("Bass", "Bs.")                       # not music21's "Elec b"
    bass = root.findall("part")[-1]
    assert bass.findtext(".//transpose/octave-change") == "-1"
    assert bass.findtext(".//clef/sign") == "F"
    # Sounding F#1 (30) is written F#2, in the staff, not three ledger lines under it.
    first = bass.find(".//note/pitch")
    assert (first.findtext("step"), first.findtext("alter"), first.findtext("octave")) == ("F", "1", "2")
    back = music21.converter.parseData(musicxml_bytes(song()).decode("utf-8"), format="musicxml")
    sounding = back.parts[-1].toSoundingPitch()
    assert {n.pitch.midi for n in sounding.recurse().getElementsByClass(music21.note.Note)} == {30}


def test_tempo_and_rehearsal_marks_are_placed_above_the_staff():
    lead = xml_tree(song()).find("part")
    directions = lead.findall(".//direction")
    kinds = sorted(d.find("direction-type")[0].tag for d in directions)
    assert kinds == ["metronome", "rehearsal", "rehearsal"]
    assert [d.get("placement") for d in directions] == ["above"] * 3


def test_a_six_eight_tempo_counts_dotted_quarters():
    # 113 quarter notes a minute in 6/8: a player reads dotted quarter = 75; playback keeps 113.
    base = song()
    six_eight = base.replace(tempos=(TempoChange.from_bpm(0, 113),), time_signatures=(TimeSignature(0, 6, 8),),
                             tracks=(Track("Melody", 73, notes=(Note(0, 720, 70),)),), chords=(), sections=())
    metronome = xml_tree(six_eight).find(".//direction/direction-type/metronome")
    assert [(e.tag, e.text) for e in metronome] == [("beat-unit", "quarter"), ("beat-unit-dot", None),
                                                  ("per-minute", "75")]
    assert xml_tree(six_eight).find(".//direction/sound").get("tempo") == "113"
    # 4/4 and 3/4 keep the quarter.
    metronome = xml_tree(base).find(".//direction/direction-type/metronome")
    assert [(e.tag, e.text) for e in metronome] == [("beat-unit", "quarter"), ("per-minute", "96")]


def needed_accidentals(part) -> int:
    """The accidentals a reader needs in ``part`` (an ElementTree <part>), counted from the
    written pitches alone by the rule MuseScore engraves by: a note shows one when its
    alteration differs from what its letter and octave carry at that point of the measure
    (the key signature, else the last accidental on that line in the measure); a tied-over
    note never does, and when it differs from its line the next note there shows its own."""
    order = "FCGDAEB"
    fifths, needed = 0, 0
    for measure in part.findall("measure"):
        if measure.find("attributes/key/fifths") is not None:
            fifths = int(measure.findtext("attributes/key/fifths"))
        state = {}
        for note in measure.findall("note"):
            pitch = note.find("pitch")
            if pitch is None:
                continue
            step, octave = pitch.findtext("step"), pitch.findtext("octave")
            alter = int(float(pitch.findtext("alter") or 0))
            in_key = (1 if order.index(step) < fifths else 0) if fifths >= 0 else \
                (-1 if order[::-1].index(step) < -fifths else 0)
            line = (note.findtext("staff"), step, octave)    # each staff of a grand staff alone
            current, tie_context = state.get(line, (in_key, False))
            if note.find("tie[@type='stop']") is not None:
                if alter != current or tie_context:
                    state[line] = (alter, True)
                continue
            if alter != current or tie_context:
                needed += 1
                state[line] = (alter, False)
    return needed


def e_flat_song(chromatic: bool = False) -> Score:
    """E-flat major, 3 bars of 4/4.  Each bar's chord symbol holds a note of the melody's
    letter with another accidental (F7: A natural; Bbm: Db against D; B: D#, F#).  The
    melody is all in the key; ``chromatic``: A natural then A-flat in bar 1 instead."""
    bar = 4 * 480
    notes = ((Note(0, 480, 69), Note(480, 480, 68)) if chromatic else
             (Note(480, 480, 68), Note(bar + 480, 480, 74), Note(2 * bar + 480, 480, 65), Note(2 * bar + 960, 480, 74)))
    return Score(tempos=(TempoChange.from_bpm(0, 100),), time_signatures=(TimeSignature(0, 4, 4),),
                 key_signatures=(KeySignature(0, 3, "major"),),
                 chords=(ChordSymbol(0, bar, 5, "7", 5), ChordSymbol(bar, bar, 10, "min", 10),
                         ChordSymbol(2 * bar, bar, 11, "maj", 11)),
                 tracks=(Track("Melody", 73, notes=notes),))


def test_chord_symbols_do_not_add_accidentals_to_the_melody():
    # music21 counted the symbols' notes as the measure's and wrote a flat on the melody's
    # A-flat and naturals on its D, F and D: four accidentals for none needed.
    lead = xml_tree(e_flat_song()).find("part")
    assert len(lead.findall(".//note/accidental")) == needed_accidentals(lead) == 0
    # A chromatic melody keeps exactly the accidentals it needs: A natural, then A-flat
    # again in the same bar.
    lead = xml_tree(e_flat_song(chromatic=True)).find("part")
    assert [a.text for a in lead.findall(".//note/accidental")] == ["natural", "flat"]
    assert needed_accidentals(lead) == 2


def b_flat_melody_song() -> Score:
    """C major, 3 bars of 4/4, a melody that tests every accidental rule (written pitches
    are sounding ones for the flute).  Bar 1: B-flat 4, B 3, B-flat 4 tied into bar 2.
    Bar 2: the tied B-flat, B-flat 4, B 4, B-flat 4.  Bar 3: B 4."""
    bar = 4 * 480
    notes = (Note(0, 480, 70), Note(480, 480, 59), Note(960, 1440, 70),
             Note(bar + 480, 480, 70), Note(bar + 960, 480, 71), Note(bar + 1440, 480, 70),
             Note(2 * bar, 480, 71))
    return Score(tempos=(TempoChange.from_bpm(0, 100),), time_signatures=(TimeSignature(0, 4, 4),),
                 key_signatures=(KeySignature(0, 0, "major"),), tracks=(Track("Melody", 73, notes=notes),))


def test_accidentals_are_the_needed_ones_and_no_courtesy_ones():
    # music21 wrote a courtesy natural on bar 1's B 3 (another octave) and on bar 3's B
    # (after a bar line), 6 for 4 needed; a player reads those as mistakes.  Needed:
    # bar 1's B-flat; in bar 2 the B-flat after the tied one (MuseScore shows it again),
    # the B natural and the B-flat after it; bar 3 none: the bar line cancels bar 2's.
    lead = xml_tree(b_flat_melody_song()).find("part")
    shown = [(m.get("number"), note.findtext("pitch/step") + note.findtext("pitch/octave"), note.findtext("accidental"))
             for m in lead.findall("measure") for note in m.findall("note") if note.find("accidental") is not None]
    assert shown == [("1", "B4", "flat"), ("2", "B4", "flat"), ("2", "B4", "natural"), ("2", "B4", "flat")]
    assert needed_accidentals(lead) == 4


def test_piano_chords_show_only_the_accidentals_they_need():
    # G major.  Bar 1: a chord F4 A4 C5 (F natural needed), F#5 (the key's: another
    # octave, so nothing), C#5 (sharp) and C5 (natural again).  Bar 2: F#4 (the key's:
    # the bar line cancelled bar 1's natural).  music21 added courtesy sharps to both
    # F#s (seed 3's piano: 172 accidentals for 74 needed).
    bar = 4 * 480
    rh = Track("Piano RH", 0, notes=(Note(0, 480, 65), Note(0, 480, 69), Note(0, 480, 72), Note(480, 480, 78),
                                      Note(960, 480, 73), Note(1440, 480, 72), Note(bar, 480, 66)))
    lh = Track("Piano LH", 0, notes=(Note(0, bar, 43), Note(bar, bar, 43)))
    score = Score(tempos=(TempoChange.from_bpm(0, 100),), time_signatures=(TimeSignature(0, 4, 4),),
                  key_signatures=(KeySignature(0, 7, "major"),), tracks=(rh, lh))
    piano = xml_tree(score).find("part")
    shown = [(n.findtext("pitch/step") + n.findtext("pitch/octave"), n.findtext("accidental"))
             for n in piano.findall(".//note") if n.find("accidental") is not None]
    assert shown == [("F4", "natural"), ("C5", "sharp"), ("C5", "natural")]
    assert needed_accidentals(piano) == 3


def chords_over_rests_song() -> Score:
    """C major, 4/4: a melody in bar 1; bar 2 silent under C and Am (beats 1 and 3); bar 3
    one whole note under F and G."""
    bar = 4 * 480
    notes = (Note(0, 960, 72), Note(960, 960, 74), Note(2 * bar, bar, 76))
    return Score(tempos=(TempoChange.from_bpm(0, 100),), time_signatures=(TimeSignature(0, 4, 4),),
                 key_signatures=(KeySignature(0, 0, "major"),),
                 chords=(ChordSymbol(0, bar, 0, "maj", 0), ChordSymbol(bar, 960, 0, "maj", 0),
                         ChordSymbol(bar + 960, 960, 9, "min", 9), ChordSymbol(2 * bar, 960, 5, "maj", 5),
                         ChordSymbol(2 * bar + 960, 960, 7, "maj", 7)),
                 tracks=(Track("Melody", 73, notes=notes),))


def lead_sequence(measure) -> list[str]:
    """A lead-sheet measure in order: "H" a chord symbol ("H@offset" one placed by an
    <offset> away from any note), "R"/"N" a rest/note with its <type> ("Rhalf"; "Rbar" a
    bar rest), "~" after a note tied to the next."""
    out = []
    for el in measure:
        if el.tag == "harmony":
            out.append("H" + ("@offset" if el.find("offset") is not None else ""))
        elif el.tag == "note":
            kind = "R" if el.find("rest") is not None else "N"
            out.append(kind + (el.findtext("type") or "bar") + "".join("~" for t in el.findall("tie") if t.get("type") == "start"))
    return out


def test_each_chord_symbol_stands_over_a_note_or_rest_of_its_own():
    # A chord on beat 3 of a silent bar sat over the bar rest with an <offset>, and one
    # inside a held note likewise: MuseScore crowded a bar's symbols over its first beat
    # (seed 3: 7 of 103).  The rest and the note are cut where each chord starts.
    lead = xml_tree(chords_over_rests_song()).find("part")
    measures = lead.findall("measure")
    assert lead_sequence(measures[1]) == ["H", "Rhalf", "H", "Rhalf"]
    assert lead_sequence(measures[2]) == ["H", "Nhalf~", "H", "Nhalf"]
    # Only the lead is cut: a bar without chord changes keeps its one bar rest.
    no_change = chords_over_rests_song().replace(chords=chords_over_rests_song().chords[:1])
    assert lead_sequence(xml_tree(no_change).find("part").findall("measure")[1]) == ["Rbar"]


def test_a_melody_on_a_piano_program_is_named_melody_not_piano():
    # POP909's MELODY track plays on GM 0: its lead sheet was a second "Piano" part beside
    # the accompaniment's grand staff.
    base = song()
    on_piano = base.replace(tracks=(Track("MELODY", 0, notes=base.tracks[0].notes), *base.tracks[1:]))
    names = [p.text for p in xml_tree(on_piano).iter("part-name")]
    assert names == ["Melody", "Piano", "Bass"]


def test_a_humanized_song_ends_in_its_last_bar():
    # A release moved past the last bar line made an empty bar of its own (148 bars for a
    # 147-bar song) in the MIDI, in `inspect`, in MusicXML and in MuseScore.
    import numpy as np

    from composer.arrange import humanize
    plain = song()
    ends = set()
    for seed in range(8):
        human = plain.replace(tracks=humanize(plain.tracks, np.random.default_rng(seed)))
        ends.add(max(n.end_tick for t in human.tracks for n in t.notes))
        assert human.n_bars == plain.n_bars == 4
        assert len(xml_tree(human).find("part").findall("measure")) == 4
    assert max(ends) == plain.end_tick        # the last releases still move, up to the bar line


def band_song() -> Score:
    """A file the tool did not write: piano chords (32 three-note chords), bass, drums, no
    track named Melody, 4/4 in C, 8 bars."""
    piano = Track("Keys", 0, notes=tuple(Note(i * 960, 900, p) for i in range(16) for p in (60, 64, 67)) +
                  tuple(Note(i * 960 + 480, 400, p) for i in range(16) for p in (55, 59, 62)))
    bass = Track("Bass gtr", 34, notes=tuple(Note(i * 1920, 1800, 36) for i in range(8)))
    drums = Track("Drums", 0, is_drum=True, notes=tuple(
        Note(i * 480, 60, (36, 42, 38, 42)[i % 4]) for i in range(32)) + tuple(Note(i * 1920, 60, 49) for i in range(8)))
    return Score(tempos=(TempoChange.from_bpm(0, 120),), time_signatures=(TimeSignature(0, 4, 4),),
                 key_signatures=(KeySignature(0, 0, "major"),), tracks=(piano, bass, drums),
                 chords=tuple(ChordSymbol(b * 1920, 1920, 0, "maj", 0) for b in range(8)))


def noteheads(part) -> int:
    """Notes that start in an ElementTree <part> (tied-over continuations not counted)."""
    return sum(1 for n in part.iter("note") if n.find("rest") is None and n.find("tie[@type='stop']") is None)


def test_export_of_a_file_without_a_melody_keeps_every_note(tmp_path, capsys):
    mid, out = tmp_path / "band.mid", tmp_path / "band.musicxml"
    write_midi(band_song(), mid)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # nothing left out, so no warning at all
        assert main(["export", str(mid), "-o", str(out)]) == 0
    assert "lead sheet: none" in capsys.readouterr().out
    root = ElementTree.parse(out).getroot()
    names = [p.findtext("part-name") for p in root.iter("score-part")]
    assert names == ["Keys", "Bass", "Drums"]
    piano, bass, drums = root.findall("part")
    # 96 piano notes (they were cut to 32 top notes on a lead staff), 8 bass notes, 40 hits.
    assert noteheads(piano) == 96 and noteheads(bass) == 8 and noteheads(drums) == 40
    # Drums: a percussion clef, unpitched notes, no key signature, each hit a quarter (held
    # to the next), each note naming its GM drum so that MuseScore plays a kit.
    assert drums.findtext(".//clef/sign") == "percussion" and drums.find(".//key") is None
    assert len(drums.findall(".//note/unpitched")) == 40 and drums.find(".//note/pitch") is None
    assert drums.find(".//note/rest") is None and {t.text for t in drums.iter("type")} == {"quarter"}
    sounds = {(u.findtext("display-step") + u.findtext("display-octave"), n.find("instrument").get("id"))
              for n in drums.iter("note") for u in n.iter("unpitched")}
    assert sounds == {("F4", "P3-I37"), ("C5", "P3-I39"), ("G5", "P3-I43"), ("A5", "P3-I50")}
    kit = root.find(".//score-part[@id='P3']")
    assert [m.findtext("midi-unpitched") for m in kit.iter("midi-instrument")] == ["37", "39", "43", "50"]
    # The chord symbols over the first staff (no lead sheet: the piano's).
    assert len(piano.findall(".//harmony")) == 8


def test_a_strings_part_is_its_own_staff_and_a_chordal_lead_says_what_it_leaves_out():
    strings = Track("Strings", 48, notes=tuple(Note(i * 1440, 1440, p) for i in range(4) for p in (66, 70)))
    base = song()
    melody = base.tracks[0]
    chordal = Track("Melody", 73, notes=melody.notes + (Note(melody.notes[0].start_tick, 480, 66),))
    score = base.replace(tracks=(chordal, strings, base.tracks[3]))
    with pytest.warns(UserWarning) as caught:
        root = ElementTree.fromstring(musicxml_bytes(score))
    assert [str(w.message) for w in caught] == [
        "Melody: 1 of 6 notes not written (a lead sheet is one line: the top note of each chord)"]
    assert [p.findtext("part-name") for p in root.iter("score-part")] == ["Flute", "Strings", "Bass"]
    strings_part = root.findall("part")[1]
    # One treble staff with its two-note chords (not a piano grand staff with an empty hand).
    assert strings_part.findtext(".//staves") is None and strings_part.findtext(".//clef/sign") == "G"
    assert noteheads(strings_part) == 8


def test_export_finds_the_melody_by_the_plot_rule():
    from composer.commands.export import find_lead
    base = song()
    assert find_lead(base) == 0                                  # named "Melody"
    assert find_lead(band_song()) is None                        # piano, bass, drums
    renamed = base.replace(tracks=(Track("Vox", 73, notes=base.tracks[0].notes), *base.tracks[1:]))
    assert find_lead(renamed) == 0                               # the highest single line


def test_a_lead_sheet_needs_a_melody_and_musescore_and_says_so(tmp_path, monkeypatch, capsys):
    from composer.io import musicxml
    with pytest.raises(NotationError, match="no melody"):
        musicxml.write_lead_sheet(band_song(), tmp_path / "band.pdf", lead=None)
    with pytest.raises(NotationError, match=r"\.pdf, \.svg or \.png"):
        musicxml.write_lead_sheet(song(), tmp_path / "song.doc")
    monkeypatch.setattr(musicxml, "MUSESCORE_COMMANDS", ("no-such-musescore",))
    with pytest.raises(NotationError, match="apt-get install musescore3"):
        musicxml.write_lead_sheet(song(), tmp_path / "song.pdf")
    mid = tmp_path / "band.mid"
    write_midi(band_song(), mid)
    assert main(["export", str(mid), "--lead-sheet", str(tmp_path / "band.pdf")]) == 2
    assert "no melody found" in capsys.readouterr().err
    assert main(["export", str(mid)]) == 2
    assert "--lead-sheet" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["band.mid"]
