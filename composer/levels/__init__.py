"""The levels of the cascade, ready to sample from trained checkpoints: sampling only (what
trains them is in composer.tasks, above this room).

form.py: FormLevel + sample_form (constraints -> FormPlan), with form_constraints.py (what the
user gives -> an inpainting mask) and form_decode.py (a sampled array -> phrases); chords.py: ChordLevel +
sample_chords (FormPlan -> ChordGrid); melody.py with line_prior.py; notes.py; drums.py;
returns.py: the return pass the chord and note levels share.
"""
