"""Checkpoints are folders: ``config.json`` + ``model.safetensors`` (+ ``MODEL_CARD.md``).

No pickle anywhere: ``torch.load`` of a user's file can run code.  The config holds the
constructor arguments of the network (``config["model"]``), the kind of model
(``"form"``, ``"chords"``, ``"notes"``, ``"timbre"``...) and a format version that is
checked on load, plus anything else the owner wants to keep (training figures...).
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from composer.errors import ComposerError, ModelError
from composer.io.atomic import atomic_path, read_regular_file, write_error
from composer.io.schemas import check_config
from composer.limits import MAX_CONFIG_BYTES, MAX_MODEL_PARAMETERS

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


def default_models_dir() -> Path:
    """The shipped ``models/`` of this checkout (one folder per level: form/, chords/, melody/,
    notes/, drums/), or ``$COMPOSER_MODELS`` when set."""
    env = os.environ.get("COMPOSER_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


def save_checkpoint(folder: str | os.PathLike, model: torch.nn.Module, kind: str,
                    model_config: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and config into ``folder``, each file atomically.

    ``model_config`` must be the keyword arguments that rebuild ``model``.  The config is
    serialised before anything is written (a setting that is not JSON leaves the folder as
    it was), then the weights and the config are each written to a temporary file and
    renamed into place (``composer.io.atomic``), so a crash never leaves a half-written
    file; an existing MODEL_CARD.md in ``folder`` is kept.
    """
    folder = Path(folder)
    config = {"format_version": FORMAT_VERSION, "kind": kind, "model": model_config}
    if extra:
        config.update(extra)
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a full disk, a read-only parent: one line, as a failed write is
        raise write_error(folder, None, err) from None
    with atomic_path(folder / "model.safetensors", suffix=".safetensors") as tmp:
        save_file(state, tmp)
    with atomic_path(folder / "config.json") as tmp:
        tmp.write_text(text)
    return folder


def read_config(folder: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """The checked ``config.json`` of a checkpoint folder."""
    folder = Path(folder)
    path = folder / "config.json"
    if not os.path.lexists(path):
        raise ModelError(f"{folder} is not a model folder (no config.json)")
    try:
        config = json.loads(read_regular_file(path, MAX_CONFIG_BYTES, ModelError, "a config.json"))
    except (OSError, ValueError) as err:  # (UnicodeDecodeError is a ValueError)
        raise ModelError(f"cannot read {path}: {_first_line(err)}") from None
    except RecursionError:  # [[[[...]]]] 100,000 deep: the parser recurses once a level
        raise ModelError(f"cannot read {path}: its JSON is nested too deeply") from None
    if not isinstance(config, dict):
        raise ModelError(f"{path} is not a JSON object of settings; is this a composer model folder?")
    version = config.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"{path}: format version {version!r} is not supported "
                         f"(this composer reads {SUPPORTED_VERSIONS})")
    if kind is not None and config.get("kind") != kind:
        raise ModelError(f"{folder} holds a {_short(config.get('kind'))} model, expected {kind!r}")
    # Every setting sampling or rendering reads, for type and range, before any is used.
    check_config(config, kind, str(path))
    return config


def load_state(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        raise ModelError(f"{Path(folder)} has no model.safetensors")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"cannot read {path}: {err}") from None


def load_weights(folder: str | os.PathLike, model: torch.nn.Module) -> torch.nn.Module:
    """Load the folder's weights into ``model`` (built from its config); strict."""
    try:
        model.load_state_dict(load_state(folder), strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ModelError(f"{folder}: weights do not fit the model in config.json ({first})") from None
    return model.eval()


# ---------------------------------------------------------------------- checked construction
MAX_BUILD_TENSORS = 10_000
"""Most tensors a model's constructor may make (the shipped ones make 32 to 164)."""


def check_arguments(target: type, kwargs: Any, where: str) -> dict[str, Any]:
    """``kwargs`` if they fit ``target``'s constructor: only its parameters, every required
    one, each of the annotated type (ints as ints, finite floats, tuples as lists...).
    One ModelError line, naming ``where`` (the config file) and the key, otherwise."""
    name = target.__name__
    if not isinstance(kwargs, dict):
        raise ModelError(f"{where}: the {name} settings must be a JSON object, not {type(kwargs).__name__}")
    params = {n: p for n, p in inspect.signature(target).parameters.items()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ModelError(f"{where}: unknown setting{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))} "
                         f"for {name}; it takes {', '.join(params) or 'none'}")
    missing = [n for n, p in params.items() if p.default is p.empty and n not in kwargs]
    if missing:
        raise ModelError(f"{where}: {name} needs {', '.join(map(repr, missing))}")
    try:
        hints = typing.get_type_hints(target if dataclasses.is_dataclass(target) else target.__init__)
    except Exception:  # an annotation that does not resolve: the build itself will judge
        hints = {}
    for key, value in kwargs.items():
        hint = hints.get(key)
        if hint is None and params[key].default is not params[key].empty:
            hint = type(params[key].default)
        if hint is not None and not _fits(value, hint):
            raise ModelError(f"{where}: {key} = {_short(value)} is not {_describe(hint)} ({name})")
    return kwargs


def build_model(model_class: type, kwargs: Any, folder: str | os.PathLike,
                nested: dict[str, type] | None = None,
                max_parameters: int = MAX_MODEL_PARAMETERS):
    """``model_class(**kwargs)`` from a model folder's config, checked before anything is
    allocated: the arguments against the constructor (:func:`check_arguments`; ``nested``
    names arguments that are themselves settings of another class), then a build on
    PyTorch's "meta" device, which has shapes but no memory, to count the parameters
    against ``max_parameters``.  Any failure is one ModelError line."""
    where = str(Path(folder) / "config.json")
    check_arguments(model_class, kwargs, where)
    for key, cls in (nested or {}).items():
        if key in kwargs:
            check_arguments(cls, kwargs[key], f"{where} ({key})")
    try:
        with torch.device("meta"), _BuildGuard(max_parameters, where):
            probe = model_class(**kwargs)
    except ComposerError:
        raise
    except Exception as err:
        raise ModelError(f"{where}: the settings do not make a {model_class.__name__} "
                         f"({type(err).__name__}: {_first_line(err)})") from None
    n = sum(p.numel() for p in probe.parameters()) + sum(b.numel() for b in probe.buffers())
    if n > max_parameters:
        raise ModelError(f"{where}: the settings make a model of {n:,} parameters; composer loads "
                         f"at most {max_parameters:,}")
    del probe
    try:
        return model_class(**kwargs)
    except Exception as err:
        raise ModelError(f"{where}: the settings do not make a {model_class.__name__} "
                         f"({type(err).__name__}: {_first_line(err)})") from None


class _BuildGuard(torch.overrides.TorchFunctionMode):
    """Stops a constructor early once the tensors it makes hold far more elements than
    ``max_parameters`` or are too many: ``n_layers: 1e9`` would otherwise loop for hours
    even on the meta device before the parameters could be counted."""

    _FACTORIES = frozenset((torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn,
                            torch.randint, torch.arange, torch.linspace, torch.logspace, torch.eye,
                            torch.tensor, torch.as_tensor))

    def __init__(self, max_parameters: int, where: str) -> None:
        super().__init__()
        # Buffers and temporaries count too (the shipped models make nothing else): margin 2.
        self.max_elements = 2 * max_parameters
        self.where = where
        self.elements = 0
        self.tensors = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in self._FACTORIES and isinstance(out, torch.Tensor):
            self.elements += out.numel()
            self.tensors += 1
            if self.elements > self.max_elements or self.tensors > MAX_BUILD_TENSORS:
                raise ModelError(f"{self.where}: the settings make a model far larger than the "
                                 f"{self.max_elements // 2:,} parameters composer loads")
        return out


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type annotation (the kinds composer's configs use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if hint in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        if args:
            return len(args) == len(value) and all(_fits(v, a) for v, a in zip(value, args))
        return True
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return True  # a kind not listed: the build on the meta device judges it


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (tuple, list) or hint in (tuple, list):
        return "a list" + (f" of {_describe(args[0])}" if args and args[-1] is Ellipsis else "")
    names = {int: "a whole number", float: "a finite number", bool: "true or false", str: "a string",
             dict: "an object", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool)) or value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else "no message"
