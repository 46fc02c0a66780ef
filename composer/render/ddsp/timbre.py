"""A learned timbre: a small decoder from f0 and loudness curves to DDSP synthesiser controls.

The network (:class:`TimbreDecoder`) reads frame-rate f0 (Hz) and A-weighted loudness (dB) and
emits raw controls for a :class:`~composer.render.ddsp.synth.Harmonic` synthesiser and a
:class:`~composer.render.ddsp.synth.FilteredNoise`; a learned :class:`~composer.render.ddsp.synth.Reverb`
follows.  :class:`Timbre` bundles the trained network with the synthesisers and with the
expression statistics measured from the instrument's recordings (loudness per dynamic, attack
and release times, vibrato, range), which ``controls.py`` uses to turn notes into curves.

A timbre is saved as a checkpoint folder ``models/timbres/NAME/`` (``config.json`` +
``model.safetensors`` + ``MODEL_CARD.md``), kind ``"timbre"``.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from composer.errors import ModelError, RenderError
from composer.pitch import pitch_name
from composer.io.checkpoint import build_model, check_arguments, load_weights, read_config, save_checkpoint
from composer.render.ddsp.synth import FilteredNoise, Harmonic, Reverb

KIND = "timbre"


def hz_to_midi(f0_hz: torch.Tensor) -> torch.Tensor:
    """Hz -> fractional MIDI pitch (A4 = 440 Hz = 69); 0 Hz maps to a very low pitch, not -inf."""
    return 69.0 + 12.0 * torch.log2(f0_hz.clamp_min(1.0) / 440.0)


def midi_to_hz(pitch: torch.Tensor | np.ndarray | float):
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


class TimbreDecoder(nn.Module):
    """(f0, loudness) frames -> raw synthesiser controls.

    Input:  f0_hz [batch, n_frames, 1], loudness_db [batch, n_frames, 1] (A-weighted, about
            -100..0 dB).  Output: raw [batch, n_frames, 1 + n_harmonics + n_noise_bands]
            (amplitude, harmonic distribution, noise magnitudes), before the processors'
            ``get_controls``.  A causal GRU gives the decoder the recent past (attacks,
            releases); the feed-forward path keeps the per-frame mapping direct.
    """

    def __init__(self, n_harmonics: int = 100, n_noise_bands: int = 65, hidden: int = 128,
                 gru: int = 128) -> None:
        super().__init__()
        self.n_harmonics = n_harmonics
        self.n_noise_bands = n_noise_bands

        def mlp(n_in: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(n_in, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(),
                                 nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.LeakyReLU())

        self.f0_mlp = mlp(1)
        self.ld_mlp = mlp(1)
        self.gru = nn.GRU(2 * hidden, gru, batch_first=True)
        self.out_mlp = mlp(2 * hidden + gru)
        self.out = nn.Linear(hidden, 1 + n_harmonics + n_noise_bands)

    @staticmethod
    def scale_inputs(f0_hz: torch.Tensor, loudness_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Both inputs to roughly -1..1 so that the first layers start in their useful range.
        return (hz_to_midi(f0_hz) - 64.0) / 32.0, (loudness_db + 50.0) / 30.0

    def forward(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (raw controls [batch, n_frames, 1 + H + N], GRU state [1, batch, gru])."""
        f0_s, ld_s = self.scale_inputs(f0_hz, loudness_db)
        x = torch.cat([self.f0_mlp(f0_s), self.ld_mlp(ld_s)], dim=-1)
        h, state = self.gru(x, state)
        return self.out(self.out_mlp(torch.cat([x, h], dim=-1))), state


@dataclass(frozen=True)
class Expression:
    """Playing statistics measured from an instrument's recordings (see ``train.py``).

    dynamics_velocity / dynamics_loudness_db: sustained A-weighted loudness (dB) measured for
        notes of each written dynamic, with the MIDI velocity that stands for it, ascending.
    attack_seconds: onset to within 3 dB of the sustain level (median).
    release_seconds: fall of 40 dB after a note stops (median).
    decay_db: drop from the attack peak to the sustain level (median, >= 0).
    vibrato_rate_hz, vibrato_depth_cents, vibrato_delay_seconds: on long notes (median).
    pitch_min, pitch_max: the range recorded (MIDI pitches).
    silence_db: loudness of silence (the floor of the recordings).
    register_pitch / register_db: how much louder (dB) than its dynamic's level a note of
        each pitch is measured to sound (a flute's sixth octave is 7-15 dB louder than its
        fourth at the same written dynamic), interpolated between the pitches, held beyond
        them; empty: the same level at every pitch (timbres measured before issue 21's third
        round).
    written_seconds / played_seconds: how long notes of each written length are held before
        their release begins (the players' articulation: the Philharmonia's 0.25 s notes are
        let go after about 0.15 s), ascending; between them interpolated, below the shortest
        scaled in proportion, above the longest the longest's difference added; empty: as
        written.
    """

    dynamics_velocity: tuple[int, ...] = (33, 64, 96, 112)
    dynamics_loudness_db: tuple[float, ...] = (-45.0, -35.0, -27.0, -22.0)
    attack_seconds: float = 0.06
    release_seconds: float = 0.15
    decay_db: float = 1.0
    vibrato_rate_hz: float = 5.0
    vibrato_depth_cents: float = 0.0
    vibrato_delay_seconds: float = 0.3
    pitch_min: int = 0
    pitch_max: int = 127
    silence_db: float = -90.0
    register_pitch: tuple[int, ...] = ()
    register_db: tuple[float, ...] = ()
    written_seconds: tuple[float, ...] = ()
    played_seconds: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for a, b in (("register_pitch", "register_db"), ("written_seconds", "played_seconds"),
                     ("dynamics_velocity", "dynamics_loudness_db")):
            if len(getattr(self, a)) != len(getattr(self, b)):
                raise ValueError(f"{a} and {b} differ in length")
        if any(x <= 0 for x in self.written_seconds + self.played_seconds):
            raise ValueError("written_seconds and played_seconds must be positive")

    def loudness_for_velocity(self, velocity: float, pitch: float | None = None) -> float:
        """Sustained loudness (dB) for a MIDI velocity, interpolated between measured dynamics;
        with ``pitch``, plus that pitch's register offset (``register_db``)."""
        level = float(np.interp(velocity, self.dynamics_velocity, self.dynamics_loudness_db))
        if pitch is not None and self.register_pitch:
            level += float(np.interp(pitch, self.register_pitch, self.register_db))
        return level

    def played_for(self, seconds: float) -> float:
        """How long a note written ``seconds`` long is held before its release begins."""
        w, p = self.written_seconds, self.played_seconds
        if not w:
            return float(seconds)
        if seconds <= w[0]:
            return float(seconds) * p[0] / w[0]
        if seconds >= w[-1]:
            return float(seconds) + p[-1] - w[-1]
        return float(np.interp(seconds, w, p))


@dataclass(frozen=True)
class SynthConfig:
    """Synthesiser settings of a timbre: ``sample_rate`` Hz, ``hop`` samples per frame,
    ``reverb_seconds`` length of the learned impulse response."""

    sample_rate: int = 24000
    hop: int = 240
    reverb_seconds: float = 0.5

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop


class TimbreModel(nn.Module):
    """Decoder + reverb as one module, so that one ``state_dict`` holds every learned weight."""

    def __init__(self, decoder: dict, synth: dict) -> None:
        super().__init__()
        self.synth_config = SynthConfig(**synth)
        self.decoder = TimbreDecoder(**decoder)
        self.reverb = Reverb(int(self.synth_config.reverb_seconds * self.synth_config.sample_rate))
        sc = self.synth_config
        self.harmonic = Harmonic(sc.sample_rate, sc.hop, self.decoder.n_harmonics)
        self.noise = FilteredNoise(sc.hop, self.decoder.n_noise_bands)

    def get_controls(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor,
                     state: torch.Tensor | None = None):
        """f0 [b, f, 1] Hz, loudness [b, f, 1] dB -> (amplitude, distribution, f0, noise mags, state)."""
        raw, state = self.decoder(f0_hz, loudness_db, state)
        h = self.decoder.n_harmonics
        amplitude, distribution, f0 = self.harmonic.get_controls(raw[..., :1], raw[..., 1:1 + h], f0_hz)
        magnitudes = self.noise.get_controls(raw[..., 1 + h:])
        return amplitude, distribution, f0, magnitudes, state

    def forward(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor,
                generator: torch.Generator | None = None, reverb: bool = True) -> torch.Tensor:
        """Frames -> audio [batch, n_frames * hop] (harmonic + noise, then the learned reverb)."""
        amplitude, distribution, f0, magnitudes, _ = self.get_controls(f0_hz, loudness_db)
        audio, _ = self.harmonic.get_signal(amplitude, distribution, f0)
        audio = audio + self.noise.get_signal(magnitudes, generator=generator)
        return self.reverb(audio) if reverb else audio


@dataclass(frozen=True)
class Timbre:
    """A trained timbre ready to play: its name, network, expression statistics and metadata."""

    name: str
    model: TimbreModel
    expression: Expression
    metrics: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def sample_rate(self) -> int:
        return self.model.synth_config.sample_rate


def save_timbre(folder: str | os.PathLike, model: TimbreModel, decoder_config: dict,
                synth_config: dict, expression: Expression, extra: dict | None = None) -> Path:
    """Write the checkpoint folder (atomic; an existing MODEL_CARD.md is kept)."""
    config_extra = {"expression": asdict(expression)}
    config_extra.update(extra or {})
    return save_checkpoint(folder, model, KIND, {"decoder": decoder_config, "synth": synth_config},
                           config_extra)


def load_timbre(folder: str | os.PathLike) -> Timbre:
    """Load ``folder`` (config.json + model.safetensors) as a :class:`Timbre`; ModelError if bad."""
    folder = Path(folder)
    config = read_config(folder, kind=KIND)
    model = build_model(TimbreModel, config.get("model"), folder,
                        nested={"decoder": TimbreDecoder, "synth": SynthConfig})
    load_weights(folder, model)
    ex = dict(check_arguments(Expression, config.get("expression", {}), f"{folder}/config.json (expression)"))
    for key in ("dynamics_velocity", "dynamics_loudness_db", "register_pitch", "register_db",
                "written_seconds", "played_seconds"):
        if key in ex:
            ex[key] = tuple(ex[key])
    try:
        expression = Expression(**ex)
    except (TypeError, ValueError) as err:
        raise ModelError(f"{folder}/config.json: bad expression settings ({err})") from None
    return Timbre(folder.name, model, expression, config.get("metrics", {}))


def default_timbre_dir() -> Path:
    """``models/timbres`` of this checkout (the shipped timbres), or ``$COMPOSER_TIMBRES``."""
    env = os.environ.get("COMPOSER_TIMBRES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "models" / "timbres"


def installed_timbres(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the timbre folders (with a config.json) under ``root``, sorted."""
    root = Path(root) if root is not None else default_timbre_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()
                  and (p / "model.safetensors").is_file())


def find_timbre(name: str, root: str | os.PathLike | None = None) -> Timbre:
    """Load an installed timbre by name (or a path to a timbre folder).

    An unknown name raises RenderError in one line listing the installed timbres."""
    path = Path(name)
    if path.is_dir() and (path / "config.json").is_file():
        return load_timbre(path)
    root = Path(root) if root is not None else default_timbre_dir()
    names = installed_timbres(root)
    if name not in names:
        listed = ", ".join(names) if names else "none"
        raise RenderError(f"unknown timbre {name!r}; installed timbres: {listed} "
                          f"(train one with `composer train-timbre`)")
    return load_timbre(root / name)


def describe_range(expression: Expression) -> str:
    return f"{pitch_name(expression.pitch_min)}-{pitch_name(expression.pitch_max)}"


