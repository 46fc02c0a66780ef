"""One training loop for every model (loop.py), its batching helpers (batches.py) and a toy
task (toy.py).  The levels' tasks and the registry `composer train` reads are in
``composer.tasks``, above this room."""
from composer.training.loop import TrainConfig, TrainResult, TrainTask, train, with_overrides

__all__ = ["TrainConfig", "TrainResult", "TrainTask", "train", "with_overrides"]
