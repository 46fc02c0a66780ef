"""Notes -> control curves, voice allocation, and the renderer pipeline with a tiny seeded timbre."""
import warnings

import numpy as np
import pytest
import torch

from composer.render.ddsp.controls import dls_db, fit_range, n_frames_for, step_curve, voice_controls
from composer.render.ddsp.renderer import DDSPRenderer
from composer.render.ddsp.timbre import Expression, Timbre, TimbreModel
from composer.render.ddsp.voices import TimedNote, allocate_voices
from composer.score import ControlChange, Note, PitchBend, Score, TempoChange, Track

FR = 100.0
EX = Expression(dynamics_velocity=(33, 64, 96, 112), dynamics_loudness_db=(-40.0, -32.0, -26.0, -22.0),
                attack_seconds=0.1, release_seconds=0.2, decay_db=0.0, vibrato_rate_hz=5.0,
                vibrato_depth_cents=0.0, vibrato_delay_seconds=0.3, pitch_min=60, pitch_max=96,
                silence_db=-90.0)


def cents(f_hz, pitch):
    return 1200 * np.log2(np.asarray(f_hz) / (440 * 2 ** ((pitch - 69) / 12)))


# ----------------------------------------------------------------------------- voices
def test_a_chord_takes_one_voice_per_note_and_a_melody_one_voice():
    chord = [TimedNote(0.0, 1.0, p, 80) for p in (60, 64, 67)]
    melody = [TimedNote(1.0 + i * 0.5, 1.5 + i * 0.5, 72 + i, 80) for i in range(4)]
    alloc = allocate_voices(chord + melody, max_voices=8)
    assert len(alloc.voices) == 3 and alloc.n_dropped == 0
    assert sum(len(v) for v in alloc.voices) == 7
    for voice in alloc.voices:                         # every voice is monophonic
        for a, b in zip(voice, voice[1:]):
            assert a.end_s <= b.start_s


def test_64_simultaneous_notes_are_bounded_to_8_voices_and_the_rest_dropped():
    notes = [TimedNote(0.0, 1.0, 30 + i, 80) for i in range(64)]
    alloc = allocate_voices(notes, max_voices=8)
    assert len(alloc.voices) == 8 and alloc.n_dropped == 56


def test_slight_overlap_is_a_legato_join_in_one_voice():
    notes = [TimedNote(0.0, 0.55, 60, 80), TimedNote(0.5, 1.0, 62, 80)]
    alloc = allocate_voices(notes)
    assert len(alloc.voices) == 1
    first, second = alloc.voices[0]
    assert first.end_s == 0.5 and second.legato and not first.legato


def test_voices_follow_the_nearest_pitch():
    notes = [TimedNote(0.0, 1.0, 48, 80), TimedNote(0.0, 1.0, 72, 80),
             TimedNote(1.0, 2.0, 71, 80), TimedNote(1.0, 2.0, 50, 80)]
    alloc = allocate_voices(notes)
    pitches = sorted(tuple(n.pitch for n in v) for v in alloc.voices)
    assert pitches == [(48, 50), (72, 71)]


# ----------------------------------------------------------------------------- curves
def test_a_single_note_holds_its_pitch_and_dynamic_level_then_releases():
    n = n_frames_for([TimedNote(0.5, 1.5, 69, 96)], EX, FR)
    c = voice_controls([TimedNote(0.5, 1.5, 69, 96)], EX, FR, n)
    assert c.f0_hz.shape == c.loudness_db.shape == c.gain.shape == (n,)
    assert np.all(np.abs(cents(c.f0_hz, 69)) < 1e-3)
    assert np.all(c.loudness_db[:50] == -90.0)                     # silence before the onset
    assert np.allclose(c.loudness_db[70:150], -26.0)               # sustain at forte's level
    # release: 40 dB per 0.2 s = 2 dB per frame from the note's end
    assert c.loudness_db[155] == pytest.approx(-26.0 - 2.0 * 6, abs=1e-4)
    assert c.loudness_db[-1] == -90.0
    # the attack rises monotonically over about the measured attack time
    attack = c.loudness_db[50:62]
    assert np.all(np.diff(attack) >= 0) and attack[0] < -30


def test_velocity_orders_loudness_and_gain():
    quiet = voice_controls([TimedNote(0, 1, 69, 33)], EX, FR, 150)
    loud = voice_controls([TimedNote(0, 1, 69, 112)], EX, FR, 150)
    assert quiet.loudness_db[50] == pytest.approx(-40.0)
    assert loud.loudness_db[50] == pytest.approx(-22.0)
    # total level change = DLS curve: loudness difference + gain difference
    total = (loud.loudness_db[50] + 20 * np.log10(loud.gain[50])) - (
        quiet.loudness_db[50] + 20 * np.log10(quiet.gain[50]))
    assert total == pytest.approx(float(dls_db(112, 33)), abs=1e-3)


def test_legato_glides_without_a_dip_and_tongued_notes_reattack():
    legato = voice_controls([TimedNote(0, 0.5, 69, 96), TimedNote(0.5, 1.0, 71, 96, legato=True)], EX, FR, 150)
    assert legato.loudness_db[45:60].min() == pytest.approx(-26.0)
    assert cents(legato.f0_hz[50], 69) == pytest.approx(200 / 3, abs=0.5)   # 1/3 of the way up
    assert cents(legato.f0_hz[52], 69) == pytest.approx(200, abs=0.01)       # there after 30 ms
    tongued = voice_controls([TimedNote(0, 0.5, 69, 96), TimedNote(0.5, 1.0, 71, 96)], EX, FR, 150)
    assert tongued.loudness_db[50] < -26.0                         # a new attack starts lower


def test_vibrato_has_the_measured_depth_after_its_delay():
    ex = Expression(**{**EX.__dict__, "vibrato_depth_cents": 20.0})
    c = voice_controls([TimedNote(0, 2.0, 69, 96)], ex, FR, 300)
    assert np.all(np.abs(cents(c.f0_hz[:30], 69)) < 1e-3)          # none before the delay
    late = cents(c.f0_hz[100:200], 69)
    assert late.max() == pytest.approx(20.0, abs=0.5) and late.min() == pytest.approx(-20.0, abs=0.5)


def test_pitch_bend_and_expression_controllers():
    bend = step_curve([(0.5, 8191 / 8192 * 2.0)], 150, FR, 0.0)
    expr = step_curve([(0.5, float(dls_db(64)))], 150, FR, 0.0)
    c = voice_controls([TimedNote(0, 1.0, 69, 96)], EX, FR, 150, bend, expr)
    assert cents(c.f0_hz[40], 69) == pytest.approx(0.0, abs=1e-3)
    assert cents(c.f0_hz[60], 69) == pytest.approx(200.0, abs=0.1)
    assert c.loudness_db[60] - c.loudness_db[40] == pytest.approx(40 * np.log10(64 / 127), abs=1e-3)


def test_played_length_follows_the_measured_table():
    ex = Expression(**{**EX.__dict__, "written_seconds": (0.25, 0.5, 1.0), "played_seconds": (0.15, 0.55, 0.9)})
    assert ex.played_for(0.125) == pytest.approx(0.075)           # below: in proportion
    assert ex.played_for(0.25) == pytest.approx(0.15)
    assert ex.played_for(0.75) == pytest.approx(0.725)            # between: interpolated
    assert ex.played_for(2.0) == pytest.approx(1.9)               # above: the last difference
    assert EX.played_for(0.25) == 0.25                            # no table: as written
    with pytest.raises(ValueError):
        Expression(**{**EX.__dict__, "written_seconds": (0.25,), "played_seconds": ()})


def test_a_note_is_let_go_after_its_played_length_unless_the_next_joins_it():
    ex = Expression(**{**EX.__dict__, "written_seconds": (0.5,), "played_seconds": (0.3,)})
    c = voice_controls([TimedNote(0.0, 0.5, 69, 96)], ex, FR, 100)
    assert np.allclose(c.loudness_db[15:30], -26.0)               # held to 0.3 s
    assert c.loudness_db[30] == pytest.approx(-28.0)              # then 2 dB per frame
    assert c.loudness_db[49] == pytest.approx(-26.0 - 2.0 * 20)
    legato = voice_controls([TimedNote(0.0, 0.5, 69, 96), TimedNote(0.5, 1.0, 71, 96, legato=True)], ex, FR, 150)
    assert legato.loudness_db[15:50].min() == pytest.approx(-26.0)  # joined: held to the next onset
    # a longer played length never runs into the next note's attack
    long = Expression(**{**EX.__dict__, "written_seconds": (0.5,), "played_seconds": (0.7,)})
    c = voice_controls([TimedNote(0.0, 0.5, 69, 96), TimedNote(0.6, 1.0, 69, 96)], long, FR, 150)
    assert np.allclose(c.loudness_db[15:60], -26.0) and c.loudness_db[60] < -36.0   # re-attacked
    assert n_frames_for([TimedNote(0.0, 0.5, 69, 96)], long, FR) > n_frames_for([TimedNote(0.0, 0.5, 69, 96)], EX, FR)


def test_the_register_sets_the_level_the_network_hears_but_not_the_level_heard():
    ex = Expression(**{**EX.__dict__, "register_pitch": (60, 84), "register_db": (-6.0, 6.0)})
    assert ex.loudness_for_velocity(96) == -26.0
    assert ex.loudness_for_velocity(96, 72) == pytest.approx(-26.0)
    assert ex.loudness_for_velocity(96, 50) == pytest.approx(-32.0)   # held beyond the table
    low = voice_controls([TimedNote(0, 1, 60, 96)], ex, FR, 150)
    high = voice_controls([TimedNote(0, 1, 84, 96)], ex, FR, 150)
    assert low.loudness_db[50] == pytest.approx(-32.0) and high.loudness_db[50] == pytest.approx(-20.0)
    heard = lambda c: c.loudness_db[50] + 20 * np.log10(c.gain[50])  # noqa: E731
    assert heard(low) == pytest.approx(heard(high), abs=1e-4)


def test_notes_out_of_range_move_by_octaves():
    notes, moved = fit_range([TimedNote(0, 1, 48, 80), TimedNote(0, 1, 70, 80), TimedNote(0, 1, 110, 80)], 60, 96)
    assert [n.pitch for n in notes] == [60, 70, 86] and moved == 2


# ----------------------------------------------------------------------------- renderer
def tiny_timbre(seed: int = 0) -> Timbre:
    torch.manual_seed(seed)
    model = TimbreModel({"n_harmonics": 16, "n_noise_bands": 17, "hidden": 16, "gru": 16},
                        {"sample_rate": 16000, "hop": 160, "reverb_seconds": 0.05}).eval()
    return Timbre("tiny", model, EX)


def song(notes, bends=(), controls=()) -> Score:
    return Score(tempos=(TempoChange.from_bpm(0, 120),),
                 tracks=(Track("Lead", 73, notes=tuple(notes), pitch_bends=tuple(bends), controls=tuple(controls)),))


def test_renderer_plays_a_note_at_its_time_in_stereo():
    score = song([Note(480, 960, 72, 100)])                       # 0.5 s .. 1.5 s at 120 bpm
    audio = DDSPRenderer(tiny_timbre()).render(score, 22050)
    assert audio.sample_rate == 22050 and audio.n_channels == 2
    x = audio.samples[:, 0]
    assert np.all(np.isfinite(x))
    assert np.array_equal(audio.samples[:, 0], audio.samples[:, 1])
    before = np.abs(x[:int(0.45 * 22050)]).max()
    during = np.abs(x[int(0.7 * 22050):int(1.4 * 22050)]).max()
    assert during > 100 * max(before, 1e-9)


def test_renderer_is_reproducible_and_bounds_64_note_chords_with_one_warning():
    score = song([Note(0, 960, 30 + i, 90) for i in range(64)])
    renderer = DDSPRenderer(tiny_timbre(), max_voices=8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = renderer.render(score, 16000)
    dropped = [w for w in caught if "dropped" in str(w.message)]
    assert len(dropped) == 1 and "56 notes dropped" in str(dropped[0].message)
    assert renderer.reports[0].n_voices == 8 and renderer.reports[0].n_dropped == 56
    assert np.all(np.isfinite(a.samples))
    b = DDSPRenderer(tiny_timbre(), max_voices=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(b.render(score, 16000).samples, a.samples)


def test_renderer_handles_empty_tracks_and_drums():
    empty = Score(tracks=(Track("Empty"), Track("Drums", is_drum=True, notes=(Note(0, 100, 36),))))
    audio = DDSPRenderer(tiny_timbre()).render(empty, 16000)
    assert audio.n_samples == 0 and audio.n_channels == 2
