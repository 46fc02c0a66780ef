"""CLI subcommands, one module per room; see composer/cli.py."""
from __future__ import annotations

import argparse
from pathlib import Path


def output_path(text: str) -> Path:
    """argparse ``type`` for a file to write: ``Path("")`` would silently become ``.``."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name; give a file to write, e.g. out/song.mid")
    return Path(text)
