"""``composer eval``: objective metrics of generated songs against real ones."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from composer.errors import quote_path

SONG_SET_HELP = ("a folder of MIDI files (searched recursively), one MIDI file, or a prepared "
                 "split written DIR@SPLIT, e.g. .prepared/pop909@test; a Groove MIDI split as "
                 "reference (.prepared/groove@test) judges the songs' drum parts instead")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="objective metrics of generated songs against real ones (see docs/EVAL.md)",
        description="Compare GENERATED songs with REFERENCE songs: structure, cadences, harmony, "
                    "muspy texture metrics, overlapping areas of note distributions and, with "
                    "--train, copying of training melodies.  Prints one table; --json writes "
                    "it (and per-song values) as JSON.  Each song set is " + SONG_SET_HELP + ".")
    p.add_argument("generated", metavar="GENERATED", help="the songs to judge: " + SONG_SET_HELP)
    p.add_argument("--reference", required=True, metavar="REFERENCE",
                   help="real songs to compare with: " + SONG_SET_HELP)
    p.add_argument("--train", metavar="TRAIN", default=None,
                   help="training songs to check copying against (longest run of equal melody "
                        "bars, transposition-invariant)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from composer.evaluation import evaluate_sets, load_songs
    from composer.io.atomic import check_writable
    from composer.limits import check_song_limits

    # Check the output before the work, so that a bad path fails at once.
    out = check_writable(args.json, args.force) if args.json else None
    from composer.evaluation_drums import evaluate_drums, is_groove_spec
    if is_groove_spec(args.reference):
        # a Groove MIDI reference: the drum parts are judged (docs/EVAL.md, drums)
        report = evaluate_drums(args.generated, args.reference, args.train)
        print(report.format_table(markdown=args.markdown))
        if out is not None:
            report.write_json(out)
            print(f"wrote {quote_path(out)}", file=sys.stderr)
        return 0
    progress = lambda it, desc: tqdm(it, desc=desc, unit="song", leave=False,  # noqa: E731
                                     disable=None, file=sys.stderr)
    start = time.perf_counter()
    generated = load_songs(args.generated, progress)
    reference = load_songs(args.reference, progress)
    if args.train is None:
        train = None
    elif args.train == args.reference:  # the usual baseline: read the training set once
        train = reference
    else:
        train = load_songs(args.train, progress)
    load_s = time.perf_counter() - start
    # The limits export and plot apply, before any metric: the metrics make arrays per beat
    # and per pair of bars, and a few crafted bytes can claim a billion of either.
    for songs in (generated, reference, train):
        for score, name in zip(songs.scores, songs.names) if songs is not None else ():
            source = Path(songs.source)
            where = source / name if source.is_dir() else source if source.is_file() else f"{source}: {name}"
            check_song_limits(score, where, "composer eval measures")
    report = evaluate_sets(generated, reference, train, progress)
    print(report.format_markdown() if args.markdown else report.format_table())
    print(f"loading took {load_s:.1f} s, metrics {report.seconds:.1f} s", file=sys.stderr)
    if out is not None:
        report.write_json(out)
        print(f"wrote {quote_path(out)}", file=sys.stderr)
    return 0
