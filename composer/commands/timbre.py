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

    from composer.render.ddsp.train import TimbreRecipe, train_timbre

    if (out / "model.safetensors").exists() and not (args.resume or args.force):
        raise ComposerError(f"{out} already holds a timbre; pass --resume to continue its training "
                            f"or --force to train it again")
    recipe = TimbreRecipe().with_overrides(warm_steps=args.warm_steps, steps=args.steps, seed=args.seed,
                                           num_threads=args.threads)
    train_timbre(args.audio_dir, out, recipe, resume=args.resume, progress=not args.quiet)
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
    p.add_argument("--force", action="store_true", help="train again over an existing timbre")
    p.add_argument("--seed", type=int, default=0, help="random seed, 0 .. 2**32 - 1 (default 0)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar while analysing")
    p.set_defaults(func=_train)

    q = subparsers.add_parser("timbres", help="list the installed learned timbres and their range")
    q.add_argument("--dir", help="timbre folder (default models/timbres)")
    q.set_defaults(func=_list)
