"""The cascade, written out: form -> chords -> melody -> accompaniment -> drums -> Score.

    composer = Composer.from_pretrained("models")
    score = composer.compose(form="i4A8B8A8B8o4", key="A minor", tempo=96, seed=1)
    score = composer.regenerate(score, section=2, level="notes", seed=7)
    composer.io.midi.write_midi(score, "song.mid")

Each level is a diffusion model with its own sampler (composer/levels/); this module holds the
cascade alone: :class:`Composer` loads the five levels, reads the user's options once
(:func:`composer.options.read_options`), hands one level's result to the next (``FormPlan`` ->
``ChordGrid`` -> melody -> accompaniment -> drums) and has the band's tracks built
(composer/band.py): a DAW-ready Score with named sections ("Intro", "Verse 1", "Chorus 2"),
chord symbols, key signatures, tempo, meter, and the tracks ``Melody`` (GM 71, clarinet),
``Piano RH`` and ``Piano LH`` (GM 0, pedalled), ``Bass`` (GM 33, from the chords' bass notes)
and ``Drums`` (channel 10, GM kit: the drum level over the form and the band);
``humanize=True`` adds seeded timing and dynamics (composer/arrange.py).

Randomness: everything comes from ``seed`` (drawn at random and stored in the Score's title
when not given), through one ``torch.Generator`` per level, so the same seed and options
give the same Score, and the same MIDI bytes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np
import torch

from composer import arrange
# The band's tracks and the Score read back (composer/band.py); regenerate builds its tracks
# with notes_track, _track here.
from composer.band import (arrange_parts, grid_from_score, key_signatures, named_sections, piano_track,
                           piano_tracks, plan_from_score)
from composer.band import notes_track as _track
from composer.errors import ComposerError
from composer.form import FormPlan, PartialForm
from composer.io.checkpoint import default_models_dir
from composer.levels.chords import ChordLevel, sample_chord_candidates, sample_chords
from composer.levels.drums import DrumLevel, add_drums
from composer.levels.form import FormLevel, sample_form
from composer.levels.melody import DEFAULT_GUIDANCE as MELODY_GUIDANCE
from composer.levels.melody import DEFAULT_REST_BIAS as MELODY_REST_BIAS
from composer.levels.melody import MelodyLevel, sample_melody
from composer.levels.notes import (DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_VARIATION, NoteLevel,
                                   decode_roll, sample_notes)
from composer.options import Meter, check_options, draw_tempo, read_options
from composer.representation.harmony import ChordGrid
from composer.representation.melody import notes_to_tokens, tokens_to_notes
from composer.representation.note_context import NoteContext, reference_shift, shift_pitch_classes
from composer.representation.pianoroll import song_roll, split_roll, ticks_per_step, track_to_notes
from composer.score import RESOLUTION, Note, Score, TempoChange, TimeSignature, Track
from composer.seeds import LEVEL_SEED_STRIDE, random_seed
from composer.tracks import BASS, BASS_PROGRAM, MELODY, MELODY_PROGRAM, PIANO, PIANO_PROGRAM, PIANO_TRACKS

if TYPE_CHECKING:
    from composer.harmonise import Lead

Progress = Callable[[str, int, int], None]
"""``progress(level, done, total)``: level is "form", "chords", "melody", "notes" (the
accompaniment) or "drums"; called after every network call of that level (``done`` of ``total``)."""

LEVELS = ("form", "chords", "notes", "melody", "drums")
"""The levels in the order of their seeds: level i of a song with seed S draws from
``torch.Generator().manual_seed(S * LEVEL_SEED_STRIDE + i)`` (melody and drums last, so the
seeds of the levels that existed before them did not move; see composer/seeds.py)."""


def level_generators(seed: int) -> dict[str, torch.Generator]:
    """One generator per level, all derived from the song's seed (see LEVELS)."""
    return {name: torch.Generator().manual_seed(int(seed) * LEVEL_SEED_STRIDE + i) for i, name in enumerate(LEVELS)}

FORM_STEPS = 20
CHORD_STEPS = 20
MELODY_STEPS = 16
CHORD_VARIATION = 0.5
"""How far returning phrases' chords move from their first statement in the cascade (the chord
level's own default is 0.7).  The melody level keeps a returning phrase's notes where they
still fit its chords, so the chords decide how much a chorus comes back.  On 12 songs of the
test forms: 0.7 kept 71% of the first statement's melody notes (real songs 82%) with 54% of
2-bar segments near-copies (real 77%); 0.5 kept 86% with 73% near-copies and a melody
structure ratio of 1.376 (real 1.381), at a harmony structure ratio of 1.38 (real 1.26)."""


# ---------------------------------------------------------------------------- level to level
def note_context(plan: FormPlan, grid: ChordGrid, steps_per_bar: int) -> tuple[NoteContext, int]:
    """The condition of the melody and note levels for a plan and its chords, and the shift to C."""
    shift = reference_shift(np.asarray(plan.key_tonic))
    ctx = NoteContext(steps_per_bar, shift_pitch_classes(plan.key_tonic, shift),
                      np.asarray(plan.key_mode, dtype=np.int64),
                      shift_pitch_classes(grid.root, shift), np.asarray(grid.quality, dtype=np.int64),
                      shift_pitch_classes(grid.bass, shift), tuple(plan.phrases))
    return ctx, shift


# ---------------------------------------------------------------------------- the cascade
class Composer:
    """The levels (form, chords, melody, accompaniment, drums), ready to write songs on the CPU.

    form_level / chord_level / melody_level / note_level / drum_level: the samplers' models
    (form and chord levels may be None for :meth:`compose_over`, the melody and note levels
    alone; without a melody level the note level writes the melody too; without a drum level
    the songs have no drums); ``variation`` (0..1) is how far the notes of returning phrases
    may move from their first statement (``chord_variation`` the same for their chords);
    ``guidance`` the classifier-free guidance scale of the note level on the chords (one for
    all, or (melody, accompaniment)); ``melody_guidance``, ``melody_rest_bias`` and
    ``melody_line_weight`` the melody level's.
    """

    def __init__(self, form_level: FormLevel | None, chord_level: ChordLevel | None, note_level: NoteLevel,
                 variation: float = DEFAULT_VARIATION,
                 guidance: float | tuple[float, float] = DEFAULT_GUIDANCE,
                 melody_level: MelodyLevel | None = None,
                 melody_guidance: float = MELODY_GUIDANCE,
                 chord_variation: float = CHORD_VARIATION,
                 melody_rest_bias: float = MELODY_REST_BIAS,
                 drum_level: DrumLevel | None = None,
                 melody_line_weight: float | None = None) -> None:
        self.form_level = form_level
        self.melody_line_weight = melody_line_weight
        self.drum_level = drum_level
        self.melody_rest_bias = melody_rest_bias
        self.chord_variation = chord_variation
        self.melody_guidance = melody_guidance
        self.chord_level = chord_level
        self.note_level = note_level
        self.melody_level = melody_level
        self.variation = variation
        self.guidance = guidance

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "Composer":
        """Load ``folder/form``, ``folder/chords``, ``folder/melody``, ``folder/notes`` and
        ``folder/drums`` (default: the shipped models,
        :func:`composer.io.checkpoint.default_models_dir`, whatever the working directory).
        Without ``melody/`` the note level writes melody and accompaniment together, as before
        the melody level existed; without ``drums/`` (or one with no config.json yet) the songs
        have no Drums track."""
        folder = Path(folder) if folder is not None else default_models_dir()
        if not folder.is_dir():
            raise ComposerError(f"model folder {folder} does not exist; it should hold form/, chords/, "
                                "melody/, notes/ and drums/")
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        melody = MelodyLevel.from_pretrained(folder / "melody") if (folder / "melody").is_dir() else None
        # a drums/ folder without config.json is a training run in progress, not a model
        drums = DrumLevel.from_pretrained(folder / "drums") if (folder / "drums" / "config.json").is_file() else None
        return cls(FormLevel.from_pretrained(folder / "form"),
                   ChordLevel.from_pretrained(folder / "chords"),
                   NoteLevel.from_pretrained(folder / "notes"), melody_level=melody, drum_level=drums)

    # -------------------------------------------------------------- compose
    def compose(self, form: str | PartialForm | None = None, bars: int | None = None,
                key: str | tuple[int, int] | None = None, tempo: float | None = None,
                meter: str | Meter = "4/4", seed: int | None = None,
                steps: int | None = None, progress: Progress | None = None,
                bass: bool = True, humanize: bool = False, drums: bool = True) -> Score:
        """Write a whole song.

        form: full or partial form string (``i4A8B8A8o4``; ``?N`` and a final ``*`` leave
        parts to the form level), or one already parsed (:func:`read_options`); bars: song
        length 1..512; key: e.g. ``"A minor"`` for the whole song, or parsed (default: the
        form level chooses, modulations allowed); tempo: bpm in 20..400 (default: drawn from
        :data:`DRAWN_TEMPO_BPM` by the seed); meter: "4/4", "3/4", "2/4" or "6/8", or a
        parsed :class:`Meter`; seed: int (default: random, kept in the Score's title); steps:
        sampler steps of every level but the drums (default 20 form, 20 chords, 16 melody, 12
        accompaniment); progress: see
        :data:`Progress`; bass: add the derived Bass track; humanize: seeded human timing
        and dynamics (:func:`composer.arrange.humanize`, off by default, so the notes sit on
        the 16th grid; the drums then play with their drummers' timing); drums: add the
        ``Drums`` track of the drum level (when the models have one; composer/levels/drums.py).
        Returns a validated Score.
        """
        options = read_options(form, bars, key, tempo, meter, steps, seed=seed)
        m = options.meter
        seed = random_seed() if seed is None else int(seed)
        gens = level_generators(seed)
        rng = np.random.default_rng(seed)
        if tempo is None:
            tempo = draw_tempo(rng)

        def prog(level: str) -> Callable[[int, int], None] | None:
            return None if progress is None else (lambda i, n: progress(level, i, n))

        plan = sample_form(self.form_level, form=options.form, bars=bars, key=options.key, generator=gens["form"],
                           steps=steps or FORM_STEPS, progress=prog("form"))
        grid = sample_chords(self.chord_level, plan, m.beats_per_bar, generator=gens["chords"],
                             steps=steps or CHORD_STEPS, variation=self.chord_variation,
                             progress=prog("chords"))
        score = self._notes(plan, grid, m, float(tempo), seed, gens, rng, steps, progress, bass)
        score = _humanized(score, seed) if humanize else score
        return self._drums(score, gens, humanize, progress) if drums else score

    def _drums(self, score: Score, gens: dict[str, torch.Generator], humanize: bool,
               progress: Progress | None) -> Score:
        """``score`` with the drum level's Drums track (added after humanizing: the drums'
        timing is the drummers' own, from the data), or unchanged without a drum level."""
        if self.drum_level is None:
            return score
        prog = None if progress is None else (lambda i, n: progress("drums", i, n))
        return add_drums(self.drum_level, score, gens["drums"], humanize=humanize, progress=prog)

    def compose_over(self, plan: FormPlan, grid: ChordGrid, meter: str | Meter = "4/4", tempo: float = 100.0,
                     seed: int = 0, steps: int | None = None, progress: Progress | None = None,
                     bass: bool = True, humanize: bool = False) -> Score:
        """The melody and note levels alone (no form, chord or drum level): melody and
        accompaniment over a given form plan and chords (e.g. a real song's, to judge those
        levels by themselves).  Options as :meth:`compose`."""
        _, m = check_options(None, None, None, tempo, meter, steps)
        if grid.n_beats != plan.n_bars * m.beats_per_bar:
            raise ComposerError(f"{grid.n_beats} chord beats do not fit {plan.n_bars} bars of {meter}")
        score = self._notes(plan, grid, m, float(tempo), int(seed), level_generators(seed),
                            np.random.default_rng(int(seed)), steps, progress, bass)
        return _humanized(score, int(seed)) if humanize else score

    def arrange(self, score: Score, form: str | None = None, key: str | None = None, tempo: float | None = None,
                meter: str | None = None, seed: int | None = None, steps: int | None = None,
                progress: Progress | None = None, bass: bool = True, humanize: bool = False,
                drums: bool = True, candidates: int | None = None, lead: Lead | None = None) -> Score:
        """A song under the melody of ``score`` (any Score, e.g. a MIDI file read): chords chosen
        for it from the chord level's draws, the accompaniment written with it known, the bass
        and drums; the melody's notes kept exactly (composer/harmonise.py).  form / key /
        tempo / meter override the file's; candidates: chord grids drawn to choose from
        (default :data:`composer.harmonise.DEFAULT_CANDIDATES`); lead: ``score``'s melody as
        :func:`composer.harmonise.read_lead` already read it with these options (``composer
        arrange`` reads it to check the file before loading the models), which is then not read
        again; the rest as :meth:`compose`."""
        from composer import harmonise  # noqa: PLC0415

        lead = harmonise.read_lead(score, form, key, tempo, meter) if lead is None else lead
        m = read_options(None, None, None, None, lead.meter, steps, seed=seed).meter   # the lead's Meter, as it is
        seed = random_seed() if seed is None else int(seed)
        gens = level_generators(seed)
        grid = harmonise.harmonise(self.chord_level, lead.plan, lead.steps, m, gens["chords"],
                                   harmonise.DEFAULT_CANDIDATES if candidates is None else candidates,
                                   steps or CHORD_STEPS,
                                   self.chord_variation,
                                   None if progress is None else (lambda i, n: progress("chords", i, n)))
        ctx, shift = note_context(lead.plan, grid, m.steps_per_bar)
        piano = self.accompany(ctx, shift, gens, steps, progress, harmonise.conditioning_melody(lead.steps, shift))
        out = self._score(lead.plan, grid, m, lead.tempos[0].bpm, lead.steps, piano,
                          np.random.default_rng(seed), bass, f"{harmonise.ARRANGED_TITLE} {seed}")
        out = harmonise.with_lead(out, lead)
        if humanize:  # the band's timing; the melody is the user's, as played
            rng = np.random.default_rng([seed, 1])
            band = arrange.humanize(tuple(t for t in out.tracks if t.name != MELODY), rng, out.resolution)
            out = out.replace(tracks=(out.track(MELODY), *band)).validate()
        return self._drums(out, gens, humanize, progress) if drums else out

    def _notes(self, plan: FormPlan, grid: ChordGrid, m: Meter, tempo: float, seed: int,
               gens: dict[str, torch.Generator], rng: np.random.Generator, steps: int | None,
               progress: Progress | None, bass: bool) -> Score:
        ctx, shift = note_context(plan, grid, m.steps_per_bar)
        melody, piano = self._sample_parts(ctx, shift, gens, steps, progress)
        return self._score(plan, grid, m, tempo, melody, piano, rng, bass, f"composer seed {seed}")

    def _sample_parts(self, ctx: NoteContext, shift: int, gens: dict[str, torch.Generator],
                      steps: int | None, progress: Progress | None,
                      known: tuple[np.ndarray, np.ndarray] | None = None,
                      keep_steps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Melody and accompaniment step notes (absolute pitches) over ``ctx``.

        With a melody level: the melody first (its own level), then the accompaniment by the
        note level with that melody known.  Without one: both from the note level's joint
        roll.  known: optional (melody, accompaniment) step notes of a song, kept where
        ``keep_steps`` (bool [n_steps]) is True (regeneration)."""
        n = ctx.n_steps

        def prog(name: str) -> Callable[[int, int], None] | None:
            return None if progress is None else (lambda i, k: progress(name, i, k))

        known_roll = mask = None
        if known is not None:
            known_roll = song_roll(known[0], known[1], n, shift)
            mask = np.repeat(keep_steps.astype(np.float32)[:, None], 2, axis=1)
        if self.melody_level is None:
            raw = sample_notes(self.note_level, ctx, gens["notes"], steps=steps or DEFAULT_STEPS,
                               known=known_roll, mask=mask, variation=self.variation,
                               guidance=self.guidance, progress=prog("notes"))
            return split_roll(decode_roll(raw, self.note_level.decoding), shift)
        mel_known = mel_mask = None
        if known is not None:
            mel_known = notes_to_tokens(known[0], n, shift)
            mel_mask = keep_steps
        # a regenerated section is new material: the return pass would copy it back
        tokens = sample_melody(self.melody_level, ctx, gens["melody"], steps=steps or MELODY_STEPS,
                               known=mel_known, mask=mel_mask, repeat=known is None,
                               guidance=self.melody_guidance, rest_bias=self.melody_rest_bias,
                               progress=prog("melody"), line_weight=self.melody_line_weight)
        piano = self.accompany(ctx, shift, gens, steps, progress, tokens_to_notes(tokens),  # (in C)
                               known[1] if known is not None else None, keep_steps)
        return tokens_to_notes(tokens, shift), piano

    def accompany(self, ctx: NoteContext, shift: int, gens: dict[str, torch.Generator], steps: int | None,
                  progress: Progress | None, melody_c: np.ndarray, acc: np.ndarray | None = None,
                  keep_steps: np.ndarray | None = None) -> np.ndarray:
        """The accompaniment (absolute step notes) by the note level with the melody known:
        ``melody_c`` step notes in C (``shift`` applied, as the note level sees them); ``acc``
        (absolute) kept where ``keep_steps`` is True (regeneration).  Also for a melody that
        a user brought (composer/harmonise.py)."""
        n = ctx.n_steps
        acc_c = np.array(acc if acc is not None else np.zeros((0, 4)), dtype=np.int64).reshape(-1, 4)
        acc_c[:, 2] += shift
        known_roll = song_roll(melody_c, acc_c, n, 0)
        mask = np.zeros((n, 2), np.float32)
        mask[:, 0] = 1                                          # the melody is given
        if keep_steps is not None:
            mask[:, 1] = keep_steps
        raw = sample_notes(self.note_level, ctx, gens["notes"], steps=steps or DEFAULT_STEPS,
                           known=known_roll, mask=mask, variation=self.variation,
                           guidance=self.guidance,
                           progress=None if progress is None else (lambda i, k: progress("notes", i, k)))
        return split_roll(decode_roll(raw, self.note_level.decoding), shift)[1]

    def _score(self, plan: FormPlan, grid: ChordGrid, m: Meter, tempo: float, melody: np.ndarray,
               piano: np.ndarray, rng: np.random.Generator, bass: bool, title: str) -> Score:
        step = ticks_per_step(RESOLUTION)
        sections = named_sections(plan.phrases)
        chords = grid.to_symbols(RESOLUTION)
        parts = arrange_parts(melody, piano, grid, sections, m.steps_per_bar, rng, bass)
        tracks = [_track(MELODY, MELODY_PROGRAM, parts.melody, step),
                  *piano_tracks(parts.piano, step, chords, RESOLUTION)]    # two hands, pedalled
        if parts.bass is not None:
            tracks.append(_track(BASS, BASS_PROGRAM, parts.bass, step))
        bar_ticks = m.steps_per_bar * step
        return Score(resolution=RESOLUTION, tempos=(TempoChange.from_bpm(0, tempo),),
                     time_signatures=(TimeSignature(0, m.numerator, m.denominator),),
                     key_signatures=key_signatures(plan, bar_ticks), sections=sections,
                     chords=chords, tracks=tuple(tracks), title=title).validate()

    # -------------------------------------------------------------- regenerate
    def regenerate(self, score: Score, bars: tuple[int, int] | None = None, section: int | None = None,
                   level: Literal["notes", "chords"] = "notes", seed: int | None = None,
                   steps: int | None = None, progress: Progress | None = None,
                   keep_melody: bool = False, candidates: int | None = None) -> Score:
        """Write bars ``start .. end - 1`` (0-based, end exclusive) or section number
        ``section`` (0-based index into ``score.sections``) anew; everything outside stays
        exactly as it was (notes that start outside the range, chords outside it, sections,
        keys, tempo).  level "notes": new melody and accompaniment over the same chords;
        "chords": new chords there, then new notes over them.  The new part is inpainted with
        the rest of the song known, so it joins its neighbours.  Returns a new Score.

        keep_melody: the Melody track stays note for note, inside the range too (a melody the
        user brought, :meth:`arrange`): "notes" writes a new accompaniment there with the
        melody known (as :meth:`arrange` does); "chords" draws ``candidates`` chord grids for
        the range in one batch (default :data:`composer.harmonise.DEFAULT_CANDIDATES`, the rest
        of the song known) and keeps, per phrase (or the part of one) inside the range, the
        draw whose chords fit the melody best (:func:`composer.harmonise.choose_chords`), then
        the accompaniment.  Bass and drums as without it.  Over a range without melody the
        melody stays empty there (the first draw's chords are kept).
        """
        if (bars is None) == (section is None):
            raise ComposerError("regenerate: give either bars=(start, end) or section=index")
        if level not in ("notes", "chords"):
            raise ComposerError(f"regenerate: level must be 'notes' or 'chords', not {level!r}")
        plan, m = plan_from_score(score)
        if section is not None:
            secs = sorted(score.sections)
            if not 0 <= section < len(secs):
                raise ComposerError(f"regenerate: section {section} does not exist; the song has "
                                    f"sections 0..{len(secs) - 1}")
            start, end = secs[section].start_bar, secs[section].start_bar + secs[section].n_bars
        else:
            start, end = int(bars[0]), int(bars[1])
        if not 0 <= start < end <= plan.n_bars:
            raise ComposerError(f"regenerate: bars ({start}, {end}) are not a range inside the song's "
                                f"{plan.n_bars} bars (0-based, end exclusive)")
        seed = random_seed() if seed is None else int(seed)
        gens = level_generators(seed)
        rng = np.random.default_rng(seed)

        def prog(name: str) -> Callable[[int, int], None] | None:
            return None if progress is None else (lambda i, n: progress(name, i, n))

        bpb, spb = m.beats_per_bar, m.steps_per_bar
        step = ticks_per_step(score.resolution)
        grid = grid_from_score(score, plan.n_bars, bpb)
        new_chords = score.chords
        lead = None
        if keep_melody:     # the user's melody as the levels read it (16th grid, one voice)
            from composer import harmonise  # noqa: PLC0415
            lead = harmonise.melody_steps(score.track(MELODY).notes, step)[0]
            k = harmonise.DEFAULT_CANDIDATES if candidates is None else int(candidates)
            if not 1 <= k <= harmonise.MAX_CANDIDATES:
                raise ComposerError(f"regenerate: candidates must be 1 to {harmonise.MAX_CANDIDATES}, not {k}")
        if level == "chords":
            keep = np.ones(grid.n_beats, dtype=bool)
            keep[start * bpb:end * bpb] = False
            if lead is not None:
                drawn = sample_chord_candidates(self.chord_level, plan, bpb, k=k, generator=gens["chords"],
                                                steps=steps or CHORD_STEPS, known=grid, known_beats=keep,
                                                progress=prog("chords"))
                grid = harmonise.choose_chords(drawn, lead, plan, m, bars=(start, end))[0]
            else:
                grid = sample_chords(self.chord_level, plan, bpb, generator=gens["chords"],
                                     steps=steps or CHORD_STEPS, known=grid, known_beats=keep,
                                     progress=prog("chords"))
            res = score.resolution
            lo, hi = start * bpb * res, end * bpb * res
            inside = ChordGrid(grid.root[start * bpb:end * bpb], grid.quality[start * bpb:end * bpb],
                               grid.bass[start * bpb:end * bpb], bpb).to_symbols(res)
            outside = []
            for c in score.chords:
                if c.end_tick <= lo or c.start_tick >= hi:
                    outside.append(c)
                elif c.start_tick < lo:     # the part before the range stays
                    outside.append(type(c)(c.start_tick, lo - c.start_tick, c.root, c.quality, c.bass))
                elif c.end_tick > hi:       # the part after the range stays
                    outside.append(type(c)(hi, c.end_tick - hi, c.root, c.quality, c.bass))
            new_chords = tuple(outside) + tuple(type(c)(c.start_tick + lo, c.duration_ticks, c.root,
                                                          c.quality, c.bass) for c in inside)
        ctx, shift = note_context(plan, grid, spb)
        acc_notes = track_to_notes(piano_track(score), score.resolution)
        keep_steps = np.ones(ctx.n_steps, dtype=bool)
        keep_steps[start * spb:end * spb] = False
        if lead is not None:
            melody = lead
            piano = self.accompany(ctx, shift, gens, steps, progress, harmonise.conditioning_melody(lead, shift),
                                   acc_notes, keep_steps)
        else:
            mel_notes = track_to_notes(score.track(MELODY), score.resolution)
            melody, piano = self._sample_parts(ctx, shift, gens, steps, progress,
                                               known=(mel_notes, acc_notes), keep_steps=keep_steps)
        lo_s, hi_s = start * spb, end * spb
        sections = tuple(sorted(score.sections))
        # new chords give a new bass there; new notes over the same chords keep the old one
        parts = arrange_parts(melody, piano, grid, sections, spb, rng, bass=level == "chords",
                              window=(lo_s, hi_s))
        melody, piano = parts.melody, parts.piano
        right, left = arrange.split_hands(piano)
        lo_t, hi_t = lo_s * step, hi_s * step
        tracks = []
        for t in score.tracks:
            kept = tuple(n for n in t.notes if not lo_t <= n.start_tick < hi_t)
            new: np.ndarray | None = None
            controls = t.controls
            if t.name == MELODY:
                if lead is not None:        # kept note for note, the range too
                    tracks.append(t)
                    continue
                new = melody
            elif t.name == PIANO:      # a song written before the hands were split
                new = piano
            elif t.name in PIANO_TRACKS:
                new = right if t.name == PIANO_TRACKS[0] else left
                # The pedal is a function of the chords and the piano's notes: drawn again
                # from the new ones, it is the old pedal wherever both are unchanged, and
                # each press is released (splicing pressed and released pedals at the range's
                # edges could leave one down).
                both = _track(PIANO, PIANO_PROGRAM, piano, step).notes + tuple(
                    n for name in PIANO_TRACKS for n in score.track(name).notes
                    if not lo_t <= n.start_tick < hi_t)
                controls = tuple(c for c in t.controls if c.number != arrange.SUSTAIN)
                controls += arrange.sustain_pedal(new_chords, both, score.resolution)
            elif t.name == BASS and parts.bass is not None:
                new = parts.bass
            if new is None:
                tracks.append(t)
                continue
            added = tuple(Note(int(s) * step, int(d) * step, int(p), int(v)) for s, d, p, v in new)
            tracks.append(Track(t.name, t.program, t.is_drum, kept + added, controls, t.pitch_bends))
        return score.replace(chords=new_chords, tracks=tuple(tracks)).validate()


def _humanized(score: Score, seed: int) -> Score:
    """``score`` with :func:`composer.arrange.humanize` on every track, from its own stream
    of ``seed`` (so the notes are those of the unhumanized song)."""
    rng = np.random.default_rng([int(seed), 1])
    return score.replace(tracks=arrange.humanize(score.tracks, rng, score.resolution)).validate()


__all__ = ["Composer", "Progress", "LEVELS", "level_generators", "note_context", "FORM_STEPS", "CHORD_STEPS",
           "MELODY_STEPS", "CHORD_VARIATION"]
