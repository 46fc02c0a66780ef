"""``composer train-timbre AUDIO_DIR --out models/timbres/NAME`` and ``composer timbres``."""
from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError


def _train(args: argparse.Namespace) -> int:
    from composer.limits import check_seed

    # Every option is checked before the recordings are analysed (minutes of work).
    for flag, value, least in (("--steps", args.steps, 0), ("--warm-steps", args.warm_steps, 0),
                               ("--threads", args.threads, 1)):
        if value is not None and value < least:
            raise ComposerError(f"{flag} must be at least {least}, not {value}")
    if args.minutes is not None and not args.minutes > 0:
        raise ComposerError(f"--minutes must be more than 0, not {args.minutes}")
    if args.steps == 0 and args.warm_steps == 0:
        raise ComposerError("--steps and --warm-steps are both 0: nothing would be trained")
    check_seed(args.seed)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ComposerError(f"--out {out} is a file; give a folder for the timbre")
    if not out.parent.is_dir():
        # As every other command: a missing parent is a typo more often than a wish.
        raise ComposerError(f"folder {out.parent} does not exist; create it first")
    if not Path(args.audio_dir).is_dir():
        raise ComposerError(f"{args.audio_dir} is not a folder of recordings")

    from composer.render.ddsp.train import TimbreRecipe, remeasure_expression, train_timbre

    if args.expression_only:
        if not (out / "model.safetensors").exists():
            raise ComposerError(f"{out} holds no timbre to measure the expression for; train one first")
        remeasure_expression(args.audio_dir, out, progress=not args.quiet)
        return 0
    if (out / "model.safetensors").exists() and not (args.resume or args.force):
        raise ComposerError(f"{out} already holds a timbre; pass --resume to continue its training "
                            f"or --force to train it again")
    recipe = TimbreRecipe().with_overrides(warm_steps=args.warm_steps, steps=args.steps, seed=args.seed,
                                           num_threads=args.threads)
    train_timbre(args.audio_dir, out, recipe, resume=args.resume, progress=not args.quiet, minutes=args.minutes)
    return 0


def _list(args: argparse.Namespace) -> int:
    from composer.render.ddsp.timbre import default_timbre_dir, describe_range, installed_timbres, load_timbre

    root = Path(args.dir) if args.dir else default_timbre_dir()
    names = installed_timbres(root)
    if not names:
        print(f"no timbres installed in {root} (train one with `composer train-timbre`)")
        return 0
    for name in names:
        t = load_timbre(root / name)
        print(f"{name:<12} range {describe_range(t.expression):<9} "
              f"({t.expression.pitch_min}-{t.expression.pitch_max})  {root / name}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import json
    import sys

    from composer.io.atomic import atomic_path, check_writable
    from composer.render.ddsp.timbre import default_timbre_dir, installed_timbres, load_timbre

    if args.threads is not None and args.threads < 1:
        raise ComposerError(f"--threads must be at least 1, not {args.threads}")
    out = check_writable(args.json, args.force) if args.json else None
    root = Path(args.dir) if args.dir else default_timbre_dir()
    names = args.names or installed_timbres(root)
    if not names:
        raise ComposerError(f"no timbres to evaluate in {root}")
    recordings = Path(args.recordings)
    # Every folder is checked before the first instrument's minutes of work.
    missing = [n for n in names if not (recordings / n).is_dir()]
    if missing:
        raise ComposerError(f"{recordings} has no folder of recordings for {', '.join(missing)} "
                            f"(one folder per timbre, named as the timbre)")
    timbres = [load_timbre(root / n) for n in names]
    import torch

    from composer.render.ddsp.protocol import evaluate_instrument, format_table
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for name, timbre in zip(names, timbres):
        def progress(done: int, total: int, name: str = name) -> None:
            if not args.quiet:
                print(f"\r{name}: {done}/{total} notes", end="" if done < total else "\n",
                      file=sys.stderr, flush=True)
        results.append(evaluate_instrument(timbre, recordings / name, name,
                                           soundfont=not args.no_soundfont, progress=progress))
    print(format_table(results))
    if out is not None:
        report = {"protocol": "composer.render.ddsp.protocol (docs/EVAL.md, learned timbres)",
                  "summary": [r.summary() for r in results],
                  "per_note": [{"instrument": r.instrument, "notes": r.notes, "learned": r.learned,
                                "soundfont": r.soundfont} for r in results]}
        with atomic_path(out) as tmp:
            Path(tmp).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train-timbre", help="train a DDSP timbre from a folder of recordings",
                              description="Train a learned timbre (DDSP) from single-note recordings; "
                                          "file names like flute_A4_1_forte_normal.mp3 give pitch and "
                                          "dynamic, other names get their pitch tracked.")
    p.add_argument("audio_dir", metavar="AUDIO_DIR", help="folder of .mp3/.wav/.flac recordings")
    p.add_argument("--out", required=True, help="timbre folder to write, e.g. models/timbres/flute")
    p.add_argument("--steps", type=int, default=150, help="spectral-loss fine-tune steps (default 150)")
    p.add_argument("--warm-steps", type=int, default=600,
                   help="supervised warm-start steps on analysed harmonics (default 600)")
    p.add_argument("--resume", action="store_true", help="continue the training checkpointed in OUT/.cache/")
    p.add_argument("--minutes", type=float, default=None,
                   help="time budget: stop at the first checkpoint after it (saving the timbre as it "
                        "is once the fine-tune has started); --resume continues")
    p.add_argument("--force", action="store_true", help="train again over an existing timbre")
    p.add_argument("--expression-only", action="store_true",
                   help="train nothing: measure the playing statistics (levels per dynamic and "
                        "register, played lengths, attack, release, vibrato) from the recordings "
                        "again and write them into the existing timbre at --out, keeping its weights")
    p.add_argument("--seed", type=int, default=0, help="random seed, 0 .. 2**32 - 1 (default 0)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar while analysing")
    p.set_defaults(func=_train)

    q = subparsers.add_parser("timbres", help="list the installed learned timbres and their range")
    q.add_argument("--dir", help="timbre folder (default models/timbres)")
    q.set_defaults(func=_list)

    e = subparsers.add_parser(
        "eval-timbre", help="learned timbres against the SoundFont on held-out recordings (docs/EVAL.md)",
        description="The timbre protocol: every held-out note (SHA-1 of the file name) of each "
                    "timbre's instrument played from its name by the timbre and by the default "
                    "SoundFont; multi-resolution STFT distance after RMS and after loudness "
                    "matching, MFCC distance, f0 and loudness L1; means and the share of notes "
                    "where the timbre is closer.  Prints a Markdown table.")
    e.add_argument("names", nargs="*", metavar="NAME", help="timbres to evaluate (default: all installed)")
    e.add_argument("--recordings", required=True,
                   help="folder with one folder of recordings per timbre, named as the timbre "
                        "(e.g. ../shared/data/philharmonia)")
    e.add_argument("--dir", help="timbre folder (default models/timbres)")
    e.add_argument("--json", default=None, help="also write the summary and per-note values as JSON")
    e.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    e.add_argument("--no-soundfont", action="store_true", help="measure the learned timbres only")
    e.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    e.add_argument("--quiet", action="store_true", help="no progress on stderr")
    e.set_defaults(func=_eval)
