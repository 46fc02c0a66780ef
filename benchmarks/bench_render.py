"""SoundFont rendering speed: composer against the ``fluidsynth`` command line, side by side.

The song: 3 minutes, 4 tracks (melody, bass, chords with sustain pedal, drums), 120 bpm,
written to a MIDI file.  Timed, medians over several runs, alternating the contenders:

- ``composer``: what ``composer render song.mid -o out.wav`` does, in process: read the
  MIDI file, build the renderer (SoundFont loading included), render with the tail,
  measure loudness, normalise to -14 LUFS and write a 16-bit WAV.
- ``composer (render only)``: SoundFontRenderer construction + render to float Audio.
- ``fluidsynth CLI``: ``fluidsynth -ni -F out.wav -r 44100 SF song.mid`` (process start,
  SoundFont loading, rendering, WAV writing), FluidSynth's defaults.
- ``fluidsynth CLI, dynamic loading``: the same with ``-o synth.dynamic-sample-loading=1``,
  the setting composer uses, for a like-for-like synthesis comparison.

Targets (issue 6): composer at least 50x real time, and at most 1.3x the CLI's time.
Also reports peak memory growth of a 30-minute render streamed to disk.
"""
from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_results

SONG_SECONDS = 180
SAMPLE_RATE = 44100


def make_song(seconds: float = SONG_SECONDS):
    """A 4-track song of ``seconds`` at 120 bpm (one quarter = 0.5 s)."""
    from composer.score import ControlChange, Note, Score, TempoChange, Track

    quarters = int(seconds * 2)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    melody = Track("melody", program=73, notes=tuple(
        Note(i * 240, 220, scale[(i * 3) % 8] + 12, 90 + i % 20) for i in range(quarters * 2)))
    bass = Track("bass", program=33, notes=tuple(
        Note(i * 480, 440, [36, 41, 43, 38][(i // 4) % 4], 100) for i in range(quarters)))
    chords = Track("chords", program=0, notes=tuple(
        Note(i * 1920, 1900, root + iv, 70) for i in range(quarters // 4)
        for root in ([48, 53, 55, 50][i % 4],) for iv in (12, 16, 19)),
        controls=tuple(ControlChange(i * 1920 + d, 64, v) for i in range(quarters // 4)
                       for d, v in ((0, 127), (1800, 0))))
    drums = Track("drums", is_drum=True, notes=tuple(
        Note(i * 240, 60, [36, 42, 38, 42][i % 4], 100) for i in range(quarters * 2)))
    return Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(melody, bass, chords, drums))


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children) of one call of ``fn``.

    CPU time is reported beside wall time because this machine's two cores are shared:
    under load, wall time measures the neighbours as much as the code."""
    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    c0, t0 = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu() - c0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from composer.io.audio import write_normalised_blocks
    from composer.io.midi import read_midi, write_midi
    from composer.render.soundfont import DEFAULT_SOUNDFONT, SoundFontRenderer

    tmp = Path(tempfile.mkdtemp(prefix="bench_render_"))
    try:
        song = tmp / "song.mid"
        write_midi(make_song(), song)
        out_ours = tmp / "ours.wav"

        def composer_render():
            out_ours.unlink(missing_ok=True)
            renderer = SoundFontRenderer()
            write_normalised_blocks(out_ours, renderer.render_blocks(read_midi(song), SAMPLE_RATE),
                                    SAMPLE_RATE, 2)

        def render_only():
            SoundFontRenderer().render(read_midi(song), SAMPLE_RATE)

        fluidsynth = shutil.which("fluidsynth")

        def cli(*extra):
            def run():
                subprocess.run([fluidsynth, "-ni", "-q", *extra, "-F", str(tmp / "cli.wav"),
                                "-r", str(SAMPLE_RATE), str(DEFAULT_SOUNDFONT), str(song)],
                               check=True, capture_output=True)
            return run

        contenders = {"composer": composer_render, "composer (render only)": render_only}
        if fluidsynth:
            contenders["fluidsynth CLI"] = cli()
            contenders["fluidsynth CLI, dynamic loading"] = cli("-o", "synth.dynamic-sample-loading=1")
        # Side by side: alternate the contenders over rounds, medians of the rounds.
        rounds = 5
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpu_times: dict[str, list[float]] = {name: [] for name in contenders}
        for fn in contenders.values():
            fn()  # warm the page cache
        for _ in range(rounds):
            for name, fn in contenders.items():
                wall, cpu = _timed(fn)
                times[name].append(wall)
                cpu_times[name].append(cpu)
        med = {name: statistics.median(v) for name, v in times.items()}
        med_cpu = {name: statistics.median(v) for name, v in cpu_times.items()}

        results = {"song_seconds": SONG_SECONDS, "tracks": 4, "sample_rate": SAMPLE_RATE,
                   "soundfont": DEFAULT_SOUNDFONT.name, "rounds": rounds}
        rows = [("load average (1 min)", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")]
        results["load_average"] = os.getloadavg()[0]
        for name, seconds in med.items():
            key = name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
            results[f"{key}_seconds"] = seconds
            results[f"{key}_cpu_seconds"] = med_cpu[name]
            results[f"{key}_x_realtime"] = SONG_SECONDS / seconds
            rows.append((name, f"{seconds:6.2f} s wall ({SONG_SECONDS / seconds:4.0f}x real time), "
                               f"{med_cpu[name]:6.2f} s CPU ({SONG_SECONDS / med_cpu[name]:4.0f}x)"))
        if fluidsynth:
            for label, ref in (("CLI", "fluidsynth CLI"), ("CLI, dynamic", "fluidsynth CLI, dynamic loading")):
                ratio, ratio_cpu = med["composer"] / med[ref], med_cpu["composer"] / med_cpu[ref]
                key = "ratio_to_cli" + ("_dynamic_loading" if "dynamic" in label else "")
                results[key], results[key + "_cpu"] = ratio, ratio_cpu
                rows.append((f"composer / {label}", f"{ratio:.2f} wall, {ratio_cpu:.2f} CPU (target <= 1.3)"))
        else:
            rows.append(("fluidsynth CLI", "not installed: apt-get install fluidsynth"))
        rows.append(("target >= 50x real time", f"wall {SONG_SECONDS / med['composer'] >= 50}, "
                                                 f"CPU {SONG_SECONDS / med_cpu['composer'] >= 50}"))

        # Bounded memory: a 30-minute song streamed to a file, peak RSS growth.
        long_song = tmp / "long.mid"
        write_midi(make_song(30 * 60), long_song)
        before = _peak_rss_mb()
        start = time.perf_counter()
        write_normalised_blocks(tmp / "long.wav", SoundFontRenderer().render_blocks(read_midi(long_song),
                                                                                   SAMPLE_RATE),
                                SAMPLE_RATE, 2)
        long_seconds = time.perf_counter() - start
        growth = _peak_rss_mb() - before
        results["long_30min_seconds"] = long_seconds
        results["long_30min_peak_rss_growth_mb"] = growth
        rows.append(("30-min song streamed", f"{long_seconds:.1f} s, peak RSS growth {growth:.0f} MB "
                                             f"(the audio itself is {30 * 60 * SAMPLE_RATE * 8 / 2**20:.0f} MB)"))
        print_table(rows)
        print(f"  -> {write_results('render', results)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
