"""The ``composer`` command line.

Each room adds its subcommands from its own module under ``composer/commands/``; a
module there exposes ``register(subparsers)`` and sets ``func`` on each parser it adds,
a function ``(args) -> int``.  Any :class:`ComposerError` becomes one line on stderr and
exit status 2, never a traceback; a warning (e.g. notes dropped by a DDSP timbre) is one
``composer: warning:`` line.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from composer import __version__
from composer.errors import ComposerError

# Modules under composer/commands/, in the order their commands are listed in --help.
COMMAND_MODULES = (
    "midi",
    "export",
    "timbre",
    "data",
    "render",
    "train",
    "eval",
    "generate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="composer",
        description="Write whole songs with cascaded diffusion, export DAW-ready MIDI, render audio.")
    parser.add_argument("--version", action="version", version=f"composer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"composer.commands.{name}").register(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr (``composer: warning: ...``), not a source excerpt."""
    print(f"composer: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except ComposerError as err:
        print(f"composer: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("composer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
