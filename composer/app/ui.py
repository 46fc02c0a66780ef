"""The Gradio app: compose a song, see it, change one part of it, hear it, take it away.

``build_ui(composer, out_dir, installed_timbres, limits)`` returns a ``gr.Blocks``; nothing
lives in module globals (DESIGN rule 9), so tests build as many apps as they like.  The
buttons call the plain functions of ``actions.py``; a ComposerError becomes a one-line toast
and one line in the log (``composer.app``), never a traceback.

Three named API endpoints serve gradio_client, every argument optional (README, "The app"):
``/compose``, ``/render`` and ``/regenerate``.  They are separate, hidden events with their
own small set of inputs, so that the UI's events (which carry the session and one dropdown
per track) stay private and the API stays stable.
"""
from __future__ import annotations

import functools
import html
import logging
import os
from pathlib import Path
from typing import Sequence

import gradio as gr

from composer.app import actions as act
from composer.app.actions import (FORM_HELP, FORM_PRESETS, KEYS, LEVEL_CHORDS, LEVEL_NOTES, METERS,
                                  SOUNDFONT_DEFAULT, AppContext, AppLimits, Cancelled, Session, Version)
from composer.errors import ComposerError

MAX_TRACK_ROWS = 16
"""Timbre dropdowns shown for an uploaded file; tracks beyond keep their own program."""
PRESET_NONE = "(write your own)"
log = logging.getLogger("composer.app")


def launch_options(limits: AppLimits) -> dict:
    """Keyword arguments for ``Blocks.launch`` that enforce the limits (upload size)."""
    return {"max_file_size": limits.max_upload_bytes, "show_error": True}


def _progress_callback(progress) -> act.Progress:
    def report(stage: str, done: float, total: float) -> None:
        unit = " s" if stage == "audio" else ""
        progress(min(done / max(total, 1e-9), 1.0), desc=f"{stage}: {done:.0f}/{total:.0f}{unit}")

    return report


def build_ui(composer, out_dir: str | os.PathLike, installed_timbres: Sequence[str] | None = None,
             limits: AppLimits | None = None) -> gr.Blocks:
    """The app for ``composer`` (a pipeline.Composer), writing its files under ``out_dir``."""
    limits = limits or AppLimits()
    ctx = AppContext(composer, Path(out_dir), tuple(installed_timbres or ()), limits)
    choices = act.timbre_choices(ctx.installed_timbres)
    work = {"concurrency_id": "work", "concurrency_limit": limits.concurrency}

    def guarded(fn):
        """Expected errors as one toast and one log line; Cancel as a short notice."""

        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Cancelled:
                log.info("%s: cancelled", fn.__name__)
                raise gr.Error("Stopped.", print_exception=False, title="Cancelled") from None
            except ComposerError as err:
                message = act.user_message(err, ctx.out_root)
                log.info("%s: %s", fn.__name__, message)
                # The toast renders HTML and messages quote the user's input: escape it.
                raise gr.Error(html.escape(message, quote=False), print_exception=False) from None

        return inner

    def housekeeping(keep: Session | None = None) -> None:
        act.cleanup_outputs(ctx.out_root, limits.session_max_age_s, limits.max_total_bytes,
                            keep=[keep.folder] if keep is not None else [])

    def session_of(session: Session | None) -> Session:
        # The page's load event makes the session; a call without one (a stale tab) gets a new one.
        return session if session is not None else Session(ctx.out_root, limits.max_undo)

    # ------------------------------------------------------------------ outputs of a version
    def show(version: Version, session: Session) -> list:
        score = version.score
        tracks = score.tracks[:MAX_TRACK_ROWS]
        chosen = dict(version.timbres)
        rows = []
        for i in range(MAX_TRACK_ROWS):
            if i < len(tracks):
                t = tracks[i]
                label = f"{t.name or f'Track {i + 1}'} ({len(t.notes)} notes{', drums' if t.is_drum else ''})"
                rows.append(gr.update(visible=True, label=label,
                                      value=act.timbre_label(chosen.get(t.name), ctx.installed_timbres)))
            else:
                rows.append(gr.update(visible=False, value=SOUNDFONT_DEFAULT))
        sections = act.section_choices(score) if version.editable else []
        more = len(score.tracks) - MAX_TRACK_ROWS
        note = f"{more} more tracks keep their own program." if more > 0 else ""
        n_bars = sum(s.n_bars for s in score.sections) if version.editable else 0
        return [
            str(version.view_path),
            version.summary + (f"\n\n{note}" if note else ""),
            str(version.audio_path) if version.audio_path else None,
            [str(p) for p in (version.midi_path, version.audio_path) if p],
            gr.update(choices=sections, value=sections[0] if sections else None,
                      interactive=version.editable),
            gr.update(placeholder=f"1-{n_bars}" if n_bars else ""),
            gr.update(placeholder=f"1-{n_bars}" if n_bars else ""),
            gr.update(interactive=len(session.history) > 1),
            gr.update(interactive=version.editable),
            *rows,
        ]

    def timbres_from(session: Session, values: Sequence[str]) -> dict[str, str]:
        current = session.current
        if current is None:
            return {}
        return {t.name: v for t, v in zip(current.score.tracks[:MAX_TRACK_ROWS], values)}

    # ------------------------------------------------------------------ UI handlers
    def new_session(request: gr.Request):
        housekeeping()
        return Session(ctx.out_root, limits.max_undo)

    @guarded
    def on_compose(session, form, bars, key, tempo, meter, seed, steps, bass, with_audio, fmt,
                   *track_timbres, progress=gr.Progress()):
        session = session_of(session)
        inputs = act.read_inputs(form, bars, key, tempo, meter, seed, steps, bass)
        housekeeping(session)
        version = act.compose(ctx, session, inputs, timbres_from(session, track_timbres),
                              audio=bool(with_audio), fmt=fmt, progress=_progress_callback(progress))
        return [session, *show(version, session)]

    @guarded
    def on_open(session, midi_file, progress=gr.Progress()):
        session = session_of(session)
        housekeeping(session)
        version = act.open_midi(ctx, session, midi_file)
        return [session, *show(version, session)]

    @guarded
    def on_render(session, fmt, *track_timbres, progress=gr.Progress()):
        session = session_of(session)
        version = act.render(ctx, session, timbres_from(session, track_timbres), fmt,
                             _progress_callback(progress))
        return [session, *show(version, session)]

    @guarded
    def on_regenerate(session, what, section_label, first, last, level, seed, with_audio, fmt,
                      *track_timbres, progress=gr.Progress()):
        session = session_of(session)
        if what == "a section":
            if not section_label:
                raise ComposerError("choose a section")
            target = {"section": int(str(section_label).split(".", 1)[0])}
        else:
            target = {"bars": (first, last)}
        version = act.regenerate(ctx, session, level=level, seed=seed,
                                 timbres=timbres_from(session, track_timbres), audio=bool(with_audio),
                                 fmt=fmt, progress=_progress_callback(progress), **target)
        return [session, *show(version, session)]

    @guarded
    def on_undo(session):
        session = session_of(session)
        version = act.undo(session)
        return [session, *show(version, session)]

    @guarded
    def on_stems(session, fmt, progress=gr.Progress()):
        session = session_of(session)
        path = act.stems_zip(ctx, session, fmt, _progress_callback(progress))
        files = [str(p) for p in (session.current.midi_path, session.current.audio_path, path) if p]
        return session, files

    def on_cancel(session):
        if session is not None:
            session.cancel.set()
        gr.Info("Stopping at the next step...")

    def on_preset(preset):
        return gr.update() if preset == PRESET_NONE else dict(FORM_PRESETS).get(preset, "")

    # ------------------------------------------------------------------ API handlers
    # Parameter names are the API's argument names; a default of None (or the component's
    # initial value) makes the argument optional for gradio_client.
    def api_result(version: Version) -> tuple:
        return (str(version.midi_path), str(version.audio_path) if version.audio_path else None,
                str(version.view_path), version.summary)

    @guarded
    def compose(form: str = "", bars: float | None = None, key: str = KEYS[0], tempo: float | None = None,
                meter: str = "4/4", seed: float | None = None, steps: float | None = None,
                bass: bool = True, audio: bool = True, audio_format: str = "wav",
                progress=gr.Progress()):
        """Compose a whole song. Every argument is optional: blank means the model chooses.
        Returns the MIDI file, the audio file (or None), the piano-roll PNG and a summary."""
        session = Session(ctx.out_root, limits.max_undo)
        inputs = act.read_inputs(form, bars, key, tempo, meter, seed, steps, bass)
        housekeeping(session)
        return api_result(act.compose(ctx, session, inputs, audio=bool(audio), fmt=audio_format,
                                      progress=_progress_callback(progress)))

    @guarded
    def render(midi: str | None = None, timbres: dict | None = None, audio_format: str = "wav",
               progress=gr.Progress()):
        """Render a MIDI file to audio with a timbre per track name, e.g.
        {"Melody": "ddsp:flute", "Piano": "sf:4"} (tracks not named keep their own program)."""
        session = Session(ctx.out_root, limits.max_undo)
        housekeeping(session)
        act.open_midi(ctx, session, midi)
        return api_result(act.render(ctx, session, timbres or {}, audio_format,
                                     _progress_callback(progress)))

    @guarded
    def regenerate(midi: str | None = None, section: float | None = None, from_bar: float | None = None,
                   to_bar: float | None = None, level: str = LEVEL_NOTES, seed: float | None = None,
                   audio: bool = True, audio_format: str = "wav", progress=gr.Progress()):
        """Write one section (1-based number) or bars from_bar..to_bar (1-based, inclusive) of
        a song made by composer anew: level "new notes" or "new chords and notes"."""
        session = Session(ctx.out_root, limits.max_undo)
        housekeeping(session)
        act.open_midi(ctx, session, midi)
        bars = None if from_bar is None and to_bar is None else (from_bar, to_bar)
        if section is None and bars is None:
            raise ComposerError("give a section number or a bar range (from_bar, to_bar)")
        return api_result(act.regenerate(ctx, session, section=section if bars is None else None,
                                         bars=bars, level=level, seed=seed, audio=bool(audio),
                                         fmt=audio_format, progress=_progress_callback(progress)))

    # ------------------------------------------------------------------ layout
    with gr.Blocks(title="composer", delete_cache=(600, int(limits.session_max_age_s))) as app:
        # Gradio drops a tab's state shortly after the tab closes, and this one also after the
        # session's age limit; dropping it removes the session's folder.
        session = gr.State(None, time_to_live=limits.session_max_age_s,
                           delete_callback=lambda s: s.remove() if s is not None else None)
        gr.Markdown("# composer\nWhole songs from a cascade of diffusion models: form → chords → "
                    "melody and accompaniment. Every field is optional: empty means the model chooses.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                with gr.Tab("Compose"):
                    preset = gr.Dropdown([PRESET_NONE] + [name for name, _ in FORM_PRESETS],
                                         value=PRESET_NONE, label="Form preset", elem_id="preset")
                    form = gr.Textbox(label="Form", placeholder="e.g. i4A8B8A8B8o4 (empty: the model chooses)",
                                      elem_id="form")
                    gr.Markdown(FORM_HELP, elem_classes=["form-help"])
                    # Text boxes, not gr.Number: a Number shows and sends 0 when empty, and 0 is
                    # a real seed; empty here means "the model chooses".
                    with gr.Row():
                        bars = gr.Textbox(label="Bars", value="", placeholder="model chooses (1-512)",
                                          elem_id="bars")
                        tempo = gr.Textbox(label="Tempo (bpm)", value="", placeholder="model chooses",
                                           elem_id="tempo")
                    with gr.Row():
                        key = gr.Dropdown(KEYS, value=KEYS[0], label="Key", elem_id="key")
                        meter = gr.Dropdown(list(METERS), value="4/4", label="Meter", elem_id="meter")
                    with gr.Row():
                        seed = gr.Textbox(label="Seed", value="", placeholder="random", elem_id="seed")
                        steps = gr.Textbox(label="Sampler steps", value="", placeholder="default",
                                           elem_id="steps")
                    with gr.Row():
                        bass = gr.Checkbox(value=True, label="Bass")
                        with_audio = gr.Checkbox(value=True, label="Render audio")
                    compose_button = gr.Button("Compose", variant="primary", elem_id="compose")
                with gr.Tab("Open a MIDI file"):
                    midi_in = gr.File(label="MIDI file", file_types=[".mid", ".midi"], type="filepath",
                                      elem_id="midi-in")
                    gr.Markdown(f"Any Standard MIDI File up to {limits.max_upload_bytes // 2**20} MB. "
                                "Choose a timbre per track under Sound, then Render.")
                cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel")
            with gr.Column(scale=3):
                view = gr.Image(label="The song", show_label=False, type="filepath", interactive=False,
                                elem_id="view", buttons=["download", "fullscreen"])
                summary = gr.Markdown(elem_id="summary")
                player = gr.Audio(label="Listen", type="filepath", interactive=False, elem_id="player")
                with gr.Accordion("Change a part", open=True, elem_id="change"):
                    with gr.Row():
                        what = gr.Radio(["a section", "a bar range"], value="a section", label="Change")
                        section = gr.Dropdown([], label="Section", interactive=False, elem_id="section")
                        first_bar = gr.Textbox(label="From bar", value="", elem_id="from-bar")
                        last_bar = gr.Textbox(label="To bar", value="", elem_id="to-bar")
                    with gr.Row():
                        level = gr.Radio([LEVEL_NOTES, LEVEL_CHORDS], value=LEVEL_NOTES, label="Write")
                        regen_seed = gr.Textbox(label="Seed", value="", placeholder="random",
                                                elem_id="regen-seed")
                        regen_button = gr.Button("Regenerate", interactive=False, elem_id="regenerate")
                        undo_button = gr.Button("Undo", interactive=False, elem_id="undo")
                with gr.Accordion("Sound", open=True, elem_id="sound"):
                    track_rows = [gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, visible=False,
                                              label=f"Track {i + 1}", elem_id=f"timbre-{i}")
                                  for i in range(MAX_TRACK_ROWS)]
                    with gr.Row():
                        fmt = gr.Radio(["wav", "flac"], value="wav", label="Audio format")
                        render_button = gr.Button("Render audio", elem_id="render")
                        stems_button = gr.Button("Stems (zip)", elem_id="stems")
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                    elem_id="downloads")

        song_outputs = [view, summary, player, downloads, section, first_bar, last_bar, undo_button,
                        regen_button, *track_rows]
        private = {"api_visibility": "private"}
        app.load(new_session, None, session, **private)
        preset.change(on_preset, preset, form, **private)
        events = [
            compose_button.click(on_compose, [session, form, bars, key, tempo, meter, seed, steps, bass,
                                              with_audio, fmt, *track_rows], [session, *song_outputs],
                                 **work, **private),
            midi_in.upload(on_open, [session, midi_in], [session, *song_outputs], **work, **private),
            render_button.click(on_render, [session, fmt, *track_rows], [session, *song_outputs],
                                **work, **private),
            regen_button.click(on_regenerate, [session, what, section, first_bar, last_bar, level,
                                               regen_seed, with_audio, fmt, *track_rows],
                               [session, *song_outputs], **work, **private),
            stems_button.click(on_stems, [session, fmt], [session, downloads], **work, **private),
        ]
        undo_button.click(on_undo, session, [session, *song_outputs], **private)
        # Cancel sets the session's flag (the work stops at its next step, freeing the worker)
        # and cancels the events, so the page stops waiting at once.
        cancel_button.click(on_cancel, session, None, cancels=events, concurrency_limit=None, **private)

        # The named API: hidden inputs and outputs with defaults, one event each.
        with gr.Column(visible=False):
            a_form = gr.Textbox(value="", label="form")
            a_bars = gr.Number(value=None, label="bars")
            a_key = gr.Dropdown(KEYS, value=KEYS[0], label="key")
            a_tempo = gr.Number(value=None, label="tempo")
            a_meter = gr.Dropdown(list(METERS), value="4/4", label="meter")
            a_seed = gr.Number(value=None, label="seed")
            a_steps = gr.Number(value=None, label="steps")
            a_bass = gr.Checkbox(value=True, label="bass")
            a_audio = gr.Checkbox(value=True, label="audio")
            a_fmt = gr.Radio(["wav", "flac"], value="wav", label="audio_format")
            a_midi = gr.File(value=None, label="midi", type="filepath")
            a_timbres = gr.JSON(value=None, label="timbres")
            a_section = gr.Number(value=None, label="section")
            a_from = gr.Number(value=None, label="from_bar")
            a_to = gr.Number(value=None, label="to_bar")
            a_level = gr.Radio([LEVEL_NOTES, LEVEL_CHORDS, "notes", "chords"], value=LEVEL_NOTES, label="level")
            out_midi = gr.File(label="midi")
            out_audio = gr.File(label="audio")
            out_view = gr.Image(label="view", type="filepath")
            out_summary = gr.Textbox(label="summary")
            a_compose, a_render, a_regen = gr.Button(), gr.Button(), gr.Button()
        api_outputs = [out_midi, out_audio, out_view, out_summary]
        a_compose.click(compose, [a_form, a_bars, a_key, a_tempo, a_meter, a_seed, a_steps, a_bass,
                                  a_audio, a_fmt], api_outputs, api_name="compose", **work)
        a_render.click(render, [a_midi, a_timbres, a_fmt], api_outputs, api_name="render", **work)
        a_regen.click(regenerate, [a_midi, a_section, a_from, a_to, a_level, a_seed, a_audio, a_fmt],
                      api_outputs, api_name="regenerate", **work)
    app.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    app.composer_context = ctx  # for tests and app.py: the limits and folders in use
    return app
