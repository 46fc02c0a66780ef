"""The melody level: its token view of a line, the exact categorical posterior, the
training task on a tiny prepared folder, two steps of the shared loop, and the sampler's
promises (known steps kept, silent non-melodic phrases, returning phrases that copy their
first statement where the chords agree, same seed same line)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from composer.data.example import SongExample
from composer.diffusion.schedule import add_noise, onehot_posterior_logits
from composer.form import parse_form
from composer.levels.melody import MelodyLevel, cadence_steps, melodic_steps, return_plan, sample_melody
from composer.tasks.melody import CROP_STEPS, MelodyTask, random_masks, transposed
from composer.nets.melody import MelodyUNet
from composer.representation.melody import (HOLD, N_MELODY_CLASSES, ONSET, REST, notes_to_tokens,
                                            onehot_to_tokens, tokens_to_notes, tokens_to_onehot)
from composer.representation.note_context import N_COND, NoteContext
from composer.representation.pianoroll import MELODY_RANGE
from composer.training import TrainConfig, train

TINY = dict(channels=[8, 8, 8, 8], blocks=[1, 1, 1, 1], mid_dilations=[1], emb_dim=16)


# ---------------------------------------------------------------------------- representation
def test_tokens_round_trip_a_monophonic_line():
    notes = np.array([[0, 4, 60, 80], [4, 2, 62, 80], [8, 8, 64, 80], [20, 1, 67, 80]])
    tokens = notes_to_tokens(notes, 24)
    expected = np.full(24, REST)
    expected[0], expected[1:4] = ONSET + 60 - MELODY_RANGE.low, HOLD
    expected[4], expected[5] = ONSET + 62 - MELODY_RANGE.low, HOLD
    expected[8], expected[9:16] = ONSET + 64 - MELODY_RANGE.low, HOLD
    expected[20] = ONSET + 67 - MELODY_RANGE.low
    assert tokens.tolist() == expected.tolist()
    assert tokens_to_notes(tokens).tolist() == notes.tolist()
    assert onehot_to_tokens(tokens_to_onehot(tokens)).tolist() == tokens.tolist()


def test_tokens_make_one_voice_and_fold_and_shift():
    # a long note cut by the next onset; two onsets on one step keep the higher;
    # a pitch above the range folds down by octaves; shift moves pitches and back
    notes = np.array([[0, 8, 60, 80], [4, 2, 62, 80], [10, 2, 55, 80], [10, 2, 70, 80],
                      [14, 1, MELODY_RANGE.high + 1, 80]])
    tokens = notes_to_tokens(notes, 16)
    back = tokens_to_notes(tokens)
    assert back[:, :3].tolist() == [[0, 4, 60], [4, 2, 62], [10, 2, 70],
                                     [14, 1, MELODY_RANGE.high + 1 - 12]]
    shifted = notes_to_tokens(notes[:2], 16, shift=3)
    assert tokens_to_notes(shifted, shift=3)[:, :3].tolist() == [[0, 4, 60], [4, 2, 62]]
    # a HOLD with nothing sounding is a rest
    assert tokens_to_notes(np.array([HOLD, HOLD, ONSET, HOLD])).tolist() == [[2, 2, MELODY_RANGE.low, 80]]


def test_onehot_posterior_is_bayes():
    """The closed form equals the posterior computed from Gaussian likelihoods directly."""
    g = torch.Generator().manual_seed(0)
    k, t = 5, torch.tensor([0.4])
    prior = torch.randn(1, k, 1, generator=g)
    x0 = -torch.ones(1, k, 1)
    x0[0, 2] = 1.0
    x_t = add_noise(x0, torch.randn(1, k, 1, generator=g), t)
    post = torch.log_softmax(onehot_posterior_logits(prior, x_t, t), dim=1)[0, :, 0]
    from composer.diffusion.schedule import alpha_sigma
    alpha, sigma = alpha_sigma(t)
    logl = []
    for c in range(k):
        mean = -torch.ones(k)
        mean[c] = 1.0
        logl.append(-((x_t[0, :, 0] - alpha * mean) ** 2).sum() / (2 * sigma ** 2))
    brute = torch.log_softmax(torch.stack(logl).reshape(-1) + prior[0, :, 0], dim=0)
    assert torch.allclose(post, brute, atol=1e-4)


# ---------------------------------------------------------------------------- training task
def _song(song_id: str, n_bars: int, tonic: int) -> SongExample:
    steps = n_bars * 16
    mel = [(s, 3, 60 + tonic + (s // 4) % 7, 90) for s in range(0, steps, 4)]
    beats = n_bars * 4
    return SongExample(song_id, 100.0, (4, 4), 4, n_bars, f"A{n_bars // 2}B{n_bars - n_bars // 2}",
                       f"A{n_bars}", np.full(n_bars, tonic, np.int8), np.zeros(n_bars, np.int8),
                       np.full(beats, tonic, np.int8), np.zeros(beats, np.int8),
                       np.full(beats, tonic, np.int8), np.array(mel, np.int32),
                       np.zeros((0, 4), np.int32)).check()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prepared")
    (root / "songs").mkdir()
    ids = {"train": ["t1", "t2"], "valid": ["v1"], "test": []}
    for k, sid in enumerate(ids["train"] + ids["valid"]):
        _song(sid, 18 + 2 * k, [0, 9, 4][k]).save(root / "songs" / f"{sid}.npz")
    (root / "split.json").write_text(json.dumps(ids))
    return root


def test_task_batches_hold_the_songs_tokens(prepared):
    task = MelodyTask(prepared, n_valid_batches=2, model_config=TINY)
    batch = next(task.train_batches(4, torch.Generator().manual_seed(0)))
    assert batch.tokens.shape == (4, CROP_STEPS) and batch.cond.shape == (4, N_COND, CROP_STEPS)
    assert batch.mask.shape == (4, 1, CROP_STEPS)
    # every crop starts on a bar line of its song: its rhythm (rest / hold / onset) is a slice
    # of the bank, its pitches the slice's moved by one interval (transposition)
    bank = task.train_bank.tokens
    kind = lambda t: torch.clamp(t, max=ONSET)   # noqa: E731
    for row in batch.tokens:
        hits = [s for s in task.train_bank.starts.tolist() if torch.equal(kind(bank[s:s + CROP_STEPS]), kind(row))]
        moved = [len(set(((bank[h:h + CROP_STEPS] - row) % 12)[row >= ONSET].tolist())) == 1 for h in hits]
        assert any(moved)
    valid = task.valid_batches(4)[0]
    assert valid.tokens.equal(task.valid_batches(4)[0].tokens)   # fixed
    for row in valid.tokens:                                       # and never transposed
        assert any(torch.equal(bank_row, row) for bank_row in
                   (task.valid_bank.tokens[s:s + CROP_STEPS] for s in task.valid_bank.starts.tolist()))


def test_transposition_moves_melody_and_condition_together():
    tokens = torch.tensor([[ONSET + 0, HOLD, ONSET + 47, REST]])
    cond = torch.zeros(1, N_COND, 4)
    cond[0, 0, :] = 1          # chord chroma: C
    cond[0, 12 + 7, :] = 1     # bass: G
    cond[0, 26, :] = 1         # key tonic: C
    up, cond_up = transposed(tokens, cond, torch.tensor([2]))
    assert (up - ONSET)[0, [0, 2]].tolist() == [2, 37]        # 47 + 2 folds down an octave
    assert up[0, [1, 3]].tolist() == [HOLD, REST]
    assert cond_up[0, 2, 0] == 1 and cond_up[0, 12 + 9, 0] == 1 and cond_up[0, 28, 0] == 1
    assert cond_up[0, :12, 0].sum() == 1
    down, _ = transposed(tokens, cond, torch.tensor([-3]))
    assert (down - ONSET)[0, [0, 2]].tolist() == [9, 44]      # 0 - 3 folds up an octave


def test_random_mask_kinds():
    b, length = 5, 64
    u = torch.tensor([0.1, 0.55, 0.7, 0.8, 0.95])
    cuts = torch.tensor([[0.0, 0.9]] * b)
    mask = random_masks(u, cuts, torch.full((b,), 0.5), torch.tensor([[0.2, 0.7] * 8] * b), length)[:, 0]
    assert mask[0].sum() == 0                                  # none
    assert mask[1, :16].all() and not mask[1, 16:].any()       # known prefix (cut at bar 1)
    assert not mask[2, :16].any() and mask[2, 16:].all()       # known suffix
    assert mask[3, :16].all() and not mask[3, 16:48].any() and mask[3, 48:].all()  # span
    assert mask[4].tolist() == ([1.0] * 4 + [0.0] * 4) * 8     # known beats


def test_two_training_steps_and_checkpoint_round_trip(prepared, tmp_path):
    task = MelodyTask(prepared, n_valid_batches=1, model_config=TINY)
    config = TrainConfig(steps=2, batch_size=2, warmup=1, valid_every=2, checkpoint_every=2, log_every=1)
    result = train(task, config, tmp_path / "melody")
    assert np.isfinite(result.valid_loss)
    level = MelodyLevel.from_pretrained(tmp_path / "melody")
    assert isinstance(level.model, MelodyUNet)
    # the folder holds the trained (EMA) weights, bit for bit, and the config that built them
    from composer.io.checkpoint import load_weights
    again = load_weights(tmp_path / "melody", task.build_model())
    for name, tensor in level.model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    saved = json.loads((tmp_path / "melody" / "config.json").read_text())
    assert saved["kind"] == "melody" and saved["model"] == TINY
    assert not all(torch.equal(a, b) for a, b in zip(level.model.state_dict().values(),
                                                      task.build_model().state_dict().values()))


# ---------------------------------------------------------------------------- sampling
def _ctx(form: str, chords_per_bar: list[int] | None = None) -> NoteContext:
    phrases = parse_form(form)
    n_bars = sum(p.n_bars for p in phrases)
    root = np.repeat(np.asarray(chords_per_bar if chords_per_bar else [0] * n_bars), 4)
    return NoteContext(16, np.zeros(n_bars, np.int64), np.zeros(n_bars, np.int64), root,
                       np.zeros(n_bars * 4, np.int64), root.copy(), phrases)


def _level() -> MelodyLevel:
    torch.manual_seed(0)
    net = MelodyUNet(**TINY)
    with torch.no_grad():       # a random untrained net that prefers notes to rests
        net.out.weight.normal_(0, 0.5)
        net.out.bias[REST] = -3.0
    return MelodyLevel(net)


def test_return_plan_keeps_the_copy_where_the_chords_agree():
    # A2 B1 A2: the second A (bars 3-4) copies bars 0-1; bar 4's chord differs from bar 1's
    ctx = _ctx("A2B1A2", [0, 5, 7, 0, 2])
    from composer.levels.returns import phrase_repeats
    source, keep = return_plan(ctx, phrase_repeats(ctx.phrases))
    assert source[48:80].tolist() == list(range(0, 32))
    assert source[:48].tolist() == list(range(48))
    assert keep[48:64].all() and not keep[64:80].any() and not keep[:48].any()


def test_sampler_keeps_known_silences_intros_and_copies_returns():
    level = _level()
    ctx = _ctx("i1A2B1A2o1", [0, 0, 5, 7, 0, 2, 0])
    gen = lambda: torch.Generator().manual_seed(3)   # noqa: E731
    tokens = sample_melody(level, ctx, gen(), steps=3)
    assert tokens.shape == (ctx.n_steps,) and tokens.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() < N_MELODY_CLASSES
    silent = ~melodic_steps(ctx)
    assert (tokens[silent] == REST).all() and silent[:16].all() and silent[-16:].all()
    assert (tokens[~silent] != REST).any()
    # the second A (bars 4-5) repeats bars 1-2 exactly where the chords agree (bar 4 = bar 1)
    assert tokens[64:80].tolist() == tokens[16:32].tolist()
    assert sample_melody(level, ctx, gen(), steps=3).tolist() == tokens.tolist()
    # known steps come back exactly, wherever they are
    known = np.full(ctx.n_steps, ONSET + 12)
    mask = np.zeros(ctx.n_steps, bool)
    mask[20:40] = True
    kept = sample_melody(level, ctx, gen(), steps=3, known=known, mask=mask)
    assert (kept[20:40] == ONSET + 12).all()


def test_cadence_steps_are_the_last_bars_of_melodic_phrases():
    ctx = _ctx("i1A2B1o1")
    got = cadence_steps(ctx)
    want = np.zeros(5 * 16, bool)
    want[32:48] = want[48:64] = True      # A's second bar and B's only bar; not the intro/outro
    assert got.tolist() == want.tolist()


def test_rest_bias_trades_rests_for_notes_and_zero_is_the_nets_own_line():
    level = _level()
    with torch.no_grad():     # a net whose prior is the same everywhere: a rest one time in 8
        level.model.out.weight.zero_()
        level.model.out.bias.zero_()
        level.model.out.bias[REST] = 2.0
    ctx = _ctx("A4")
    gen = lambda: torch.Generator().manual_seed(5)   # noqa: E731
    rests = {b: int((sample_melody(level, ctx, gen(), steps=4, rest_bias=b) == REST).sum())
             for b in (-4.0, 0.0, 4.0)}
    assert rests[-4.0] > rests[0.0] > rests[4.0]
    # the cadence push reads the chords (this net ignores them) and changes the line of a
    # net that reads them; the same seed gives the same line
    assert (sample_melody(level, ctx, gen(), steps=4, cadence_guidance=3.0).tolist()
            == sample_melody(level, ctx, gen(), steps=4, cadence_guidance=1.0).tolist())
    level = _level()
    plain = sample_melody(level, ctx, gen(), steps=4, cadence_guidance=1.0)
    assert plain.tolist() == sample_melody(level, ctx, gen(), steps=4, cadence_guidance=1.0).tolist()
    assert plain.tolist() != sample_melody(level, ctx, gen(), steps=4, cadence_guidance=3.0).tolist()


def test_second_pass_runs_its_share_of_the_steps():
    """A returning phrase whose chords changed is written again in a second pass of
    RETURN_STEP_SHARE of the solver steps; the progress total counts both passes."""
    from composer.levels.melody import RETURN_STEP_SHARE
    level = _level()
    ctx = _ctx("A2B1A2", [0, 5, 7, 0, 2])      # the second A's last bar has a new chord
    calls, reports = [], []
    hook = level.model.register_forward_hook(lambda m, args, out: calls.append(1))
    sample_melody(level, ctx, torch.Generator().manual_seed(1), steps=8,
                  progress=lambda i, n: reports.append((i, n)))
    hook.remove()
    second = round(8 * RETURN_STEP_SHARE)
    assert 0 < second < 8
    assert len(calls) == 8 + second and reports[-1] == (8 + second, 8 + second)


def test_guidance_batch_only_when_a_free_step_is_guided():
    """The unconditional item is run only where guidance moves a step the sampler writes:
    with every cadence bar known, the net sees one item and the line is the same."""
    level = _level()
    ctx = _ctx("A2B2")
    batches = []
    hook = level.model.register_forward_hook(lambda m, args, out: batches.append(out.shape[0]))
    gen = lambda: torch.Generator().manual_seed(7)   # noqa: E731
    known = np.full(ctx.n_steps, ONSET + 10)
    cadence = cadence_steps(ctx)
    sample_melody(level, ctx, gen(), steps=2, repeat=False, cadence_guidance=3.0)
    assert set(batches) == {2}      # free cadence bars: both items
    batches.clear()
    guided = sample_melody(level, ctx, gen(), steps=2, repeat=False, cadence_guidance=3.0,
                           known=known, mask=cadence)
    assert set(batches) == {1}
    batches.clear()
    plain = sample_melody(level, ctx, gen(), steps=2, repeat=False, cadence_guidance=1.0,
                          known=known, mask=cadence)
    hook.remove()
    assert set(batches) == {1}
    assert guided.tolist() == plain.tolist() and (guided[cadence] == ONSET + 10).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_keeps_the_songs_there(prepared, tmp_path):
    task = MelodyTask(prepared, n_valid_batches=1, model_config=TINY)
    config = TrainConfig(steps=2, batch_size=2, warmup=1, valid_every=2, checkpoint_every=2, log_every=1,
                         device="cuda")
    result = train(task, config, tmp_path / "melody")
    assert np.isfinite(result.valid_loss)
    assert task.train_bank.tokens.is_cuda and task.train_bank.cond.is_cuda
    level = MelodyLevel.from_pretrained(tmp_path / "melody")
    ctx = _ctx("A2B2")
    assert sample_melody(level, ctx, torch.Generator().manual_seed(0), steps=2).shape == (ctx.n_steps,)


def test_interval_head_is_one_rule_at_every_pitch():
    # What the head adds: the same interval preferences wherever the tune lies.  A line
    # moved up 5 semitones gets the same logits moved up 5 (away from the range's edges),
    # and its banded matrices are the grouped pitch convolution exactly.
    from composer.nets.melody import IntervalHead
    torch.manual_seed(0)
    head = IntervalHead(features=8, channels=4, time_reach=4, pitch_reach=3)
    torch.nn.init.normal_(head.gate.weight)
    x = -torch.ones(1, 48, 32)
    x[0, 20, 0], x[0, 22, 8], x[0, 19, 16] = 1.0, 1.0, 1.0       # three onsets
    known = torch.zeros(1, 48, 32)
    features = torch.randn(1, 8, 1).expand(1, 8, 32)             # the same context at every step
    up = torch.roll(x, 5, dims=1)
    with torch.no_grad():
        a, b = head(x, known, features), head(up, known, features)
    assert torch.allclose(b[0, 5 + 8:40], a[0, 8:40 - 5], atol=1e-5)
    z = torch.randn(2, 3, 4, 48)
    conv = head.interval(z.reshape(6, 4, 48)).reshape(2, 3, 4, 48)
    banded = torch.einsum("blmp,mpq->blmq", z, head._interval_matrix(48)) + head.interval.bias[:, None]
    assert torch.allclose(conv, banded, atol=1e-5)
