"""The ``composer`` command line.

Each room adds its subcommands from its own module under ``composer/commands/``; a
module there exposes ``register(subparsers)`` and sets ``func`` on each parser it adds,
a function ``(args) -> int``.  Any :class:`ComposerError` becomes one line on stderr and
exit status 2, never a traceback; a warning (e.g. notes dropped by a DDSP timbre) is one
``composer: warning:`` line.  A bad command line is one such line too (argparse's usage
block is left to ``--help``).  SIGTERM, like Ctrl-C (SIGINT), unwinds the command so that
its temporary files are removed (``composer.io.atomic``); so do SIGHUP, SIGQUIT, SIGUSR1/2
and the other signals whose default would end the process.  The exit status is then 128
plus the signal number.  Control characters in a message (a newline in a file name) are
escaped, so an error is always one line.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
import warnings

from composer import __version__
from composer.errors import ComposerError, escape_controls

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
    "arrange",
    "drums",
    "plot",
)


class ComposerArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``composer: error:`` line and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        # The subcommand's own name ("composer render"), so the hint names the right --help.
        sys.stderr.write(f"composer: error: {self.prog}: {escape_controls(message)}; "
                         f"see `{self.prog} --help`\n")
        raise SystemExit(2)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that ``finally`` blocks remove temporary
    files; a KeyboardInterrupt so that nothing catching ``Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_FATAL_SIGNALS = tuple(getattr(signal, name) for name in (
    "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGXCPU", "SIGVTALRM", "SIGPROF")
    if hasattr(signal, name))


def _raise_terminated(signum, frame) -> None:
    # A second signal must not interrupt the cleanup the first one started.
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated(signum)


def build_parser() -> argparse.ArgumentParser:
    parser = ComposerArgumentParser(
        prog="composer",
        description="Write whole songs with cascaded diffusion, export DAW-ready MIDI, render audio.")
    parser.add_argument("--version", action="version", version=f"composer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"composer.commands.{name}").register(subparsers)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr (``composer: warning: ...``), not a source excerpt."""
    print(f"composer: warning: {escape_controls(str(message))}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    from composer.io.atomic import remove_live_temps

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as err:  # --help, --version, or one error line already written
        return int(err.code or 0) if isinstance(err.code, int) or err.code is None else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    # Only the main thread may set handlers (main() called from a worker thread in tests).
    # SIGHUP (the terminal closed) likewise, unless it is ignored on purpose (nohup).
    # The other signals whose default ends the process (SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
    # SIGXCPU, SIGVTALRM, SIGPROF) unwind the same way, when nobody has set them: each would
    # otherwise leave the hidden temporary file of an output being written.
    previous: dict[int, object] = {}
    try:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _raise_terminated)
        for signum in _FATAL_SIGNALS:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _raise_terminated)
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = int(args.func(args) or 0)
            sys.stdout.flush()  # here, where a closed pipe is caught, not at the interpreter's exit
            return status
    except ComposerError as err:
        # Escaped: a file name with a newline (or a terminal escape) stays in the one line.
        print(f"composer: error: {escape_controls(str(err))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of our stdout left (`composer generate ... | head -1`): nothing more to
        # say to it.  stdout goes to /dev/null so that the interpreter's last flush does not
        # print a second traceback; the status is a shell's for a pipe closed (128 + SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as err:
        # A safety net for a write that does not go through composer.io.atomic (a training
        # log, a folder made on the way): a full disk or the file-size limit is still one line.
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        from composer.io.atomic import write_error
        where = err.filename if err.filename is not None else "a file"
        print(f"composer: error: {escape_controls(str(write_error(where, None, err)))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        signum = err.signum if isinstance(err, Terminated) else signal.SIGINT
        print(f"composer: {'interrupted' if signum == signal.SIGINT else 'terminated'}; "
              "temporary files removed", file=sys.stderr)
        return 128 + int(signum)
    finally:
        # What a generator's or a worker's finally has not reached yet.
        remove_live_temps()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
