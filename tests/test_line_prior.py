"""The melody's line prior: the chain that joins the net's per-step estimates by the
intervals real melodies move by (composer/levels/line_prior.py)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from composer.data.example import SongExample
from composer.errors import ModelError
from composer.levels.line_prior import (FLOOR, N_PITCH, PAST_OCTAVE, interval_groups, register_pull, LinePrior, apply_line_prior, calibrate_line_prior,
                                        chain_marginals, fit_line_prior, interval_histogram,
                                        melodic_spans, phrase_pitch_pairs)
from composer.form import parse_form
from composer.representation.melody import HOLD, N_MELODY_CLASSES, ONSET, REST, notes_to_tokens
from composer.representation.note_context import example_context
from composer.representation.pianoroll import MELODY_RANGE


def _flat(weight: float = 1.0) -> LinePrior:
    return LinePrior(np.zeros((N_PITCH, N_PITCH), np.float32), weight)


def _step(**classes: float) -> np.ndarray:
    row = np.zeros(N_MELODY_CLASSES)
    for name, p in classes.items():
        row[REST if name == "rest" else HOLD if name == "hold" else ONSET + int(name[1:])] = p
    return row


def test_a_flat_or_weightless_prior_changes_nothing():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(N_MELODY_CLASSES), size=(2, 7))
    assert np.allclose(chain_marginals(probs, _flat()), probs)
    table = rng.normal(size=(N_PITCH, N_PITCH)).astype(np.float32)
    assert np.allclose(chain_marginals(probs, LinePrior(table, 0.0)), probs)


def test_an_unlikely_move_loses_its_mass_to_the_likely_one():
    table = np.zeros((N_PITCH, N_PITCH), np.float32)
    table[10, 20] = -30.0                        # 10 -> 20 never happens
    probs = np.stack([_step(p10=1.0), _step(rest=0.5, p11=0.25, p20=0.25)])[None]
    out = chain_marginals(probs, LinePrior(table))[0]
    assert out[0, ONSET + 10] == pytest.approx(1.0)
    # a new note's factor is psi over its mean under the step's pitch distribution, which
    # mixes in FLOOR of the uniform one: here psi(10, 20) ~ 0 so the mean is 1 - p'(20)
    z = 1.0 - ((1 - FLOOR) * 0.5 + FLOOR / N_PITCH)
    onset = 0.25 / z
    assert out[1, REST] == pytest.approx(0.5 / (0.5 + onset))
    assert out[1, ONSET + 11] == pytest.approx(onset / (0.5 + onset))
    assert out[1, ONSET + 20] == pytest.approx(0.0, abs=1e-9)
    # with a flat table the onset keeps exactly the net's share
    assert chain_marginals(probs, _flat())[0, 1, REST] == pytest.approx(0.5)


def test_a_later_note_pulls_an_earlier_uncertain_one_and_rests_pass_the_state_on():
    table = np.zeros((N_PITCH, N_PITCH), np.float32)
    table[30, 11] = -30.0
    probs = np.stack([_step(p10=0.5, p30=0.5), _step(hold=1.0), _step(rest=1.0), _step(p11=1.0)])[None]
    out = chain_marginals(probs, LinePrior(table))[0]
    assert out[0, ONSET + 10] == pytest.approx(1.0)
    assert out[0, ONSET + 30] == pytest.approx(0.0, abs=1e-9)
    assert out[1:, :].tolist() == probs[0, 1:].tolist()


def test_apply_works_within_spans_only_and_padding_is_neutral():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(N_MELODY_CLASSES, 12))
    table = rng.normal(size=(N_PITCH, N_PITCH)).astype(np.float32)
    out = apply_line_prior(logits, [(0, 4), (8, 10)], LinePrior(table))
    assert np.array_equal(out[:, 4:8], logits[:, 4:8]) and np.array_equal(out[:, 10:], logits[:, 10:])
    assert np.allclose(np.exp(out[:, :4]).sum(axis=0), 1.0)
    # the short span padded to the long one's width gives what it gives alone
    alone = apply_line_prior(logits, [(8, 10)], LinePrior(table))
    assert np.allclose(out[:, 8:10], alone[:, 8:10])


def _song(melody: list[tuple[int, int, int]], form: str = "A2b1A1") -> SongExample:
    n_bars = sum(ph.n_bars for ph in parse_form(form))
    beats = n_bars * 4
    return SongExample("s", 100.0, (4, 4), 4, n_bars, form, form, np.zeros(n_bars, np.int8),
                       np.zeros(n_bars, np.int8), np.zeros(beats, np.int8), np.zeros(beats, np.int8),
                       np.zeros(beats, np.int8), np.array([(s, d, p, 90) for s, d, p in melody], np.int32),
                       np.zeros((0, 4), np.int32)).check()


def test_pairs_stay_inside_phrases():
    song = _song([(0, 4, 60), (4, 4, 62), (16, 4, 64), (40, 4, 65), (48, 4, 72)])
    ctx, shift = example_context(song)
    spans = melodic_spans(ctx.phrases, ctx.steps_per_bar)
    assert spans == [(0, 32), (48, 64)]
    tokens = notes_to_tokens(song.melody, ctx.n_steps, shift)
    low = MELODY_RANGE.low
    # 65 sits in the non-melodic b phrase and 72 starts a new phrase: no pair reaches them
    assert phrase_pitch_pairs(tokens, spans).tolist() == [[60 - low, 62 - low], [62 - low, 64 - low]]


def test_fit_favours_the_moves_the_songs_make():
    steps = [(s, 4, 60 + 2 * (s // 4 % 3)) for s in range(0, 32, 4)]      # 60 62 64 60 62 ...
    prior = fit_line_prior([_song(steps)] * 20)
    low = MELODY_RANGE.low
    assert prior.pairs == 20 * 7
    assert prior.log_ratio[60 - low, 62 - low] > 0.5
    assert prior.log_ratio[60 - low, 60 - low + 13] < -0.5                 # never a ninth
    back = LinePrior.from_json(json.loads(json.dumps(prior.to_json())))
    assert np.allclose(back.log_ratio, prior.log_ratio, atol=1e-3) and back.weight == prior.weight


def test_from_json_refuses_a_bad_table():
    with pytest.raises(ValueError, match="48x48"):
        LinePrior.from_json({"log_ratio": [[0.0] * 3] * 3})
    with pytest.raises(ValueError, match="finite"):
        LinePrior.from_json({"log_ratio": [[float("nan")] * N_PITCH] * N_PITCH})


def test_calibration_moves_the_bias_towards_the_songs_intervals():
    songs = [_song([(s, 4, 60 + 2 * (s // 4 % 3)) for s in range(0, 32, 4)])] * 3

    def real(ctx, prior, seed):
        return notes_to_tokens(songs[0].melody, ctx.n_steps, 0)

    same = calibrate_line_prior(_flat(), songs, real, n_songs=3, rounds=2, log=lambda _: None)
    assert np.allclose(same.interval_bias, 0.0)

    def repeats(ctx, prior, seed):
        return notes_to_tokens(np.array([(s, 4, 60, 90) for s in range(0, 32, 4)]), ctx.n_steps, 0)

    moved = calibrate_line_prior(_flat(), songs, repeats, n_songs=3, rounds=1, log=lambda _: None)
    assert moved.interval_bias[N_PITCH - 1] < -1.0         # repeats (interval 0) made rarer
    assert moved.interval_bias[N_PITCH - 1 + 2] > 1.0      # a step up made likelier

    def leaps(ctx, prior, seed):       # 60 73 60 73 ... and 60 72 60 72 ...: +-13 and +-12
        top = 73 if seed % 2 else 72
        return notes_to_tokens(np.array([(s, 4, 60 if s % 8 else top, 90) for s in range(0, 32, 4)]), ctx.n_steps, 0)

    leapt = calibrate_line_prior(_flat(), songs, leaps, n_songs=3, rounds=1, log=lambda _: None)
    # the octave, never sung by the real songs, is made rarer; moves past it are too rare
    # in real melodies to calibrate, and stay as the ratio table has them
    assert leapt.interval_bias[N_PITCH - 1 + 12] < -1.0 and leapt.interval_bias[N_PITCH - 1 - 12] < -1.0
    assert leapt.interval_bias[N_PITCH - 1 + 13] == 0.0 and leapt.interval_bias[N_PITCH - 1 - 13] == 0.0
    assert interval_histogram(np.array([[3, 5], [5, 3]]))[N_PITCH - 1 + 2] == 1


def test_calibration_samples_over_the_contexts_it_is_given():
    # the melody command passes chords drawn by the chord level: the sampler must get those
    songs = [_song([(s, 4, 60 + 2 * (s // 4 % 3)) for s in range(0, 32, 4)])] * 3
    seen = []

    def drawn(ex, i):
        ctx, _ = example_context(ex)
        return dataclasses.replace(ctx, chord_root=(ctx.chord_root + 5) % 12)

    def sample(ctx, prior, seed):
        seen.append(ctx.chord_root.copy())
        return notes_to_tokens(songs[0].melody, ctx.n_steps, 0)

    calibrate_line_prior(_flat(), songs, sample, n_songs=2, rounds=1, log=lambda _: None, context_of=drawn)
    own = example_context(songs[0])[0].chord_root
    assert len(seen) == 2 and all(np.array_equal(r, (own + 5) % 12) for r in seen)


def test_a_broken_line_prior_in_a_model_folder_is_one_clear_error(tmp_path):
    from composer.levels.melody import MelodyLevel
    from composer.tasks.melody import MODEL_CONFIG
    from composer.io.checkpoint import save_checkpoint
    from composer.nets.melody import MelodyUNet
    tiny = dict(MODEL_CONFIG, channels=[8, 8, 8, 8], blocks=[1, 1, 1, 1], mid_dilations=[1], emb_dim=16,
                interval_channels=4)
    save_checkpoint(tmp_path, MelodyUNet(**tiny), "melody", tiny)
    config = json.loads((tmp_path / "config.json").read_text())
    config["line_prior"] = {"weight": 1.0, "log_ratio": [[0.0] * 5] * 5}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="line_prior") as err:
        MelodyLevel.from_pretrained(tmp_path)
    assert "\n" not in str(err.value)


def test_interval_groups_keep_small_moves_apart_and_pool_large_ones_by_direction():
    g = interval_groups()
    at = lambda d: int(g[d + N_PITCH - 1])      # noqa: E731
    assert [at(d) for d in range(0, 8)] == list(range(8))
    assert at(8) == at(9) and at(10) == at(11) and at(13) == at(40) and len({at(9), at(11), at(12), at(13)}) == 4
    assert at(13) == PAST_OCTAVE and at(-13) == PAST_OCTAVE + 12
    assert at(-3) != at(3) and at(-9) == at(-8) and at(-13) == at(-47)


def test_the_register_term_pulls_a_far_note_towards_its_phrase_and_keeps_the_onset_share():
    # a phrase sung around pitch 20 with one step unsure between 21 (near) and 33 (an
    # octave up); a register term that halves the odds per 6 semitones away
    dist = np.abs(np.arange(-(N_PITCH - 1), N_PITCH))
    logp = -np.log(2.0) * dist / 6.0
    prior = _flat().with_register(logp, 1.0)
    probs = np.stack([_step(p20=1.0), _step(p19=1.0), _step(rest=0.4, p21=0.3, p33=0.3), _step(p20=1.0)])[None]
    out = register_pull(probs, prior)[0]
    assert out[2, REST] == pytest.approx(0.4)
    assert out[2, ONSET + 21] + out[2, ONSET + 33] == pytest.approx(0.6)
    # the centre is the mean of the onsets' pitches: (20 + 19 + 0.3*21 + 0.3*33 + 20) / 3.6
    centre = (20 + 19 + 0.3 * 21 + 0.3 * 33 + 20) / 3.6
    near, far = 2.0 ** (-abs(21 - round(centre)) / 6), 2.0 ** (-abs(33 - round(centre)) / 6)
    assert out[2, ONSET + 21] == pytest.approx(0.6 * near / (near + far))
    back = LinePrior.from_json(json.loads(json.dumps(prior.to_json())))
    assert back.register_weight == 1.0 and np.allclose(back.register_logp, logp, atol=1e-3)
