"""The mix's balance (the lead a few dB over the band) and per-track gains, exactly, with
renderers of known level; and the level measure itself."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from composer.audio import Audio
from composer.errors import RenderError
from composer.render.mix import (LEAD_OVER_BAND_DB, UNBALANCED, GainOption, MixLevels, Mixer, TrackTimbre,
                                 active_level_db, parse_gain_options, resolve_gains)
from composer.score import Note, Score, TempoChange, Track

SR = 8192  # a second is 4 frames of the level measure exactly


class Constant:
    """A renderer that plays a DC level for one second per note: its level is 20 log10(level)."""

    def __init__(self, level: float) -> None:
        self.level = level

    def render(self, score: Score, sample_rate: int) -> Audio:
        n = sample_rate * sum(len(t.notes) for t in score.tracks)
        return Audio(np.full((n, 2), self.level, np.float32), sample_rate)


def song() -> Score:
    def track(name: str, n: int) -> Track:
        return Track(name, 0, notes=tuple(Note(i * 480, 480, 60, 90) for i in range(n)))
    return Score(tempos=(TempoChange.from_bpm(0, 120),),
                 tracks=(track("Melody", 2), track("Piano RH", 3), track("Piano LH", 3), track("Bass", 1)))


LEVELS = {"loud": 0.5, "quiet": 0.05, "low": 0.1}
TIMBRES = tuple(TrackTimbre("ddsp", v) for v in ("loud", "quiet", "quiet", "low"))


def mixer() -> Mixer:
    return Mixer(factories={"ddsp": lambda name: Constant(LEVELS[name])})


def db(x: float) -> float:
    return 20 * np.log10(x)


def levels_of(stems) -> dict[str, float]:
    return {s.track_name: active_level_db([s.audio.samples]) for s in stems}


def test_the_lead_sits_over_the_loudest_other_track_and_stems_add_up():
    m = mixer()
    stems = m.render_stems(song(), SR, TIMBRES)
    got = levels_of(stems)
    # The bass (0.1) is the loudest of the band: the melody (0.5 alone) goes to 0.1 + 4 dB.
    assert got["Melody"] == pytest.approx(db(0.1) + LEAD_OVER_BAND_DB, abs=1e-4)
    assert got["Bass"] == pytest.approx(db(0.1), abs=1e-4) and got["Piano RH"] == pytest.approx(db(0.05), abs=1e-4)
    assert stems[0].gain_db == pytest.approx(db(0.1) + LEAD_OVER_BAND_DB - db(0.5), abs=1e-4)
    mix = m.render(song(), SR, TIMBRES).samples
    np.testing.assert_allclose(mix, sum(s.audio.samples for s in stems), atol=1e-6)
    # Unbalanced: each renderer's own level.
    assert levels_of(m.render_stems(song(), SR, TIMBRES, UNBALANCED))["Melody"] == pytest.approx(db(0.5), abs=1e-4)


def test_user_gains_apply_after_the_balance_and_mute_leaves_the_reference():
    levels = MixLevels(gains=parse_gain_options(["Melody=-3", "Bass=mute", "Piano=+2"]))
    m = mixer()
    stems = m.render_stems(song(), SR, TIMBRES, levels)
    got = levels_of(stems)
    # Bass muted: the pianos (0.05, then +2 dB by the user) are the band; the balance is
    # measured before the user's gains, so the melody is 0.05 + 4 dB, then -3 dB.
    assert got["Bass"] == float("-inf") and not stems[3].audio.samples.any()
    assert got["Piano LH"] == pytest.approx(db(0.05) + 2, abs=1e-4)
    assert got["Melody"] == pytest.approx(db(0.05) + LEAD_OVER_BAND_DB - 3, abs=1e-4)
    np.testing.assert_allclose(m.render(song(), SR, TIMBRES, levels).samples,
                               sum(s.audio.samples for s in stems), atol=1e-6)


def test_a_song_without_a_lead_or_a_band_is_left_as_it_is():
    solo = song().replace(tracks=song().tracks[:1])
    assert levels_of(mixer().render_stems(solo, SR, TIMBRES[:1]))["Melody"] == pytest.approx(db(0.5), abs=1e-4)
    band = song().replace(tracks=tuple(replace(t, name=f"Part {i}") for i, t in enumerate(song().tracks)))
    assert mixer().track_gains(band, SR, TIMBRES) == (0.0, 0.0, 0.0, 0.0)


def test_gain_options_are_checked():
    assert parse_gain_options(["Melody=-3", "0=+1.5dB", "Drums=mute"]) == (
        GainOption("Melody", -3.0), GainOption("0", 1.5), GainOption("Drums", float("-inf")))
    assert resolve_gains(song(), parse_gain_options(["Piano=-6", "3=off"])) == (0.0, -6.0, -6.0, float("-inf"))
    for bad, message in [("Melody", "must look like TRACK=DB"), ("Melody=loud", "not a number of dB"),
                         ("Melody=nan", r"-60 to \+24 dB"), ("Melody=100", r"-60 to \+24 dB"), ("=3", "TRACK=DB")]:
        with pytest.raises(RenderError, match=message):
            parse_gain_options([bad])
    with pytest.raises(RenderError, match="no track 'Drums'"):
        resolve_gains(song(), parse_gain_options(["Drums=-3"]))


def test_active_level_counts_only_the_time_a_track_sounds():
    tone = np.full((4096, 2), 0.1, np.float32)
    half = np.concatenate([tone, np.zeros((4096, 2), np.float32)])
    assert active_level_db([half]) == pytest.approx(db(0.1), abs=1e-6)
    assert active_level_db([half[:5000], half[5000:]]) == pytest.approx(db(0.1), abs=0.5)
    assert active_level_db([np.zeros((100, 2))]) == float("-inf") and active_level_db([]) == float("-inf")
