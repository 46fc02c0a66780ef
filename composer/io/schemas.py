"""Schemas of the settings in a model folder's config.json that are not constructor arguments.

A model folder is something a user downloads (``--models``, ``COMPOSER_MODELS``, ``--timbre
TRACK=ddsp:PATH``, ``composer timbres --dir``).  Its weights are safetensors, which cannot
run code; the JSON beside them can still ask for anything: a string where a table of
numbers belongs, a ragged table, an empty list of dynamics, a hop of 0 samples (a division
by zero) or of 1 (a render that never ends), a release of a week (an allocation of 1.4 TiB).
Every field that sampling or rendering reads is checked here, for type and range, before
anything is built or allocated, and a failure is one line naming the file and the field.

The constructor arguments themselves (``config["model"]``) are checked against the
constructor (:func:`composer.io.checkpoint.check_arguments`) and built on the meta device
first; their ranges that a meta build cannot see (the synthesiser's hop and sample rate)
are here too.  Pydantic, in strict mode: ``"7"``, ``true`` and ``1.5`` are not whole
numbers, NaN and infinities are not numbers.
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from composer.errors import ModelError
from composer.form import MAX_PHRASE_BARS, MAX_SONG_BARS, PHRASE_TYPES

Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Settings(BaseModel):
    """Every field typed strictly and finite; unknown keys refused (a misspelt setting
    would otherwise be silently ignored)."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class _Config(_Settings):
    """A whole config.json: the owner may keep other keys (training figures, data notes)."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------------- form
N_TYPE_ROWS = len(PHRASE_TYPES) + 1
KEY_MOVES = 48
"""Key moves of the key prior (composer.levels.form_decode.KEY_MOVES: 12 tonic steps x 2 x 2 modes)."""
"""Rows and columns of the phrase prior's type table: BOS + the types, the types + EOS."""


class PhrasePriorSettings(_Settings):
    length_logp: Annotated[list[Finite], Field(min_length=MAX_PHRASE_BARS, max_length=MAX_PHRASE_BARS)]
    type_logp: Annotated[list[Annotated[list[Finite], Field(min_length=N_TYPE_ROWS, max_length=N_TYPE_ROWS)]],
                         Field(min_length=N_TYPE_ROWS, max_length=N_TYPE_ROWS)]
    length_weight: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0
    same_length_p: Optional[Annotated[float, Field(gt=0.0, lt=1.0)]] = None
    song_bars: Annotated[list[Annotated[int, Field(ge=1, le=MAX_SONG_BARS)]], Field(max_length=100_000)] = []
    key_stay_logp: Optional[Annotated[float, Field(le=0.0, allow_inf_nan=False)]] = None
    key_move_logp: Optional[Annotated[list[Annotated[float, Field(le=0.0, allow_inf_nan=False)]],
                                      Field(min_length=KEY_MOVES, max_length=KEY_MOVES)]] = None


class FormConfig(_Config):
    # The sampler makes form_length columns (bars) and more only when a song needs them.
    form_length: Annotated[int, Field(ge=8, le=MAX_SONG_BARS + 64)] = 256
    phrase_prior: Optional[PhrasePriorSettings] = None


# ---------------------------------------------------------------------- notes
Threshold = Annotated[float, Field(ge=-10.0, le=10.0)]   # on raw roll values of about -1..1


class DecodingSettings(_Settings):
    melody_onset: Threshold = 0.0
    piano_onset: Threshold = 0.0
    melody_sustain: Threshold = 0.0
    piano_sustain: Threshold = 0.0
    max_piano_onsets: Annotated[int, Field(ge=0, le=128)] = 6


class NotesConfig(_Config):
    schedule: str = "cosine"
    decoding: Optional[DecodingSettings] = None


# ---------------------------------------------------------------------- melody
LINE_PITCHES = 48
"""Rows and columns of the line prior's table (composer.levels.line_prior.N_PITCH, the
melody range)."""
LogRatio = Annotated[float, Field(ge=-50.0, le=50.0, allow_inf_nan=False)]


class LinePriorSettings(_Settings):
    weight: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0
    pairs: Annotated[int, Field(ge=0)] = 0
    log_ratio: Annotated[list[Annotated[list[LogRatio], Field(min_length=LINE_PITCHES, max_length=LINE_PITCHES)]],
                         Field(min_length=LINE_PITCHES, max_length=LINE_PITCHES)]
    interval_bias: Annotated[list[LogRatio], Field(min_length=2 * LINE_PITCHES - 1,
                                                   max_length=2 * LINE_PITCHES - 1)] = [0.0] * (2 * LINE_PITCHES - 1)
    register_logp: Optional[Annotated[list[LogRatio], Field(min_length=2 * LINE_PITCHES - 1,
                                                            max_length=2 * LINE_PITCHES - 1)]] = None
    register_weight: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0


class MelodyConfig(_Config):
    line_prior: Optional[LinePriorSettings] = None


# ---------------------------------------------------------------------- timbre
MIN_FRAME_RATE_HZ = 10.0
MAX_FRAME_RATE_HZ = 1000.0
"""A timbre's control frames per second (sample_rate / hop; the shipped ones: 100).  Fewer
than 10 cannot follow a note; more than 1,000 makes a render crawl (hop 1 never ended)."""


class SynthSettings(_Settings):
    sample_rate: Annotated[int, Field(ge=8000, le=96000)] = 24000
    hop: Annotated[int, Field(ge=1, le=9600)] = 240
    reverb_seconds: Annotated[float, Field(ge=0.0, le=10.0)] = 0.5

    @model_validator(mode="after")
    def _frame_rate(self) -> "SynthSettings":
        rate = self.sample_rate / self.hop
        if not MIN_FRAME_RATE_HZ <= rate <= MAX_FRAME_RATE_HZ:
            raise ValueError(f"hop {self.hop} at {self.sample_rate} Hz makes {rate:g} frames a second; "
                             f"a timbre needs {MIN_FRAME_RATE_HZ:g} to {MAX_FRAME_RATE_HZ:g}")
        return self


class TimbreModelSettings(_Settings):
    decoder: dict[str, Any] = {}    # its fields: check_arguments(TimbreDecoder, ...) and a meta build
    synth: SynthSettings = SynthSettings()


class ExpressionSettings(_Settings):
    """The ranges a recording can measure, with room to spare; see ``Expression``."""

    dynamics_velocity: Annotated[list[Annotated[int, Field(ge=1, le=127)]], Field(min_length=1, max_length=127)] = \
        [33, 64, 96, 112]
    dynamics_loudness_db: Annotated[list[Annotated[float, Field(ge=-200.0, le=20.0)]],
                                    Field(min_length=1, max_length=127)] = [-45.0, -35.0, -27.0, -22.0]
    attack_seconds: Annotated[float, Field(ge=0.0, le=5.0)] = 0.06
    release_seconds: Annotated[float, Field(ge=0.0, le=10.0)] = 0.15
    decay_db: Annotated[float, Field(ge=0.0, le=120.0)] = 1.0
    vibrato_rate_hz: Annotated[float, Field(ge=0.0, le=20.0)] = 5.0
    vibrato_depth_cents: Annotated[float, Field(ge=0.0, le=200.0)] = 0.0
    vibrato_delay_seconds: Annotated[float, Field(ge=0.0, le=10.0)] = 0.3
    pitch_min: Annotated[int, Field(ge=0, le=127)] = 0
    pitch_max: Annotated[int, Field(ge=0, le=127)] = 127
    silence_db: Annotated[float, Field(ge=-200.0, le=0.0)] = -90.0
    register_pitch: Annotated[list[Annotated[int, Field(ge=0, le=127)]], Field(max_length=128)] = []
    register_db: Annotated[list[Annotated[float, Field(ge=-120.0, le=120.0)]], Field(max_length=128)] = []
    written_seconds: Annotated[list[Annotated[float, Field(gt=0.0, le=600.0)]], Field(max_length=64)] = []
    played_seconds: Annotated[list[Annotated[float, Field(gt=0.0, le=600.0)]], Field(max_length=64)] = []

    @model_validator(mode="after")
    def _tables(self) -> "ExpressionSettings":
        velocities, loudness = self.dynamics_velocity, self.dynamics_loudness_db
        if len(velocities) != len(loudness):
            raise ValueError(f"dynamics_velocity has {len(velocities)} entries and dynamics_loudness_db "
                             f"{len(loudness)}; they are one table")
        if any(b <= a for a, b in zip(velocities, velocities[1:])):
            raise ValueError("dynamics_velocity must rise from entry to entry")
        for keys, values in (("register_pitch", "register_db"), ("written_seconds", "played_seconds")):
            k, v = getattr(self, keys), getattr(self, values)
            if len(k) != len(v):
                raise ValueError(f"{keys} has {len(k)} entries and {values} {len(v)}; they are one table")
            if any(y <= x for x, y in zip(k, k[1:])):
                raise ValueError(f"{keys} must rise from entry to entry")
        if self.pitch_min > self.pitch_max:
            raise ValueError(f"pitch_min {self.pitch_min} is above pitch_max {self.pitch_max}")
        return self


class TimbreConfig(_Config):
    model: TimbreModelSettings
    expression: ExpressionSettings = ExpressionSettings()


SCHEMAS: dict[str, type[_Config]] = {"form": FormConfig, "notes": NotesConfig, "melody": MelodyConfig,
                                     "timbre": TimbreConfig}
"""The schema of each kind of model folder (kinds not listed: the constructor check only)."""


def check_config(config: dict[str, Any], kind: str | None, where: str) -> None:
    """One ModelError line naming ``where`` (the config file) and the first bad field, if
    ``config`` does not fit the schema of ``kind``."""
    schema = SCHEMAS.get(kind) if kind is not None else None
    if schema is None:
        return
    try:
        schema.model_validate(config)
    except ValidationError as err:
        raise ModelError(f"{where}: {describe(err)}") from None
    except RecursionError:
        raise ModelError(f"{where}: settings nested too deeply") from None


def describe(err: ValidationError) -> str:
    """The first problem of a ValidationError as ``field.sub.0: what is wrong (got X)``."""
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"]) or "the settings"
    message = first["msg"].removeprefix("Value error, ")
    shown = _short(first.get("input"))
    return f"{loc}: {message}" + (f" (got {shown})" if first["type"] not in ("value_error", "missing") else "")


def _short(value: Any) -> str:
    import json  # noqa: PLC0415
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["SCHEMAS", "check_config", "describe", "FormConfig", "NotesConfig", "MelodyConfig", "TimbreConfig",
           "PhrasePriorSettings", "SynthSettings", "ExpressionSettings"]
