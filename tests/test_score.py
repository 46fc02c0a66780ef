"""composer/score.py: validation messages, the tempo map in seconds, bars under meter changes."""
from __future__ import annotations

import pytest

from composer.errors import ScoreError
from composer.score import (
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


def test_valid_score_validates_and_returns_itself():
    score = Score(tempos=(TempoChange(0, 500_000),), tracks=(Track("a", notes=(Note(0, 0, 60),)),))
    assert score.validate() is score


@pytest.mark.parametrize("score,message", [
    (Score(resolution=0), "resolution must be positive"),
    (Score(tempos=(TempoChange(-1, 500_000),)), "negative tick -1"),
    (Score(tempos=(TempoChange(0, 0),)), "tempo at tick 0 out of range"),
    (Score(tempos=(TempoChange(0, 0x1000000),)), "out of range"),
    (Score(time_signatures=(TimeSignature(0, 0, 4),)), "numerator 0"),
    (Score(time_signatures=(TimeSignature(0, 3, 6),)), "denominator 6"),
    (Score(key_signatures=(KeySignature(0, 12),)), "key tonic 12"),
    (Score(key_signatures=(KeySignature(0, 0, "dorian"),)), "key mode 'dorian'"),
    (Score(sections=(Section(-1, 4, "A"),)), "negative bar -1"),
    (Score(sections=(Section(0, 0, "A"),)), "has 0 bars"),
    (Score(sections=(Section(0, 4, ""),)), "empty label"),
    (Score(chords=(ChordSymbol(0, 0, 0, "maj", 0),)), "duration 0"),
    (Score(chords=(ChordSymbol(0, 480, 12, "maj", 0),)), "pitch classes"),
    (Score(chords=(ChordSymbol(0, 480, 0, "power", 0),)), "unknown quality 'power'"),
    (Score(tracks=(Track("a"), Track("a"))), "two tracks are named 'a'"),
    (Score(tracks=(Track("a", program=128),)), "program 128"),
    (Score(tracks=(Track("a", notes=(Note(0, 1, 128),)),)), "pitch 128"),
    (Score(tracks=(Track("a", notes=(Note(0, 1, 60, 0),)),)), "velocity 0"),
    (Score(tracks=(Track("a", notes=(Note(-5, 1, 60),)),)), "negative tick -5"),
    (Score(tracks=(Track("a", notes=(Note(0, -1, 60),)),)), "negative duration"),
    (Score(tracks=(Track("a", controls=(ControlChange(0, 64, 128),)),)), "controller 64=128"),
    (Score(tracks=(Track("a", pitch_bends=(PitchBend(0, 8192),)),)), "pitch bend 8192"),
])
def test_validate_names_the_value_out_of_range(score, message):
    with pytest.raises(ScoreError, match=message) as info:
        score.validate()
    assert "\n" not in str(info.value)


def test_events_are_sorted_so_equality_ignores_input_order():
    a = Score(tracks=(Track("a", notes=(Note(10, 1, 60), Note(0, 1, 62))),),
              tempos=(TempoChange(480, 400_000), TempoChange(0, 500_000)))
    b = Score(tracks=(Track("a", notes=(Note(0, 1, 62), Note(10, 1, 60))),),
              tempos=(TempoChange(0, 500_000), TempoChange(480, 400_000)))
    assert a == b and hash(a) == hash(b)


def test_seconds_at_default_tempo():
    score = Score()
    assert score.tick_to_seconds(480) == pytest.approx(0.5)
    assert score.seconds_to_tick(2.0) == 1920


def test_seconds_with_tempo_changes():
    # 120 bpm for one bar, 60 bpm for one bar, then 240 bpm; resolution 480.
    score = Score(tempos=(TempoChange.from_bpm(0, 120), TempoChange.from_bpm(1920, 60),
                          TempoChange.from_bpm(3840, 240)))
    assert score.tick_to_seconds(0) == 0.0
    assert score.tick_to_seconds(1920) == pytest.approx(2.0)
    assert score.tick_to_seconds(2400) == pytest.approx(3.0)
    assert score.tick_to_seconds(3840) == pytest.approx(6.0)
    assert score.tick_to_seconds(4320) == pytest.approx(6.25)
    for tick in (0, 1, 479, 1920, 2401, 3839, 3840, 5000, 100_000):
        assert score.seconds_to_tick(score.tick_to_seconds(tick)) == tick


def test_first_tempo_after_zero_starts_at_120_bpm():
    score = Score(tempos=(TempoChange.from_bpm(960, 60),))
    assert score.tick_to_seconds(960) == pytest.approx(1.0)
    assert score.tick_to_seconds(1440) == pytest.approx(2.0)


def test_other_resolution():
    score = Score(resolution=96, tempos=(TempoChange.from_bpm(0, 60),))
    assert score.tick_to_seconds(96) == pytest.approx(1.0)
    assert score.seconds_to_tick(2.5) == 240


def test_duration_from_notes_chords_and_sections():
    score = Score(tracks=(Track("a", notes=(Note(0, 960, 60),)),),
                  chords=(ChordSymbol(0, 1440, 0, "maj", 0),))
    assert score.end_tick == 1440 and score.duration_seconds == pytest.approx(1.5)
    assert Score(sections=(Section(1, 2, "A"),)).end_tick == 3 * 1920
    assert Score().end_tick == 0 and Score().n_bars == 0


def test_bar_to_tick_with_meter_changes():
    # Two bars of 4/4, three of 3/4, then 6/8.
    score = Score(time_signatures=(TimeSignature(0, 4, 4), TimeSignature(3840, 3, 4),
                                   TimeSignature(3840 + 3 * 1440, 6, 8)))
    starts = [0, 1920, 3840, 5280, 6720, 8160, 9600, 11040]
    assert [score.bar_to_tick(bar) for bar in range(8)] == starts
    for bar, tick in enumerate(starts):
        assert score.tick_to_bar(tick) == bar
        assert score.tick_to_bar(tick + 1) == bar
        if bar:
            assert score.tick_to_bar(tick - 1) == bar - 1


def test_meter_change_off_the_barline_starts_a_new_bar():
    # 4/4 then 3/4 from tick 2400 (a quarter into bar 1): bar 1 is cut short there.
    score = Score(time_signatures=(TimeSignature(0, 4, 4), TimeSignature(2400, 3, 4)))
    assert [score.bar_to_tick(bar) for bar in range(4)] == [0, 1920, 2400, 3840]


def test_meter_starting_late_and_n_bars():
    score = Score(time_signatures=(TimeSignature(1920, 3, 4),),
                  tracks=(Track("a", notes=(Note(1920 + 1440, 1, 60),)),))
    assert score.bar_to_tick(1) == 1920 and score.bar_to_tick(2) == 3360
    assert score.n_bars == 3


def test_key_at_and_track_lookup():
    score = Score(key_signatures=(KeySignature(0, 0), KeySignature(960, 9, "minor")),
                  tracks=(Track("Piano"),))
    assert score.key_at(0) == KeySignature(0, 0) and str(score.key_at(2000)) == "A minor"
    assert score.track("Piano").name == "Piano"
    with pytest.raises(ScoreError, match="no track named 'Bass'"):
        score.track("Bass")


def test_chord_names_and_pitch_classes():
    chord = ChordSymbol(0, 480, 0, "maj", 4)
    assert chord.name == "C:maj/E" and chord.pitch_classes == frozenset({0, 4, 7})
    assert TempoChange.from_bpm(0, 120).us_per_quarter == 500_000
    with pytest.raises(ScoreError):
        TempoChange.from_bpm(0, 0)


def _reference_bar_to_tick(score: Score, bar: int) -> int:
    """The first, linear implementation of Score.bar_to_tick, kept as the specification."""
    meters = list(score.time_signatures) or [TimeSignature(0, 4, 4)]
    if meters[0].tick > 0:
        meters.insert(0, TimeSignature(0, 4, 4))
    bars_done = 0
    for i, ts in enumerate(meters):
        length = ts.ticks_per_bar(score.resolution)
        if i + 1 == len(meters):
            return ts.tick + (bar - bars_done) * length
        span = -(-(meters[i + 1].tick - ts.tick) // length)
        if bars_done + span > bar:
            return ts.tick + (bar - bars_done) * length
        bars_done += span
    raise AssertionError("unreachable")


def test_bar_arithmetic_matches_the_linear_specification_on_random_meter_maps():
    import random
    rng = random.Random(3)
    for _ in range(200):
        resolution = rng.choice((96, 480, 960))
        meters, tick = [], rng.choice((0, 0, 240, 1920))
        for _ in range(rng.randrange(0, 6)):
            ts = TimeSignature(tick, rng.randrange(1, 13), rng.choice((2, 4, 8, 16)))
            meters.append(ts)
            # Mostly on barlines, sometimes off them, sometimes a duplicate tick.
            tick += rng.choice((ts.ticks_per_bar(resolution) * rng.randrange(1, 5),
                                rng.randrange(1, 3000), 0))
        score = Score(resolution=resolution, time_signatures=tuple(meters))
        starts = [_reference_bar_to_tick(score, bar) for bar in range(40)]
        assert [score.bar_to_tick(bar) for bar in range(40)] == starts
        for bar in range(39):
            for t in (starts[bar], starts[bar + 1] - 1, (starts[bar] + starts[bar + 1]) // 2):
                assert score.tick_to_bar(t) == bar


def test_many_meter_changes_and_sections_stay_fast():
    """10,000 meter changes and 10,000 sections: bar arithmetic is logarithmic, not linear."""
    meters = tuple(TimeSignature(i * 1440, 3, 4) if i % 2 else TimeSignature(i * 1440, 6, 8)
                   for i in range(10_000))
    sections = tuple(Section(i, 1, "A") for i in range(10_000))
    score = Score(time_signatures=meters, sections=sections)
    assert score.end_tick == 10_000 * 1440 and score.n_bars == 10_000
    assert score.tick_to_bar(10_000 * 1440 - 1) == 9_999


def test_meter_shorter_than_a_tick_is_invalid():
    with pytest.raises(ScoreError, match="shorter than a tick"):
        Score(resolution=1, time_signatures=(TimeSignature(0, 1, 64),)).validate()
