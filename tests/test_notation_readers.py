"""Our MIDI and MusicXML as real readers see them: MuseScore 3 (headless, `mscore3 -o out.mscx`),
music21, pretty_midi and miditoolkit.  What a musician needs must come through each: key,
tempo, meter, parts, section marks and chord symbols, and a piano without clef thrash.

MuseScore is a Debian package (`make system-deps` installs musescore3); these tests are
skipped only where it is missing.  The .mscx it writes is parsed as XML: per staff the key
signatures (<KeySig><accidental>: sharps > 0), time signatures, tempo (<Tempo><tempo> in
beats per second), rehearsal marks, chord symbols (<Harmony>, roots as MuseScore's tonal
pitch classes: 14 = C, 20 = F#, 21 = C#, 23 = D#, 24 = A#), lyrics and clef changes (a
<Clef> after the start of the first measure).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from composer.io.midi import write_midi
from composer.io.musicxml import write_musicxml
from composer.score import Score, TempoChange, TimeSignature, Track

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_musicxml import b_flat_melody_song, band_song, chords_over_rests_song, e_flat_song, song  # noqa: E402  (hand-built songs)

MSCORE = shutil.which("mscore3")
needs_musescore = pytest.mark.skipif(MSCORE is None, reason="MuseScore 3 is missing: `make system-deps` installs musescore3")
REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
POP909_001 = DATA / "POP909-Dataset" / "POP909" / "001" / "001.mid"
TPC = {"C": 14, "F#": 20, "C#": 21, "G#": 22, "D#": 23, "A#": 24}


@dataclass
class Staff:
    keys: list[int] = field(default_factory=list)
    meters: list[str] = field(default_factory=list)
    tempos_bpm: list[float] = field(default_factory=list)
    rehearsal: list[str] = field(default_factory=list)
    harmony: list[tuple[int, str]] = field(default_factory=list)   # (root tpc, name)
    n_lyrics: int = 0
    clef_changes: int = 0
    n_notes: int = 0
    pitches: list[int] = field(default_factory=list)   # sounding MIDI pitch of each note head
    n_accidentals: int = 0                               # accidentals shown on note heads
    tempo_texts: list[str] = field(default_factory=list)
    n_measures: int = 0
    n_staccato: int = 0                                  # staccato dots (<Articulation>)


@dataclass
class Mscx:
    parts: list[tuple[str, int]]        # (name, staves)
    staves: list[Staff]
    transpose: list[int] = field(default_factory=list)   # per part: semitones written -> sounding


def musescore(src: Path, tmp_path: Path) -> Mscx:
    """Open ``src`` (MIDI or MusicXML) in MuseScore 3 headless and read the .mscx it saves."""
    out = tmp_path / (src.stem + "-" + src.suffix[1:] + ".mscx")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
           "XDG_CONFIG_HOME": str(home / ".config")}
    run = subprocess.run([MSCORE, "-o", str(out), str(src)], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and out.exists(), run.stderr[-2000:]
    root = ET.parse(out).getroot().find("Score")
    parts = [(p.findtext("trackName"), len(p.findall("Staff"))) for p in root.findall("Part")]
    transpose = [int(p.findtext("Instrument/transposeChromatic") or 0) for p in root.findall("Part")]
    staves = []
    for staff in root.findall("Staff"):
        s = Staff()
        s.n_measures = len(staff.findall("Measure"))
        for index, measure in enumerate(staff.findall("Measure")):
            started = False
            for el in measure.iter():
                if el.tag == "KeySig":
                    s.keys.append(int(el.findtext("accidental") or 0))
                elif el.tag == "TimeSig":
                    s.meters.append(f"{el.findtext('sigN')}/{el.findtext('sigD')}")
                elif el.tag == "Tempo":
                    s.tempos_bpm.append(round(float(el.findtext("tempo")) * 60, 2))
                    s.tempo_texts.append(ET.tostring(el.find("text"), encoding="unicode").strip())
                elif el.tag == "Accidental":
                    s.n_accidentals += 1
                elif el.tag == "RehearsalMark":
                    s.rehearsal.append("".join(el.find("text").itertext()))
                elif el.tag == "Harmony":
                    s.harmony.append((int(el.findtext("root")), el.findtext("name") or ""))
                elif el.tag == "Lyrics":
                    s.n_lyrics += 1
                elif el.tag == "Articulation" and "Staccato" in (el.findtext("subtype") or ""):
                    s.n_staccato += 1
                elif el.tag == "Clef" and (index or started):
                    s.clef_changes += 1
                elif el.tag in ("Chord", "Rest"):
                    started = True
                    s.n_notes += el.tag == "Chord"
                elif el.tag == "Note":
                    s.pitches.append(int(el.findtext("pitch")))
        staves.append(s)
    return Mscx(parts, staves, transpose)


def musescore_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
            "XDG_CONFIG_HOME": str(home / ".config")}


def svg_marks(src: Path, tmp_path: Path) -> list[tuple[str, bool]]:
    """MuseScore's engraving of ``src``'s first page as SVG: (kind, drawn wholly above the
    top staff line of the page) for each tempo and rehearsal mark, in page order.  For a
    song of one system: above the lead staff, or below it (over the piano)."""
    import re
    out = tmp_path / (src.stem + ".svg")
    run = subprocess.run([MSCORE, "-o", str(out), str(src)], env=musescore_env(tmp_path),
                         capture_output=True, text=True)
    page = tmp_path / (src.stem + "-1.svg")
    assert run.returncode == 0 and page.exists(), run.stderr[-2000:]
    svg = page.read_text()
    top = min(float(y) for y in re.findall(r'class="StaffLines"[^>]*points="[\d.]+,([\d.]+)', svg))
    marks = []
    for kind, d in re.findall(r'class="(Tempo|RehearsalMark)"[^>]*\bd="([^"]+)"', svg):
        ys = [float(y) for y in re.findall(r"-?[\d.]+,(-?[\d.]+)", d)]
        marks.append((kind, max(ys) < top))
    return marks


def files(tmp_path: Path, score: Score) -> tuple[Path, Path]:
    mid, xml = tmp_path / "song.mid", tmp_path / "song.musicxml"
    write_midi(score, mid)
    write_musicxml(score, xml)
    return mid, xml


# ---------------------------------------------------------------- MuseScore
@needs_musescore
def test_musescore_opens_our_midi_with_key_tempo_chords_and_a_grand_staff(tmp_path):
    mid, _ = files(tmp_path, song())
    got = musescore(mid, tmp_path)
    # Melody; the two piano tracks on one channel become one part on a grand staff; bass.
    assert [n for _, n in got.parts] == [1, 2, 1]
    assert all(s.keys == [6] for s in got.staves), [s.keys for s in got.staves]   # F# major, every staff
    assert all(s.meters == ["3/4"] for s in got.staves)
    assert got.staves[0].tempos_bpm == [96.0]
    assert all(s.clef_changes == 0 and s.n_lyrics == 0 for s in got.staves)
    # The XF chord events are chord symbols (on whichever staff has a note at the chord).
    harmony = sorted(h for s in got.staves for h in s.harmony)
    assert harmony == sorted([(TPC["F#"], ""), (TPC["D#"], "m7"), (TPC["A#"], "m"), (TPC["C#"], "7sus4")])


@needs_musescore
def test_musescore_gives_every_pitched_staff_every_key_change_from_one_copy(tmp_path):
    # The keys are in the conductor (MuseScore drops it: no notes) and once in the first
    # pitched track; MuseScore gives them to every staff without keys of its own.  A minor
    # (no accidentals, MuseScore's default, not written), F# major, E-flat minor.
    from test_midi import full_score
    mid = tmp_path / "full.mid"
    write_midi(full_score(), mid)
    got = musescore(mid, tmp_path)
    assert [s.keys for s in got.staves] == [[6, -6], [6, -6], []]     # melody, piano, drums


@needs_musescore
def test_musescore_opens_the_chord_track_as_a_staff_of_its_own(tmp_path):
    # The optional chord track comes last: MuseScore gives each XF chord symbol to the
    # first track with a note at its tick, so the melody keeps the ones it had without it;
    # no lyrics (chord names as Lyric events went onto the piano's staff, 581 for 103).
    mid, pad = tmp_path / "song.mid", tmp_path / "pad.mid"
    write_midi(song(), mid)
    write_midi(song(), pad, chord_track=True)
    plain, with_pad = musescore(mid, tmp_path), musescore(pad, tmp_path)
    assert [name for name, _ in with_pad.parts] == [name for name, _ in plain.parts] + ["Warm Pad, Chord Pad"]
    assert [s.harmony for s in with_pad.staves[:4]] == [s.harmony for s in plain.staves]
    assert sum(s.n_lyrics for s in with_pad.staves) == 0
    assert sum(s.n_notes for s in with_pad.staves[4:]) == 4     # one chord a bar


@needs_musescore
def test_musescore_dots_a_note_staccato_where_a_rest_follows_it_inside_the_beat(tmp_path):
    # MuseScore's import writes a 16th note and the 16th rest after it, inside one beat, as an
    # 8th with a staccato dot (Simplify::lengthenNote: the silence is 30% or more of the new
    # value); the piano's short notes before rests gave seed 3 hundreds of dots.  The MIDI
    # note lengths are the music's: held to the next note, no dot.
    from composer.score import Note
    base = song()
    bar = 3 * 480
    for length, dots in ((120, 6), (240, 0)):
        melody = Track("Melody", 73, notes=tuple(Note(bar + i * 240, length, 73) for i in range(6)))
        score = base.replace(tracks=(melody, *base.tracks[1:]))
        mid, xml = files(tmp_path, score)
        assert musescore(mid, tmp_path).staves[0].n_staccato == dots
        lead = ET.parse(tmp_path / "song-mid.mscx").getroot().find("Score/Staff")
        assert [a.findtext("subtype") for a in lead.iter("Articulation")] == ["articStaccatoAbove"] * dots
        # The MusicXML writes the 16th and its rest as they are.
        assert musescore(xml, tmp_path).staves[0].n_staccato == 0


@needs_musescore
def test_musescore_makes_lyrics_of_chord_names_in_lyric_events_but_not_of_cue_points(tmp_path):
    # Why the chord names are Cue Points: MuseScore turns every Text and Lyric event into a
    # lyric under the staff whose notes start on most of their ticks (here the piano's), so
    # the names that pretty_midi, miditoolkit and muspy would read as lyrics are printed
    # under the piano, beside the XF chord symbols.  A name is a lyric wherever the event
    # is: on the meta-only Chords track as here, or on the notes of a chord track.
    import io

    import mido

    from composer.io.midi import midi_bytes
    base = song()
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(base)))
    index = next(i for i, t in enumerate(mf.tracks) if t.name == "Chords")
    with_lyrics = mido.MidiTrack()
    for message in mf.tracks[index]:
        if message.type == "cue_marker" and message.text != "N.C.":
            with_lyrics.append(mido.MetaMessage("lyrics", text=message.text, time=message.time))
            message = message.copy(time=0)
        with_lyrics.append(message)
    mf.tracks[index] = with_lyrics
    lyrics = tmp_path / "lyrics.mid"
    mf.save(lyrics)
    plain = tmp_path / "plain.mid"
    write_midi(base, plain)
    assert [s.n_lyrics for s in musescore(plain, tmp_path).staves] == [0, 0, 0, 0]
    # 14 lyrics for 4 names: MuseScore 3.2.3 repeats each one three or four times (seed 3:
    # 475 on the piano for 103 chords).
    assert [s.n_lyrics for s in musescore(lyrics, tmp_path).staves] == [0, 14, 0, 0]


@needs_musescore
def test_musescore_opens_our_musicxml_as_a_lead_sheet_and_piano_score(tmp_path):
    _, xml = files(tmp_path, song())
    got = musescore(xml, tmp_path)
    assert got.parts == [("Flute", 1), ("Piano", 2), ("Bass", 1)]
    assert all(s.keys == [6] for s in got.staves)
    assert all(s.meters == ["3/4"] for s in got.staves)
    lead = got.staves[0]
    assert lead.tempos_bpm == [96.0]
    assert lead.rehearsal == ["Intro", "Verse 1"]
    # Named as the MIDI's XF events name them: MuseScore engraved the 7sus4 "sus4b7" when
    # the MusicXML said sus4 with a flattened 7th added.
    assert lead.harmony == [(TPC["F#"], ""), (TPC["D#"], "m7"), (TPC["A#"], "m"), (TPC["C#"], "7sus4")]
    assert all(s.clef_changes == 0 and s.n_lyrics == 0 for s in got.staves)


@needs_musescore
def test_musescore_shows_no_accidental_the_key_signature_gives(tmp_path):
    # Chord symbols once made music21 mark 4 of these 4 in-key melody notes (MuseScore
    # showed them); a chromatic bar keeps its natural and its flat.
    for chromatic, expected in ((False, 0), (True, 2)):
        xml = tmp_path / f"eflat-{chromatic}.musicxml"
        write_musicxml(e_flat_song(chromatic), xml)
        lead = musescore(xml, tmp_path).staves[0]
        assert lead.keys == [-3] and lead.n_accidentals == expected
    # No courtesy accidentals (another octave, after a bar line): MuseScore shows the 4
    # needed ones (music21's 2 courtesy naturals made 6), the flat after a tied B-flat too.
    xml = tmp_path / "b-flat.musicxml"
    write_musicxml(b_flat_melody_song(), xml)
    assert musescore(xml, tmp_path).staves[0].n_accidentals == 4


@needs_musescore
def test_musescore_stands_each_chord_symbol_over_its_own_note_or_rest(tmp_path):
    # Bar 2: C and Am over a silent bar; bar 3: F and G over one held note.  Before, the
    # second symbol of each bar sat at a <location> inside the bar rest or the note, and
    # MuseScore crowded the symbols together.
    xml = tmp_path / "chords.musicxml"
    write_musicxml(chords_over_rests_song(), xml)
    musescore(xml, tmp_path)
    staff = ET.parse(tmp_path / "chords-musicxml.mscx").getroot().find("Score/Staff")
    bars = [[el.tag for el in m.find("voice") if el.tag != "BarLine"] for m in staff.findall("Measure")]
    assert bars[1] == ["Harmony", "Rest", "Harmony", "Rest"]
    assert bars[2] == ["Harmony", "Chord", "Harmony", "Chord"]


@needs_musescore
def test_musescore_draws_tempo_and_rehearsal_marks_above_the_lead(tmp_path):
    _, xml = files(tmp_path, song())
    marks = svg_marks(xml, tmp_path)
    # The tempo mark and two rehearsal marks (each a frame and its text), all over the top
    # staff; without placement="above" they sat under it, over the piano.
    assert sorted({kind for kind, _ in marks}) == ["RehearsalMark", "Tempo"]
    assert len(marks) >= 5 and all(above for _, above in marks), marks


@needs_musescore
def test_musescore_shows_the_clarinet_and_the_bass_as_players_read_them(tmp_path):
    base = song()
    clarinet = base.replace(tracks=(Track("Melody", 71, notes=base.tracks[0].notes), *base.tracks[1:]))
    xml = tmp_path / "clarinet.musicxml"
    write_musicxml(clarinet, xml)
    got = musescore(xml, tmp_path)
    assert got.parts == [("Clarinet in B\u266d", 1), ("Piano", 2), ("Bass", 1)]
    # Written a tone above (clarinet) and an octave above (bass) what sounds; MuseScore
    # still sounds every note where the Score has it.
    assert got.transpose == [-2, 0, -12]
    assert got.staves[0].pitches == [70, 75, 75, 73, 78, 77, 77]
    assert got.staves[3].pitches == [30] * 4
    assert got.staves[0].keys == [-4]                       # F# major + a tone: A-flat major
    assert all(s.clef_changes == 0 for s in got.staves)


@needs_musescore
def test_musescore_reads_a_six_eight_tempo_in_dotted_quarters(tmp_path):
    six_eight = song().replace(tempos=(TempoChange.from_bpm(0, 113),), time_signatures=(TimeSignature(0, 6, 8),))
    mid, xml = files(tmp_path, six_eight)
    lead = musescore(xml, tmp_path).staves[0]
    assert lead.meters == ["6/8"] and lead.tempos_bpm == [113.0]
    assert "metAugmentationDot" in lead.tempo_texts[0] and lead.tempo_texts[0].endswith("= 75</text>")
    assert musescore(mid, tmp_path).staves[0].tempos_bpm == [113.0]


@needs_musescore
def test_musescore_reads_a_humanized_song_with_its_bars_and_chord_symbols(tmp_path):
    # Humanized, the notes sit a few ticks off the beat: MuseScore showed a chord symbol only
    # where a note starts on the chord's very tick (22 of 124 in a song), and a release past
    # the last bar line made an empty bar.
    import numpy as np

    from composer.arrange import humanize
    base = song()
    human = base.replace(tracks=humanize(base.tracks, np.random.default_rng(3)))
    assert {n.start_tick for n in human.tracks[0].notes}.isdisjoint(c.start_tick for c in base.chords)
    mid, xml = files(tmp_path, human)
    got = musescore(mid, tmp_path)
    assert [s.n_measures for s in got.staves] == [4] * 4
    harmony = sorted(h for s in got.staves for h in s.harmony)
    assert harmony == sorted([(TPC["F#"], ""), (TPC["D#"], "m7"), (TPC["A#"], "m"), (TPC["C#"], "7sus4")])
    # On the melody's staff wherever the melody starts a note at the chord (bars 2 and 3).
    assert len(got.staves[0].harmony) == 2
    assert [s.n_measures for s in musescore(xml, tmp_path).staves] == [4] * 4


@needs_musescore
def test_musescore_opens_an_exported_band_file_with_a_drum_kit(tmp_path):
    # A file the tool did not write (piano, bass, drums, no melody): every note on staves
    # fit for it, the drums on a percussion staff playing the kit's sounds.
    xml = tmp_path / "band.musicxml"
    write_musicxml(band_song(), xml)
    got = musescore(xml, tmp_path)
    assert got.parts == [("Keys", 2), ("Bass", 1), ("Drums", 1)]
    assert len(got.staves[0].pitches) + len(got.staves[1].pitches) == 96
    assert got.staves[3].n_notes == 32 and sorted(set(got.staves[3].pitches)) == [36, 38, 42, 49]
    root = ET.parse(tmp_path / "band-musicxml.mscx").getroot().find("Score")
    assert [p.find("Staff/StaffType").get("group") for p in root.findall("Part")] == ["pitched", "pitched", "percussion"]
    assert [s.n_measures for s in got.staves] == [8] * 4
    assert len(got.staves[0].harmony) == 8


@needs_musescore
def test_the_lead_sheet_is_engraved_on_one_staff_with_chords_and_marks(tmp_path, capsys):
    from composer.cli import main
    mid = tmp_path / "song.mid"
    write_midi(song(), mid)
    assert main(["export", str(mid), "--lead-sheet", str(tmp_path / "lead.svg"), "-o", str(tmp_path / "s.musicxml")]) == 0
    assert "the lead sheet of 'Melody', 4 chord symbols, 4 bars" in capsys.readouterr().out
    svg = (tmp_path / "lead.svg").read_text()
    # One page, one staff (5 lines), the four chord symbols, the two rehearsal marks and the
    # tempo above it.
    assert not (tmp_path / "lead-2.svg").exists()
    assert svg.count('class="StaffLines"') == 5 and svg.count('class="Harmony"') >= 4
    marks = svg_marks(tmp_path / "s.musicxml", tmp_path)
    assert marks and all(above for _, above in marks)
    assert main(["export", str(mid), "--lead-sheet", str(tmp_path / "lead.pdf")]) == 0
    assert (tmp_path / "lead.pdf").read_bytes().startswith(b"%PDF")


# ---------------------------------------------------------------- Python readers
def test_music21_reads_our_midi():
    music21 = pytest.importorskip("music21")
    from composer.io.midi import midi_bytes
    parsed = music21.converter.parseData(midi_bytes(song()), format="midi")
    # The first instrument of each part is the one its program change says: the bass is an
    # electric bass (GM 33), not the choir bass (GM 53) music21 guesses from the name "Bass".
    # The track names are kept beside (as the part name of the name's instrument).
    instruments = [list(p.recurse().getElementsByClass("Instrument")) for p in parsed.parts]
    assert [(type(i[0]).__name__, i[0].midiProgram) for i in instruments] == [
        ("Flute", 73), ("Piano", 0), ("Piano", 0), ("ElectricBass", 33)]
    assert [{x.midiProgram for x in i} for i in instruments] == [{73}, {0}, {0}, {33}]
    assert [[x.partName for x in i if x.partName] for i in instruments] == [
        ["Melody"], ["Piano RH"], ["Piano LH"], ["Bass"]]
    for part in parsed.parts:
        assert {k.sharps for k in part.recurse().getElementsByClass("KeySignature")} == {6}
        assert [t.ratioString for t in part.recurse().getElementsByClass("TimeSignature")][:1] == ["3/4"]
    assert parsed.parts[0].recurse().getElementsByClass("MetronomeMark")[0].number == 96


def test_pretty_midi_reads_our_midi():
    pretty_midi = pytest.importorskip("pretty_midi")
    import io
    from composer.io.midi import midi_bytes
    # The keys copied into the instrument tracks (for MuseScore) make pretty_midi warn; it
    # still reads key, meter and tempo from the conductor track, as the file intends.
    with pytest.warns(RuntimeWarning, match="non-zero tracks"):
        pm = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes(song())))
    assert [(k.key_number, k.time) for k in pm.key_signature_changes] == [(6, 0.0)]   # F# major
    assert [(t.numerator, t.denominator) for t in pm.time_signature_changes] == [(3, 4)]
    assert pm.get_tempo_changes()[1].tolist() == pytest.approx([96.0])
    assert [(i.name, i.program) for i in pm.instruments] == [
        ("Melody", 73), ("Piano RH", 0), ("Piano LH", 0), ("Bass", 33)]
    # Chord names are cue points, not text events (MuseScore would make lyrics of those).
    assert pm.text_events == [] and pm.lyrics == []


def test_miditoolkit_reads_our_midi(tmp_path):
    miditoolkit = pytest.importorskip("miditoolkit")
    mid, _ = files(tmp_path, song())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = miditoolkit.MidiFile(str(mid))
    assert [(x.text, x.time) for x in m.markers] == [("Intro", 0), ("Verse 1", 3 * 480)]
    assert {k.key_name for k in m.key_signature_changes} == {"F#"}
    assert [(t.tempo, t.time) for t in m.tempo_changes] == [(pytest.approx(96.0), 0)]
    assert [(t.numerator, t.denominator) for t in m.time_signature_changes] == [(3, 4)]
    assert [(i.name, int(i.program)) for i in m.instruments] == [
        ("Melody", 73), ("Piano RH", 0), ("Piano LH", 0), ("Bass", 33)]


# ---------------------------------------------------------------- a generated song
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if not (REPO / "models" / "notes" / "model.safetensors").exists():
        pytest.skip("the shipped models are not in this checkout")
    from composer.pipeline import Composer
    composer = Composer.from_pretrained(REPO / "models")
    plain = composer.compose(seed=3)
    return plain, composer.compose(seed=3, humanize=True)


@pytest.mark.slow
@needs_musescore
def test_a_generated_song_opens_right_in_musescore(generated, tmp_path):
    score, human = generated
    key = score.key_signatures[0]
    from composer.spelling import key_signature_name
    name = key_signature_name(key.tonic, key.mode)
    sharps = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7, "F": -1, "Bb": -2,
              "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7}
    relative = {"Am": "C", "Em": "G", "Bm": "D", "F#m": "A", "C#m": "E", "G#m": "B", "D#m": "F#",
                "A#m": "C#", "Dm": "F", "Gm": "Bb", "Cm": "Eb", "Fm": "Ab", "Bbm": "Db", "Ebm": "Gb", "Abm": "Cb"}
    expected = sharps[relative.get(name, name)]
    bpm = round(score.tempos[0].bpm)
    mid, xml = files(tmp_path, score)
    from_midi = musescore(mid, tmp_path)
    # melody, the piano's grand staff, bass, and the drums on a percussion staff of their own
    assert [n for _, n in from_midi.parts] == [1, 2, 1, 1]
    assert all(s.keys[:1] == [expected] for s in from_midi.staves[:4])   # a percussion staff has no key
    assert round(from_midi.staves[0].tempos_bpm[0]) == bpm
    assert sum(s.n_lyrics for s in from_midi.staves) == 0
    # Each XF chord symbol stands over the first pitched track (Melody, Piano RH, Piano LH,
    # Bass) that starts a note on the chord's tick, as MuseScore can hold one only on a note
    # (seed 3: 52 over the melody, 49 and 2 over the piano's staves, of 103).
    onsets = [{n.start_tick for n in t.notes} for t in score.tracks if not t.is_drum]
    placed = [0] * len(onsets)
    for chord in score.chords:
        first = next((i for i, starts in enumerate(onsets) if chord.start_tick in starts), None)
        if first is not None:
            placed[first] += 1
    assert [len(s.harmony) for s in from_midi.staves[:4]] == placed
    assert sum(placed) >= 0.9 * len(score.chords)
    # One track "Piano" gave 104 clef changes in this song; the two hands give at most a few.
    # MuseScore changes clef only on a staff whose instrument has both clefs: never on the
    # clarinet's lead (seed 21's lead staff once showed 36).
    assert sum(s.clef_changes for s in from_midi.staves) <= 4
    assert from_midi.staves[0].clef_changes == 0
    from_xml = musescore(xml, tmp_path)
    lead = from_xml.staves[0]
    assert lead.rehearsal == [s.name for s in score.sections]
    assert len(lead.harmony) == len(score.chords)
    # The lead is a B-flat clarinet: its staff is written a whole tone up (two more sharps,
    # respelled past six), and MuseScore still sounds every note where the MIDI has it.
    written = expected + 2 - (12 if expected + 2 > 6 else 0)
    assert lead.keys[:1] == [written] and all(s.keys[:1] == [expected] for s in from_xml.staves[1:4])
    def heads(pitches):     # tied note heads and repeated notes counted once
        return [p for i, p in enumerate(pitches) if i == 0 or p != pitches[i - 1]]
    melody = [n.pitch for n in score.track("Melody").notes]
    assert heads(lead.pitches) == heads(melody) == heads(from_midi.staves[0].pitches)
    assert round(lead.tempos_bpm[0]) == bpm
    assert sum(s.clef_changes for s in from_xml.staves) == 0
    # No staccato dots from the MusicXML: every value as written (the MIDI import dots a
    # note that a rest follows inside the beat, 397 in this song).
    assert sum(s.n_staccato for s in from_xml.staves) == 0 < sum(s.n_staccato for s in from_midi.staves)
    # Humanized timing stays under MuseScore's "human performance" threshold: same tempo,
    # the same bars (a release past the end once made one more) and every chord symbol
    # (22 of 124 once: MuseScore shows one only over a note starting on its tick).
    human_mid = tmp_path / "human.mid"
    write_midi(human, human_mid)
    from_human = musescore(human_mid, tmp_path)
    assert round(from_human.staves[0].tempos_bpm[0]) == bpm
    assert human.n_bars == score.n_bars and {s.n_measures for s in from_human.staves} == {score.n_bars}
    # On the pitched staves every chord symbol once.  MuseScore may also print one over a
    # drum hit that starts on the chord's tick (seed 3 humanized: E-flat minor in bar 19 over
    # the melody and the kit); such a copy is one of the pitched staves' symbols, never a
    # symbol of its own.
    from collections import Counter
    pitched = [h for s in from_human.staves[:4] for h in s.harmony]
    assert len(pitched) == len(score.chords)
    assert not Counter(from_human.staves[4].harmony) - Counter(pitched)
    # Every staff shows an accidental only where the key signature and the bar do not give
    # the note, and MuseScore engraves those and no more: seed 3 showed 53 on the lead for
    # 15 needed when chord symbols set them, then 17 for 13 and 172 on the piano for 74
    # with music21's courtesy accidentals.
    from test_musicxml import needed_accidentals
    for xml_part, staves in zip(ET.parse(xml).getroot().findall("part"), ([0], [1, 2], [3])):
        shown = len(xml_part.findall(".//note/accidental"))
        assert shown == needed_accidentals(xml_part)
        assert sum(from_xml.staves[i].n_accidentals for i in staves) == shown
    # Every chord symbol over a note or rest of its own (7 of 103 sat at an <offset> inside
    # a bar rest or a held note, crowded together by MuseScore).
    assert not ET.parse(xml).getroot().findall(".//harmony/offset")


@pytest.mark.slow
@pytest.mark.data
@needs_musescore
@pytest.mark.skipif(not POP909_001.exists(), reason="needs ../shared/data (POP909)")
def test_a_performed_pop909_song_opens_at_its_tempo_from_musicxml_only(tmp_path):
    """POP909 001 says 90 bpm.  MuseScore calls a MIDI file whose onsets mostly miss the
    16th grid a human performance, ignores the tempo of tracks without notes (the conductor)
    and beat-tracks instead: 120 bpm, from the original file and from ours alike.  Written
    as MusicXML (on the 16th grid) it opens at 90."""
    from composer.io.midi import read_midi
    score = read_midi(POP909_001)
    assert round(score.tempos[0].bpm) == 90
    mid, xml = files(tmp_path, score)
    assert musescore(POP909_001, tmp_path).staves[0].tempos_bpm == [120.0]
    assert musescore(mid, tmp_path).staves[0].tempos_bpm == [120.0]
    assert round(musescore(xml, tmp_path).staves[0].tempos_bpm[0]) == 90


def test_python_readers_see_each_key_change_twice_not_once_per_track(tmp_path):
    # One copy in the conductor (pretty_midi reads keys from track 0 only) and one in the
    # first pitched track (for MuseScore): miditoolkit and muspy list each change twice, not
    # once per track (5 times in a generated song before), and pretty_midi once, with its
    # warning about a key signature outside track 0.
    miditoolkit = pytest.importorskip("miditoolkit")
    muspy = pytest.importorskip("muspy")
    pretty_midi = pytest.importorskip("pretty_midi")
    from test_midi import full_score
    mid = tmp_path / "full.mid"
    write_midi(full_score(), mid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = miditoolkit.MidiFile(str(mid))
    with pytest.warns(RuntimeWarning, match="non-zero tracks") as caught:
        pm = pretty_midi.PrettyMIDI(str(mid))
    assert len(caught) == 1
    assert sorted((k.time, k.key_name) for k in m.key_signature_changes) == [
        (0, "Am"), (0, "Am"), (3840, "F#"), (3840, "F#"), (5280, "Ebm"), (5280, "Ebm")]
    music = muspy.read_midi(mid)
    assert sorted((k.time, k.root, k.mode) for k in music.key_signatures) == [
        (0, 9, "minor"), (0, 9, "minor"), (3840, 6, "major"), (3840, 6, "major"), (5280, 3, "minor"), (5280, 3, "minor")]
    assert [k.key_number for k in pm.key_signature_changes] == [21, 6, 15]
    # The title is the conductor's track name: muspy reads it as the song's title and
    # names every track; a conductor merged into the melody's track (no key copy, no
    # pretty_midi warning) gave the title "Melody" and an unnamed melody.  (mido hands
    # muspy the UTF-8 bytes as Latin-1.)
    def utf8(text):
        return text.encode("latin-1").decode("utf-8")
    assert utf8(music.metadata.title) == "Song — テスト"
    assert [utf8(t.name) for t in music.tracks] == ["Melody — 旋律", "Piano", "Drums"]


def test_music21_gives_every_part_every_meter_key_and_tempo_from_the_conductor(tmp_path):
    # music21 copies the meters, keys and tempi of the tracks without notes (the conductor)
    # into every part.  This is why the conductor stays a track of its own: merged into the
    # melody's track (which would spare pretty_midi's warning and the second key copy) it
    # gave the melody every change and the piano and drums none (4/4, no key, no tempo).
    music21 = pytest.importorskip("music21")
    from test_midi import full_score
    mid = tmp_path / "full.mid"
    write_midi(full_score(), mid)
    parts = music21.converter.parse(str(mid)).parts
    assert len(parts) == 3                                        # melody, piano, drums
    for part in parts:
        meters = [t.ratioString for t in part.recurse().getElementsByClass("TimeSignature")]
        assert meters == ["4/4", "3/4", "6/8"]
        assert [m.number for m in part.recurse().getElementsByClass("MetronomeMark")] == [120, 150, 97.3]
        keys = [k.sharps for k in part.recurse().getElementsByClass("KeySignature")]
        assert [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]] == [0, 6, -6]
