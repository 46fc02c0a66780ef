"""DDSP timbre rendering speed: one voice against real time, and a 3-minute song.

Targets (issue 7): one voice at least 20x faster than real time; a 3-minute song with a
learned-timbre melody and a 4-voice learned-timbre accompaniment in at most 30 s, mixed to
44.1 kHz stereo through ``composer.render.mix.Mixer``.

Targets (issue 21, item 4), measured in the same run: every shipped timbre plays one voice at
least 100x faster than real time; a 3-minute band song (melody, piano chords, bass, drums)
with a learned lead renders in at most 1.5x the time of the same song all on the SoundFont.
Every time is a median of 3 runs after a warm-up.  Uses the shipped timbres
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
    from composer.render.mix import Mixer, TrackTimbre, resolve_timbres
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

    # issue 21: every shipped timbre's one voice, and a band song with a learned lead against
    # the same song on the SoundFont alone, in this one run (the machine's load is shared).
    from composer.render.ddsp.timbre import installed_timbres
    per_voice = {}
    for name in [n for n in ("flute", "clarinet", "saxophone", "cello") if n in installed_timbres()]:
        timbre, _ = _timbre(name)
        tx = timbre.expression
        lo_t, hi_t = max(tx.pitch_min, 48), min(tx.pitch_max, 84)
        one = Score(tempos=(TempoChange.from_bpm(0, 120),),
                    tracks=(Track("Melody", 71, notes=melody_notes(20, lo_t, hi_t)),))
        r = DDSPRenderer(timbre)
        t_one, cpu_one = median_wall_and_cpu(lambda: r.render(one, 44100))
        per_voice[name] = {"wall": one.duration_seconds / t_one, "cpu": one.duration_seconds / cpu_one}
        rows.append((f"one voice ({name}), 20 s", f"{t_one:.2f} s wall = {per_voice[name]['wall']:.0f}x real time, "
                     f"{cpu_one:.2f} s CPU = {per_voice[name]['cpu']:.0f}x (target >= 100x)"))
    results["per_voice_realtime_factor"] = per_voice
    band = band_song(180.0)
    sf_timbres = resolve_timbres(band)
    lead = tuple(TrackTimbre("ddsp", "clarinet") if t.name == "Melody" else tt
                 for t, tt in zip(band.tracks, sf_timbres))
    band_mixer = Mixer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        band_mixer.render(band, 44100, lead)                    # warm-up: loads both renderers
        # Interleaved, so that a burst of the other jobs' load falls on both alike.
        (t_sf, cpu_sf), (t_lead, cpu_lead) = median_wall_and_cpu(
            lambda: band_mixer.render(band, 44100, sf_timbres), lambda: band_mixer.render(band, 44100, lead),
            repeats=5, warmup=0)
    results["band_song_seconds"] = band.duration_seconds
    results["band_soundfont_render_seconds"] = {"wall": t_sf, "cpu": cpu_sf}
    results["band_learned_lead_render_seconds"] = {"wall": t_lead, "cpu": cpu_lead}
    results["band_learned_lead_ratio"] = {"wall": t_lead / t_sf, "cpu": cpu_lead / cpu_sf}
    rows.append((f"{band.duration_seconds / 60:.0f}-min band song, SoundFont only",
                 f"{t_sf:.2f} s wall, {cpu_sf:.2f} s CPU"))
    rows.append((f"{band.duration_seconds / 60:.0f}-min band song, learned lead (clarinet)",
                 f"{t_lead:.2f} s wall = {t_lead / t_sf:.2f}x the SoundFont render, {cpu_lead:.2f} s CPU = "
                 f"{cpu_lead / cpu_sf:.2f}x (target <= 1.5x)"))
    print_table(rows)
    write_results("ddsp", results)


def median_wall_and_cpu(*fns, repeats: int = 3, warmup: int = 1):
    """Medians of wall and CPU time (this process; FluidSynth renders in it too) of each of
    ``fns``, run in turn ``repeats`` times: (wall, cpu) for one function, a list for several.
    On 2 cores shared with other jobs the wall time depends on their load; the CPU time is
    what the work costs, and is what an idle core's wall time would be with one thread."""
    import statistics
    import time

    for _ in range(warmup):
        for fn in fns:
            fn()
    walls, cpus = [[] for _ in fns], [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            w, c = time.perf_counter(), time.process_time()
            fn()
            walls[i].append(time.perf_counter() - w)
            cpus[i].append(time.process_time() - c)
    out = [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus)]
    return out[0] if len(fns) == 1 else out


def band_song(seconds: float):
    """A pop band's song for ``seconds`` at 120 bpm: an eighth-note clarinet melody, piano
    chords (4 notes a half note), a quarter-note bass and a drum beat (kick, snare, hats)."""
    from composer.score import Note, Score, TempoChange, Track

    bass, drums = [], []
    for beat in range(int(seconds * 2)):
        tick = beat * 480
        bass.append(Note(tick, 440, (36, 36, 43, 41)[(beat // 4) % 4], 90))
        drums.append(Note(tick, 120, 36 if beat % 2 == 0 else 38, 100))
        drums.extend(Note(tick + h, 60, 42, 70) for h in (0, 240))
    return Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(
        Track("Melody", 71, notes=melody_notes(seconds, 62, 84)),
        Track("Piano", 0, notes=chord_notes(seconds, 55)),
        Track("Bass", 33, notes=tuple(bass)),
        Track("Drums", 0, is_drum=True, notes=tuple(drums)),
    ))


if __name__ == "__main__":
    main()
