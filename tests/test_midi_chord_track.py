"""The optional chord track (issue 23): each chord's notes held on a soft pad after the
instruments, which a DAW plays and every MIDI library reads (the chord names themselves
are Cue Points and XF events, which none of them reads).  Read back with pretty_midi,
miditoolkit, muspy and music21, and through `composer export --chord-track`."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from composer.cli import main
from composer.io.midi import (CHORD_PAD_NAME, CHORD_PAD_PROGRAM, chord_pad_track, chord_voicing, midi_bytes,
                              read_midi, read_midi_bytes, write_midi)
from composer.score import ChordSymbol

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_musicxml import song  # noqa: E402  (F# major, 3/4, four chords a bar each)

BAR = 3 * 480


def chords_by_onset(notes) -> list[tuple[float, float, frozenset[int]]]:
    """(start, end, pitch classes) of each group of notes that start together."""
    groups: dict[float, list] = {}
    for n in notes:
        groups.setdefault(n[0], []).append(n)
    return [(start, max(n[1] for n in group), frozenset(n[2] % 12 for n in group))
            for start, group in sorted(groups.items())]


def expected(score, seconds_per_tick=1.0):
    return [(c.start_tick * seconds_per_tick, c.end_tick * seconds_per_tick, c.pitch_classes) for c in score.chords]


def test_chord_voicing_puts_the_slash_bass_under_close_tones():
    # C major over E: E3 under C4 E4 G4; A minor seventh over G: G3 under A3 C4 E4 G4;
    # F# major: F#4 A#4 C#5 (roots from G3 to F#4).
    assert chord_voicing(ChordSymbol(0, 480, 0, "maj", 4)) == (52, 60, 64, 67)
    assert chord_voicing(ChordSymbol(0, 480, 9, "min7", 7)) == (55, 57, 60, 64, 67)
    assert chord_voicing(ChordSymbol(0, 480, 6, "maj", 6)) == (66, 70, 73)


def test_the_chord_track_is_the_song_plus_one_track_of_its_chords():
    base = song()
    data = midi_bytes(base, chord_track=True)
    back = read_midi_bytes(data)
    # Every other track, the chords, keys and sections as without it; one track more.
    assert back.replace(tracks=back.tracks[:-1]) == base
    pad = back.tracks[-1]
    assert (pad.name, pad.program, pad.is_drum) == (CHORD_PAD_NAME, CHORD_PAD_PROGRAM, False)
    assert pad == chord_pad_track(base)
    got = chords_by_onset([(n.start_tick, n.end_tick, n.pitch) for n in pad.notes])
    assert got == expected(base)
    # Off, and for a song without chords, the bytes are those of the plain writer.
    assert midi_bytes(base) == midi_bytes(base, chord_track=False) != data
    no_chords = base.replace(chords=())
    assert midi_bytes(no_chords, chord_track=True) == midi_bytes(no_chords)


def test_every_library_reads_the_chords_from_the_chord_track(tmp_path):
    pretty_midi = pytest.importorskip("pretty_midi")
    miditoolkit = pytest.importorskip("miditoolkit")
    muspy = pytest.importorskip("muspy")
    music21 = pytest.importorskip("music21")
    base = song()
    mid = tmp_path / "pad.mid"
    write_midi(base, mid, chord_track=True)
    seconds = 60 / 96 / 480     # 96 bpm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # pretty_midi's note on the key copy for MuseScore
        pm = pretty_midi.PrettyMIDI(str(mid))
    pad = [i for i in pm.instruments if i.name == CHORD_PAD_NAME]
    assert len(pad) == 1 and pad[0].program == CHORD_PAD_PROGRAM and not pad[0].is_drum
    got = chords_by_onset([(round(n.start / seconds), round(n.end / seconds), n.pitch) for n in pad[0].notes])
    assert got == expected(base)
    tk = [i for i in miditoolkit.MidiFile(str(mid)).instruments if i.name == CHORD_PAD_NAME]
    assert chords_by_onset([(n.start, n.end, n.pitch) for n in tk[0].notes]) == expected(base)
    mp = [t for t in muspy.read_midi(mid).tracks if t.name == CHORD_PAD_NAME]
    assert mp[0].program == CHORD_PAD_PROGRAM
    assert chords_by_onset([(n.time, n.end, n.pitch) for n in mp[0].notes]) == expected(base)
    parts = music21.converter.parse(str(mid)).parts
    chords = list(parts[-1].recurse().getElementsByClass("Chord"))
    assert [frozenset(p.pitchClass for p in c.pitches) for c in chords] == [c.pitch_classes for c in base.chords]


def test_export_writes_the_chord_track_and_refuses_bad_requests(tmp_path, capsys):
    mid = tmp_path / "song.mid"
    write_midi(song(), mid)
    out = tmp_path / "with-chords.mid"
    assert main(["export", str(mid), "--chord-track", str(out)]) == 0
    assert f"a '{CHORD_PAD_NAME}' track playing its 4 chords" in capsys.readouterr().out
    assert out.read_bytes() == midi_bytes(song(), chord_track=True)
    assert read_midi(out).tracks[-1].name == CHORD_PAD_NAME
    plain = tmp_path / "plain.mid"
    write_midi(song().replace(chords=()), plain)
    for args, words in (([str(mid), "--chord-track", str(out)], "--force"),
                        ([str(mid), "--chord-track", str(tmp_path / "x.musicxml")], "a MIDI file (.mid)"),
                        ([str(plain), "--chord-track", str(tmp_path / "y.mid")], "no chord symbols"),
                        ([str(mid)], "--chord-track")):
        assert main(["export", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("composer: error:") and err.count("\n") == 1 and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.mid", "song.mid", "with-chords.mid"]
