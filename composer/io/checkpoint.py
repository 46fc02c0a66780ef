"""Checkpoints are folders: ``config.json`` + ``model.safetensors`` (+ ``MODEL_CARD.md``).

No pickle anywhere: ``torch.load`` of a user's file can run code.  The config holds the
constructor arguments of the network (``config["model"]``), the kind of model
(``"form"``, ``"chords"``, ``"notes"``, ``"timbre"``...) and a format version that is
checked on load, plus anything else the owner wants to keep (training figures...).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from composer.errors import ModelError

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


def save_checkpoint(folder: str | os.PathLike, model: torch.nn.Module, kind: str,
                    model_config: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and config into ``folder`` atomically.

    ``model_config`` must be the keyword arguments that rebuild ``model``.  Files are written
    into a temporary folder beside ``folder`` and moved into place, so a crash never
    leaves a half-written checkpoint; an existing MODEL_CARD.md in ``folder`` is kept.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    config = {"format_version": FORMAT_VERSION, "kind": kind, "model": model_config}
    if extra:
        config.update(extra)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, tmp / "model.safetensors")
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        folder.mkdir(exist_ok=True)
        for name in ("model.safetensors", "config.json"):
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_config(folder: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """The checked ``config.json`` of a checkpoint folder."""
    folder = Path(folder)
    path = folder / "config.json"
    if not path.is_file():
        raise ModelError(f"{folder} is not a model folder (no config.json)")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read {path}: {err}") from None
    version = config.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"{path}: format version {version!r} is not supported "
                         f"(this composer reads {SUPPORTED_VERSIONS})")
    if kind is not None and config.get("kind") != kind:
        raise ModelError(f"{folder} holds a {config.get('kind')!r} model, expected {kind!r}")
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
