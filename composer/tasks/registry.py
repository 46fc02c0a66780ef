"""Which training task `composer train NAME` runs.

``TASK_NAMES`` lists the tasks; task ``NAME`` is the module ``composer/tasks/NAME.py``, which
exposes::

    def make_task(data_dir: pathlib.Path) -> composer.training.TrainTask
    DEFAULT_CONFIG: composer.training.TrainConfig     # the recipe that trained the shipped model

The modules are imported inside ``task_module`` and only when their task is asked for, so the
CLI, which reads ``TASK_NAMES`` to build its parser, never loads torch.  The imports are plain
ones, so the import linter sees them (an importlib string would hide them).  To add a task,
write ``composer/tasks/NAME.py``, add NAME here and one branch in ``task_module``
(tests/test_contracts.py checks that every name loads the module of that name).
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

from composer.errors import ComposerError

TASK_NAMES: tuple[str, ...] = ("form", "chords", "notes", "melody", "drums")


def task_module(name: str) -> ModuleType:
    """The module of task ``name``; ComposerError naming the known tasks if there is none."""
    if name == "form":
        from composer.tasks import form as module
    elif name == "chords":
        from composer.tasks import chords as module
    elif name == "notes":
        from composer.tasks import notes as module
    elif name == "melody":
        from composer.tasks import melody as module
    elif name == "drums":
        from composer.tasks import drums as module
    else:
        raise ComposerError(f"unknown training task {name!r}; choose one of {', '.join(TASK_NAMES)}")
    return module


def make_task(name: str, data_dir: str | Path):
    """Build task ``name`` on the prepared dataset ``data_dir``."""
    return task_module(name).make_task(Path(data_dir))


def default_config(name: str):
    """The TrainConfig recipe of task ``name``."""
    return task_module(name).DEFAULT_CONFIG
