"""CUDA smoke test of sampling (marker ``gpu``; skipped where no CUDA device is), and
its harness on the CPU.

Training on CUDA is tested in test_melody_level.py (``test_training_on_cuda_keeps_the_songs_there``).
The samplers and the pipeline run on the CPU only: their noise comes from CPU generators and
``Composer`` has no device option.  So sampling is tested on CUDA as far as the code allows:
a whole song is composed with every level's net evaluated on the GPU, each call checked
against the same net on the CPU.
"""
from __future__ import annotations

import copy

import pytest
import torch

from test_pipeline import tiny_composer_with_melody


class NetOnDevice:
    """Stands in for a level's net: evaluates it on ``device`` and returns to the CPU, where
    the sampler lives.  Every call is also made on a CPU copy of the net, and the two
    outputs must agree; ``calls`` counts the calls."""

    def __init__(self, net: torch.nn.Module, device: str) -> None:
        self.on_cpu = net
        self.on_device = copy.deepcopy(net).to(device).eval()
        self.device = device
        self.calls = 0

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = self.on_device(*(x.to(self.device) for x in inputs))  # every input is a tensor
        assert out.device.type == torch.device(self.device).type
        torch.testing.assert_close(out.cpu(), self.on_cpu(*inputs), rtol=1e-4, atol=1e-4)
        self.calls += 1
        return out.cpu()

    def __getattr__(self, name: str):
        # What samplers read besides calling the net (length_multiple, ...).
        return getattr(self.on_cpu, name)


def wake(net: torch.nn.Module, seed: int) -> None:
    """Draw the zero-initialised parameters (output heads, norm biases) at random: an
    untrained form or chord net outputs exact zeros, on any device, which would leave the
    CPU/CUDA comparison nothing to compare."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if not p.any():
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def compose_with_nets_on(device: str):
    """A short song from the tiny four-level cascade with each net run on ``device``;
    returns the song and the stand-ins (level name -> :class:`NetOnDevice`)."""
    composer = tiny_composer_with_melody()
    levels = {"form": composer.form_level, "chords": composer.chord_level,
              "melody": composer.melody_level, "notes": composer.note_level}
    nets = {}
    for seed, (name, level) in enumerate(levels.items()):
        wake(level.model, seed)
        nets[name] = level.model = NetOnDevice(level.model, device)
    song = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2)
    return song, nets


def check_song(song, nets) -> None:
    # two sampler steps: at least two calls of every level's net
    assert all(net.calls >= 2 for net in nets.values()), {k: n.calls for k, n in nets.items()}
    assert [(s.label, s.n_bars) for s in song.sections] == [
        ("i", 2), ("A", 4), ("B", 4), ("A", 4), ("o", 2)]
    assert [t.name for t in song.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass"]
    assert song.track("Melody").notes and song.chords


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_song_samples_with_every_net_on_cuda(monkeypatch):
    # TF32 convolutions and matmuls would differ from the CPU by ~1e-3; the check is float32.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    check_song(*compose_with_nets_on("cuda"))


def test_the_stand_in_reaches_every_level_on_the_cpu():
    """The CUDA test's harness on the CPU, so that it cannot rot unseen between the rare
    runs on a GPU: every level's sampler calls its net through ``level.model``."""
    check_song(*compose_with_nets_on("cpu"))
