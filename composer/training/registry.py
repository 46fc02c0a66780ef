"""Which training task `composer train NAME` runs.

``TASK_MODULES`` maps a task name to the module that defines it.  Such a module exposes::

    def make_task(data_dir: pathlib.Path) -> composer.training.TrainTask
    DEFAULT_CONFIG: composer.training.TrainConfig     # the recipe that trained the shipped model

Modules are imported only when their task is asked for, so a level's heavy imports never
slow the CLI.  To add a task, add one line here (like COMMAND_MODULES in composer/cli.py).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from composer.errors import ComposerError

TASK_MODULES: dict[str, str] = {
    "form": "composer.levels.form_task",
    "chords": "composer.levels.chord_task",
    "notes": "composer.levels.notes_task",
    "melody": "composer.levels.melody_task",
    "drums": "composer.levels.drum_task",
}


def task_module(name: str) -> ModuleType:
    """The module of task ``name``; ComposerError naming the known tasks if there is none."""
    if name not in TASK_MODULES:
        raise ComposerError(f"unknown training task {name!r}; choose one of {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[name])


def make_task(name: str, data_dir: str | Path):
    """Build task ``name`` on the prepared dataset ``data_dir``."""
    return task_module(name).make_task(Path(data_dir))


def default_config(name: str):
    """The TrainConfig recipe of task ``name``."""
    return task_module(name).DEFAULT_CONFIG
