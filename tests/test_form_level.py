"""Form level: array round trips, the decoder and its prior, constraints kept exactly."""
import numpy as np
import pytest
import torch

from composer.errors import FormError
from composer.form import FormPlan, parse_form
from composer.levels.form import FormLevel, sample_form
from composer.levels.form_constraints import form_constraints
from composer.levels.form_decode import PhrasePrior, decode_form, estimate_phrase_prior, type_lengths
from composer.tasks.form import FormTask, plan_of, random_constraint
from composer.nets.form import FormDenoiser
from composer.representation.form import END, FORM_CHANNELS, START, from_form_array, to_form_array
from levels_fixtures import synthetic_songs


def tiny_level(seed: int = 0) -> FormLevel:
    """A seeded untrained net: constraints must hold whatever the weights."""
    torch.manual_seed(seed)
    model = FormDenoiser(width=16, n_attn=1, heads=2)
    for p in model.parameters():   # the out layer starts at zero; give it something to say
        torch.nn.init.normal_(p, std=0.2)
    return FormLevel(model, length=64)


def test_form_array_round_trip():
    plan = FormPlan(parse_form("i4A8A8B8X4o3"), tuple([0] * 20 + [2] * 15), tuple([1] * 20 + [0] * 15))
    x = to_form_array(plan, 64)
    assert x.shape == (FORM_CHANNELS, 64) and set(np.unique(x)) == {-1.0, 1.0}
    assert (x[END, :35] == -1).all() and (x[END, 35:] == 1).all()
    back = from_form_array(x, letters=tuple(plan.bar_labels()))
    assert back == plan
    # without letters the six types come back with their default letters
    assert from_form_array(x).form == "i4A8A8B8C4o3"


def _plan(form: str) -> FormPlan:
    n = sum(p.n_bars for p in parse_form(form))
    return FormPlan(parse_form(form), (0,) * n, (0,) * n)


def test_phrase_prior_counts_lengths_and_type_pairs():
    prior = estimate_phrase_prior([_plan("i4A8B8o4"), _plan("A8A8")], smoothing=0.0)
    with np.errstate(divide="ignore"):
        assert np.allclose(np.exp(prior.length_logp[[4, 8]]), [2 / 6, 4 / 6])
    # rows: BOS, A, B, M, i, o, x; columns: A, B, M, i, o, x, EOS
    assert np.isclose(np.exp(prior.type_logp[0, 3]), 0.5)      # BOS -> intro in one song of two
    assert np.isclose(np.exp(prior.type_logp[1, 0]), 1 / 3)    # A -> A once, A -> B once, A -> EOS once
    assert np.isclose(np.exp(prior.type_logp[5, 6]), 1.0)      # outro -> EOS


def test_segmenting_with_the_prior_ignores_flicker_and_keeps_given_letters():
    plan = _plan("i4A8B8o4")
    x = to_form_array(plan, 32)
    x[START, 9] = 0.1            # an unsure start in the middle of the A phrase
    x[0, 6], x[1, 6] = 0.1, 0.2  # and one bar that leans to B
    assert from_form_array(x).form == "i4A2B1A2A3B8o4"     # bar by bar: split into pieces
    prior = estimate_phrase_prior([_plan("i4A8B8o4"), _plan("i4A8A8B8o4"), _plan("A8B8")])
    assert decode_form(x, prior=prior).form == "i4A8B8o4"
    # letters given by the user (here: X over the intro's bars) are kept, and split there
    letters = ("X",) * 4 + (None,) * 20
    assert decode_form(x, prior=prior, letters=letters).form == "X4A8B8o4"
    # a given start flag is kept even where the evidence and the prior disagree (the 3 bars
    # after it are tied to no length of their own, so the decode may letter them anew)
    start_known = np.zeros(32, dtype=bool)
    start_known[9] = True
    x[START, 9] = 1.0
    decoded = decode_form(x, prior=prior, start_known=start_known)
    assert decoded.form.startswith("i4A5") and decoded.phrase_starts().tolist()[:3] == [0, 4, 9]


def test_constraints_contradictions():
    with pytest.raises(FormError, match="covers 24 bars"):
        form_constraints(64, "i4A8B8o4", bars=30)
    with pytest.raises(FormError):
        form_constraints(64, "A8B8*", bars=10)
    c = form_constraints(64, "i4A8?8o4", bars=None)
    assert c.n_bars == 24
    assert c.mask[START, 12] and c.known[START, 12] == 1   # a phrase starts after the known A8


def test_full_form_and_key_kept_exactly():
    level = tiny_level()
    plan = sample_form(level, form="i4A8B8A8B8X4o4", key="A minor",
                       generator=torch.Generator().manual_seed(1), steps=4)
    assert plan.form == "i4A8B8A8B8X4o4"
    assert set(plan.key_tonic) == {9} and set(plan.key_mode) == {1}


def test_partial_form_length_and_seed():
    level = tiny_level()
    a = sample_form(level, form="i4A8?16o4", generator=torch.Generator().manual_seed(2), steps=4)
    assert a.n_bars == 32
    assert a.form.startswith("i4A8") and a.form.endswith("o4")
    assert a.phrase_starts()[2] == 12            # the gap starts a new phrase
    b = sample_form(level, form="i4A8?16o4", generator=torch.Generator().manual_seed(2), steps=4)
    assert a == b
    c = sample_form(level, bars=37, generator=torch.Generator().manual_seed(3), steps=4)
    open_end = sample_form(level, form="A8B8*", generator=torch.Generator().manual_seed(3), steps=4)
    assert c.n_bars == 37
    assert open_end.form.startswith("A8B8") and open_end.n_bars >= 16


def test_long_songs_and_nothing_given():
    level = tiny_level()
    long = sample_form(level, bars=300, generator=torch.Generator().manual_seed(4), steps=2)
    assert long.n_bars == 300
    free = sample_form(level, generator=torch.Generator().manual_seed(5), steps=2)
    assert 1 <= free.n_bars <= 64
    assert sum(p.n_bars for p in parse_form(free.form)) == free.n_bars
    with pytest.raises(FormError):
        sample_form(level, bars=0)
    with pytest.raises(FormError):
        sample_form(level, bars=10_000)


def test_form_task_batches_and_masks():
    songs = synthetic_songs(6)
    task = FormTask(train=songs, valid=songs[:2], model_config={"width": 16, "n_attn": 1, "heads": 2})
    batch = next(task.train_batches(4, torch.Generator().manual_seed(0)))
    assert batch.x0.shape == (4, FORM_CHANNELS, 256)
    # known values agree with the data wherever the mask says known
    m = batch.mask.bool()
    assert torch.equal(batch.known[m], batch.x0[m])
    loss = task.loss(task.build_model(), batch, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    plan = plan_of(songs[0])
    x = to_form_array(plan, 64)
    rng = torch.Generator().manual_seed(0)
    kinds = {int(random_constraint(x, plan.n_bars, plan.phrase_starts(), rng).sum() > 0) for _ in range(30)}
    assert kinds == {0, 1}


def test_prior_counts_returning_lengths_and_song_lengths():
    prior = estimate_phrase_prior([_plan("i4A8B8A8B4o4"), _plan("A8A4")], smoothing=0.0)
    # returning upper-case labels: A (8 = 8), B (4 != 8), A (4 != 8): one of three keeps its length
    assert np.isclose(prior.same_length_p, 1 / 3)
    assert prior.song_bars == (12, 36)
    back = type(prior).from_json(prior.to_json())
    assert back.song_bars == prior.song_bars and np.isclose(back.same_length_p, 1 / 3)


def test_decode_places_intros_and_outros_at_the_ends():
    plan = _plan("A8o4A8")          # the net's evidence puts an outro in the middle
    x = to_form_array(plan, 24)
    prior = estimate_phrase_prior([_plan("i4A8B8o4"), _plan("A8B8A8o4")])
    form = decode_form(x, prior=prior).form
    assert "o" not in form[:-2]     # no outro before the end
    # a user's outro in the middle is kept; the free bars after it stay outro
    letters = (None,) * 8 + ("o",) * 4 + (None,) * 8
    assert decode_form(x, prior=prior, letters=letters).form == "A8o4o8"
    # and letters that contradict the rule outright are kept as given
    letters = (None,) * 8 + ("o",) * 4 + ("A",) * 8
    assert decode_form(x, prior=prior, letters=letters).form == "A8o4A8"


def test_decode_ties_a_returning_label_to_its_first_length():
    plan = _plan("A8B8A8B8")
    x = to_form_array(plan, 32)
    # the evidence puts the second B's start one bar early
    x[START, 24], x[START, 23] = -0.8, 0.8
    x[0, 23], x[1, 23] = -0.6, 0.6
    lengths = estimate_phrase_prior([_plan("A8B8A7B9"), _plan("A7B9A7B9")])   # 7, 8, 9 all common
    untied = PhrasePrior(lengths.length_logp, lengths.type_logp, lengths.length_weight)
    assert decode_form(x, prior=untied).form == "A8B8A7B9"
    tied = PhrasePrior(lengths.length_logp, lengths.type_logp, lengths.length_weight, same_length_p=0.9)
    assert decode_form(x, prior=tied).form == "A8B8A8B8"


def test_a_label_keeps_the_length_most_of_its_phrases_have():
    # (first bar, end bar, type): types 0 = A, 1 = B, 3 = intro (not melodic)
    segments = [(0, 4, 3), (4, 14, 0), (14, 22, 1), (22, 30, 0), (30, 38, 0), (38, 44, 1), (44, 50, 1),
                (50, 58, 1)]
    # A: 10, 8, 8 -> 8; B: 8, 6, 6, 8 -> a tie, the earliest (8); the intro is free
    assert type_lengths(segments) == {0: 8, 1: 8}
    assert type_lengths([(0, 10, 0)]) == {0: 10}


def test_nothing_given_draws_a_real_songs_length():
    """With nothing fixing it, the length comes from the prior's song lengths (no 1-bar songs);
    --bars and a form string still win."""
    torch.manual_seed(0)
    base = estimate_phrase_prior([_plan("i4A8B8A8B8o4"), _plan("A8B8A8B8A8B8")])
    assert base.song_bars == (40, 48)
    level = FormLevel(FormDenoiser(width=16, n_attn=1, heads=2), length=64, prior=base)
    lengths = {sample_form(level, generator=torch.Generator().manual_seed(s), steps=2).n_bars for s in range(6)}
    assert lengths == {40, 48}
    assert sample_form(level, bars=12, generator=torch.Generator().manual_seed(0), steps=2).n_bars == 12
    assert sample_form(level, form="A4B4", generator=torch.Generator().manual_seed(0), steps=2).form == "A4B4"


def test_free_phrases_stay_within_the_longest_real_phrase():
    """Where the net marks starts but weakly, the decoder once merged them into one phrase of
    40+ bars; unlettered phrases stop at FREE_PHRASE_MAX_BARS, a user's letters do not."""
    from composer.levels.form_decode import FREE_PHRASE_MAX_BARS
    x = to_form_array(_plan("A40B8"), 48)
    for bar in (13, 27):                  # weak starts inside the A (the rest say "no start")
        x[START, bar] = -0.2
    prior = estimate_phrase_prior([_plan("A40B8"), _plan("A8B8A8B8")])
    free = decode_form(x, prior=prior)
    assert free.n_bars == 48 and max(p.n_bars for p in free.phrases) <= FREE_PHRASE_MAX_BARS < 40
    given = decode_form(x, prior=prior, letters=("A",) * 40 + ("B",) * 8)
    assert given.form == "A40B8"


def test_the_end_of_a_song_weighs_how_real_songs_end(monkeypatch):
    from composer.levels import form_decode
    # Three of four training songs end on an outro.  The net's last four bars lean to a
    # chorus (B 0.7 against outro 0.4 per bar): the one end term, weighted 1, loses to four
    # bars of evidence and the song ends on a fourth chorus; weighted END_WEIGHT it ends as
    # real songs do.
    # the evidence of the example is weighed in full (TYPE_WEIGHT 1; its own test is below)
    monkeypatch.setattr(form_decode, "TYPE_WEIGHT", 1.0)
    p = estimate_phrase_prior([_plan("A8B8o4")] * 3 + [_plan("A8B8B4")])
    prior = PhrasePrior(p.length_logp, p.type_logp, p.length_weight)
    x = to_form_array(_plan("A8B8o4"), 20)
    x[1, 16:20], x[4, 16:20] = 0.4, -0.2
    assert form_decode.END_WEIGHT == 3.0
    assert decode_form(x, prior=prior).form == "A8B8o4"
    monkeypatch.setattr(form_decode, "END_WEIGHT", 1.0)
    assert decode_form(x, prior=prior).form == "A8B8B4"


def test_type_evidence_is_weighed_against_the_prior(monkeypatch):
    from composer.levels import form_decode
    # Real forms alternate verse and chorus.  The net leans, mildly, to "chorus" over the
    # third phrase (0.5 against -0.5 per bar): counted in full, its 8 bars beat the prior and
    # the song runs three choruses in a row; weighed at TYPE_WEIGHT they do not.
    prior = estimate_phrase_prior([_plan("A8B8A8B8")] * 4)
    x = to_form_array(_plan("A8B8A8B8"), 32)
    x[0, 16:24], x[1, 16:24] = -0.5, 0.5
    monkeypatch.setattr(form_decode, "TYPE_WEIGHT", 1.0)
    assert decode_form(x, prior=prior).form == "A8B8B8B8"
    monkeypatch.undo()
    assert form_decode.TYPE_WEIGHT == 0.25
    assert decode_form(x, prior=prior).form == "A8B8A8B8"
    # a lean the net is sure of (0.9) still wins
    x[0, 16:24], x[1, 16:24] = -0.9, 0.9
    assert decode_form(x, prior=prior).form == "A8B8B8B8"


def test_keys_follow_the_prior_not_a_flicker():
    from composer.levels.form_decode import decode_keys, key_move
    from composer.representation.form import TONIC
    plans = [FormPlan(parse_form("A8B8A8B8"), (0,) * 32, (0,) * 32)] * 9 + [
        FormPlan(parse_form("A8B8A8B8"), (0,) * 24 + (2,) * 8, (0,) * 32)]
    prior = estimate_phrase_prior(plans)
    # 29 boundaries stay, one moves up a tone (major to major); add-0.5 smoothing, shared by
    # the 48 move codes
    moves = 1 + 0.5
    assert prior.key_stay_logp == pytest.approx(np.log(29.5 / (29.5 + moves)))
    assert np.argmax(prior.key_move_logp) == key_move((0, 0), (2, 0))
    x = to_form_array(FormPlan(parse_form("A8B8A8B8"), (0,) * 32, (0,) * 32), 32)
    x[TONIC:TONIC + 12, 9] = -1.0
    x[TONIC + 7, 9] = 1.0                       # one bar of the chorus says G
    segments = [(0, 8, 0), (8, 16, 1), (16, 24, 0), (24, 32, 1)]
    assert decode_keys(x, segments, prior) == [(0, 0)] * 4
    x[TONIC:TONIC + 12, 24:32] = -1.0
    x[TONIC + 2, 24:32] = 1.0                   # the whole last chorus says D: a real move
    assert decode_keys(x, segments, prior) == [(0, 0)] * 3 + [(2, 0)]
    plan = decode_form(x, prior=prior)
    assert plan.key_tonic[23] == 0 and plan.key_tonic[24] == 2 and set(plan.key_tonic[:24]) == {0}


def test_config_schema_knows_the_key_prior():
    from composer.io import schemas
    from composer.levels import form_decode
    assert schemas.KEY_MOVES == form_decode.KEY_MOVES
    # the shipped form model carries the key prior and passes the schema
    from pathlib import Path
    level = FormLevel.from_pretrained(Path(__file__).resolve().parents[1] / "models" / "form")
    assert level.prior.key_move_logp.shape == (form_decode.KEY_MOVES,)
    assert -0.1 < level.prior.key_stay_logp < 0.0
