"""Chord charts (``| C | Am | F G |``) read exactly, their key, and a song kept on them."""
from __future__ import annotations

import pytest

from composer.errors import ComposerError
from composer.chart import ChartError, compose_from_chart, estimate_key, parse_chart
from composer.score import QUALITY_NAMES
from test_pipeline import tiny_composer


def beats(text: str, beats_per_bar: int = 4) -> list[str]:
    grid = parse_chart(text, beats_per_bar)
    return [f"{r}:{QUALITY_NAMES[q]}/{b}" if r >= 0 else "-" for r, q, b in zip(grid.root, grid.quality, grid.bass)]


def test_a_chart_is_a_chord_per_beat():
    assert beats("| C | Am | F G |") == ["0:maj/0"] * 4 + ["9:min/9"] * 4 + ["5:maj/5"] * 2 + ["7:maj/7"] * 2
    # No outer bar lines, %, N.C., slash chords and sevenths; 3/4 takes 1 or 3 chords.
    assert beats("G7/B | % | N.C.", 3) == ["7:7/11"] * 6 + ["-"] * 3
    assert beats("C D E", 3) == ["0:maj/0", "2:maj/2", "4:maj/4"]


@pytest.mark.parametrize("text, message", [
    ("", "the chord chart has no bars"),
    ("| C | | G |", "bar 2 is empty"),
    ("| C D E |", "bar 1 has 3 chords; a bar of 4 beats takes 1, 2 or 4"),
    ("| C | Hm |", "bar 2: 'Hm' is not a chord name"),
    ("| % |", "bar 1 is %, but there is no bar before it"),
    ("| C " * 513, "the chord chart has 513 bars; a song has at most 512"),
])
def test_a_bad_chart_is_one_line(text, message):
    with pytest.raises(ChartError) as info:
        parse_chart(text, 4)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_key_of_a_chart():
    assert estimate_key(parse_chart("| C | Am | F G | C |", 4)) == (0, 0)
    assert estimate_key(parse_chart("| Am | Dm | E7 | Am |", 4)) == (9, 1)
    assert estimate_key(parse_chart("| Eb | Cm | Ab Bb | Eb |", 4)) == (3, 0)
    assert estimate_key(parse_chart("| N.C. |", 4)) == (0, 0)


def test_a_song_over_a_chart_keeps_its_chords():
    composer = tiny_composer()
    song = compose_from_chart(composer, "| C | Am | F G | C |", form="A4", seed=3, steps=2)
    assert [(c.start_tick // song.resolution, c.root, c.quality) for c in song.chords] == [
        (0, 0, "maj"), (4, 9, "min"), (8, 5, "maj"), (10, 7, "maj"), (12, 0, "maj")]
    assert [(s.label, s.n_bars) for s in song.sections] == [("A", 4)]
    assert str(song.key_signatures[0]) == "C major" and song.track("Melody").notes
    with pytest.raises(ComposerError):
        compose_from_chart(composer, "| C | Am | F G | C |", form="A8", seed=3, steps=2)


def test_the_chords_track_plays_the_chord_symbols():
    from composer.chart import chord_track, with_chord_track
    from composer.score import ChordSymbol, Note, Score, Track

    song = Score(chords=(ChordSymbol(0, 1920, 9, "min", 9), ChordSymbol(1920, 960, 7, "7", 11)),
                 tracks=(Track("Melody", 71, False, (Note(0, 480, 72, 90),)),))
    track = chord_track(song)
    assert track.name == "Chords" and not track.is_drum
    assert [(n.start_tick, n.duration_ticks, n.pitch) for n in track.notes] == [
        (0, 1920, 45), (0, 1920, 57), (0, 1920, 60), (0, 1920, 64),              # A2 | A3 C4 E4
        (1920, 960, 47), (1920, 960, 55), (1920, 960, 59), (1920, 960, 62), (1920, 960, 65)]  # B2 | G3 B3 D4 F4
    again = with_chord_track(with_chord_track(song))
    assert [t.name for t in again.tracks] == ["Melody", "Chords"]


def test_generate_over_a_chart_on_the_command_line(tmp_path, capsys):
    from composer.cli import main
    from composer.io.midi import read_midi
    from reliability_fixtures import save_tiny_models

    from composer.io.checkpoint import save_checkpoint
    from composer.nets.drums import DrumDenoiser

    models = save_tiny_models(tmp_path / "models")
    drums = dict(width=16, n_conv=1, n_attn=1, heads=2)  # a drum level too: the song gets its Drums
    save_checkpoint(models / "drums", DrumDenoiser(**drums), "drums", drums)
    out = tmp_path / "song.mid"
    assert main(["generate", "--models", str(models), "--chords", "| Am | F | C | G E7 |", "--seed", "2",
                 "--steps", "2", "-o", str(out)]) == 0
    song = read_midi(out)
    assert [(c.start_tick // song.resolution, c.root, c.quality) for c in song.chords] == [
        (0, 9, "min"), (4, 5, "maj"), (8, 0, "maj"), (12, 7, "maj"), (14, 4, "7")]
    assert song.n_bars == 4 and str(song.key_signatures[0]) == "A minor"
    assert [t.name for t in song.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass", "Drums"]
    capsys.readouterr()
    for args, message in [(["--chords", "| C | Hm |"], "bar 2: 'Hm' is not a chord name"),
                          (["--chords", "| C | Am |", "--bars", "4"], "the chords have 2 bars but --bars says 4")]:
        assert main(["generate", "--models", str(models), "-o", str(tmp_path / "x.mid"), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.mid").exists()


def test_a_chart_without_a_form_is_sung_over_in_phrases_of_its_own_repetitions():
    # The form level, asked for 16 bars, made half of such a chart intro and outro (no melody).
    song = compose_from_chart(tiny_composer(), "| C | Am | F | G |" * 3 + "| Dm | G | C | C |", seed=3, steps=2)
    assert [(s.label, s.n_bars) for s in song.sections] == [("A", 8), ("B", 8)]
    song = compose_from_chart(tiny_composer(), "| N.C. |" + "| C | Am | F | G |" * 4, seed=3, steps=2)
    assert [(s.label, s.n_bars) for s in song.sections] == [("i", 1), ("A", 8), ("A", 8)]
