"""MIDI in and out: exact round trips, hand-built edge-case files, bad input, real files."""
from __future__ import annotations

import io
import random
from pathlib import Path

import mido
import pytest

from composer.errors import MidiError
from composer.io.midi import (
    MAX_BYTES,
    MAX_NOTES,
    assign_channels,
    midi_bytes,
    parse_section_marker,
    read_midi,
    read_midi_bytes,
    section_marker_text,
    section_tag_text,
    parse_section_tag,
    write_midi,
)
from composer.score import (
    CHORD_QUALITIES,
    ChordSymbol,
    ControlChange,
    KeySignature,
    Note,
    PitchBend,
    Score,
    Section,
    TempoChange,
    TimeSignature,
    Track,
)
from composer.spelling import chord_text, key_signature_name, parse_chord_text

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POP909_001 = DATA / "POP909-Dataset" / "POP909" / "001" / "001.mid"
GROOVE = DATA / "groove"


# ---------------------------------------------------------------- fixtures
def full_score() -> Score:
    """A Score using every feature: tempo, meter and key changes, sections, chords with
    gaps and slash basses, melodic and drum tracks, controllers, pitch bends, zero-length
    notes, same-pitch overlaps and legato repeats, non-ASCII names."""
    melody = Track("Melody — 旋律", program=73, notes=(
        Note(0, 480, 72, 100), Note(480, 480, 72, 90),        # repeat: off and on at one tick
        Note(960, 0, 74, 64),                                 # zero-length
        Note(960, 960, 76, 80), Note(1200, 960, 76, 70),      # same-pitch overlap, FIFO order
        Note(3840, 1920, 79, 127),
    ), controls=(ControlChange(0, 7, 100), ControlChange(0, 10, 40)),
        pitch_bends=(PitchBend(1000, 8191), PitchBend(1100, -8192), PitchBend(1200, 0)))
    piano = Track("Piano", program=0, notes=tuple(
        Note(i * 240, 240, 48 + (i % 12), 60 + i % 40) for i in range(40)),
        controls=(ControlChange(0, 64, 127), ControlChange(1920, 64, 0), ControlChange(1920, 64, 127)))
    drums = Track("Drums", program=0, is_drum=True, notes=(
        Note(0, 60, 36, 110), Note(480, 60, 38, 100), Note(480, 0, 42, 50), Note(960, 60, 36, 110)))
    empty = Track("Strings (silent)", program=48)
    return Score(
        tempos=(TempoChange(0, 500_000), TempoChange(1920, 400_000), TempoChange.from_bpm(5760, 97.3)),
        time_signatures=(TimeSignature(0, 4, 4), TimeSignature(3840, 3, 4), TimeSignature(5280, 6, 8)),
        key_signatures=(KeySignature(0, 9, "minor"), KeySignature(3840, 6, "major"),
                        KeySignature(5280, 3, "minor")),
        sections=(Section(0, 1, "i", "Intro"), Section(1, 2, "A", "Verse 1"),
                  Section(3, 4, "B", ""), Section(7, 1, "o", "Outro [end]")),
        chords=(ChordSymbol(0, 960, 9, "min7", 7), ChordSymbol(960, 480, 5, "maj", 5),
                ChordSymbol(1920, 480, 7, "sus4(b7)", 7),   # gap before it, N.C. after it
                ChordSymbol(2880, 960, 11, "hdim7", 5)),
        tracks=(melody, piano, drums, empty),
        title="Song — テスト",
    )


def smf(tracks: list[list[mido.Message | mido.MetaMessage]], type_: int = 1, tpb: int = 480) -> bytes:
    """Bytes of a MIDI file built with mido from per-track message lists (delta times)."""
    midi = mido.MidiFile(type=type_, ticks_per_beat=tpb)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def notes_of(score: Score) -> list[tuple[str, int, int, int, int, bool]]:
    return sorted((t.name, n.pitch, n.start_tick, n.end_tick, t.program, t.is_drum)
                  for t in score.tracks for n in t.notes)


# ---------------------------------------------------------------- round trips
def test_round_trip_full_score_is_exact(tmp_path):
    score = full_score().validate()
    path = tmp_path / "song.mid"
    write_midi(score, path)
    assert read_midi(path) == score
    assert read_midi_bytes(midi_bytes(score)) == score


def test_equal_scores_give_identical_bytes():
    a, b = full_score(), full_score()
    assert a is not b and midi_bytes(a) == midi_bytes(b)
    shuffled = full_score().replace(chords=tuple(reversed(full_score().chords)))
    assert midi_bytes(shuffled) == midi_bytes(a)


@pytest.mark.parametrize("score", [
    Score(),
    Score(title="only a title"),
    Score(tracks=(Track("solo", 5, notes=(Note(0, 0, 60),)),)),
    Score(chords=(ChordSymbol(480, 480, 0, "maj", 4),)),
    Score(sections=(Section(2, 3, "A", "Chorus"),), time_signatures=(TimeSignature(0, 3, 4),)),
    Score(tracks=tuple(Track(f"t{i}", i % 128, notes=(Note(i, 10, 40 + i, 90),)) for i in range(20))),
    Score(tracks=(Track("kit", 25, is_drum=True, notes=(Note(0, 10, 36),)),
                  Track("kit 2", 0, is_drum=True, notes=(Note(5, 10, 38),)))),
], ids=["empty", "title", "zero-length", "chord-only", "section-3/4", "20-tracks", "two-drum-tracks"])
def test_round_trip_small_scores(score):
    assert read_midi_bytes(midi_bytes(score.validate())) == score


@pytest.mark.parametrize("quality", sorted(CHORD_QUALITIES))
def test_every_chord_quality_and_root_survives(quality):
    chords = tuple(ChordSymbol(i * 480, 480, root, quality, (root + 7 * (i % 2)) % 12)
                   for i, root in enumerate(range(12)))
    score = Score(chords=chords)
    assert read_midi_bytes(midi_bytes(score)).chords == chords


def test_written_file_layout_is_daw_ready():
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(full_score())))
    assert midi.type == 1 and midi.ticks_per_beat == 480
    conductor, chords, melody, piano, drums, empty = midi.tracks
    assert conductor[0].type == "track_name" and conductor[0].name.encode("latin-1").decode() == "Song — テスト"
    assert not any(m.type in ("note_on", "note_off", "program_change") for m in conductor)
    # Markers for people, the label and length in a cue point at the same tick.
    assert [m.text for m in conductor if m.type == "marker"] == ["Intro", "Verse 1", "", "Outro [end]"]
    assert [m.text for m in conductor if m.type == "cue_marker"] == ["[i 1]", "[A 2]", "[B 4]", "[o 1]"]
    assert not any(m.type in ("text", "lyrics") for t in midi.tracks for m in t), \
        "text and lyric events become lyrics in MuseScore"
    texts = [m.text for m in chords if m.type == "cue_marker"]
    assert texts == ["Am7/G", "F", "N.C.", "G7sus4", "N.C.", "Bm7b5/F", "N.C."]
    xf = [tuple(m.data) for m in chords if m.type == "sequencer_specific"]
    # Am7/G: A natural (0x36), min7 (10), bass G natural (0x35); F: F (0x34), maj (0), no bass.
    assert xf[:2] == [(0x43, 0x7B, 0x01, 0x36, 10, 0x35, 0x7F), (0x43, 0x7B, 0x01, 0x34, 0, 0x7F, 0x7F)]
    assert chords[0].name == "Chords"
    keys = [m.key for m in conductor if m.type == "key_signature"]
    assert keys == ["Am", "F#", "Ebm"]
    # A metronome clicks on the beat a player counts: the dotted quarter (36 clocks) in 6/8.
    assert [(m.numerator, m.denominator, m.clocks_per_click) for m in conductor
            if m.type == "time_signature"] == [(4, 4, 24), (3, 4, 24), (6, 8, 36)]
    for track, channel, program in ((melody, 0, 73), (piano, 1, 0), (drums, 9, 0), (empty, 2, 48)):
        # The program first: music21 takes the first instrument it meets (from "Bass" it
        # guesses a choir bass).
        assert track[0].type == "program_change" and track[0].time == 0
        assert track[0].program == program
        assert track[1].type == "track_name" and track[1].time == 0
        assert {m.channel for m in track if hasattr(m, "channel")} == {channel}
    # MuseScore drops the conductor (no notes) and gives the keys of a track that has them
    # to every staff: one copy, in the first pitched track with notes, not one per track.
    assert [m.key for m in melody if m.type == "key_signature"] == keys
    assert [[m.key for m in t if m.type == "key_signature"] for t in (chords, piano, drums, empty)] == [[]] * 4
    # Every track, the conductor too, ends where the song ends (here the last section's end).
    song_end = full_score().end_tick
    for track in midi.tracks:
        assert sum(m.time for m in track) == song_end and track[-1].type == "end_of_track"


def test_chord_names_are_spelled_in_the_key():
    f_sharp = KeySignature(0, 6, "major")
    names = [chord_text(ChordSymbol(0, 1, root, q, root), f_sharp)
             for root, q in ((6, "maj"), (8, "min"), (10, "min"), (11, "maj"), (1, "7"), (3, "min"))]
    assert names == ["F#", "G#m", "A#m", "B", "C#7", "D#m"]
    assert chord_text(ChordSymbol(0, 1, 10, "maj", 5), f_sharp) == "A#/E#"
    f_sharp_minor = KeySignature(0, 6, "minor")
    assert chord_text(ChordSymbol(0, 1, 1, "7", 5), f_sharp_minor) == "C#7/E#"
    e_flat = KeySignature(0, 3, "major")
    assert [chord_text(ChordSymbol(0, 1, r, "maj", r), e_flat) for r in (3, 8, 10, 1, 6)] == \
        ["Eb", "Ab", "Bb", "Db", "Gb"]
    c_minor = KeySignature(0, 0, "minor")
    assert chord_text(ChordSymbol(0, 1, 7, "maj", 11), c_minor) == "G/B"       # raised 7th
    assert chord_text(ChordSymbol(0, 1, 8, "maj", 8), c_minor) == "Ab"
    d_major = KeySignature(0, 2, "major")
    assert chord_text(ChordSymbol(0, 1, 10, "maj", 10), d_major) == "Bb"        # borrowed bVI
    assert chord_text(ChordSymbol(0, 1, 4, "7", 8), d_major) == "E7/G#"
    # No key: the plain names of PITCH_CLASS_NAMES.
    assert chord_text(ChordSymbol(0, 1, 3, "min", 3)) == "Ebm"
    # Spelled names read back to the same pitch classes, and the file keeps them.
    score = Score(key_signatures=(f_sharp,), chords=tuple(
        ChordSymbol(i * 480, 480, r, "min", (r + 7) % 12) for i, r in enumerate(range(12))))
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(score)))
    assert "D#m/A#" in [m.text for m in midi.tracks[1] if m.type == "cue_marker"]
    assert read_midi_bytes(midi_bytes(score)) == score


def test_older_files_with_one_marker_per_section_and_text_chords_still_read():
    data = smf([[mido.MetaMessage("marker", text="Verse 1 [A 8]"),
                 mido.MetaMessage("marker", text="[i 4]", time=7680),
                 mido.MetaMessage("marker", text="Chorus", time=1920)],
                [mido.MetaMessage("track_name", name="Chords"), mido.MetaMessage("text", text="Ebm"),
                 mido.MetaMessage("text", text="N.C.", time=480)],
                [mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=10)]])
    score = read_midi_bytes(data)
    assert score.sections == (Section(0, 8, "A", "Verse 1"), Section(4, 4, "i", ""))
    assert score.chords == (ChordSymbol(0, 480, 3, "min", 3),)


def test_section_tags_pair_with_the_markers_at_their_tick():
    data = smf([[mido.MetaMessage("marker", text="Verse [A 8] ok"),
                 mido.MetaMessage("cue_marker", text="[A 8]"),
                 mido.MetaMessage("cue_marker", text="[x 2]", time=1920),
                 mido.MetaMessage("cue_marker", text="not a tag", time=1920),
                 mido.MetaMessage("marker", text="Bridge", time=1920)]])
    score = read_midi_bytes(data)
    # Marker text is a free name (even with brackets); a tag with no marker has no name.
    assert score.sections == (Section(0, 8, "A", "Verse [A 8] ok"), Section(1, 2, "x", ""))


def test_key_copies_in_instrument_tracks_are_one_key_but_other_keys_are_kept():
    note = [mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=10)]
    data = smf([[mido.MetaMessage("key_signature", key="F#")],
                [mido.MetaMessage("key_signature", key="F#"), mido.MetaMessage("key_signature", key="Bb", time=960)]
                + note])
    assert read_midi_bytes(data).key_signatures == (KeySignature(0, 6, "major"), KeySignature(960, 10, "major"))
    # A file with keys only in its instrument tracks keeps them all.
    data = smf([[mido.MetaMessage("track_name", name="t")],
                [mido.MetaMessage("key_signature", key="Am")] + note])
    assert read_midi_bytes(data).key_signatures == (KeySignature(0, 9, "minor"),)


def test_channels_skip_10_and_share_by_program_past_15():
    melodic = tuple(Track(f"m{i}", program=i) for i in range(15))
    extra = (Track("same program as m3", program=3), Track("new program", program=100),
             Track("drums", is_drum=True))
    channels = assign_channels(melodic + extra)
    assert channels[:15] == (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15)
    assert channels[15] == 3 and channels[16] == 0 and channels[17] == 9


def test_left_hand_shares_the_right_hands_channel():
    hands = (Track("Melody", 73), Track("Piano RH", 0), Track("Piano LH", 0), Track("Bass", 33),
             Track("Organ LH", 19), Track("Keys RH", 4), Track("Keys LH", 5))
    # Only an "X LH" right after "X RH" with the same program joins it.
    assert assign_channels(hands) == (0, 1, 1, 2, 3, 4, 5)
    score = Score(tracks=tuple(Track(t.name, t.program, notes=(Note(0, 10, 60),)) for t in hands))
    assert read_midi_bytes(midi_bytes(score)) == score


def test_other_resolution_is_rescaled_to_480():
    score = Score(resolution=96, tempos=(TempoChange(96, 600_000),),
                  tracks=(Track("a", notes=(Note(1, 2, 60), Note(3, 0, 61))),),
                  chords=(ChordSymbol(0, 96, 0, "maj", 0),))
    back = read_midi_bytes(midi_bytes(score))
    assert back.resolution == 480
    assert back.tempos == (TempoChange(480, 600_000),)
    assert back.tracks[0].notes == (Note(5, 10, 60), Note(15, 0, 61))
    assert back.chords == (ChordSymbol(0, 480, 0, "maj", 0),)


def test_text_formats():
    assert chord_text(ChordSymbol(0, 1, 9, "min7", 7)) == "Am7/G"
    assert parse_chord_text("Am7/G") == (9, "min7", 7)
    assert parse_chord_text("A:min7/G") == (9, "min7", 7)
    assert parse_chord_text("Db") == (1, "maj", 1)
    assert parse_chord_text("C#m(maj7)") == (1, "minmaj7", 1)
    assert parse_chord_text("hello") is None and parse_chord_text("Cxyz") is None
    section = Section(4, 8, "A", "Verse 1")
    assert section_marker_text(section) == "Verse 1" and section_tag_text(section) == "[A 8]"
    assert parse_section_tag("[A 8]") == ("A", 8) and parse_section_tag("Verse [A 8]") is None
    assert parse_section_marker("Verse 1 [A 8]") == ("Verse 1", "A", 8)
    assert parse_section_marker("[i 4]") == ("", "i", 4)
    assert parse_section_marker("Chorus") is None
    assert key_signature_name(6, "major") == "F#" and key_signature_name(3, "minor") == "Ebm"
    assert key_signature_name(1, "major") == "Db" and key_signature_name(11, "major") == "B"


def test_write_refuses_invalid_score(tmp_path):
    from composer.errors import ScoreError
    bad = Score(tracks=(Track("x", notes=(Note(0, 10, 200),)),))
    with pytest.raises(ScoreError, match="pitch 200"):
        write_midi(bad, tmp_path / "bad.mid")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MidiError, match="bracket"):
        midi_bytes(Score(sections=(Section(0, 1, "A]"),)))


def test_write_into_missing_folder_is_one_error(tmp_path):
    with pytest.raises(MidiError, match="cannot write"):
        write_midi(Score(), tmp_path / "nope" / "x.mid")


# ---------------------------------------------------------------- edge-case files
def test_header_only_file_with_no_tracks_is_an_empty_score():
    data = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (0).to_bytes(2, "big") \
        + (480).to_bytes(2, "big")
    assert read_midi_bytes(data) == Score()


def test_zero_length_notes_and_unterminated_notes_are_kept():
    data = smf([[mido.Message("note_on", note=60, velocity=90, time=0),
                 mido.Message("note_off", note=60, time=0),
                 mido.Message("note_on", note=62, velocity=80, time=100),
                 mido.Message("note_on", note=62, velocity=0, time=0),
                 mido.Message("note_on", note=64, velocity=70, time=50),
                 mido.Message("note_off", note=99, time=10),         # stray note-off: ignored
                 mido.MetaMessage("end_of_track", time=40)]])
    (track,) = read_midi_bytes(data).tracks
    assert track.notes == (Note(0, 0, 60, 90), Note(100, 0, 62, 80), Note(150, 50, 64, 70))


def test_same_pitch_overlap_is_paired_first_in_first_out():
    data = smf([[mido.Message("note_on", note=60, velocity=100, time=0),
                 mido.Message("note_on", note=60, velocity=50, time=100),
                 mido.Message("note_off", note=60, time=100),
                 mido.Message("note_off", note=60, time=100)]])
    (track,) = read_midi_bytes(data).tracks
    assert track.notes == (Note(0, 200, 60, 100), Note(100, 200, 60, 50))


def test_type0_is_split_by_channel():
    data = smf([[mido.MetaMessage("track_name", name="Song", time=0),
                 mido.Message("program_change", channel=0, program=33, time=0),
                 mido.Message("program_change", channel=3, program=81, time=0),
                 mido.Message("control_change", channel=3, control=64, value=127, time=0),
                 mido.Message("note_on", channel=0, note=40, velocity=90, time=0),
                 mido.Message("note_on", channel=3, note=70, velocity=91, time=0),
                 mido.Message("note_on", channel=9, note=36, velocity=92, time=0),
                 mido.Message("pitchwheel", channel=3, pitch=-100, time=10),
                 mido.Message("note_off", channel=9, note=36, time=50),
                 mido.Message("note_off", channel=0, note=40, time=60),
                 mido.Message("note_off", channel=3, note=70, time=0)]], type_=0)
    score = read_midi_bytes(data)
    assert score.title == "Song"
    assert [(t.name, t.program, t.is_drum) for t in score.tracks] == [
        ("Channel 1", 33, False), ("Channel 4", 81, False), ("Drums", 0, True)]
    bass, lead, drums = score.tracks
    assert bass.notes == (Note(0, 120, 40, 90),)
    assert lead.notes == (Note(0, 120, 70, 91),) and lead.controls == (ControlChange(0, 64, 127),)
    assert lead.pitch_bends == (PitchBend(10, -100),)
    assert drums.notes == (Note(0, 60, 36, 92),)
    assert read_midi_bytes(midi_bytes(score)) == score


def test_type1_track_with_several_channels_and_a_program_change_is_split():
    data = smf([[mido.MetaMessage("set_tempo", tempo=600_000)],
                [mido.MetaMessage("track_name", name="Keys"),
                 mido.Message("program_change", channel=0, program=0),
                 mido.Message("note_on", channel=0, note=60, velocity=90),
                 mido.Message("note_on", channel=1, note=64, velocity=90),
                 mido.Message("note_off", channel=0, note=60, time=480),
                 mido.Message("note_off", channel=1, note=64),
                 mido.Message("program_change", channel=0, program=4),
                 mido.Message("note_on", channel=0, note=62, velocity=90),
                 mido.Message("note_off", channel=0, note=62, time=480)]])
    score = read_midi_bytes(data)
    assert [(t.name, t.program, [n.pitch for n in t.notes]) for t in score.tracks] == [
        ("Keys ch1 program 0", 0, [60]), ("Keys ch1 program 4", 4, [62]), ("Keys ch2", 0, [64])]
    assert score.tempos == (TempoChange(0, 600_000),)


def test_drums_only_file():
    data = smf([[mido.MetaMessage("track_name", name="Kit"),
                 *[m for i in range(16) for m in (
                     mido.Message("note_on", channel=9, note=36 + i % 3, velocity=100, time=0 if i == 0 else 60),
                     mido.Message("note_off", channel=9, note=36 + i % 3, time=60))]]])
    score = read_midi_bytes(data)
    (kit,) = score.tracks
    assert kit.name == "Kit" and kit.is_drum and len(kit.notes) == 16
    assert read_midi_bytes(midi_bytes(score)) == score
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(score)))
    assert {m.channel for m in midi.tracks[1] if not m.is_meta} == {9}


def test_100_tempo_changes_and_seconds():
    tempos = [mido.MetaMessage("set_tempo", tempo=400_000 + 1000 * i, time=0 if i == 0 else 480)
              for i in range(100)]
    data = smf([tempos, [mido.Message("note_on", note=60, velocity=1),
                         mido.Message("note_off", note=60, time=480 * 100)]])
    score = read_midi_bytes(data)
    assert len(score.tempos) == 100
    assert score.tempos[99] == TempoChange(99 * 480, 499_000)
    assert score.duration_seconds == pytest.approx(sum(400_000 + 1000 * i for i in range(100)) / 1e6)
    assert read_midi_bytes(midi_bytes(score)) == score


@pytest.mark.parametrize("numerator,denominator", [(3, 4), (6, 8)])
def test_meters_3_4_and_6_8(numerator, denominator):
    data = smf([[mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator),
                 mido.MetaMessage("marker", text="Verse [A 2]", time=0),
                 mido.MetaMessage("marker", text="Chorus [B 1]", time=2 * numerator * 480 * 4 // denominator)],
                [mido.Message("note_on", note=60, velocity=64),
                 mido.Message("note_off", note=60, time=10)]])
    score = read_midi_bytes(data)
    assert score.time_signatures == (TimeSignature(0, numerator, denominator),)
    assert score.sections == (Section(0, 2, "A", "Verse"), Section(2, 1, "B", "Chorus"))
    assert score.bar_to_tick(3) == 3 * numerator * 1920 // denominator
    assert read_midi_bytes(midi_bytes(score)) == score


def test_meter_with_bars_shorter_than_a_tick_is_skipped():
    """1/64 at 1 tick per quarter would make a zero-tick bar (and endless bar arithmetic)."""
    data = smf([[mido.MetaMessage("time_signature", numerator=1, denominator=64),
                 mido.MetaMessage("marker", text="[A 2]", time=10)]], tpb=1)
    score = read_midi_bytes(data)
    assert score.time_signatures == () and score.sections == (Section(2, 2, "A"),)
    assert score.n_bars == 4


def test_foreign_markers_and_unknown_text_are_ignored():
    data = smf([[mido.MetaMessage("marker", text="Chorus"), mido.MetaMessage("text", text="Am")],
                [mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=10)]])
    score = read_midi_bytes(data)
    assert score.sections == () and score.chords == ()


def test_alien_chunk_is_skipped():
    data = smf([[mido.Message("note_on", note=60, velocity=64), mido.Message("note_off", note=60, time=10)]])
    header, track = data[:14], data[14:]
    alien = b"XFIH" + (3).to_bytes(4, "big") + b"abc"
    assert read_midi_bytes(header + alien + track) == read_midi_bytes(data)


# ---------------------------------------------------------------- bad input
def _one_line_error(data: bytes) -> str:
    with pytest.raises(MidiError) as info:
        read_midi_bytes(data, name="x.mid")
    message = str(info.value)
    assert "\n" not in message and message.startswith("x.mid: ")
    return message


def test_empty_bytes():
    assert "empty file" in _one_line_error(b"")


def test_text_file_is_not_midi(tmp_path):
    path = tmp_path / "notes.mid"
    path.write_text("hello, this is not a MIDI file\n")
    with pytest.raises(MidiError, match="not a MIDI file"):
        read_midi(path)


def test_random_bytes_are_refused():
    rng = random.Random(0)
    for _ in range(50):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        _one_line_error(data)


def _refused_or_read(data: bytes) -> bool:
    """True if ``data`` reads, False if it is refused with a clean one-line MidiError (any other
    error fails).  What reads must be a valid Score that our writer writes and our reader reads
    back unchanged: a reader that returned a broken or half-read Score would fail here."""
    try:
        score = read_midi_bytes(data, name="x.mid")
    except MidiError as err:
        assert "\n" not in str(err) and str(err).startswith("x.mid: ")
        return False
    assert isinstance(score, Score)
    score.validate()
    assert read_midi_bytes(midi_bytes(score)) == score
    return True


def test_random_bytes_after_a_valid_header_are_refused_or_read():
    """Garbage inside a track chunk: either a clean MidiError or a Score, never another error."""
    rng = random.Random(1)
    header = b"MThd" + bytes([0, 0, 0, 6, 0, 1, 0, 1, 1, 224])
    for _ in range(200):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        _refused_or_read(header + b"MTrk" + len(body).to_bytes(4, "big") + body)


def test_a_real_file_with_bytes_changed_is_refused_or_read():
    """One to three bytes changed inside the tracks of a real file: some files still read
    (about a third with this seed), so the success path is checked too, not only the errors."""
    data = midi_bytes(full_score())
    rng = random.Random(1)
    outcomes = []
    for _ in range(200):
        damaged = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(22, len(damaged))] = rng.randrange(256)   # past MThd and MTrk's length
        outcomes.append(_refused_or_read(bytes(damaged)))
    assert 0 < sum(outcomes) < len(outcomes)    # both paths ran


def test_every_truncation_of_a_real_file_is_one_clean_error():
    data = midi_bytes(full_score())
    for cut in range(0, len(data) - 1, 7):
        _one_line_error(data[:cut])


def test_type2_is_refused():
    data = smf([[mido.Message("note_on", note=60, velocity=64)]], type_=2)
    assert "type 2" in _one_line_error(data)


def test_smpte_division_and_corrupt_headers():
    base = b"MThd" + bytes([0, 0, 0, 6, 0, 1, 0, 0])
    assert "SMPTE" in _one_line_error(base + bytes([0xE7, 0x28]))
    assert "0 ticks" in _one_line_error(base + bytes([0, 0]))
    assert "unknown MIDI file type" in _one_line_error(b"MThd" + bytes([0, 0, 0, 6, 0, 7, 0, 0, 1, 224]))
    assert "truncated" in _one_line_error(b"MThd" + bytes([0, 0, 0, 6, 0, 1, 0, 3, 1, 224]))


def test_corrupt_track_bytes():
    header = b"MThd" + bytes([0, 0, 0, 6, 0, 1, 0, 1, 1, 224])
    running_status_without_status = b"MTrk" + bytes([0, 0, 0, 3, 0, 0x3C, 0x40])
    assert "corrupt track 1" in _one_line_error(header + running_status_without_status)
    overrun = b"MTrk" + bytes([0, 0, 0, 3, 0, 0x90, 0x3C])
    assert "corrupt track 1" in _one_line_error(header + overrun)


def test_limits(tmp_path, monkeypatch):
    path = tmp_path / "big.mid"
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(MidiError, match="MB limit"):
        read_midi(path)
    import composer.io.midi as midi_module
    monkeypatch.setattr(midi_module, "MAX_NOTES", 10)
    data = smf([[m for i in range(11) for m in (mido.Message("note_on", note=60, velocity=64),
                                                 mido.Message("note_off", note=60, time=1))]])
    with pytest.raises(MidiError, match="more than 10 notes"):
        read_midi_bytes(data)
    assert MAX_NOTES == 2_000_000


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MidiError, match="no such file"):
        read_midi(tmp_path / "absent.mid")
    with pytest.raises(MidiError, match="is a folder"):
        read_midi(tmp_path)


# ---------------------------------------------------------------- real files
def _check_converted(path: Path, tmp_path: Path) -> None:
    original = mido.MidiFile(path)
    tpb = original.ticks_per_beat
    score = read_midi(path)
    out = tmp_path / "out.mid"
    write_midi(score, out)
    back = read_midi(out)
    # Independent reference: mido's own messages, paired FIFO per (track, channel, pitch).
    expected = []
    for track in original.tracks:
        tick, sounding = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append(tick)
            elif msg.type in ("note_on", "note_off") and sounding.get((msg.channel, msg.note)):
                start = sounding[(msg.channel, msg.note)].pop(0)
                # Rescaled to 480 PPQ as the writer does: nearest tick, halves up.
                expected.append((msg.note, (start * 480 + tpb // 2) // tpb,
                                 (tick * 480 + tpb // 2) // tpb, msg.channel == 9))
    got = sorted((n.pitch, n.start_tick, n.end_tick, t.is_drum) for t in back.tracks for n in t.notes)
    assert got == sorted(expected)
    programs = {m.program for t in original.tracks for m in t if m.type == "program_change"}
    assert {t.program for t in back.tracks} <= programs | {0}
    assert [t.program for t in back.tracks] == [t.program for t in score.tracks]
    assert back.tempos == score.tempos and len(back.tempos) == sum(
        m.type == "set_tempo" for t in original.tracks for m in t)
    if tpb == 480:
        assert back == score  # the whole Score survives


@pytest.mark.data
@pytest.mark.skipif(not POP909_001.exists(), reason="POP909 data absent")
def test_pop909_file_converts_with_every_note(tmp_path):
    _check_converted(POP909_001, tmp_path)
    score = read_midi(POP909_001)
    assert [t.name for t in score.tracks] == ["MELODY", "BRIDGE", "PIANO"]


@pytest.mark.data
@pytest.mark.skipif(not GROOVE.exists(), reason="Groove data absent")
def test_groove_file_converts_with_every_note(tmp_path):
    path = next(iter(sorted(GROOVE.rglob("*.mid"))))
    _check_converted(path, tmp_path)
    assert all(t.is_drum for t in read_midi(path).tracks)


def test_running_status_sysex_and_odd_events_are_parsed_like_mido():
    body = bytes([
        0x00, 0xFF, 0x03, 0x04, *b"Lead",                  # track name
        0x00, 0xF0, 0x03, 0x7E, 0x7F, 0xF7,               # sysex (cancels running status)
        0x00, 0x91, 0x3C, 0x50,                           # note on, channel 2
        0x10, 0x40, 0x51,                                 # running status: another note on
        0x20, 0x3C, 0x00,                                 # running status, velocity 0 = off
        0x00, 0xFF, 0x7F, 0x02, 0x01, 0x02,               # sequencer-specific meta: skipped
        0x00, 0xFF, 0x59, 0x02, 0x09, 0x00,               # key signature of 9 sharps: skipped
        0x08, 0x81, 0x40, 0x00,                           # note off
        0x00, 0xB1, 0x40, 0x7F,                           # sustain on
        0x81, 0x00, 0xE1, 0x00, 0x40,                     # pitch bend centre after 128 ticks
        0x00, 0xFF, 0x2F, 0x00,
    ])
    data = b"MThd" + bytes([0, 0, 0, 6, 0, 1, 0, 1, 0, 96]) + b"MTrk" + len(body).to_bytes(4, "big") + body
    score = read_midi_bytes(data)
    assert score.resolution == 96 and score.key_signatures == ()
    (lead,) = score.tracks
    assert lead.name == "Lead"
    assert lead.notes == (Note(0, 48, 60, 80), Note(16, 40, 64, 81))
    assert lead.controls == (ControlChange(56, 64, 127),) and lead.pitch_bends == (PitchBend(184, 0),)


def test_mutated_files_give_a_score_or_one_midi_error():
    rng = random.Random(7)
    seed = midi_bytes(full_score())
    for _ in range(300):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(data))
            data[i] = rng.randrange(256)
        try:
            score = read_midi_bytes(bytes(data), name="m.mid")
        except MidiError as err:
            assert "\n" not in str(err)
        else:
            back = read_midi_bytes(midi_bytes(score.validate()))
            if score.resolution == 480:  # else ticks are rescaled on writing
                assert back == score


def test_key_names_are_spelled_as_the_key_signature_is():
    # Seed 3 printed "C# major" beside a file, key signature and chord names in D-flat.
    from composer.form import FormPlan, Phrase
    assert [str(KeySignature(0, t, "major")) for t in (1, 6, 8)] == ["Db major", "F# major", "Ab major"]
    assert [str(KeySignature(0, t, "minor")) for t in (3, 8, 10)] == ["Eb minor", "G# minor", "Bb minor"]
    for mode in ("major", "minor"):
        for tonic in range(12):
            name = key_signature_name(tonic, mode)
            assert str(KeySignature(0, tonic, mode)) == f"{name.rstrip('m')} {mode}"
            # ... and the written key reads back as the same key.
            score = Score(key_signatures=(KeySignature(0, tonic, mode),), chords=(ChordSymbol(0, 480, tonic, "maj", tonic),))
            assert read_midi_bytes(midi_bytes(score)).key_signatures == score.key_signatures
    # generate prints the plan's keys: the same spelling.
    plan = FormPlan((Phrase("A", 2), Phrase("B", 2)), key_tonic=(1, 1, 3, 3), key_mode=(0, 0, 1, 1))
    assert plan.key_names() == "Db major -> Eb minor (bar 3)"


def test_xf_chords_sit_on_the_nearest_onset_and_the_cue_points_stay():
    # MuseScore shows an XF chord only above a note starting on its very tick: on a
    # humanized melody the event moves to the melody's onset (within a 128th); the Cue
    # Point we read back stays on the chord, so the Score survives unchanged.
    chords = (ChordSymbol(0, 480, 0, "maj", 0), ChordSymbol(480, 480, 7, "7", 7), ChordSymbol(960, 480, 9, "min", 9),
              ChordSymbol(1440, 480, 5, "maj", 5))
    melody = Track("Melody", 71, notes=(Note(9, 400, 72), Note(475, 400, 71), Note(1100, 300, 72)))
    piano = Track("Piano", 0, notes=(Note(0, 470, 48), Note(950, 470, 45), Note(1456, 400, 41)))
    drums = Track("Drums", 0, is_drum=True, notes=(Note(1441, 60, 36),))
    score = Score(chords=chords, tracks=(drums, melody, piano))
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(score)))
    tick, xf, cues = 0, [], []
    for m in midi.tracks[1]:
        tick += m.time
        if m.type == "sequencer_specific":
            xf.append(tick)
        elif m.type == "cue_marker":
            cues.append((tick, m.text))
    # melody onset 9; melody 475; piano 950 (no melody onset near 960); 1440: piano's 1456
    # is past a 128th (15 ticks) and drums do not count, so the chord's own tick.
    assert xf == [9, 475, 950, 1440]
    assert cues == [(0, "C"), (480, "G7"), (960, "Am"), (1440, "F"), (1920, "N.C.")]
    assert read_midi_bytes(midi_bytes(score)) == score
