"""Phrases (issue 21, item 3): the melodies of generated songs and of held-out POP909 songs,
played by each learned timbre and by the SoundFont; clicks at note boundaries and legato where
notes touch (``composer/render/ddsp/phrases.py``; docs/EVAL.md, "Phrases").

``python -m benchmarks.bench_timbre_phrases [--songs out/eval/cascade] [--prepared .prepared/pop909]
[--n 10] [--seconds 60]``.  Generated songs are the MIDI files of ``--songs`` (``make quality``
writes out/eval/cascade), the real ones the test split of ``--prepared``; the first ``--n`` of
each, the melody's first ``--seconds``.  Sets that are missing are skipped with a line.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_results

ROOT = Path(__file__).resolve().parents[1]
SR = 44100


def melody_excerpts(n: int, seconds: float, songs: Path, prepared: Path) -> dict[str, list]:
    """{"generated": [...], "pop909": [...]}: one-track Scores (the melody, notes starting in
    the first ``seconds``), sorted by name."""
    from dataclasses import replace

    from composer.tracks import melody_index

    def cut(score, name):
        i = melody_index(score)
        if i is None:
            return None
        track = score.tracks[i]
        first = min(nt.start_tick for nt in track.notes)
        notes = tuple(nt for nt in track.notes
                      if score.tick_to_seconds(nt.start_tick) - score.tick_to_seconds(first) < seconds)
        return name, replace(score, tracks=(replace(track, notes=notes),))

    out = {}
    if songs.is_dir():
        from composer.io.midi import read_midi
        files = sorted(songs.glob("*.mid"))[:n]
        out["generated"] = [x for x in (cut(read_midi(f), f.stem) for f in files) if x]
    else:
        print(f"  no generated songs in {songs} (make quality writes them): skipped", file=sys.stderr)
    if (prepared / "split.json").is_file():
        from composer.data.example import load_split
        examples = load_split(prepared, "test")[:n]
        out["pop909"] = [x for x in (cut(ex.to_score(), ex.song_id) for ex in examples) if x]
    else:
        print(f"  no prepared POP909 in {prepared}: skipped", file=sys.stderr)
    return out


def note_spans(score) -> tuple[list[tuple[float, float]], list[int]]:
    """(start_s, end_s) of the melody's notes as the DDSP voice allocator plays them (a note
    overlapping the next by a legato join ends where the next starts), and their pitches."""
    from composer.render.ddsp.voices import TimedNote, allocate_voices

    notes = [TimedNote(score.tick_to_seconds(nt.start_tick), score.tick_to_seconds(nt.end_tick), nt.pitch,
                       nt.velocity) for nt in score.tracks[0].notes]
    alloc = allocate_voices(notes, max_voices=1)
    voice = alloc.voices[0] if alloc.voices else ()
    return [(nt.start_s, nt.end_s) for nt in voice], [nt.pitch for nt in voice]


def main(argv: list[str] | None = None) -> None:
    import torch

    from composer.render.ddsp.evaluate import GM_PROGRAMS
    from composer.render.ddsp.phrases import CLICK_RATIO, LEGATO_DIP_DB, measure_joins
    from composer.render.ddsp.renderer import DDSPRenderer
    from composer.render.ddsp.timbre import default_timbre_dir, installed_timbres, load_timbre
    from composer.render.soundfont import SoundFontRenderer

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--songs", default=str(ROOT / "out" / "eval" / "cascade"))
    p.add_argument("--prepared", default=str(ROOT / ".prepared" / "pop909"))
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--timbres", default="flute,clarinet,saxophone,cello",
                   help="comma-separated shipped timbres to play (default all four)")
    args = p.parse_args(argv if argv is not None else [])
    threads = int(os.environ.get("BENCH_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    sets = melody_excerpts(args.n, args.seconds, Path(args.songs), Path(args.prepared))
    names = [n for n in args.timbres.split(",") if n in installed_timbres()]
    font = SoundFontRenderer(reverb=False, chorus=False)
    rows, results = [], {"click_ratio": CLICK_RATIO, "legato_dip_db": LEGATO_DIP_DB, "sets": {}}
    for set_name, excerpts in sets.items():
        per = {}
        for name in names:
            timbre = load_timbre(default_timbre_dir() / name)
            renderer = DDSPRenderer(timbre)
            for kind in ("learned", "soundfont"):
                ratios, dips, seconds = [], [], 0.0
                for _, score in excerpts:
                    ex = timbre.expression
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        if kind == "learned":
                            audio = renderer.render(score, SR).samples[:, 0]
                        else:
                            # The SoundFont plays the pitches the learned timbre plays (moved
                            # into its range by octaves), so both face the same joins.
                            program = GM_PROGRAMS[name][0]
                            shifted = _in_range(score, ex.pitch_min, ex.pitch_max, program)
                            audio = font.render(shifted, SR).samples.mean(axis=1)
                    joins = measure_joins(audio, SR, *note_spans(score))
                    ratios.append(joins.click_ratios)
                    dips.append(joins.legato_dips_db)
                    seconds += score.duration_seconds
                r, d = np.concatenate(ratios), np.concatenate(dips)
                per[f"{name}/{kind}"] = {
                    "boundaries": int(len(r)), "clicks": int((r > CLICK_RATIO).sum()),
                    "click_ratio_median": float(np.median(r)), "click_ratio_p99": float(np.percentile(r, 99)),
                    "click_ratio_max": float(r.max()), "touching_joins": int(len(d)),
                    "legato_share": float((d < LEGATO_DIP_DB).mean()) if len(d) else None,
                    "dip_db_median": float(np.median(d)) if len(d) else None, "audio_seconds": seconds}
                v = per[f"{name}/{kind}"]
                rows.append((f"{set_name} {name} {kind}",
                             f"{v['clicks']}/{v['boundaries']} boundaries over x{CLICK_RATIO:g} "
                             f"(ratio median {v['click_ratio_median']:.2f}, p99 {v['click_ratio_p99']:.2f}, "
                             f"max {v['click_ratio_max']:.2f}); touching joins {v['touching_joins']}: "
                             f"legato {100 * (v['legato_share'] or 0):.0f}%, dip median "
                             f"{v['dip_db_median'] if v['dip_db_median'] is None else round(v['dip_db_median'], 1)} dB"))
        results["sets"][set_name] = {"songs": [s for s, _ in excerpts], "by_timbre": per}
    if not rows:
        print("  no melodies to play: nothing measured")
        return
    print_table(rows)
    write_results("timbre_phrases" if args.timbres == p.get_default("timbres") else
                  "timbre_phrases_" + args.timbres.replace(",", "_"), results)


def _in_range(score, low: int, high: int, program: int):
    """``score``'s melody moved by octaves into ``low..high`` (as the learned timbre moves it) on
    GM ``program``."""
    from dataclasses import replace

    from composer.render.ddsp.controls import fit_range
    from composer.render.ddsp.voices import TimedNote
    track = score.tracks[0]
    timed = [TimedNote(0, 0, nt.pitch, nt.velocity) for nt in track.notes]
    fitted, _ = fit_range(timed, low, high)
    notes = tuple(replace(nt, pitch=f.pitch) for nt, f in zip(track.notes, fitted))
    return replace(score, tracks=(replace(track, notes=notes, program=program),))


if __name__ == "__main__":
    main(sys.argv[1:])
