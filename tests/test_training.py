"""The one training loop: learns a toy problem, resumes exactly, runs 2 processes under DDP."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from composer.diffusion import sample
from composer.io.checkpoint import load_weights, read_config
from composer.training import TrainConfig, train
from composer.training.toy import MIXTURE_MEANS, GaussianMixtureTask, ToyDenoiser

ROOT = Path(__file__).resolve().parents[1]


def small_config(steps: int, **kw) -> TrainConfig:
    base = dict(steps=steps, batch_size=128, lr=3e-3, warmup=20, valid_every=50,
                checkpoint_every=50, log_every=25, ema_decay=0.99)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.slow
def test_training_learns_the_mixture(tmp_path):
    result = train(GaussianMixtureTask(), small_config(600, valid_every=300), tmp_path / "toy")
    assert result.step == 600
    history = json.loads((tmp_path / "toy" / "train" / "state.json").read_text())["history"]
    assert history[-1]["valid_loss"] < history[0]["valid_loss"]
    config = read_config(tmp_path / "toy", kind="toy")
    assert config["training"]["steps"] == 600
    model = load_weights(tmp_path / "toy", ToyDenoiser(**config["model"]))
    with torch.no_grad():
        x = sample(lambda x, t: model(x, t), (4000, 1), 20, "dpm++2m", torch.Generator().manual_seed(0))[:, 0]
    means = torch.tensor(MIXTURE_MEANS)
    comp = torch.argmin((x[:, None] - means).abs(), dim=-1)
    # a 600-step MLP finds the three modes (weights and means roughly)
    for k, m in enumerate(MIXTURE_MEANS):
        assert abs(float(x[comp == k].mean()) - m) < 0.4
    weights = torch.stack([(comp == k).float().mean() for k in range(3)])
    assert torch.allclose(weights, torch.tensor([0.2, 0.5, 0.3]), atol=0.1), weights


def test_resume_continues_exactly(tmp_path):
    task = GaussianMixtureTask(hidden=16)
    train(task, small_config(100), tmp_path / "straight", resume=False)
    train(task, small_config(100), tmp_path / "resumed", stop_at=50)   # interrupted at 50
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    train(task, small_config(100), tmp_path / "resumed")          # picks up at 50
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    log = (tmp_path / "resumed" / "train" / "log.jsonl").read_text().splitlines()
    steps = [json.loads(line).get("step") for line in log if '"loss"' in line]
    assert steps == [25, 50, 75, 100]


@pytest.mark.slow
def test_two_process_ddp_with_gloo(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "composer.training.toy", "--out", str(tmp_path / "ddp"), "--steps", "20",
           "--batch-size", "32"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = read_config(tmp_path / "ddp", kind="toy")
    assert config["training"]["world_size"] == 2
    assert config["training"]["steps"] == 20
    log = [json.loads(line) for line in (tmp_path / "ddp" / "train" / "log.jsonl").read_text().splitlines()]
    assert log[0]["world_size"] == 2
    # only rank 0 writes: every step is logged once
    assert [r["step"] for r in log if "loss" in r] == [10, 20]


def test_a_run_leaves_threads_and_global_random_state_as_it_found_them(tmp_path):
    threads = torch.get_num_threads()
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    train(GaussianMixtureTask(hidden=8), small_config(4, num_threads=threads + 1), tmp_path / "toy")
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)
    # and the seed alone makes the weights, whatever the caller's random state was
    torch.manual_seed(8)
    train(GaussianMixtureTask(hidden=8), small_config(4, num_threads=threads + 1), tmp_path / "again")
    a = load_file(str(tmp_path / "toy" / "model.safetensors"))
    b = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def _prepared(root: Path) -> Path:
    """A prepared dataset folder of six synthetic songs (tests/levels_fixtures.py): four to train on, two to validate."""
    from levels_fixtures import synthetic_songs
    (root / "songs").mkdir(parents=True)
    songs = synthetic_songs(6)
    for ex in songs:
        ex.save(root / "songs" / f"{ex.song_id}.npz")
    ids = [ex.song_id for ex in songs]
    (root / "split.json").write_text(json.dumps({"train": ids[:4], "valid": ids[4:], "test": []}))
    return root


def test_composer_train_form_writes_a_seeded_model(tmp_path, capsys):
    """`composer train form` end to end: the CLI finds the task through composer.tasks.registry,
    runs the form recipe for 3 steps on the shipped model's settings, and writes a model whose
    weights the seed fixes (the same seed twice, the same bytes; another seed, others)."""
    from composer.cli import main
    data = _prepared(tmp_path / "prepared")
    weights = {}
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        out = tmp_path / run
        rc = main(["train", "form", "--data", str(data), "--out", str(out), "--steps", "3",
                   "--batch-size", "2", "--seed", str(seed), "--threads", "1"])
        assert rc == 0
        assert "trained form: 3 steps" in capsys.readouterr().out
        assert read_config(out, kind="form")["training"]["steps"] == 3
        weights[run] = (out / "model.safetensors").read_bytes()
    assert weights["a"] == weights["b"]
    assert weights["a"] != weights["c"]
