"""CLI subcommands, one module per room; see composer/cli.py."""
from __future__ import annotations

import argparse
from pathlib import Path


def output_path(text: str) -> Path:
    """argparse ``type`` for a file to write: ``Path("")`` would silently become ``.``, and
    ``Path("o.mid/")`` would become ``o.mid``, a file where a folder was named."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name; give a file to write, e.g. out/song.mid")
    if text.endswith("/"):
        raise argparse.ArgumentTypeError(f"{text} ends in a slash, which names a folder; give a file name")
    return Path(text)
