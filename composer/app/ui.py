"""The Gradio app: compose a whole song, hear it, take the MIDI to a DAW; render any MIDI.

``build_ui(composer, out_dir)`` returns a ``gr.Blocks``; nothing lives in module globals
(DESIGN rule 9), so tests build as many apps as they like.  The buttons call the plain
functions of ``actions.py``; a ComposerError becomes a one-line ``gr.Error`` toast.
"""
from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from composer.app.actions import SOUNDFONT_DEFAULT, compose_song, render_midi_file, timbre_choices, timbre_spec
from composer.errors import ComposerError

KEYS = ["(model chooses)"] + [f"{t} {m}" for m in ("major", "minor")
                              for t in ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")]


def build_ui(composer, out_dir: str | os.PathLike, installed_timbres: list[str] | None = None) -> gr.Blocks:
    """The app for ``composer`` (a pipeline.Composer), writing its files under ``out_dir``."""
    out_dir = Path(out_dir)
    choices = timbre_choices(installed_timbres or [])
    learned_melody = next((c for c in choices if c == "Learned: flute"), SOUNDFONT_DEFAULT)

    def on_compose(form, bars, key, tempo, meter, seed, steps, melody, piano, bass, with_audio,
                   progress=gr.Progress()):
        def report(level: str, done: int, total: int) -> None:
            progress(done / max(total, 1), desc=f"{level} level")

        try:
            result = compose_song(
                composer, out_dir, form=form or "", bars=int(bars) if bars else None,
                key="" if key == KEYS[0] else key, tempo=float(tempo) if tempo else None, meter=meter,
                seed=int(seed) if seed not in (None, "") else None, steps=int(steps) if steps else None,
                timbres={"Melody": timbre_spec(melody), "Piano": timbre_spec(piano), "Bass": timbre_spec(bass)},
                audio=bool(with_audio), progress=report)
        except ComposerError as err:
            raise gr.Error(str(err)) from None
        audio = str(result.audio_path) if result.audio_path else None
        return result.summary, str(result.midi_path), audio

    def on_render(midi_file, first, second, third):
        if midi_file is None:
            raise gr.Error("upload a MIDI file first")
        timbres = {"0": timbre_spec(first), "1": timbre_spec(second), "2": timbre_spec(third)}
        try:
            from composer.io.midi import read_midi
            n_tracks = len(read_midi(midi_file).tracks)
            timbres = {k: v for k, v in timbres.items() if int(k) < n_tracks}
            audio, summary = render_midi_file(midi_file, out_dir, timbres)
        except ComposerError as err:
            raise gr.Error(str(err)) from None
        return summary, str(audio)

    with gr.Blocks(title="composer") as app:
        gr.Markdown("# composer\nWhole songs from a cascade of diffusion models: form → chords → "
                    "melody and accompaniment. Every field is optional.")
        with gr.Tab("Compose"):
            with gr.Row():
                form = gr.Textbox(label="Form", placeholder="i4A8B8A8B8o4  (empty: the model chooses)")
                bars = gr.Number(label="Bars (without a form)", value=None, precision=0, minimum=0, maximum=512)
                key = gr.Dropdown(KEYS, value=KEYS[0], label="Key")
            with gr.Row():
                tempo = gr.Number(label="Tempo (bpm)", value=None, minimum=0, maximum=400)
                meter = gr.Dropdown(["4/4", "3/4"], value="4/4", label="Meter")
                seed = gr.Number(label="Seed (empty: random)", value=None, precision=0)
                steps = gr.Number(label="Sampler steps (empty: default)", value=None, precision=0,
                                  minimum=0, maximum=200)
            with gr.Row():
                melody = gr.Dropdown(choices, value=learned_melody, label="Melody timbre")
                piano = gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, label="Piano timbre")
                bass = gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, label="Bass timbre")
                with_audio = gr.Checkbox(value=True, label="Render audio")
            compose_button = gr.Button("Compose", variant="primary")
            summary = gr.Markdown()
            with gr.Row():
                midi_out = gr.File(label="MIDI (drop into your DAW)")
                audio_out = gr.Audio(label="Audio", type="filepath")
            compose_button.click(on_compose, [form, bars, key, tempo, meter, seed, steps, melody, piano,
                                              bass, with_audio], [summary, midi_out, audio_out])
        with gr.Tab("Render a MIDI file"):
            midi_in = gr.File(label="MIDI file", file_types=[".mid", ".midi"], type="filepath")
            with gr.Row():
                t0 = gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, label="Track 0 timbre")
                t1 = gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, label="Track 1 timbre")
                t2 = gr.Dropdown(choices, value=SOUNDFONT_DEFAULT, label="Track 2 timbre")
            render_button = gr.Button("Render", variant="primary")
            render_summary = gr.Markdown()
            render_audio = gr.Audio(label="Audio", type="filepath")
            render_button.click(on_render, [midi_in, t0, t1, t2], [render_summary, render_audio])
    return app
