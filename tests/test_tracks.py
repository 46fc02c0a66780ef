"""The one rule that finds each track's role (composer/tracks.py), and the rooms that use it."""
from __future__ import annotations

from composer import tracks
from composer.io.musicxml import LEAD_NAMED, _lead_index
from composer.metrics.view import melody_and_accompaniment, song_view
from composer.plot import classify_tracks as plot_classify
from composer.score import Note, Score, Track

R = 480


def line(pitch: int, chord: int = 1) -> tuple[Note, ...]:
    return tuple(Note(i * R, R, pitch + 4 * k, 80) for i in range(8) for k in range(chord))


def test_the_rule():
    s = Score(tracks=(Track("Keys", 0, False, line(60, 3)), Track("Lead", 81, False, line(76)),
                      Track("Bassoon", 70, False, line(50)), Track("synth bass", 81, False, line(40)),
                      Track("Low", 33, False, line(36)), Track("Kit", 0, True, line(36))))
    # "Bassoon" holds "bass" but not the word: an instrument of its own, and lower than the lead.
    assert tracks.classify_tracks(s) == ("accompaniment", "melody", "accompaniment", "bass", "bass", "drums")
    assert tracks.melody_index(s) == 1
    # A track named Melody wins, even a silent one (a song whose form has no melodic phrase).
    silent = Score(tracks=(Track(" MELODY ", 0), Track("Piano RH", 0, False, line(76)),
                           Track("Piano LH", 0, False, line(48))))
    assert tracks.classify_tracks(silent) == ("melody", "accompaniment", "accompaniment")
    assert tracks.melody_index(silent) is None and tracks.named_melody_index(silent) is None


def test_plot_metrics_and_musicxml_agree_on_the_melody():
    s = Score(tracks=(Track("Piano", 0, False, line(60, 3)), Track("Solo", 73, False, line(79)),
                      Track("Bass", 33, False, line(40))))
    roles = tracks.classify_tracks(s)
    assert plot_classify(s) == roles == ("accompaniment", "melody", "bass")
    mel, acc = melody_and_accompaniment(s)
    assert [t.name for t in mel] == ["Solo"] and [t.name for t in acc] == ["Piano", "Bass"]
    assert song_view(s).accompaniment_bass.sum() == 8           # the hands leave the bass out
    named = s.replace(tracks=(s.tracks[0], Track(tracks.MELODY, 73, False, line(79)), s.tracks[2]))
    assert _lead_index(named, LEAD_NAMED) == tracks.melody_index(named) == 1


def test_the_cascade_writes_the_named_tracks_and_programs():
    assert tracks.GENERATED_TRACKS == ("Melody", "Piano RH", "Piano LH", "Bass", "Drums")
    assert (tracks.MELODY_PROGRAM, tracks.PIANO_PROGRAM, tracks.BASS_PROGRAM) == (71, 0, 33)
