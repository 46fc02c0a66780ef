"""The levels of the cascade, ready to sample from trained checkpoints, and their training tasks.

form.py: FormLevel + sample_form (constraints -> FormPlan), with form_constraints.py (what the
user gives -> an inpainting mask) and form_decode.py (a sampled array -> phrases); chords.py: ChordLevel +
sample_chords (FormPlan -> ChordGrid); *_task.py: the TrainTasks of `composer train`.
"""
