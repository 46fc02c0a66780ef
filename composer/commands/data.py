"""``composer data pop909`` / ``composer data groove``: build the prepared training sets."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="build training data from raw datasets")
    sub = data.add_subparsers(dest="data_command", metavar="DATASET")
    p = sub.add_parser(
        "pop909", help="POP909 -> songs on a 16th grid with form, keys, chords (see docs/DATA.md)",
        description="Build one prepared example per POP909 song into OUT (songs/*.npz, split.json, "
                    "report.json).  A second run with the same inputs and code returns at once.")
    p.add_argument("--root", required=True,
                   help="folder holding POP909-Dataset/ and hierarchical-structure-analysis/")
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--force", action="store_true",
                   help="rebuild even if OUT is up to date (a folder that is not a POP909 build is "
                        "never replaced)")
    p.add_argument("--songs", nargs="*", default=None, metavar="ID",
                   help="build only these song ids (e.g. 001 002); default all")
    p.set_defaults(func=_run_pop909)
    g = sub.add_parser(
        "groove", help="Groove MIDI -> drum bars on a 16th grid with offsets and velocities (see docs/DATA.md)",
        description="Build the drum level's prepared set from the Groove MIDI Dataset into OUT (bars.npz, "
                    "performances.json, split.json, report.json): nine GM drums, each hit on its 16th "
                    "with its offset and velocity, beats and fills apart, the dataset's own split.  A "
                    "second run with the same inputs and code returns at once.")
    g.add_argument("--root", required=True, help="folder holding groove/info.csv (or groove/ itself)")
    g.add_argument("--out", required=True, help="output folder (replaced atomically)")
    g.add_argument("--force", action="store_true",
                   help="rebuild even if OUT is up to date (a folder that is not a Groove build is "
                        "never replaced)")
    g.set_defaults(func=_run_groove)
    data.set_defaults(func=lambda args: (data.print_help(), 1)[1])


def _run_pop909(args: argparse.Namespace) -> int:
    from composer.data.pop909 import build_pop909
    from composer.errors import DataError

    if args.workers < 1:
        raise DataError(f"--workers must be at least 1, got {args.workers}")
    bars: list = []  # the progress bar, made on the first report (a cached run shows none)

    def progress(done: int, total: int) -> None:
        if not bars:
            from tqdm import tqdm
            bars.append(tqdm(total=total, unit="song", desc="pop909", leave=False))
        bars[0].update(done - bars[0].n)

    try:
        rep = build_pop909(args.root, args.out, workers=args.workers, force=args.force,
                           song_ids=args.songs, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if rep.cached:
        print(f"{rep.out} is up to date ({rep.n_kept} of {rep.n_songs} songs kept); --force rebuilds it")
        return 0
    print(f"kept {rep.n_kept} of {rep.n_songs} songs in {rep.seconds:.1f} s -> {rep.out}")
    m = rep.medians
    print(f"chord-tone share, median over songs: melody {m['melody_chord_tone']:.3f} "
          f"(chords shifted 1 beat: {m['melody_chord_tone_shifted_1_beat']:.3f}), accompaniment "
          f"{m['accomp_chord_tone']:.3f} (shifted: {m['accomp_chord_tone_shifted_1_beat']:.3f})")
    if rep.dropped:
        print(f"dropped {len(rep.dropped)}:")
        for song_id, reason in rep.dropped:
            print(f"  {song_id}: {reason}")
    return 0


def _run_groove(args: argparse.Namespace) -> int:
    from composer.data.groove import build_groove

    bars: list = []

    def progress(done: int, total: int) -> None:
        if not bars:
            from tqdm import tqdm
            bars.append(tqdm(total=total, unit="file", desc="groove", leave=False, disable=None))
        bars[0].update(done - bars[0].n)

    try:
        rep = build_groove(args.root, args.out, force=args.force, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if rep.cached:
        print(f"{rep.out} is up to date ({rep.n_kept} of {rep.n_performances} performances, "
              f"{rep.n_bars} bars); --force rebuilds it")
        return 0
    print(f"kept {rep.n_kept} of {rep.n_performances} performances ({rep.n_bars} bars) in "
          f"{rep.seconds:.1f} s -> {rep.out}")
    for perf_id, reason in rep.dropped:
        print(f"  dropped {perf_id}: {reason}")
    return 0
