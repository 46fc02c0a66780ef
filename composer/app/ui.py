"""The Gradio app: compose a song, see it, change one part of it, hear it, take it away.

``build_ui(composer, out_dir, installed_timbres, limits)`` returns a ``gr.Blocks``; nothing
lives in module globals (every handler is a closure over the app's ``AppContext``), so tests
build as many apps as they like.  The page is built panel by panel (``_compose_panel``,
``_open_panel``, ``_song_panel``, ``_change_panel``, ``_sound_panel``), the UI's handlers
(``_ui_handlers``) call the plain functions of ``actions.py``, ``session.py`` and
``outputs.py`` and are wired by ``_wire_ui``; a ComposerError becomes one line beside
the button that was pressed (the song and every control stay as they were: no output of the
event is touched, so none shows an error badge) and one line in the log (``composer.app``),
never a traceback.

Five named API endpoints serve gradio_client, every argument optional (README, "The app"):
``/compose``, ``/takes``, ``/render``, ``/arrange`` and ``/regenerate`` (``_api_handlers``,
``_api_panel``).  They are separate, hidden events with their
own small set of inputs, so that the UI's events (which carry the session and one dropdown
per track) stay private and the API stays stable.  Their inputs are plain text boxes (not
dropdowns with choices), so that a bad key, meter, format or level reaches our checks and
gets our one line rather than Gradio's choice check and its traceback.
"""
from __future__ import annotations

import functools
import html
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import gradio as gr

from composer.app import actions as act
from composer.app import outputs as out
from composer.app.inputs import (FORM_HELP, FORM_PRESETS, KEYS, LEVEL_CHORDS, LEVEL_DRUMS, LEVEL_NOTES, MAX_TAKES,
                                 METERS, WHOLE_SONG, check_format, read_inputs, user_message)
from composer.app.memory import release_memory
from composer.app.roll import ROLL_JS, roll_map_html
from composer.app.session import (API_PREFIX, AppContext, AppLimits, Cancelled, Progress, Session, Unchanged,
                                  Version, choose_take, redo, undo)
from composer.app.timbres import SOUNDFONT_DEFAULT, timbre_choices, timbre_label
from composer.errors import ComposerError

MAX_TRACK_ROWS = 16
"""Timbre dropdowns shown for an uploaded file; tracks beyond keep their own program."""
PRESET_NONE = "(write your own)"
log = logging.getLogger("composer.app")


def launch_options(limits: AppLimits) -> dict:
    """Keyword arguments for ``Blocks.launch``: the limits (upload size) and the piano
    roll's script (playhead, bars picked by click: ``composer/app/roll.py``)."""
    return {"max_file_size": limits.max_upload_bytes, "show_error": True, "js": ROLL_JS}


def _one_line(err: BaseException) -> str:
    """An unexpected error as one log line: its type, message and where it was raised (the
    innermost frame), enough to find the bug without a traceback in the log."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(err).__name__}{where}: " + " ".join(str(err).split())[:300]


def _progress_callback(progress) -> Progress:
    def report(stage: str, done: float, total: float) -> None:
        unit = " s" if stage == "audio" else ""
        progress(min(done / max(total, 1e-9), 1.0), desc=f"{stage}: {done:.0f}/{total:.0f}{unit}")

    return report


def _message_of(ctx: AppContext, fn_name: str, err: BaseException) -> str:
    """One line for the log and the user; an unexpected error is logged where it arose."""
    if isinstance(err, Cancelled):
        log.info("%s: cancelled", fn_name)
        return "Stopped."
    if isinstance(err, ComposerError):
        message = user_message(err, ctx.out_root)
        log.info("%s: %s", fn_name, message)
        return message
    log.error("%s: unexpected %s", fn_name, _one_line(err))
    return "something went wrong on the server; the song is as it was"


def _guarded(ctx: AppContext):
    """A decorator for UI handlers returning their outputs then a message line.  On an error,
    every output but the message is left as it was (gr.skip: no error badge anywhere, the
    song and the controls unchanged) and the message says what went wrong, in one line."""

    def guard(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return [*fn(*args, **kwargs), ""]
            except Unchanged:
                return [gr.skip()] * (inner.n_outputs + 1)
            except Exception as err:  # noqa: BLE001 - every error becomes one line, never a traceback
                text = _message_of(ctx, fn.__name__, err)
                # Markdown shows the message, and messages quote the user's input: escape it.
                shown = text if text == "Stopped." else "⚠ " + html.escape(text, quote=False)
                return [gr.skip()] * inner.n_outputs + [shown]
            finally:
                release_memory()

        inner.n_outputs = 0  # set when the event is wired (its outputs, less the message)
        return inner

    return guard


def _api_guarded(ctx: AppContext):
    """A decorator for API handlers: a bad argument raises gr.Error (gradio_client's
    AppError) with the one line, logged as one line."""

    def guard(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - one line, never a traceback
                text = _message_of(ctx, fn.__name__, err)
                raise gr.Error(html.escape(text, quote=False), print_exception=False) from None
            finally:
                release_memory()

        return inner

    return guard


def _housekeeping(ctx: AppContext, keep: Session | None = None) -> None:
    limits = ctx.limits
    out.cleanup_outputs(ctx.out_root, limits.session_max_age_s, limits.max_total_bytes,
                        keep=[keep.folder] if keep is not None else [], api_max_age_s=limits.api_max_age_s)


def _show(ctx: AppContext, version: Version, session: Session, section_label: str | None = None,
          keep_box: bool = True) -> list:
    """The song outputs for ``version``; the section picker keeps ``section_label`` when
    the song still has it (a regenerate does not send the picker back to section 1).
    keep_box: set "Keep the melody" to the version's own (ticked for a melody the user brought);
    a regenerate leaves it as the user set it."""
    score = version.score
    drummer = act.has_drum_level(ctx)
    tracks = score.tracks[:MAX_TRACK_ROWS]
    chosen = dict(version.timbres)
    volumes = dict(version.gains)
    rows, vols, mutes = [], [], []
    for i in range(MAX_TRACK_ROWS):
        if i < len(tracks):
            t = tracks[i]
            label = f"{t.name or f'Track {i + 1}'} ({len(t.notes)} notes{', drums' if t.is_drum else ''})"
            # A drum track is offered its kits only: it would ignore anything else.
            rows.append(gr.update(visible=True, label=label,
                                  choices=timbre_choices(ctx.installed_timbres, t.is_drum),
                                  value=timbre_label(chosen.get(t.name), ctx.installed_timbres,
                                                         t.is_drum)))
            gain = volumes.get(t.name, 0.0)
            vols.append(gr.update(visible=True, value=gain if gain > float("-inf") else 0.0))
            mutes.append(gr.update(visible=True, value=gain == float("-inf")))
        else:
            rows.append(gr.update(visible=False, value=SOUNDFONT_DEFAULT))
            vols.append(gr.update(visible=False, value=0.0))
            mutes.append(gr.update(visible=False, value=False))
    sections = out.section_choices(score) if version.editable else []
    more = len(score.tracks) - MAX_TRACK_ROWS
    note = f"{more} more tracks keep their own program." if more > 0 else ""
    n_bars = sum(s.n_bars for s in score.sections) if version.editable else 0
    picked = section_label if section_label in sections else (sections[0] if sections else None)
    take_labels = [f"Take {i + 1} (seed {t.seed})" for i, t in enumerate(session.takes)]
    shown_take = next((label for label, t in zip(take_labels, session.takes) if t is version), None)
    files = [version.midi_path, version.musicxml_path, version.audio_path]
    return [
        str(version.view_path),
        roll_map_html(version.roll.to_json() if version.roll is not None else None),
        version.summary + (f"\n\n{note}" if note else ""),
        str(version.audio_path) if version.audio_path else None,
        [str(p) for p in files if p],
        gr.update(choices=sections, value=picked, interactive=version.editable),
        gr.update(placeholder=f"1-{n_bars}" if n_bars else ""),
        gr.update(placeholder=f"1-{n_bars}" if n_bars else ""),
        gr.update(interactive=len(session.history) > 1),
        gr.update(interactive=bool(session.future)),
        # new drums can be written for any song, notes and chords only for composer's
        gr.update(interactive=version.editable or drummer),
        [str(p) for p in version.lead_sheet] or None,
        gr.update(choices=take_labels, value=shown_take, visible=len(take_labels) > 1),
        *rows, *vols, *mutes,
        *[gr.update(visible=i < len(tracks)) for i in range(MAX_TRACK_ROWS)],
        1,  # a version is shown whole; the zoom buttons draw it wider
        gr.update(value=version.users_melody) if keep_box else gr.update(),
    ]


def _choices_from(session: Session, values: Sequence) -> tuple[dict[str, str], dict[str, float | None]]:
    """The Sound panel's rows (timbres, then volumes, then mutes) as {track name: timbre}
    and {track name: dB, None when muted}, by the current song's track names."""
    current = session.current
    if current is None:
        return {}, {}
    n = MAX_TRACK_ROWS
    timbres, volumes, muted = values[:n], values[n:2 * n], values[2 * n:3 * n]
    tracks = current.score.tracks[:n]
    chosen = {t.name: v for t, v in zip(tracks, timbres)}
    gains = {t.name: (None if m else (v or 0.0)) for t, v, m in zip(tracks, volumes, muted)}
    return chosen, gains


def _ui_handlers(ctx: AppContext, tabs: dict[str, Session]) -> SimpleNamespace:
    """The page's handlers, closures over ``ctx`` and ``tabs`` (the open tabs' sessions by
    Gradio session hash, for unload); each work handler is :func:`_guarded`."""
    limits = ctx.limits
    guarded = _guarded(ctx)

    def session_of(session: Session | None) -> Session:
        # The page's load event makes the session; a call without one (a stale tab) gets a new one.
        return session if session is not None else Session(ctx.out_root, limits.max_undo)

    def new_session(request: gr.Request):
        _housekeeping(ctx)
        session = Session(ctx.out_root, limits.max_undo)
        if request is not None and request.session_hash:
            tabs[request.session_hash] = session
        return session

    def on_unload(request: gr.Request):
        # The tab is closed (or reloaded, which makes a new session): its files go now, not
        # when Gradio drops the tab's state (up to an hour later, for a tab that might reopen).
        session = tabs.pop(request.session_hash, None) if request is not None else None
        if session is not None:
            session.remove()
            log.info("tab closed: its session folder removed")

    @guarded
    def on_compose(session, form, chords, bars, key, tempo, meter, seed, steps, bass, drums, with_audio, fmt,
                   n_takes, with_chords, *tracks, progress=gr.Progress()):
        session = session_of(session)
        inputs = read_inputs(form, bars, key, tempo, meter, seed, steps, bass, chords, drums)
        _housekeeping(ctx, session)
        timbres, gains = _choices_from(session, tracks)
        version = act.compose(ctx, session, inputs, timbres, audio=bool(with_audio), fmt=fmt,
                              progress=_progress_callback(progress), gains=gains, takes=n_takes,
                              chord_track=bool(with_chords))
        return [session, *_show(ctx, version, session)]

    @guarded
    def on_take(session, label, section_label):
        session = session_of(session)
        if not label:  # (the picker emptied by a new song)
            raise Unchanged()
        version = choose_take(session, str(label).split()[1])
        return [session, *_show(ctx, version, session, section_label)]

    @guarded
    def on_open(session, midi_file, progress=gr.Progress()):
        session = session_of(session)
        _housekeeping(ctx, session)
        version = act.open_midi(ctx, session, midi_file)
        return [session, *_show(ctx, version, session)]

    @guarded
    def on_arrange(session, seed, bass, drums, with_audio, fmt, progress=gr.Progress()):
        session = session_of(session)
        _housekeeping(ctx, session)
        version = act.arrange(ctx, session, seed=seed, bass=bass, drums=drums, audio=bool(with_audio), fmt=fmt,
                              progress=_progress_callback(progress))
        return [session, *_show(ctx, version, session)]

    @guarded
    def on_render(session, fmt, *tracks, progress=gr.Progress()):
        session = session_of(session)
        timbres, gains = _choices_from(session, tracks)
        version = out.render(ctx, session, timbres, fmt, _progress_callback(progress), gains=gains)
        return [session, *_show(ctx, version, session)]

    @guarded
    def on_regenerate(session, what, section_label, first, last, level, seed, keep_melody, with_audio, fmt,
                      *tracks, progress=gr.Progress()):
        session = session_of(session)
        if what == "a section":
            if not section_label:
                raise ComposerError("choose a section")
            target = {"section": int(str(section_label).split(".", 1)[0])}
        elif what == WHOLE_SONG:
            target = {"whole_song": True}
        else:
            target = {"bars": (first, last)}
        timbres, gains = _choices_from(session, tracks)
        version = act.regenerate(ctx, session, level=level, seed=seed, timbres=timbres, audio=bool(with_audio),
                                 fmt=fmt, progress=_progress_callback(progress), gains=gains,
                                 keep_melody=bool(keep_melody), **target)
        return [session, *_show(ctx, version, session, section_label, keep_box=False)]

    @guarded
    def on_undo(session, section_label):
        session = session_of(session)
        version = undo(session)
        return [session, *_show(ctx, version, session, section_label)]

    @guarded
    def on_redo(session, section_label):
        session = session_of(session)
        version = redo(session)
        return [session, *_show(ctx, version, session, section_label)]

    @guarded
    def on_stems(session, fmt, progress=gr.Progress()):
        session = session_of(session)
        path = out.stems_zip(ctx, session, fmt, _progress_callback(progress))
        current = session.current
        files = [str(p) for p in (current.midi_path, current.musicxml_path, current.audio_path, path) if p]
        return session, files

    @guarded
    def on_lead_sheet(session, progress=gr.Progress()):
        session = session_of(session)
        version = out.lead_sheet(ctx, session)
        return session, [str(p) for p in version.lead_sheet]

    def zoomed(session, now, step: int):
        session = session_of(session)
        levels = out.ZOOM_LEVELS
        i = levels.index(now) if now in levels else 0
        level = levels[max(0, min(len(levels) - 1, i + step))]
        if level == now:  # already at the end: nothing changes (no new picture, no message)
            raise Unchanged()
        path, roll = out.zoom_view(session, level)
        return session, str(path), roll_map_html(roll.to_json() if roll is not None else None), level

    @guarded
    def on_zoom_in(session, now):
        return zoomed(session, now, +1)

    @guarded
    def on_zoom_out(session, now):
        return zoomed(session, now, -1)

    def on_press(session):
        if session is not None:
            session.press()

    def on_cancel(session):
        if session is not None:
            session.cancel.set()
        gr.Info("Stopping at the next step...")

    def on_preset(preset):
        return gr.update() if preset == PRESET_NONE else dict(FORM_PRESETS).get(preset, "")

    def drop_session(s: Session | None) -> None:
        # Gradio drops a tab's state (its age limit, or an hour after it closed without an
        # unload): the folder goes, and so does the tab's entry with its song history.
        if s is None:
            return
        s.remove()
        for hash_, other in list(tabs.items()):
            if other is s:
                tabs.pop(hash_, None)

    return SimpleNamespace(new_session=new_session, on_unload=on_unload, on_compose=on_compose, on_take=on_take,
                           on_open=on_open, on_arrange=on_arrange, on_render=on_render,
                           on_regenerate=on_regenerate, on_undo=on_undo, on_redo=on_redo, on_stems=on_stems,
                           on_lead_sheet=on_lead_sheet, on_zoom_in=on_zoom_in, on_zoom_out=on_zoom_out,
                           on_press=on_press, on_cancel=on_cancel, on_preset=on_preset,
                           drop_session=drop_session)


def _api_handlers(ctx: AppContext) -> SimpleNamespace:
    """The named API's handlers (one session each, named :data:`API_PREFIX`...)."""
    limits = ctx.limits
    api_guarded = _api_guarded(ctx)

    # Parameter names are the API's argument names; a default of None (or the component's
    # initial value) makes the argument optional for gradio_client.
    def api_result(version: Version) -> tuple:
        return (str(version.midi_path), str(version.audio_path) if version.audio_path else None,
                str(version.view_path), version.summary)

    def api_session() -> Session:
        # An API call's files are fetched by its client at once: its folder lives a short
        # while (AppLimits.api_max_age_s), not a browser session's two hours.
        return Session(ctx.out_root, limits.max_undo, prefix=API_PREFIX)

    @api_guarded
    def compose(form: str = "", bars: float | None = None, key: str = KEYS[0], tempo: float | None = None,
                meter: str = "4/4", seed: float | None = None, steps: float | None = None,
                bass: bool = True, audio: bool = True, audio_format: str = "wav", chords: str = "",
                drums: bool = True, progress=gr.Progress()):
        """Compose a whole song. Every argument is optional: blank means the model chooses;
        chords, a chart such as "| C | Am | F G |", is kept and the song written over it;
        drums=False leaves the Drums track out.
        Returns the MIDI file, the audio file (or None), the piano-roll PNG and a summary."""
        session = api_session()
        inputs = read_inputs(form, bars, key, tempo, meter, seed, steps, bass, chords, drums)
        check_format(audio_format)
        _housekeeping(ctx, session)
        return api_result(act.compose(ctx, session, inputs, audio=bool(audio), fmt=audio_format,
                                      progress=_progress_callback(progress)))

    @api_guarded
    def compose_takes(form: str = "", bars: float | None = None, key: str = KEYS[0], tempo: float | None = None,
                      meter: str = "4/4", seed: float | None = None, steps: float | None = None,
                      bass: bool = True, audio: bool = True, audio_format: str = "wav", chords: str = "",
                      drums: bool = True, takes: float = 2, progress=gr.Progress()):
        """Compose 1-4 takes of the same settings (seeds S, S+1, ...; S drawn when blank), the
        arguments as in /compose.  Returns the takes' MIDI files, audio files (none without
        audio), piano-roll PNGs, and their summaries (each with its seed), in order."""
        session = api_session()
        inputs = read_inputs(form, bars, key, tempo, meter, seed, steps, bass, chords, drums)
        check_format(audio_format)
        _housekeeping(ctx, session)
        act.compose(ctx, session, inputs, audio=bool(audio), fmt=audio_format, takes=takes,
                    progress=_progress_callback(progress))
        made = session.takes or (session.current,)  # (one take is no list of takes)
        return ([str(v.midi_path) for v in made], [str(v.audio_path) for v in made if v.audio_path],
                [str(v.view_path) for v in made], "\n\n---\n\n".join(v.summary for v in made))

    @api_guarded
    def render(midi: str | None = None, timbres: dict | None = None, audio_format: str = "wav",
               gains: dict | None = None, progress=gr.Progress()):
        """Render a MIDI file to audio with a timbre per track name, e.g.
        {"Melody": "ddsp:flute", "Piano": "sf:4"} (tracks not named keep the timbre they start
        with), and a volume per track name in dB, e.g. {"Melody": -3, "Bass": "mute"}."""
        session = api_session()
        check_format(audio_format)
        _housekeeping(ctx, session)
        act.open_midi(ctx, session, midi)
        return api_result(out.render(ctx, session, timbres, audio_format, _progress_callback(progress),
                                     gains=gains))

    @api_guarded
    def arrange(midi: str | None = None, seed: float | None = None, key: str = "", tempo: float | None = None,
                meter: str = "", form: str = "", bass: bool = True, drums: bool = True, audio: bool = True,
                audio_format: str = "wav", progress=gr.Progress()):
        """Harmonise the melody of a MIDI file (the track named Melody, else its highest
        one-note-at-a-time track): chords, piano, bass and drums written under it, its notes
        kept exactly.  key, tempo, meter and form: blank for the file's own."""
        session = api_session()
        check_format(audio_format)
        _housekeeping(ctx, session)
        act.open_midi(ctx, session, midi)
        return api_result(act.arrange(ctx, session, seed=seed, key=key, tempo=tempo, meter=meter, form=form,
                                      bass=bool(bass), drums=bool(drums), audio=bool(audio), fmt=audio_format,
                                      progress=_progress_callback(progress)))

    @api_guarded
    def regenerate(midi: str | None = None, section: float | None = None, from_bar: float | None = None,
                   to_bar: float | None = None, level: str = LEVEL_NOTES, seed: float | None = None,
                   audio: bool = True, audio_format: str = "wav", timbres: dict | None = None,
                   gains: dict | None = None, keep_melody: bool | None = None, progress=gr.Progress()):
        """Write one section (1-based number) or bars from_bar..to_bar (1-based, inclusive) of
        a song made by composer anew: level "new notes" or "new chords and notes"; or "new
        drums" (any song; with no section or bars, the whole song's drums); timbres and gains
        as in /render.  keep_melody: true keeps the Melody track note for note (new notes: a
        new accompaniment under it; new chords: chords chosen to fit it), false writes a new
        melody there; left out (None): kept for a song of /arrange (your melody), else new."""
        session = api_session()
        bars = None if from_bar is None and to_bar is None else (from_bar, to_bar)
        whole = section is None and bars is None and level in (LEVEL_DRUMS, "drums")
        if section is None and bars is None and not whole:
            raise ComposerError("give a section number or a bar range (from_bar, to_bar)")
        if section is not None and bars is not None:
            raise ComposerError("give a section or a bar range (from_bar, to_bar), not both")
        check_format(audio_format)
        _housekeeping(ctx, session)
        act.open_midi(ctx, session, midi)
        return api_result(act.regenerate(ctx, session, section=section, bars=bars, whole_song=whole,
                                         level=level, seed=seed,
                                         audio=bool(audio), fmt=audio_format, timbres=timbres, gains=gains,
                                         keep_melody=keep_melody, progress=_progress_callback(progress)))

    return SimpleNamespace(compose=compose, compose_takes=compose_takes, render=render, arrange=arrange,
                           regenerate=regenerate)


# ---------------------------------------------------------------------- the page, panel by panel
def _compose_panel(drummer: bool) -> SimpleNamespace:
    """The Compose tab: the song's fields, Compose and its message line."""
    with gr.Tab("Compose"):
        preset = gr.Dropdown([PRESET_NONE] + [name for name, _ in FORM_PRESETS],
                             value=PRESET_NONE, label="Form preset", elem_id="preset")
        form = gr.Textbox(label="Form", placeholder="e.g. i4A8B8A8B8o4 (empty: the model chooses)",
                          elem_id="form")
        gr.Markdown(FORM_HELP, elem_classes=["form-help"])
        chords = gr.Textbox(label="Chords (optional)", elem_id="chords", lines=1,
                            placeholder="| C | Am | F G | C |  (empty: the model writes the chords)")
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
            n_takes = gr.Dropdown([str(n) for n in range(1, MAX_TAKES + 1)], value="1",
                                  label="Takes", elem_id="takes", min_width=70)
        with gr.Row():
            bass = gr.Checkbox(value=True, label="Bass")
            drums = gr.Checkbox(value=True, label="Drums", elem_id="drums", visible=drummer)
            with_audio = gr.Checkbox(value=True, label="Render audio")
            # Block chords in the MIDI for a DAW; muted in the mix here.
            with_chords = gr.Checkbox(value=False, label="Chords track", elem_id="chord-track")
        compose_button = gr.Button("Compose", variant="primary", elem_id="compose")
        compose_message = gr.Markdown("", elem_id="compose-message")
    return SimpleNamespace(preset=preset, form=form, chords=chords, bars=bars, tempo=tempo, key=key,
                           meter=meter, seed=seed, steps=steps, n_takes=n_takes, bass=bass, drums=drums,
                           with_audio=with_audio, with_chords=with_chords, compose_button=compose_button,
                           compose_message=compose_message)


def _open_panel(limits: AppLimits) -> SimpleNamespace:
    """The Open a MIDI file tab: the upload, and Harmonise with its seed."""
    with gr.Tab("Open a MIDI file"):
        midi_in = gr.File(label="MIDI file", file_types=[".mid", ".midi"], type="filepath",
                          elem_id="midi-in")
        open_message = gr.Markdown("", elem_id="open-message")
        gr.Markdown(f"Any Standard MIDI File up to {limits.max_upload_bytes // 2**20} MB. "
                    "Choose a timbre per track under Sound, then Render.")
        with gr.Row():
            arrange_seed = gr.Textbox(label="Seed", value="", placeholder="random",
                                      elem_id="arrange-seed")
            arrange_button = gr.Button("Harmonise", elem_id="harmonise")
        gr.Markdown("Harmonise writes chords, piano, bass and drums under the file's melody "
                    "(its track named Melody, else its highest one-note-at-a-time track) and "
                    "keeps every note of it. The Bass, Drums and Render audio boxes of Compose "
                    "apply.", elem_classes=["arrange-help"])
    return SimpleNamespace(midi_in=midi_in, open_message=open_message, arrange_seed=arrange_seed,
                           arrange_button=arrange_button)


def _song_panel() -> SimpleNamespace:
    """The song: the takes, the piano roll (its map, zoom) and the lead sheet, the summary, the player."""
    take = gr.Radio([], label="Takes: keep one", visible=False, elem_id="take")
    with gr.Tabs():
        with gr.Tab("Piano roll"):
            view = gr.Image(label="The song", show_label=False, type="filepath", interactive=False,
                            elem_id="view", buttons=["download", "fullscreen"])
            # Kept in the page but not shown ("hidden"): the script reads it.
            roll_html = gr.HTML(roll_map_html(None), elem_id="roll-map", padding=False,
                                visible="hidden")
            with gr.Row():
                # The view drawn wider (outputs.zoom_view); the page's script shows it
                # scrolling (roll.py).
                zoom_in = gr.Button("Zoom in", elem_id="zoom-in", size="sm", min_width=90, scale=0)
                zoom_out = gr.Button("Zoom out", elem_id="zoom-out", size="sm", min_width=90,
                                     scale=0)
                zoom = gr.State(1)
                gr.Markdown("Click a bar to change it (Change a part), shift-click another "
                            "to take the bars between, double-click for its whole section; "
                            "the red line follows the player. Zoomed in, the roll scrolls "
                            "sideways.", elem_classes=["roll-help"])
        with gr.Tab("Lead sheet", elem_id="lead-sheet-tab"):
            # Engraved on demand: MuseScore takes a few seconds, and most songs
            # are only listened to.
            lead_button = gr.Button("Engrave the lead sheet", elem_id="engrave")
            lead_message = gr.Markdown("", elem_id="lead-message")
            lead_pages = gr.Gallery(label="Lead sheet", columns=1, height="auto",
                                    object_fit="contain", elem_id="lead-sheet")
    summary = gr.Markdown(elem_id="summary")
    # The browser's own player: its <audio> element is what the playhead follows.
    player = gr.Audio(label="Listen", type="filepath", interactive=False, elem_id="player",
                      waveform_options=gr.WaveformOptions(show_recording_waveform=False))
    return SimpleNamespace(take=take, view=view, roll_html=roll_html, zoom_in=zoom_in, zoom_out=zoom_out,
                           zoom=zoom, lead_button=lead_button, lead_message=lead_message,
                           lead_pages=lead_pages, summary=summary, player=player)


def _change_panel(drummer: bool) -> SimpleNamespace:
    """Change a part: a section, bars or the whole song, the level, Regenerate, Undo, Redo."""
    with gr.Accordion("Change a part", open=True, elem_id="change"):
        with gr.Row():
            what = gr.Radio(["a section", "a bar range", WHOLE_SONG], value="a section",
                            label="Change", elem_id="what")
            section = gr.Dropdown([], label="Section", interactive=False, elem_id="section")
            first_bar = gr.Textbox(label="From bar", value="", elem_id="from-bar")
            last_bar = gr.Textbox(label="To bar", value="", elem_id="to-bar")
        with gr.Row():
            level = gr.Radio([LEVEL_NOTES, LEVEL_CHORDS] + ([LEVEL_DRUMS] if drummer else []),
                             value=LEVEL_NOTES, label="Write", elem_id="level")
            regen_seed = gr.Textbox(label="Seed", value="", placeholder="random",
                                    elem_id="regen-seed")
            # Ticked for a harmonised song (the melody is the user's): new notes are then a new
            # accompaniment under it, new chords the ones of 16 draws that fit it best.
            keep_melody = gr.Checkbox(False, label="Keep the melody", elem_id="keep-melody",
                                      info="new piano (and chords) under the same melody")
            regen_button = gr.Button("Regenerate", interactive=False, elem_id="regenerate")
            undo_button = gr.Button("Undo", interactive=False, elem_id="undo")
            redo_button = gr.Button("Redo", interactive=False, elem_id="redo")
        change_message = gr.Markdown("", elem_id="change-message")
    return SimpleNamespace(what=what, section=section, first_bar=first_bar, last_bar=last_bar, level=level,
                           regen_seed=regen_seed, keep_melody=keep_melody, regen_button=regen_button, undo_button=undo_button,
                           redo_button=redo_button, change_message=change_message)


def _sound_panel(choices: Sequence[str]) -> SimpleNamespace:
    """Sound: a timbre, a volume and a mute per track (rows shown for the song's tracks), the
    audio format, Render and Stems."""
    with gr.Accordion("Sound", open=True, elem_id="sound"):
        gr.Markdown("The lead (Melody) is set 4 dB over the loudest other track; "
                    "the volumes move each track from there.", elem_classes=["sound-help"])
        track_rows, volumes, mutes, row_boxes = [], [], [], []
        for i in range(MAX_TRACK_ROWS):
            # The row itself is shown and hidden: a row of hidden parts kept its
            # padding, a blank band under the song's tracks.
            with gr.Row(equal_height=True, visible=False) as row_box:
                row_boxes.append(row_box)
                track_rows.append(gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, visible=False,
                                              label=f"Track {i + 1}", elem_id=f"timbre-{i}",
                                              scale=3))
                volumes.append(gr.Slider(-24, 12, value=0, step=1, label="Volume (dB)",
                                         visible=False, elem_id=f"volume-{i}", scale=2))
                mutes.append(gr.Checkbox(False, label="Mute", visible=False, elem_id=f"mute-{i}",
                                         scale=1, min_width=80))
        with gr.Row():
            fmt = gr.Radio(["wav", "flac"], value="wav", label="Audio format")
            render_button = gr.Button("Render audio", elem_id="render")
            stems_button = gr.Button("Stems (zip)", elem_id="stems")
        sound_message = gr.Markdown("", elem_id="sound-message")
    return SimpleNamespace(track_rows=track_rows, volumes=volumes, mutes=mutes, row_boxes=row_boxes, fmt=fmt,
                           render_button=render_button, stems_button=stems_button, sound_message=sound_message)


def _wire_ui(app: gr.Blocks, h: SimpleNamespace, session, c: SimpleNamespace, o: SimpleNamespace,
             s: SimpleNamespace, ch: SimpleNamespace, snd: SimpleNamespace, downloads, cancel_button,
             work: dict) -> None:
    """The page's events: each button's handler (``h``) with its inputs, the outputs it
    changes (the song's, for a new version) and the message line it answers on."""
    song_outputs = [s.view, s.roll_html, s.summary, s.player, downloads, ch.section, ch.first_bar, ch.last_bar,
                    ch.undo_button, ch.redo_button, ch.regen_button, s.lead_pages, s.take, *snd.track_rows,
                    *snd.volumes, *snd.mutes, *snd.row_boxes, s.zoom, ch.keep_melody]
    track_inputs = [*snd.track_rows, *snd.volumes, *snd.mutes]
    private = {"api_visibility": "private"}

    def wire(trigger, fn, inputs, outputs, message, **kwargs):
        fn.n_outputs = len(outputs)
        return trigger(fn, inputs, [*outputs, message], **kwargs, **private)

    def wire_work(trigger, fn, inputs, outputs, message):
        """Work that Cancel can stop: the press clears the session's cancel flag at once
        (outside the queue), then the work waits for a worker and checks the flag at
        every step."""
        armed = trigger(h.on_press, session, None, concurrency_limit=None, **private)
        return wire(armed.then, fn, inputs, outputs, message, **work)

    app.load(h.new_session, None, session, **private)
    app.unload(h.on_unload)
    c.preset.change(h.on_preset, c.preset, c.form, **private)
    wire_work(c.compose_button.click, h.on_compose, [session, c.form, c.chords, c.bars, c.key, c.tempo, c.meter,
                                                     c.seed, c.steps, c.bass, c.drums, c.with_audio, snd.fmt,
                                                     c.n_takes, c.with_chords, *track_inputs],
              [session, *song_outputs], c.compose_message)
    wire_work(o.midi_in.upload, h.on_open, [session, o.midi_in], [session, *song_outputs], o.open_message)
    wire_work(o.arrange_button.click, h.on_arrange, [session, o.arrange_seed, c.bass, c.drums, c.with_audio,
                                                     snd.fmt],
              [session, *song_outputs], o.open_message)
    wire_work(snd.render_button.click, h.on_render, [session, snd.fmt, *track_inputs], [session, *song_outputs],
              snd.sound_message)
    wire_work(ch.regen_button.click, h.on_regenerate, [session, ch.what, ch.section, ch.first_bar, ch.last_bar,
                                                       ch.level, ch.regen_seed, ch.keep_melody, c.with_audio,
                                                       snd.fmt,
                                                       *track_inputs],
              [session, *song_outputs], ch.change_message)
    wire_work(snd.stems_button.click, h.on_stems, [session, snd.fmt], [session, downloads], snd.sound_message)
    wire_work(s.lead_button.click, h.on_lead_sheet, [session], [session, s.lead_pages], s.lead_message)
    wire(s.take.input, h.on_take, [session, s.take, ch.section], [session, *song_outputs], c.compose_message)
    wire(s.zoom_in.click, h.on_zoom_in, [session, s.zoom], [session, s.view, s.roll_html, s.zoom],
         ch.change_message)
    wire(s.zoom_out.click, h.on_zoom_out, [session, s.zoom], [session, s.view, s.roll_html, s.zoom],
         ch.change_message)
    wire(ch.undo_button.click, h.on_undo, [session, ch.section], [session, *song_outputs], ch.change_message)
    wire(ch.redo_button.click, h.on_redo, [session, ch.section], [session, *song_outputs], ch.change_message)
    # Cancel only sets the session's flag: the work stops at its next step and answers
    # "Stopped." with every output skipped.  Gradio's cancels= would kill the event's
    # task instead; in CI that left 56 outputs with a red "Error" badge after a Cancel
    # (not reproduced here in 20 runs), while the flag's path is the ordinary one of a
    # finished event.
    cancel_button.click(h.on_cancel, session, None, concurrency_limit=None, **private)


def _api_panel(api: SimpleNamespace, work: dict) -> None:
    """The named API: hidden inputs and outputs with defaults, one event each.  Text boxes
    for the key, meter, format and level: our checks answer a bad one (see the module)."""
    with gr.Column(visible=False):
        a_form = gr.Textbox(value="", label="form")
        a_bars = gr.Number(value=None, label="bars")
        a_key = gr.Textbox(value=KEYS[0], label="key")
        a_tempo = gr.Number(value=None, label="tempo")
        a_meter = gr.Textbox(value="4/4", label="meter")
        a_seed = gr.Number(value=None, label="seed")
        a_steps = gr.Number(value=None, label="steps")
        a_bass = gr.Checkbox(value=True, label="bass")
        a_audio = gr.Checkbox(value=True, label="audio")
        a_fmt = gr.Textbox(value="wav", label="audio_format")
        a_chords = gr.Textbox(value="", label="chords")
        a_drums = gr.Checkbox(value=True, label="drums")
        a_midi = gr.File(value=None, label="midi", type="filepath")
        a_timbres = gr.JSON(value=None, label="timbres")
        a_gains = gr.JSON(value=None, label="gains")
        a_section = gr.Number(value=None, label="section")
        a_from = gr.Number(value=None, label="from_bar")
        a_to = gr.Number(value=None, label="to_bar")
        a_level = gr.Textbox(value=LEVEL_NOTES, label="level")
        # true, false or null (left out: the song's own, kept for a harmonised song); JSON, as a
        # check box has no "left out"
        a_keep = gr.JSON(value=None, label="keep_melody")
        # blank: the file's own (a_key and a_meter default to "model chooses" and 4/4)
        a_file_key = gr.Textbox(value="", label="key")
        a_file_meter = gr.Textbox(value="", label="meter")
        out_midi = gr.File(label="midi")
        out_audio = gr.File(label="audio")
        out_view = gr.Image(label="view", type="filepath")
        out_summary = gr.Textbox(label="summary")
        a_takes = gr.Number(value=2, label="takes")
        out_midis = gr.File(label="midi", file_count="multiple")
        out_audios = gr.File(label="audio", file_count="multiple")
        out_views = gr.File(label="view", file_count="multiple")
        a_several = gr.Button()
        a_compose, a_render, a_regen, a_arrange = gr.Button(), gr.Button(), gr.Button(), gr.Button()
    api_outputs = [out_midi, out_audio, out_view, out_summary]
    a_compose.click(api.compose, [a_form, a_bars, a_key, a_tempo, a_meter, a_seed, a_steps, a_bass,
                                  a_audio, a_fmt, a_chords, a_drums], api_outputs, api_name="compose", **work)
    a_several.click(api.compose_takes, [a_form, a_bars, a_key, a_tempo, a_meter, a_seed, a_steps, a_bass,
                                        a_audio, a_fmt, a_chords, a_drums, a_takes],
                    [out_midis, out_audios, out_views, out_summary], api_name="takes", **work)
    a_render.click(api.render, [a_midi, a_timbres, a_fmt, a_gains], api_outputs, api_name="render", **work)
    a_arrange.click(api.arrange, [a_midi, a_seed, a_file_key, a_tempo, a_file_meter, a_form, a_bass, a_drums,
                                  a_audio, a_fmt], api_outputs, api_name="arrange", **work)
    a_regen.click(api.regenerate, [a_midi, a_section, a_from, a_to, a_level, a_seed, a_audio, a_fmt,
                                   a_timbres, a_gains, a_keep], api_outputs, api_name="regenerate", **work)


def build_ui(composer, out_dir: str | os.PathLike, installed_timbres: Sequence[str] | None = None,
             limits: AppLimits | None = None) -> gr.Blocks:
    """The app for ``composer`` (a pipeline.Composer), writing its files under ``out_dir``."""
    limits = limits or AppLimits()
    ctx = AppContext(composer, Path(out_dir), tuple(installed_timbres or ()), limits)
    # Models without a drum level: no Drums box and no "new drums" (they would do nothing).
    drummer = act.has_drum_level(ctx)
    work = {"concurrency_id": "work", "concurrency_limit": limits.concurrency}
    tabs: dict[str, Session] = {}  # the open tabs' sessions by Gradio session hash, for unload
    handlers = _ui_handlers(ctx, tabs)
    with gr.Blocks(title="composer", delete_cache=(600, int(limits.session_max_age_s))) as app:
        # Gradio drops a tab's state after the session's age limit (or an hour after the tab
        # closed; unload removes the folder sooner); dropping it removes the session's folder.
        session = gr.State(None, time_to_live=limits.session_max_age_s, delete_callback=handlers.drop_session)
        gr.Markdown("# composer\nWhole songs from a cascade of diffusion models: form → chords → "
                    "melody and accompaniment. Every field is optional: empty means the model chooses.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                compose = _compose_panel(drummer)
                opened = _open_panel(limits)
                cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel")
            with gr.Column(scale=3):
                song = _song_panel()
                change = _change_panel(drummer)
                sound = _sound_panel(timbre_choices(ctx.installed_timbres))
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                    elem_id="downloads")
        _wire_ui(app, handlers, session, compose, opened, song, change, sound, downloads, cancel_button, work)
        _api_panel(_api_handlers(ctx), work)
    app.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    app.composer_context = ctx  # for tests and app.py: the limits and folders in use
    return app
