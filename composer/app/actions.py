"""What the app's work buttons do, without Gradio: compose, open, harmonise, regenerate.

The handlers that glue the app's rooms together (``ui.py`` wires widgets to them, tests call
them directly): each reads its fields (``inputs.py``), runs the pipeline, writes the
version's files (``outputs.py``) and pushes it onto the session's history (``session.py``)
with the timbres of ``timbres.py``.  :func:`warm_up` loads at start what the first song
would.
"""
from __future__ import annotations

import html
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from composer.app.inputs import (KEY_MODEL_CHOOSES, LEVEL_CHORDS, LEVEL_DRUMS, LEVEL_NOTES, MAX_TAKES, WHOLE_SONG,
                                 AudioFormat, SongInputs, check_format, check_gains, is_blank, read_inputs,
                                 read_number, read_whole, short_repr)
from composer.app.outputs import describe, stems_zip, write_version
from composer.app.session import AppContext, Cancelled, Progress, Session, Version, checked
from composer.app.timbres import check_timbres, default_timbres, merged_timbres
from composer.errors import ComposerError, MidiError
from composer.limits import MAX_SEED
from composer.score import Score
from composer.seeds import random_seed


def warm_up(ctx: AppContext) -> None:
    """Load now what the first song would load: the drawing, notation and audio
    libraries, the SoundFont and the learned timbre a melody starts on, and make one
    2-bar song with audio and stems (a few seconds).  The first Compose is quicker, and
    the server's size after start is the size it returns to between users (these stay
    loaded either way)."""
    import composer.io.musicxml  # noqa: F401, PLC0415 - music21 and its corpus tables
    import composer.plot  # noqa: F401, PLC0415
    from composer.render.mix import TrackTimbre  # noqa: PLC0415

    mixer = ctx.get_mixer()
    mixer.soundfont  # noqa: B018 - checks the SoundFont file
    from composer.render.soundfont import load_fluidsynth  # noqa: PLC0415

    load_fluidsynth()
    from composer.score import Track  # noqa: PLC0415
    from composer.tracks import MELODY, MELODY_PROGRAM  # noqa: PLC0415

    melody = Track(MELODY, MELODY_PROGRAM)
    lead = default_timbres(Score(tracks=(melody,)), ctx.installed_timbres).get(MELODY)
    if lead is not None:
        mixer.renderer_for(TrackTimbre("ddsp", lead.removeprefix("ddsp:")))
    # And one small song through every step (compose, draw, MusicXML, mix, stems): what
    # the libraries set up on first use (fonts, music21's tables, FluidSynth's presets,
    # torch's kernels) is ~170 MB that stayed after the first user and never grew after.
    session = Session(ctx.out_root, prefix="warmup-")
    try:
        compose(ctx, session, read_inputs("A2", seed=0, steps=2), audio=True)
        stems_zip(ctx, session)
    finally:
        session.remove()


def compose(ctx: AppContext, session: Session, inputs: SongInputs,
            timbres: Mapping[str, str | None] | None = None, *, audio: bool = True,
            fmt: AudioFormat = "wav", progress: Progress | None = None,
            gains: Mapping[str, float | None] | None = None, takes: int = 1,
            chord_track: bool = False) -> Version:
    """Write a new song with ``ctx.composer`` and make it the session's current version.

    ``timbres`` maps track names to dropdown labels or specs; names the new song lacks are
    dropped, tracks not named play ``timbres.default_timbres``; ``gains`` maps track names to
    volumes in dB (None: muted).  A blank seed draws a fresh one (so two untouched Composes
    give two songs); the seed used is in the summary.  ``takes`` (1..:data:`MAX_TAKES`): that
    many songs of the same settings, seeds ``seed``, ``seed + 1``, ... (each one's summary
    says its own), kept in ``session.takes``; the first is current, ``session.choose_take``
    keeps another.  ``chord_track``: add the Chords track (``composer.chart.chord_track``),
    muted in the mix unless ``gains`` names it."""
    check_format(fmt)
    n_takes = read_whole(takes, "Takes", 1, MAX_TAKES) or 1
    first = inputs.seed if inputs.seed is not None else random_seed()
    made = []
    # the form as read_inputs parsed it (a SongInputs made by hand has only the text)
    form = inputs.parsed_form if inputs.parsed_form is not None else inputs.form
    for k in range(n_takes):
        seed = (first + k) % (MAX_SEED + 1)

        def report(stage: str, done: float, total: float, k=k) -> None:
            if session.cancel.is_set():
                raise Cancelled("stopped")
            if progress is not None:
                progress(f"take {k + 1}/{n_takes} {stage}" if n_takes > 1 else stage, done, total)

        if inputs.chords is not None:
            from composer.chart import compose_from_chart  # noqa: PLC0415

            score = compose_from_chart(ctx.composer, inputs.chords, form=form, key=inputs.key,
                                       tempo=inputs.tempo, meter=inputs.meter, seed=seed, steps=inputs.steps,
                                       progress=report, bass=inputs.bass, drums=inputs.drums)
        else:
            score = ctx.composer.compose(form=form, bars=inputs.bars, key=inputs.key, tempo=inputs.tempo,
                                         meter=inputs.meter, seed=seed, steps=inputs.steps, progress=report,
                                         bass=inputs.bass, drums=inputs.drums)
        volumes = dict(gains or {}) if isinstance(gains, Mapping) or gains is None else gains
        if chord_track:
            from composer.chart import CHORD_TRACK, with_chord_track  # noqa: PLC0415

            score = with_chord_track(score)
            volumes = {CHORD_TRACK: None, **volumes}  # for the DAW: silent in our mix
        merged = {**default_timbres(score, ctx.installed_timbres), **dict(timbres or {})}
        chosen = check_timbres(score, merged, ctx.installed_timbres, strict=False)
        version = write_version(ctx, session, score, seed=seed, name="song", timbres=chosen, audio=audio,
                          fmt=fmt, progress=report, gains=check_gains(score, volumes))
        version = replace(version, chord_track=bool(chord_track))
        if inputs.chords is not None:  # the seed alone does not make this song again
            chart = " ".join(inputs.chords.split())
            version = replace(version, summary=version.summary + "\n\n**Over your chords** `"
                              + (chart if len(chart) <= 120 else chart[:117] + "...") + "`")
        made.append(version)
    version = session.push(made[0])
    session.takes = tuple(made) if n_takes > 1 else ()
    return version


def open_midi(ctx: AppContext, session: Session, path: str | os.PathLike | None) -> Version:
    """Take a MIDI file a user uploaded as the session's current version (drawn, no audio)."""
    from composer.io.midi import read_midi  # noqa: PLC0415

    if not path:
        raise MidiError("upload a MIDI file first")
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise MidiError("the upload did not arrive; try again") from None
    if size > ctx.limits.max_upload_bytes:
        raise MidiError(f"{path.name} is {size / 2**20:.1f} MB; this app takes MIDI files up to "
                        f"{ctx.limits.max_upload_bytes / 2**20:.0f} MB")
    score = read_midi(path)
    if not any(t.notes for t in score.tracks):
        raise MidiError(f"{path.name} has no notes")
    # Checked before the view is drawn: a file of one note 2**28 ticks long is valid MIDI,
    # but its bar lines alone would keep the drawing busy for minutes, and it could never
    # be rendered anyway.
    from composer.render.base import check_render_limits  # noqa: PLC0415
    check_render_limits(score)
    # And what export and plot refuse (bars, sections, chords, tempos, tracks): 20,000
    # sections on one tick last two seconds, and each is drawn.
    from composer.limits import check_song_limits  # noqa: PLC0415
    check_song_limits(score, path.name, "the app draws")
    # (a file downloaded after rewrites counts its rewrites again from here)
    name = re.sub(r"-edit\d+$", "", Path(path.name).stem)[:60] or "upload"
    # The timbres a composed song starts with, so that a song composed here and opened again
    # (or sent to /render and /regenerate) sounds as it did: its lead on the learned timbre.
    timbres = check_timbres(score, default_timbres(score, ctx.installed_timbres), ctx.installed_timbres,
                            strict=False)
    version = write_version(ctx, session, score, seed=None, name=name, timbres=timbres, audio=False,
                      fmt="wav", progress=None)
    from composer.harmonise import is_arranged  # noqa: PLC0415

    # a song composer arranged under someone's melody, downloaded and opened again: still theirs
    users = version.editable and is_arranged(score)
    return session.push(replace(version, summary=describe(score, None, path.name), users_melody=users))


def arrange(ctx: AppContext, session: Session, *, seed=None, key: str | None = None, tempo=None,
            meter: str | None = None, form: str | None = None, bass: bool = True, drums: bool = True,
            audio: bool = True, fmt: AudioFormat = "wav", progress: Progress | None = None,
            steps: int | None = None) -> Version:
    """Harmonise the current song's melody (an opened file's, by the track rule): chords,
    accompaniment, bass and drums written under it, its notes kept exactly
    (:meth:`composer.pipeline.Composer.arrange`), pushed as a new version (undo goes back to
    the file).  A file with chords and no melody gets a melody and the rest over its chords
    (``composer.chart.file_chords``).  Blank key, tempo, meter and form: the file's (its markers, else phrases of 8
    bars over the melody).  The result is a song like a composed one: played, rewritten part by
    part, undone."""
    from composer.harmonise import describe_arrangement, read_lead  # noqa: PLC0415
    from composer.tracks import lead_index  # noqa: PLC0415

    current = session.current
    if current is None:
        raise ComposerError("open a MIDI file with a melody first")
    check_format(fmt)
    seed_value = read_whole(seed, "Seed", 0, MAX_SEED)
    seed_value = seed_value if seed_value is not None else random_seed()
    options = {"form": None if is_blank(form) else str(form).strip(),
               "key": None if is_blank(key) or key == KEY_MODEL_CHOOSES else str(key).strip(),
               "tempo": None if is_blank(tempo) else read_number(tempo, "Tempo"),
               "meter": None if is_blank(meter) else str(meter).strip()}
    report = checked(session, progress)
    if lead_index(current.score) is None and current.score.chords:
        # chords and no melody (a Chords track, chord markers): the melody and the rest over them
        from composer.chart import compose_from_chart, file_chords  # noqa: PLC0415

        grid, chart_meter, file_tempo = file_chords(current.score, options["meter"])
        score = compose_from_chart(ctx.composer, grid, form=options["form"], key=options["key"],
                                   tempo=options["tempo"] if options["tempo"] is not None else file_tempo,
                                   meter=chart_meter, seed=seed_value, steps=steps, progress=report,
                                   bass=bool(bass), drums=bool(drums))
        said = f"**Over the chords of {current.name}** a melody and the rest written, its chords kept"
        users = False
    else:
        lead = read_lead(current.score, **options)     # a file without a melody costs nothing
        score = ctx.composer.arrange(current.score, seed=seed_value, progress=report, bass=bool(bass),
                                     drums=bool(drums), steps=steps, lead=lead, **options)
        said = (f"**Under the melody of {current.name}** "
                + html.escape(" · ".join(describe_arrangement(lead, score, seed_value)[1:]), quote=False))
        users = True        # "Change a part" keeps it by default
    chosen = check_timbres(score, default_timbres(score, ctx.installed_timbres), ctx.installed_timbres,
                           strict=False)
    version = write_version(ctx, session, score, seed=seed_value, name=current.name, timbres=chosen, audio=audio,
                      fmt=fmt, progress=report)
    return session.push(replace(version, summary=version.summary + "\n\n" + said, users_melody=users))


def has_drum_level(ctx: AppContext) -> bool:
    """Whether the models write drums (a models folder without ``drums/`` has no drum level)."""
    return getattr(ctx.composer, "drum_level", None) is not None


def regenerate(ctx: AppContext, session: Session, *, section: int | None = None,
               bars: tuple[int, int] | None = None, whole_song: bool = False, level: str = LEVEL_NOTES,
               seed=None, steps: int | None = None, timbres: Mapping[str, str | None] | None = None,
               audio: bool = True, fmt: AudioFormat = "wav",
               progress: Progress | None = None,
               gains: Mapping[str, float | None] | None = None,
               keep_melody: bool | None = None) -> Version:
    """Write one part of the current song anew and push it as a new version (undo goes back).

    section: 1-based section number; bars: (first, last) 1-based and inclusive, as musicians
    count and as the view labels them; whole_song: every bar; level: "new notes" (same
    chords), "new chords and notes" or "new drums" (only the drum hits there, from the drum
    level; every other track exactly as it was).  Everything outside the part stays exactly.
    Notes and chords need a song written by composer; drums are written for any song (one
    opened without drums gets a Drums track).  Audio is rendered again (with ``timbres``
    over the current version's, and its volumes unless ``gains``) when ``audio``.  The
    version keeps the seed that composed the song; the rewrite and its own seed are listed
    in its summary.  keep_melody: keep the Melody track note for note, the part too (new
    notes: a new accompaniment under it; new chords: the chords of 16 draws that fit it best,
    then the accompaniment; ``Composer.regenerate(keep_melody=True)``); None: keep it when the
    melody is the user's (``Version.users_melody``: a harmonised song), else write a new one."""
    levels = {LEVEL_NOTES: "notes", LEVEL_CHORDS: "chords", LEVEL_DRUMS: "drums",
              "notes": "notes", "chords": "chords", "drums": "drums"}
    if level not in levels:  # the arguments first, then the song
        raise ComposerError(f"choose {LEVEL_NOTES!r}, {LEVEL_CHORDS!r} or {LEVEL_DRUMS!r}, not {short_repr(level)}")
    level = levels[level]
    if keep_melody is not None and not isinstance(keep_melody, bool):
        raise ComposerError(f"keep_melody must be true, false or left out (kept for a harmonised song), "
                            f"not {short_repr(keep_melody)}")
    current = session.current
    if current is None:
        raise ComposerError("compose a song first")
    if level == "drums" and not has_drum_level(ctx):
        raise ComposerError("these models have no drum level (a models folder with drums/), so no new drums")
    if level != "drums" and not current.editable:
        raise ComposerError("only songs written by composer can be changed part by part; compose one first")
    score = current.score
    # An opened file's bars are its own (its markers need not tile it); composer's are its sections'.
    n_bars = sum(s.n_bars for s in score.sections) if current.editable else score.n_bars
    n_sections = len(score.sections) if current.editable else 0
    if bars is not None and all(is_blank(b) for b in bars):
        bars = None
    if section is not None and bars is not None:
        raise ComposerError("give a section or a bar range (from_bar, to_bar), not both")
    if (section is not None or bars is not None) and whole_song:
        raise ComposerError("give a section, a bar range or the whole song, not two of them")
    if section is None and bars is None and not whole_song:
        raise ComposerError("choose either a section or a bar range")
    check_format(fmt)
    if whole_song:
        start, end = 0, n_bars
        what = WHOLE_SONG
    elif section is not None:
        if not n_sections:
            raise ComposerError("this song has no sections to choose from; give a bar range")
        number = read_whole(section, "Section", 1, n_sections)
        if number is None:
            raise ComposerError("choose a section")
        part = sorted(score.sections)[number - 1]
        start, end = part.start_bar, part.start_bar + part.n_bars
        what = f"section {number} ({part.name or part.label})"
    else:
        first = read_whole(bars[0], "From bar", 1, n_bars)
        last = read_whole(bars[1], "To bar", 1, n_bars)
        if first is None or last is None:
            raise ComposerError(f"give the bars to change: From bar and To bar, 1 to {n_bars}")
        if last < first:
            raise ComposerError(f"To bar ({last}) comes before From bar ({first})")
        start, end = first - 1, last
        what = f"bars {first}-{last}"
    seed_value = read_whole(seed, "Seed", 0, MAX_SEED)
    seed_value = seed_value if seed_value is not None else random_seed()
    merged_timbres(ctx, current, timbres)  # a bad timbre or volume costs nothing
    if gains is not None:
        check_gains(score, gains)
    report = checked(session, progress)
    keep = level != "drums" and (current.users_melody if keep_melody is None else keep_melody)
    if level == "drums":
        if not whole_song and not any(t.is_drum for t in score.tracks):
            # A song without drums gets a whole drum part (a few bars of drums alone would
            # start and stop in the middle of the band); the summary says so.
            whole_song, what = True, f"{WHOLE_SONG} (it had no drums)"
        new = _new_drums(ctx, score, None if whole_song else (start, end), seed_value, steps, report)
    else:
        new = ctx.composer.regenerate(score, bars=(start, end), level=level, seed=seed_value, steps=steps,
                                      progress=report, keep_melody=keep)
    if current.chord_track and level == "chords":  # new chords in the part: the Chords track follows them
        from composer.chart import with_chord_track  # noqa: PLC0415

        new = with_chord_track(new)
    chosen = merged_timbres(ctx, current, timbres)
    volumes = check_gains(new, gains) if gains is not None else current.gains
    written = {"notes": LEVEL_NOTES, "chords": LEVEL_CHORDS, "drums": LEVEL_DRUMS}[level]
    edit = f"{what}: {written}{' (melody kept)' if keep else ''}, seed {seed_value}"
    version = write_version(ctx, session, new, seed=current.seed, name=current.name, timbres=chosen, audio=audio,
                      fmt=fmt, progress=progress, edits=current.edits + (edit,), gains=volumes)
    if current.seed is None:  # an opened file: its summary is headed by its own name, as open_midi's
        version = replace(version, summary=describe(new, None, current.name, version.edits))
    return session.push(replace(version, chord_track=current.chord_track, users_melody=current.users_melody))


def _new_drums(ctx: AppContext, score: Score, bars: tuple[int, int] | None, seed: int,
               steps: int | None, report: Progress) -> Score:
    """``score`` with new drums in bars ``start .. end - 1`` (0-based; None: the whole part)
    drawn from the drum level's stream of ``seed`` (as a song composed with that seed draws
    its drums), every other hit and track kept (``composer.levels.drums.regenerate_drums``)."""
    from composer.levels.drums import DEFAULT_STEPS, regenerate_drums  # noqa: PLC0415
    from composer.pipeline import level_generators  # noqa: PLC0415

    return regenerate_drums(ctx.composer.drum_level, score, bars, level_generators(seed)["drums"],
                            steps=steps or DEFAULT_STEPS, progress=lambda i, n: report("drums", i, n))
