"""The levels of the cascade, ready to sample from trained checkpoints, and their training tasks.

form.py: FormLevel + sample_form (constraints -> FormPlan); chords.py: ChordLevel +
sample_chords (FormPlan -> ChordGrid); *_task.py: the TrainTasks of `composer train`.
"""
