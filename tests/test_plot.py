"""composer.plot and `composer plot`: roles by content, notes drawn in their role's colour
where they are, bad input refused in one line with nothing written."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from composer.cli import main
from composer.io.midi import write_midi
from composer.plot import ROLE_COLOURS, PlotError, classify_tracks, draw_score
from composer.score import ChordSymbol, Note, Score, Section, TempoChange, TimeSignature, Track

PIL = pytest.importorskip("PIL.Image")
R = 480
BAR = 4 * R


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def hand_song() -> Score:
    """8 bars with no track named Melody: a high lead line (one note per beat), piano chords
    of three notes per bar, a bass on program 33 named "Low end", and a drum track."""
    lead = tuple(Note(b * R, R, 76 + (b % 5), 90) for b in range(32))
    chords = tuple(Note(bar * BAR, BAR, p, 60) for bar in range(8) for p in (55, 59, 62))
    bass = tuple(Note(bar * BAR, 2 * R, 40, 80) for bar in range(8))
    drums = tuple(Note(b * R, 60, 36 if b % 2 == 0 else 38, 100) for b in range(32))
    return Score(resolution=R, tempos=(TempoChange.from_bpm(0, 100),),
                 time_signatures=(TimeSignature(0, 4, 4),),
                 sections=(Section(0, 4, "A", "Verse"), Section(4, 4, "B", "Chorus")),
                 chords=tuple(ChordSymbol(bar * BAR, BAR, 7, "maj", 7) for bar in range(8)),
                 tracks=(Track("Keys", 0, False, chords), Track("Low end", 33, False, bass),
                         Track("Lead", 81, False, lead), Track("Kit", 0, True, drums)),
                 title="hand song").validate()


def test_roles_follow_content_not_names():
    assert classify_tracks(hand_song()) == ("accompaniment", "bass", "melody", "drums")
    # A track named Melody wins over a higher monophonic one; "Bass" in a name is bass.
    line = tuple(Note(i * R, R, 90, 80) for i in range(8))
    low = tuple(Note(i * R, R, 60, 80) for i in range(8))
    s = Score(tracks=(Track("Flute", 73, False, line), Track("Melody", 0, False, low),
                      Track("Synth Bass", 81, False, low)))
    assert classify_tracks(s) == ("accompaniment", "melody", "bass")
    # Two piano hands, both chordal: neither is a melody.
    rh = tuple(Note(i * R, R, p, 80) for i in range(8) for p in (72, 76, 79))
    lh = tuple(Note(i * R, R, p, 80) for i in range(8) for p in (48, 55))
    assert classify_tracks(Score(tracks=(Track("Piano RH", 0, False, rh),
                                         Track("Piano LH", 0, False, lh)))) == ("accompaniment",) * 2
    # A lone track is accompaniment, not a melody over nothing.
    assert classify_tracks(Score(tracks=(Track("Solo", 0, False, line),))) == ("accompaniment",)


def test_png_has_the_size_and_each_note_is_drawn_in_its_colour(tmp_path):
    song = hand_song()
    image = draw_score(song, tmp_path / "song.png", width_px=1200, height_px=480)
    assert (tmp_path / "song.png").read_bytes() == image.png
    pixels = np.asarray(PIL.open(io.BytesIO(image.png)).convert("RGB"))
    assert pixels.shape == (480, 1200, 3)
    roles = dict(zip([t.name for t in song.tracks], image.roles))
    for track in song.tracks:
        if track.is_drum:
            continue
        colour = rgb(ROLE_COLOURS[roles[track.name]])
        for note in track.notes:
            x, y = image.pixel(note.start_tick + note.duration_ticks / 2, note.pitch)
            assert tuple(pixels[y, x]) == colour, (track.name, note)
    # Where nothing plays (the lead's lane one octave up, above every note), no melody colour.
    x, y = image.pixel(BAR * 2.5, 76 + 12)
    assert tuple(pixels[y, x]) != rgb(ROLE_COLOURS["melody"])
    # The melody colour appears only in the roll's columns where the lead plays: none before
    # bar 1's first onset (left of x at tick 0) and none after the last note's end.
    melody = np.all(pixels == rgb(ROLE_COLOURS["melody"]), axis=2)
    x_first, _ = image.pixel(0, 76)
    x_last, _ = image.pixel(32 * R, 76)
    melody[:30] = False  # the legend's melody swatch sits in the title row
    cols = np.nonzero(melody.any(axis=0))[0]
    assert cols.min() >= x_first - 1 and cols.max() <= x_last + 1
    # Drums get their own lane below the roll in their colour.
    assert np.all(pixels == rgb(ROLE_COLOURS["drums"]), axis=2)[int(480 * 0.7):].any()


def test_moving_the_melody_moves_its_pixels(tmp_path):
    """The check above can fail: a song whose lead sits an octave lower is drawn lower."""
    song = hand_song()
    lower = song.replace(tracks=tuple(
        t if t.name != "Lead" else Track(t.name, t.program, False,
                                         tuple(Note(n.start_tick, n.duration_ticks, n.pitch - 12, 90)
                                               for n in t.notes))
        for t in song.tracks))
    a, b = draw_score(song, width_px=1200, height_px=480), draw_score(lower, width_px=1200, height_px=480)
    first = song.track("Lead").notes[0]
    pa = np.asarray(PIL.open(io.BytesIO(a.png)).convert("RGB"))
    pb = np.asarray(PIL.open(io.BytesIO(b.png)).convert("RGB"))
    x, y = a.pixel(first.start_tick + R / 2, first.pitch)
    assert tuple(pa[y, x]) == rgb(ROLE_COLOURS["melody"])
    assert tuple(pb[y, x]) != rgb(ROLE_COLOURS["melody"])
    x, y = b.pixel(first.start_tick + R / 2, first.pitch - 12)
    assert tuple(pb[y, x]) == rgb(ROLE_COLOURS["melody"])


def test_empty_song_and_bad_size_are_refused(tmp_path):
    with pytest.raises(PlotError, match="no notes"):
        draw_score(Score(tracks=(Track("x"),)), tmp_path / "e.png")
    with pytest.raises(PlotError, match="outside"):
        draw_score(hand_song(), tmp_path / "e.png", width_px=10)
    assert not (tmp_path / "e.png").exists()


def test_cli_plot_writes_png(tmp_path, capsys):
    write_midi(hand_song(), tmp_path / "song.mid")
    assert main(["plot", str(tmp_path / "song.mid"), "-o", str(tmp_path / "song.png"),
                 "--width", "800", "--height", "300"]) == 0
    assert PIL.open(tmp_path / "song.png").size == (800, 300)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("args, phrase", [
    (["{dir}/missing.mid", "-o", "{dir}/out.png"], "no such file"),
    (["{dir}/junk.mid", "-o", "{dir}/out.png"], "junk.mid"),
    (["{dir}/empty.mid", "-o", "{dir}/out.png"], "no notes"),
    (["{dir}/song.mid", "-o", "{dir}/out.jpg"], "PNG"),
    (["{dir}/song.mid", "-o", "{dir}/out.png", "--width", "5"], "outside"),
    (["{dir}/song.mid", "-o", "{dir}/nofolder/out.png"], "does not exist"),
])
def test_cli_plot_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, phrase):
    write_midi(hand_song(), tmp_path / "song.mid")
    write_midi(Score(tracks=(Track("x"),)), tmp_path / "empty.mid")
    (tmp_path / "junk.mid").write_bytes(b"not a midi file at all")
    before = set(Path(tmp_path).iterdir())
    assert main(["plot"] + [a.format(dir=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("composer: error:") and phrase in err
    assert set(Path(tmp_path).iterdir()) == before


def test_cli_plot_keeps_existing_file_without_force(tmp_path, capsys):
    write_midi(hand_song(), tmp_path / "song.mid")
    (tmp_path / "out.png").write_bytes(b"old")
    assert main(["plot", str(tmp_path / "song.mid"), "-o", str(tmp_path / "out.png")]) == 2
    assert (tmp_path / "out.png").read_bytes() == b"old"
    assert main(["plot", str(tmp_path / "song.mid"), "-o", str(tmp_path / "out.png"), "--force"]) == 0
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"
