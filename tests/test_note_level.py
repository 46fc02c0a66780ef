"""The note level: the net's shapes, the training task on a tiny prepared folder built in the
test, two training steps through the shared loop, checkpoint round trip, decoding."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from composer.diffusion.schedule import alpha_sigma
from composer.data.example import SongExample
from composer.levels.notes import NoteLevel, decode_roll
from composer.nets.notes import expand_mask, melody_channel_mask
from composer.tasks.notes import (CROP_STEPS, NotesTask, _random_mask,
                                        melody_channel_mask)
from composer.nets.notes import X_CHANNELS, NoteUNet
from composer.representation.note_context import N_COND
from composer.representation.pianoroll import MELODY_RANGE, N_ROLL_PITCHES, PIANO_RANGE
from composer.training import TrainConfig, TrainTask, train

TINY = dict(channels=[8, 8, 8, 8], blocks=[1, 1, 1, 1], mid_dilations=[1], emb_dim=16)


def _song(song_id: str, n_bars: int, tonic: int, rng: np.random.Generator) -> SongExample:
    steps = n_bars * 16
    mel = [(s, 2, 60 + tonic + int(rng.integers(0, 12)), 90) for s in range(0, steps, 4)]
    acc = [(s, 8, 48 + tonic + p, 60) for s in range(0, steps, 8) for p in (0, 4, 7)]
    beats = n_bars * 4
    return SongExample(song_id, 100.0, (4, 4), 4, n_bars, f"A{n_bars // 2}B{n_bars - n_bars // 2}",
                       f"A{n_bars}", np.full(n_bars, tonic, np.int8), np.zeros(n_bars, np.int8),
                       np.full(beats, tonic, np.int8), np.zeros(beats, np.int8),
                       np.full(beats, tonic, np.int8), np.array(mel, np.int32), np.array(acc, np.int32)).check()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prepared")
    (root / "songs").mkdir()
    rng = np.random.default_rng(0)
    ids = {"train": ["t1", "t2", "t3"], "valid": ["v1"], "test": []}
    for k, sid in enumerate(ids["train"] + ids["valid"]):
        _song(sid, 10 + 2 * k, [0, 9, 4, 2][k], rng).save(root / "songs" / f"{sid}.npz")
    (root / "split.json").write_text(json.dumps(ids))
    return root


def test_net_shapes_and_init():
    x = torch.randn(2, X_CHANNELS, 64)
    t = torch.rand(2)
    args = (t, torch.randn(2, N_COND, 64), torch.zeros_like(x), torch.zeros(2, 2, 64), *alpha_sigma(t))
    plain = NoteUNet(**TINY, posterior=False)
    v = plain(x, *args)
    assert v.shape == (2, X_CHANNELS, 64) and v.dtype == torch.float32
    assert torch.count_nonzero(v) == 0          # zero-initialised output layer
    assert plain.length_multiple == 16


def test_posterior_head_is_the_exact_binary_posterior():
    """At init the context logit is -2 everywhere, so x0 = tanh(alpha x / sigma^2 - 2)."""
    from composer.diffusion.schedule import x0_from_v
    net = NoteUNet(**TINY)
    torch.manual_seed(0)
    x = torch.randn(2, X_CHANNELS, 32)
    t = torch.tensor([0.3, 0.8])
    v = net(x, t, torch.zeros(2, N_COND, 32), torch.zeros_like(x), torch.zeros(2, 2, 32), *alpha_sigma(t))
    alpha, sigma = alpha_sigma(t)
    expect = torch.tanh(alpha[:, None, None] * x / sigma[:, None, None] ** 2 - 2.0)
    assert torch.allclose(x0_from_v(x, v, t), expect, atol=1e-5)
    # nearly clean input: the posterior returns the data
    x0 = torch.where(torch.rand(1, X_CHANNELS, 32) < 0.1, 1.0, -1.0)
    t = torch.tensor([0.02])
    a, s = alpha_sigma(t)
    xt = a * x0 + s * torch.randn(x0.shape)
    v = net(xt, t, torch.zeros(1, N_COND, 32), torch.zeros_like(xt), torch.zeros(1, 2, 32), a, s)
    assert torch.equal(torch.sign(x0_from_v(xt, v, t)), x0)


def test_masks():
    assert melody_channel_mask().sum() == 2 * 48
    mask = torch.zeros(1, 2, 4)
    mask[0, 0, :2] = 1
    full = expand_mask(mask)
    assert full.shape == (1, X_CHANNELS, 4)
    assert full[0, :48, :2].all() and not full[0, :48, 2:].any() and not full[0, 48:120].any()
    assert full[0, 120:168, :2].all()           # melody sustain rows
    assert _random_mask(0.1, 3, 5, 8, 16).sum() == 0
    m = _random_mask(0.6, 2, 5, 8, 16)          # known prefix of 3 bars
    assert m[:, :48].all() and not m[:, 48:].any()
    assert _random_mask(0.9, 0, 0, 8, 16)[0].all() and not _random_mask(0.9, 0, 0, 8, 16)[1].any()


def test_task_batches_and_loss(prepared):
    task = NotesTask(prepared, n_valid_batches=2)
    assert isinstance(task, TrainTask)
    gen = torch.Generator().manual_seed(0)
    batch = next(task.train_batches(3, gen))
    assert batch.x0.shape == (3, X_CHANNELS, CROP_STEPS) and batch.cond.shape == (3, N_COND, CROP_STEPS)
    assert set(batch.x0.unique().tolist()) <= {-1.0, 1.0} and (batch.x0 > 0).any()
    # transposed to C: whatever the song's key (C, A or E), its triads land on C3 E3 G3,
    # one every 8 steps, in the accompaniment's onset rows and nowhere else
    acc_onsets = batch.x0[:, MELODY_RANGE.n_pitches:N_ROLL_PITCHES] > 0
    triads = torch.zeros(PIANO_RANGE.n_pitches, CROP_STEPS, dtype=torch.bool)
    triads[[p - PIANO_RANGE.low for p in (48, 52, 55)], ::8] = True
    assert torch.equal(acc_onsets, triads.expand(3, -1, -1))
    loss = task.loss(task.build_model(), batch, gen)
    assert loss.ndim == 0 and torch.isfinite(loss)
    again = next(task.train_batches(3, torch.Generator().manual_seed(0)))
    assert torch.equal(again.x0, batch.x0)      # the stream is seeded
    valid = task.valid_batches(2)
    assert len(valid) == 2 and torch.equal(valid[0].x0, task.valid_batches(2)[0].x0)


def test_two_training_steps_and_checkpoint_round_trip(prepared, tmp_path):
    task = NotesTask(prepared, n_valid_batches=1, model_config=TINY)
    result = train(task, TrainConfig(steps=2, batch_size=2, warmup=1, valid_every=1,
                                     checkpoint_every=1, log_every=1), tmp_path / "notes")
    assert result.step == 2 and np.isfinite(result.valid_loss)
    level = NoteLevel.from_pretrained(tmp_path / "notes")
    config = json.loads((tmp_path / "notes" / "config.json").read_text())
    assert config["kind"] == "notes" and config["representation"]["n_cond"] == N_COND
    fresh = task.build_model()
    assert level.model.state_dict().keys() == fresh.state_dict().keys()
    assert config["model"] == TINY and fresh.x_channels == level.model.x_channels


def test_decode_roll_one_melody_voice():
    raw = -np.ones((4, 2, 120), np.float32)
    raw[0, 0, 10], raw[0, 0, 12] = 0.3, 0.8     # two melody onsets: the stronger stays
    raw[0, 0, 60], raw[0, 0, 70] = 0.5, 0.5     # accompaniment chords stay polyphonic
    out = decode_roll(raw)
    assert np.nonzero(out[0, 0, :48])[0].tolist() == [12]
    assert np.nonzero(out[0, 0, 48:])[0].tolist() == [12, 22]


def test_guidance_per_part_scales_melody_and_accompaniment_channels():
    from composer.levels.notes import guidance_scale
    from composer.representation.pianoroll import MELODY_RANGE, N_ROLL_PITCHES
    assert guidance_scale(2.0) == 2.0 and guidance_scale((3.0, 3.0)) == 3.0
    scale = guidance_scale((1.0, 4.0))
    assert scale.shape == (1, 2 * N_ROLL_PITCHES, 1)
    m = MELODY_RANGE.n_pitches
    for kind in (0, 1):   # onset and sustain blocks: melody pitches first, then accompaniment
        block = scale[0, kind * N_ROLL_PITCHES:(kind + 1) * N_ROLL_PITCHES, 0]
        assert (block[:m] == 1.0).all() and (block[m:] == 4.0).all()
    # the roll's channel order is the one sample_notes reshapes to [n, 2, N_ROLL_PITCHES]
    x = torch.arange(2 * N_ROLL_PITCHES, dtype=torch.float32)[None, :, None]
    roll = x[0, :, :1].T.reshape(1, 2, N_ROLL_PITCHES)
    assert roll[0, 1, 0] == N_ROLL_PITCHES and roll[0, 0, m] == m


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_then_sampling(prepared, tmp_path):
    """`composer train notes --device cuda`: batches go to the net's device (they once
    stayed on the CPU and the first step failed), and the trained folder samples."""
    task = NotesTask(prepared, n_valid_batches=1, model_config=TINY)
    config = TrainConfig(steps=2, batch_size=2, warmup=1, valid_every=2, checkpoint_every=2,
                         log_every=1, device="cuda")
    result = train(task, config, tmp_path / "notes")
    assert result.step == 2 and np.isfinite(result.valid_loss)
    level = NoteLevel.from_pretrained(tmp_path / "notes")
    from composer.levels.notes import sample_notes
    from composer.form import parse_form
    from composer.representation.note_context import NoteContext
    phrases = parse_form("A2")
    ctx = NoteContext(16, np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(8, np.int64),
                      np.zeros(8, np.int64), np.zeros(8, np.int64), phrases)
    roll = sample_notes(level, ctx, torch.Generator().manual_seed(0), steps=2)
    assert roll.shape == (32, 2, N_ROLL_PITCHES) and np.isfinite(roll).all()
