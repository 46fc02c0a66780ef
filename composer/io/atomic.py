"""Safe file access: atomic writes, checked outputs, bounded reads of regular files only.

Writing goes to a temporary file beside the target, then a rename, so a crash or an error
half-way never leaves a half-written output under the final name.  Temporary files and
folders are named ``.<name>.composer-tmp-<pid>-<machine><random><suffix>``: an error,
SIGINT or SIGTERM removes them (the CLI turns SIGTERM into an exception, so ``finally``
blocks run), and one left by a SIGKILL, which nothing can catch, is removed by the next
composer on the same machine that writes into the same folder, once the process named in
it is gone.

Every output goes through :func:`atomic_path` (or :func:`atomic_dir`), which also turns a
failed write into one line: a full disk or a file-size limit (``ulimit -f``) says so in
words ("no space left on the device holding out/ while writing out/x.wav"), whichever library
was writing (libsndfile only says "System error.", or nothing at all when a close fails), and
a result is renamed into place only when its write is known to be whole.

Reading (:func:`read_regular_file`) opens without blocking and refuses anything but a
regular file, then reads at most the limit plus one byte: ``/dev/zero``, a FIFO or a file
that grows while it is read can neither hang the reader nor fill its memory.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import socket
import stat
from pathlib import Path
from typing import Iterator

from composer.errors import ComposerError, quote_path

TEMP_MARK = ".composer-tmp-"
"""What every temporary file or folder composer makes has in its name, before ``<pid>-``."""

_LIVE: set[str] = set()  # temporary paths this process made and has not removed yet


# ---------------------------------------------------------------------- outputs
def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """``path`` as a Path if composer may write it; one ComposerError line otherwise.

    Refused: an empty name, a folder, anything that exists and is not a regular file
    (a device such as /dev/null, a FIFO, a socket; even with ``force``), an existing file
    without ``force``, and a missing or unwritable parent folder."""
    raw = os.fspath(path)
    if raw == "":
        raise ComposerError("an empty file name; give a file to write, e.g. out/song.mid")
    if raw.endswith(os.sep) or (os.altsep and raw.endswith(os.altsep)):
        # Path() drops a trailing slash: "-o o.mid/" would write o.mid where a folder was meant.
        raise ComposerError(f"{quote_path(raw)} ends in a slash, which names a folder; give a file name")
    path = Path(raw)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise ComposerError(f"cannot use {path}: {err.strerror or err}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ComposerError(f"{path} is a folder; give a file name, e.g. {path / ('out' + _hint(path))}")
        if not stat.S_ISREG(st.st_mode):
            raise ComposerError(f"{path} is not a regular file (a device, pipe or socket); "
                                "composer only replaces regular files: give another name")
        if not force:
            raise ComposerError(f"{path} exists; pass --force to overwrite it")
    parent = path.parent
    if not parent.exists():
        raise ComposerError(f"folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise ComposerError(f"{parent} is not a folder, so {path.name} cannot be written in it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ComposerError(f"cannot write in folder {parent} (permission denied); choose another folder")
    return path


def _hint(path: Path) -> str:
    return path.suffix if path.suffix else ".mid"


def check_distinct(**paths: str | os.PathLike | None) -> None:
    """Refuse two options naming the same file (``check_distinct(output=a, audio=b)``), so
    that one output never overwrites another.  None values are ignored; option names are
    written ``--name`` in the message."""
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = os.path.realpath(os.fspath(path))
        flag = "--" + option.replace("_", "-")
        if key in seen:
            raise ComposerError(f"{seen[key]} and {flag} both name {path}; give two different files")
        seen[key] = flag


# ---------------------------------------------------------------------- temporary files
def _machine_tag() -> str:
    """4 hex digits naming this machine and PID namespace: a pid means something only there,
    so a leftover is judged only by a composer that sees the same processes (a folder may
    be shared with another container or host)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return hashlib.sha1(f"{socket.gethostname()}:{namespace}".encode()).hexdigest()[:4]


_TAG = _machine_tag()


MAX_NAME_BYTES = 255
"""Longest file name (in bytes of UTF-8) of ext4, tmpfs, btrfs, XFS and APFS."""
_TEMP_STEM_BYTES = 100
"""Bytes of the target's name kept in a temporary name: with the mark, the pid, the tag and a
suffix of at most :data:`_TEMP_SUFFIX_BYTES`, the name stays under :data:`MAX_NAME_BYTES`, so
an output name that is legal is never made illegal by its temporary file."""
_TEMP_SUFFIX_BYTES = 24


def _cut_utf8(text: str, n_bytes: int) -> str:
    """``text`` cut to at most ``n_bytes`` of UTF-8, never inside a character."""
    return text.encode("utf-8", "surrogateescape")[:n_bytes].decode("utf-8", "ignore")


def _temp_path(folder: Path, name: str, suffix: str) -> Path:
    # The target's name is kept (shortened: a file name has at most 255 bytes, and 60
    # emoji are 240) so that a leftover says what it was; the pid lets the next run tell
    # whether its writer lives.
    stem = _cut_utf8(name, _TEMP_STEM_BYTES)
    if len(os.fsencode(suffix)) > _TEMP_SUFFIX_BYTES:
        suffix = ".tmp"  # a suffix is kept for libraries that read the format from it: short ones
    return folder / f".{stem}{TEMP_MARK}{os.getpid()}-{_TAG}{secrets.token_hex(2)}{suffix}"


def make_temp_file(folder: str | os.PathLike, name: str, suffix: str = ".tmp",
                   error: type[ComposerError] = ComposerError) -> Path:
    """Create an empty private temporary file in ``folder`` named after ``name`` (see the
    module docstring); it is registered so that :func:`remove_live_temps` can remove it.
    A failure is one ``error`` line (see :func:`write_error`)."""
    folder = Path(folder)
    remove_stale_temps(folder)
    for _ in range(100):
        tmp = _temp_path(folder, name, suffix)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as err:  # a full disk has no inode left; a read-only or vanished folder
            raise write_error(folder / name, None, err, error) from None
        os.close(fd)
        _LIVE.add(str(tmp))
        return tmp
    raise ComposerError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def make_temp_dir(folder: str | os.PathLike, name: str) -> Path:
    """Create an empty temporary folder in ``folder`` named after ``name`` (registered)."""
    folder = Path(folder)
    remove_stale_temps(folder)
    for _ in range(100):
        tmp = _temp_path(folder, name, "")
        try:
            os.mkdir(tmp, 0o700)
        except FileExistsError:
            continue
        except OSError as err:
            raise write_error(folder / name, None, err) from None
        _LIVE.add(str(tmp))
        return tmp
    raise ComposerError(f"cannot create a temporary folder in {folder}")  # pragma: no cover


def make_temp_file_for(path: str | os.PathLike, suffix: str = ".tmp",
                       error: type[ComposerError] = ComposerError) -> Path:
    """:func:`make_temp_file` beside the output ``path`` (for a file written in two passes)."""
    path = Path(path)
    return make_temp_file(path.parent, path.name, suffix, error)


# ---------------------------------------------------------------------- failed writes
_FULL = (errno.ENOSPC, errno.EDQUOT)


def _file_size_limit() -> int | None:
    """The soft RLIMIT_FSIZE in bytes (``ulimit -f``), None when unlimited."""
    try:
        import resource  # noqa: PLC0415 - POSIX only
        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _disk_trouble(tmp: str | os.PathLike | None, err: BaseException | None = None,
                  folder: str | os.PathLike | None = None) -> str | None:
    """Why a write into ``tmp`` failed or cannot be trusted, in words, when the cause is a
    full disk or the file-size limit; None otherwise.  ``err``'s errno says it when there is
    one; else the state of the file and its disk does (a library like libsndfile reports a
    failed write as "System error." or not at all)."""
    code = getattr(err, "errno", None)
    limit = _file_size_limit()
    if code == errno.EFBIG:
        return (f"the file-size limit (ulimit -f, {limit:,} bytes) was reached" if limit is not None
                else "the file is larger than its filesystem allows")
    folder = Path(tmp).parent if tmp is not None else folder
    if code in _FULL:
        return f"no space left on the device holding {quote_path(os.path.abspath(folder or '.'))}"
    if tmp is None:
        return None
    try:
        size = os.stat(tmp).st_size if not os.path.isdir(tmp) else 0
        disk = os.statvfs(folder)
    except OSError:
        return None
    if limit is not None and size >= limit:
        return f"the file-size limit (ulimit -f, {limit:,} bytes) was reached"
    free = disk.f_bfree if os.geteuid() == 0 else disk.f_bavail
    if disk.f_blocks > 0 and free == 0:
        return f"no space left on the device holding {quote_path(os.path.abspath(folder))}"
    return None


def _write_message(path: Path, trouble: str) -> str:
    return f"{trouble} while writing {quote_path(path)}; nothing was written there"


def write_error(path: str | os.PathLike, tmp: str | os.PathLike | None, err: BaseException,
                error: type[ComposerError] = ComposerError) -> BaseException:
    """The exception to raise for ``err``, raised while writing ``path`` (through the
    temporary ``tmp``): one ``error`` line (a ComposerError class: MidiError for a MIDI
    file...) naming a full disk or the file-size limit when either is the cause, whatever
    ``err`` was (a ComposerError of a room that said "cannot write x.wav: System error."
    included); another OSError as "cannot write ...: its reason"; anything else (a bug)
    unchanged."""
    path = Path(path)
    trouble = _disk_trouble(tmp, err, path.parent)
    if trouble:
        return error(_write_message(path, trouble))
    if isinstance(err, ComposerError):
        return err
    if isinstance(err, OSError):
        return error(f"cannot write {quote_path(path)}: {err.strerror or err}")
    return err


def discard_temp(path: str | os.PathLike) -> None:
    """Remove a temporary file or folder if it is still there, and forget it."""
    path = os.fspath(path)
    _LIVE.discard(path)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def forget_temp(path: str | os.PathLike) -> None:
    """The temporary path has been renamed into place: it is no longer ours to remove."""
    _LIVE.discard(os.fspath(path))


def remove_live_temps() -> None:
    """Remove every temporary file and folder this process made and still holds (the CLI
    calls it when a signal ends the run)."""
    for path in list(_LIVE):
        discard_temp(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or a number we cannot ask about): keep its files
    return True


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Remove composer's temporary files and folders in ``folder`` whose writing process is
    gone (left by a SIGKILL or a power cut); returns their names.  Files of live processes,
    this one included, are kept."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or TEMP_MARK not in name:
            continue
        pid_text, _, rest = name.rsplit(TEMP_MARK, 1)[1].partition("-")
        if not (pid_text.isascii() and pid_text.isdigit()) or not rest.startswith(_TAG):
            continue  # not ours, or written where its pid means another process
        pid = int(pid_text)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(name)
        except OSError:
            pass
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "",
                error: type[ComposerError] = ComposerError) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    ``suffix`` keeps an extension on the temporary name for libraries that pick the
    format from it (soundfile).  On any exception (a signal included, see the CLI) the
    temporary file is removed.  Only a regular file (or nothing) at ``path`` is replaced.
    A failed write is one ``error`` line (:func:`write_error`).
    """
    path = Path(path)
    tmp = make_temp_file_for(path, suffix or ".tmp", error)
    try:
        try:
            yield tmp
        except Exception as err:
            raise write_error(path, tmp, err, error) from None
        # A library may lose a failed write (libsndfile's close reports nothing): a full disk
        # or a file at the size limit means the file is not whole, whatever was said.
        trouble = _disk_trouble(tmp)
        if trouble:
            raise error(_write_message(path, trouble))
        # Checked again here, not only by check_writable: the API writes without the CLI.
        if path.exists() and not path.is_file():
            raise ComposerError(f"{path} is not a regular file; composer only replaces regular files")
        # mkstemp-style files are private (0600); give the result the permissions any other
        # new file gets (0666 less the umask), so a DAW or a colleague can read it
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        forget_temp(tmp)
    finally:
        discard_temp(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it takes the place of
    ``path`` (nothing, or a folder that is removed afterwards) by renames, so that a reader
    finds the old folder or the new one, never a half-written one.

    On any exception (a signal included) the temporary folder is removed and ``path`` is
    left as it was.  Only a folder (or nothing) at ``path`` is replaced."""
    path = Path(path)
    tmp = make_temp_dir(path.parent, path.name)
    try:
        try:
            yield tmp
        except Exception as err:
            raise write_error(path, tmp, err) from None
        _swap_dir(tmp, path)
    finally:
        discard_temp(tmp)


def _swap_dir(tmp: Path, path: Path) -> None:
    """Put folder ``tmp`` where ``path`` is: the old folder is renamed aside first, then
    removed (or renamed back if the second rename fails)."""
    if path.exists() and not path.is_dir():
        raise ComposerError(f"{path} is not a folder; composer only replaces folders")
    # make_temp_dir's folder is private (0700); give the result the permissions any other
    # new folder gets (0777 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    if path.exists():
        old = make_temp_dir(path.parent, f"{path.name}.old")
        os.rmdir(old)  # only its name is wanted: the old folder is renamed to it
        os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        if old is not None:
            os.replace(old, path)
            forget_temp(old)
        raise
    forget_temp(tmp)
    if old is not None:
        discard_temp(old)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[list[Path]]:
    """The outputs of one command, as a list to append each finished output (file, or a
    folder it made) to: if the command then fails (an error, a full disk at the third
    stem, a signal), those written are removed again, so that a failed command leaves
    nothing behind, not a mix without its stems.  A folder is removed only when empty."""
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in reversed(written):
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)
        raise


def make_folder(path: str | os.PathLike, option: str) -> bool:
    """Create the output folder ``path`` (named by ``option``) unless it exists; True if it
    was made.  One ComposerError line when it cannot be (/proc, /sys, a read-only parent,
    a full disk); a file there is refused."""
    path = Path(path)
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise ComposerError(f"cannot write in {option} folder {quote_path(path)} (permission denied)")
        return False
    if os.path.lexists(path):
        raise ComposerError(f"{option} {quote_path(path)} is a file; give a folder")
    try:
        os.mkdir(path)
    except OSError as err:
        trouble = _disk_trouble(None, err, path.parent)
        raise ComposerError(f"cannot create {option} folder {quote_path(path)}: "
                            f"{trouble or err.strerror or err}") from None
    return True


# ---------------------------------------------------------------------- inputs
def _open_regular(path: Path, error: type[ComposerError], what: str) -> tuple[int, os.stat_result]:
    """(fd, stat) of ``path`` opened for reading, refusing anything but a regular file."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer, forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as err:
        raise error(f"{path}: cannot read it ({err.strerror or err})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
        raise error(f"{path} is {kind}, not {what}")
    return fd, st


def check_regular_file(path: str | os.PathLike, error: type[ComposerError] = ComposerError,
                       what: str = "a file", max_bytes: int | None = None) -> Path:
    """``path`` as a Path if it is a readable regular file of at most ``max_bytes``; for
    libraries that open the file themselves (libsndfile, FluidSynth)."""
    path = Path(path)
    fd, st = _open_regular(path, error, what)
    os.close(fd)
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{path}: {st.st_size:,} bytes is over the {_size(max_bytes)} limit for {what}")
    return path


def read_regular_file(path: str | os.PathLike, max_bytes: int,
                      error: type[ComposerError] = ComposerError, what: str = "a file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (one ``error`` line otherwise).

    At most ``max_bytes + 1`` bytes are read whatever the file claims to hold."""
    path = Path(path)
    fd, st = _open_regular(path, error, what)
    try:
        if st.st_size > max_bytes:
            raise error(f"{path}: {st.st_size:,} bytes is over the {_size(max_bytes)} limit for {what}")
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:
        raise error(f"{path}: cannot read it ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise error(f"{path}: more than the {_size(max_bytes)} limit for {what}")
    return b"".join(chunks)


def _size(n_bytes: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:g} {unit}"
    return f"{n_bytes} bytes"
