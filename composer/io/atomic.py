"""Write files atomically: to a temporary file beside the target, then rename.

A crash or an error half-way never leaves a half-written output under the final name.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from composer.errors import ComposerError


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Refuse to overwrite an existing ``path`` unless ``force``; return it as a Path."""
    path = Path(path)
    if path.exists() and not force:
        raise ComposerError(f"{path} exists; pass --force to overwrite it")
    if not path.parent.exists():
        raise ComposerError(f"folder {path.parent} does not exist; create it first")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    ``suffix`` keeps an extension on the temporary name for libraries that pick the
    format from it (soundfile).  On any exception the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give the result the permissions any other
        # new file gets (0666 less the umask), so a DAW or a colleague can read it
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
