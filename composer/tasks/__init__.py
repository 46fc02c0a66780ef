"""The training tasks of the levels, one module per `composer train NAME` (form.py, chords.py,
melody.py, notes.py, drums.py), and their registry (registry.py).

A room of its own above both ``composer.levels`` and ``composer.training``: a task builds
batches from the prepared datasets (``composer.data``) for the training loop
(``composer.training``) and reads its level's nets and decoders, so ``levels/`` is sampling
only and never reaches the trainer or the datasets (the import contracts in pyproject.toml).
"""
