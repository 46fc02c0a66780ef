"""One training loop for every model (loop.py) and the table of training tasks (registry.py).

The loop's names are resolved lazily so that ``composer.training.registry`` (read when the
CLI builds its parser) does not import torch: every ``composer`` command starts fast.
"""
from composer.training.registry import TASK_MODULES, default_config, make_task

_LOOP_NAMES = ("TrainConfig", "TrainResult", "TrainTask", "train", "with_overrides")


def __getattr__(name: str):
    if name in _LOOP_NAMES:
        from composer.training import loop
        return getattr(loop, name)
    raise AttributeError(f"module 'composer.training' has no attribute {name!r}")


__all__ = [*_LOOP_NAMES, "TASK_MODULES", "default_config", "make_task"]
