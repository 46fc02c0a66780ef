"""One training loop for every model (loop.py) and the table of training tasks (registry.py)."""
from composer.training.loop import TrainConfig, TrainResult, TrainTask, train, with_overrides
from composer.training.registry import TASK_MODULES, default_config, make_task

__all__ = ["TrainConfig", "TrainResult", "TrainTask", "train", "with_overrides", "TASK_MODULES",
           "default_config", "make_task"]
