"""DDSP timbre rendering speed: one voice against real time, and a 3-minute song.

Targets (issue 7): one voice at least 20x faster than real time; a 3-minute song with a
learned-timbre melody and a 4-voice learned-timbre accompaniment in at most 30 s, mixed to
44.1 kHz stereo through ``composer.render.mix.Mixer``.  Uses the shipped timbres
(models/timbres/flute and cello) when present, else untrained models of the same size (the
cost does not depend on the weights, only on the notes).
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from benchmarks.common import median_seconds, print_table, write_results


def _timbre(name: str):
    from composer.render.ddsp.timbre import (Expression, Timbre, TimbreModel, default_timbre_dir,
                                             installed_timbres, load_timbre)
    from composer.render.ddsp.train import DECODER_DEFAULT, SYNTH_DEFAULT

    if name in installed_timbres():
        return load_timbre(default_timbre_dir() / name), True
    import torch
    torch.manual_seed(0)
    return Timbre(name, TimbreModel(DECODER_DEFAULT, SYNTH_DEFAULT).eval(), Expression()), False


def melody_notes(seconds: float, low: int, high: int, step_ticks: int = 240, seed: int = 0):
    """Eighth notes at 120 bpm (0.25 s) wandering between low and high for ``seconds``."""
    from composer.score import Note

    rng = np.random.default_rng(seed)
    notes, pitch, tick = [], (low + high) // 2, 0
    while tick * 0.5 / 480 < seconds:
        pitch = int(np.clip(pitch + rng.integers(-3, 4), low, high))
        notes.append(Note(tick, step_ticks, pitch, int(rng.integers(70, 110))))
        tick += step_ticks
    return tuple(notes)


def chord_notes(seconds: float, low: int):
    """Four-note chords, one per half note (1 s at 120 bpm), for ``seconds``."""
    from composer.score import Note

    shapes = ((0, 4, 7, 12), (-3, 0, 4, 9), (-7, -3, 0, 5), (-5, -1, 2, 7))
    notes = []
    for i in range(int(seconds)):
        for offset in shapes[i % 4]:
            notes.append(Note(i * 960, 960, low + 7 + offset, 80))
    return tuple(notes)


def main() -> None:
    import torch

    from composer.render.ddsp.renderer import DDSPRenderer
    from composer.render.mix import Mixer, TrackTimbre
    from composer.score import Score, TempoChange, Track

    threads = int(os.environ.get("BENCH_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    flute, trained_f = _timbre("flute")
    cello, trained_c = _timbre("cello")
    rows, results = [], {"trained_timbres": trained_f and trained_c, "torch_threads": torch.get_num_threads()}

    # one voice, 20 s of continuous eighth notes
    ex = flute.expression
    lo, hi = max(ex.pitch_min, 60), min(ex.pitch_max, 84)
    voice = Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(Track("Melody", 73, notes=melody_notes(20, lo, hi)),))
    renderer = DDSPRenderer(flute)
    seconds = voice.duration_seconds
    t = median_seconds(lambda: renderer.render(voice, 44100), repeats=3, warmup=1)
    results["one_voice_audio_seconds"] = seconds
    results["one_voice_render_seconds"] = t
    results["one_voice_realtime_factor"] = seconds / t
    rows.append(("one voice (flute), 20 s", f"{t:.2f} s  = {seconds / t:.1f}x real time (target >= 20x)"))

    # 3-minute song: melody + 4-voice accompaniment, both learned, mixed at 44.1 kHz
    cx = cello.expression
    song = Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(
        Track("Melody", 73, notes=melody_notes(180, lo, hi)),
        Track("Accompaniment", 42, notes=chord_notes(180, max(cx.pitch_min, 43))),
    ))
    mixer = Mixer(factories={"ddsp": lambda name: DDSPRenderer(flute if name == "flute" else cello)})
    timbres = (TrackTimbre("ddsp", "flute"), TrackTimbre("ddsp", "cello"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_song = median_seconds(lambda: mixer.render(song, 44100, timbres), repeats=3, warmup=0)
    results["song_audio_seconds"] = song.duration_seconds
    results["song_render_seconds"] = t_song
    rows.append(("3-min song, melody + 4 voices", f"{t_song:.1f} s for {song.duration_seconds:.0f} s "
                 f"(target <= 30 s)"))
    print_table(rows)
    write_results("ddsp", results)


if __name__ == "__main__":
    main()
