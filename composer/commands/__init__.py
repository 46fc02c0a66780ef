"""CLI subcommands, one module per room; see composer/cli.py."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Callable, Iterator


def output_path(text: str) -> Path:
    """argparse ``type`` for a file to write: ``Path("")`` would silently become ``.``, and
    ``Path("o.mid/")`` would become ``o.mid``, a file where a folder was named."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name; give a file to write, e.g. out/song.mid")
    if text.endswith("/"):
        raise argparse.ArgumentTypeError(f"{text} ends in a slash, which names a folder; give a file name")
    return Path(text)


@contextlib.contextmanager
def level_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(level, done, total)`` for the pipeline that shows one tqdm bar per level on
    stderr (none when it is not a terminal), all closed when the block ends."""
    from tqdm import tqdm  # noqa: PLC0415

    bars: dict[str, tqdm] = {}

    def progress(level: str, done: int, total: int) -> None:
        bar = bars.get(level)
        if bar is None:
            bar = bars[level] = tqdm(total=total, desc=level.ljust(6), unit="step", leave=False,
                                     disable=None, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()
