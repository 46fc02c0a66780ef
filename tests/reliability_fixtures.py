"""Crafted inputs of the reliability tests (issue 12): built in the test, never committed."""
from __future__ import annotations

import struct
from pathlib import Path

import torch

from composer.io.checkpoint import save_checkpoint
from composer.nets.chords import ChordDenoiser
from composer.nets.form import FormDenoiser
from composer.nets.notes import NoteUNet

TINY_FORM = dict(width=16, n_attn=1, heads=2)
TINY_CHORDS = dict(width=16, beat_width=8, n_attn=1, heads=2)
TINY_NOTES = dict(channels=[8, 8, 8, 8], blocks=[1, 1, 1, 1], mid_dilations=[1], emb_dim=16)


def save_tiny_models(root: Path) -> Path:
    """Untrained tiny form/chords/notes models in ``root``: composing with them takes a
    moment, so a check that is missing shows as a song written, not as a long wait."""
    torch.manual_seed(0)
    save_checkpoint(root / "form", FormDenoiser(**TINY_FORM), "form", TINY_FORM, {"form_length": 64})
    save_checkpoint(root / "chords", ChordDenoiser(**TINY_CHORDS), "chords", TINY_CHORDS)
    save_checkpoint(root / "notes", NoteUNet(**TINY_NOTES), "notes", TINY_NOTES)
    return root


def vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def smf(*tracks: bytes, file_type: int = 0, division: int = 1) -> bytes:
    """A Standard MIDI File from raw track event bytes (each gets its end-of-track)."""
    head = b"MThd" + struct.pack(">LHHH", 6, file_type, len(tracks), division)
    body = b""
    for events in tracks:
        events += b"\x00\xff\x2f\x00"
        body += b"MTrk" + struct.pack(">L", len(events)) + events
    return head + body


def huge_note_midi() -> bytes:
    """One note of 2**28 - 1 ticks at 1 tick per quarter: four years at 120 bpm, in 37 bytes
    (the issue's 54-byte file had a tempo and a name as well)."""
    return smf(b"\x00\x90\x3c\x64" + vlq(2**28 - 1) + b"\x80\x3c\x40")


def drums_midi() -> bytes:
    """Two bars of kick and hi-hat on channel 10 at 480 PPQ."""
    events = b"\x00\xc9\x00"
    for i in range(16):
        pitch = 36 if i % 2 == 0 else 42
        events += (b"\x00" if i == 0 else vlq(120)) + bytes([0x99, pitch, 100])
        events += vlq(120) + bytes([0x89, pitch, 0])
    return smf(events, division=480)


# ---------------------------------------------------------------------- issue 25's crafted files
# Each is small (bytes to a few MB) and valid enough to be read; every one hung `composer
# export` or `composer plot` before they applied the limits that render applies.
MAX_DELTA = 2**28 - 1


def _meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + vlq(len(data)) + data


def _pad_to(tick: int) -> bytes:
    """Events (empty text metas) whose delta times add up to ``tick``: a MIDI delta holds
    at most 2**28 - 1 ticks, so a far tick is a long run of maximum deltas."""
    n_full, rest = divmod(tick, MAX_DELTA)
    return (vlq(MAX_DELTA) + _meta(0x01, b"")) * n_full + vlq(rest)


def note_at_tick_midi(tick: int, division: int = 480) -> bytes:
    """One short note starting at ``tick`` (2**31, 2**33, 2**48...)."""
    return smf(_pad_to(tick) + b"\x90\x3c\x64\x10\x80\x3c\x00", division=division)


def _song(conductor: bytes, chords: bytes | None = None, division: int = 1,
          notes: bytes = b"\x00\x90\x3c\x64\x04\x80\x3c\x00") -> bytes:
    """Type 1: conductor, a one-note Melody track and (optionally) a "Chords" track."""
    tracks = [conductor, b"\x00" + _meta(0x03, b"Melody") + notes]
    if chords is not None:
        tracks.append(b"\x00" + _meta(0x03, b"Chords") + chords)
    return smf(*tracks, file_type=1, division=division)


def far_chord_midi() -> bytes:
    """A chord cue at tick 0, then one at tick 2**28 - 1, at 1 tick per beat."""
    return _song(b"", b"\x00" + _meta(0x07, b"C") + vlq(MAX_DELTA) + _meta(0x07, b"G"))


def many_chords_midi(n: int = 50_000) -> bytes:
    """``n`` chord cues, one per tick."""
    return _song(b"", b"".join(b"\x01" + _meta(0x07, b"Am7") for _ in range(n)))


def many_sections_midi(n: int = 20_000) -> bytes:
    """``n`` section markers with their cue tags, all on tick 0."""
    return _song(b"".join(b"\x00" + _meta(0x06, b"Verse") + b"\x00" + _meta(0x07, b"[A 1]") for _ in range(n)))


def huge_section_midi(n_bars: int = 999_999_999) -> bytes:
    """One section cue ``[A 999999999]``."""
    return _song(b"\x00" + _meta(0x06, b"Verse") + b"\x00" + _meta(0x07, f"[A {n_bars}]".encode()))


def late_end_of_track_midi() -> bytes:
    """A note-on whose track ends 2**27 ticks later (the note is ended there)."""
    return smf(b"\x00\x90\x3c\x64" + vlq(2**27) + _meta(0x01, b""), division=480)


def fast_tempos_midi(n: int = 10_000) -> bytes:
    """``n`` tempo changes of 1 microsecond per beat, far apart, over a long file."""
    tempo = _meta(0x51, b"\x00\x00\x01")
    step = MAX_DELTA // 16
    return _song(b"".join(vlq(step) + tempo for _ in range(n)), division=480,
                 notes=_pad_to(n * step) + b"\x90\x3c\x64\x04\x80\x3c\x00")


def tiny_meter_midi(denominator_power: int = 6, division: int = 1) -> bytes:
    """A time signature of 1/2**power (1/64) at ``division`` ticks per beat, then a note a
    long way (2**28 - 1 ticks) on."""
    meter = _meta(0x58, bytes([1, denominator_power, 24, 8]))
    return _song(b"\x00" + meter, division=division,
                 notes=vlq(MAX_DELTA) + b"\x90\x3c\x64\x04\x80\x3c\x00")


def many_tracks_midi(n: int = 65_535) -> bytes:
    """``n`` tracks of one note each (a MIDI header counts at most 65,535 chunks)."""
    return smf(*([b"\x00\x90\x3c\x64\x04\x80\x3c\x00"] * n), file_type=1, division=96)


HANG_FILES = {
    "note at tick 2**31, 480 PPQ": lambda: note_at_tick_midi(2**31),
    "note at tick 2**33, 1 PPQ": lambda: note_at_tick_midi(2**33, division=1),
    "note at tick 2**48, 480 PPQ": lambda: note_at_tick_midi(2**48),
    "chord cue at tick 2**28": far_chord_midi,
    "50,000 chord cues": many_chords_midi,
    "20,000 sections on one tick": many_sections_midi,
    "section [A 999999999]": huge_section_midi,
    "end of track 2**27 ticks after a note-on": late_end_of_track_midi,
    "10,000 tempos of 1 us per beat": fast_tempos_midi,
    "meter 1/64 at 1 PPQ": tiny_meter_midi,
    "meter 1/64 at 16 PPQ": lambda: tiny_meter_midi(6, 16),
}
"""Issue 25's files that hung export and plot, by name (built on demand: some are MBs)."""


# ---------------------------------------------------------------------- composer in a subprocess
def run_composer(argv: list[str], cwd: Path, *, file_size_limit: int | None = None,
                 full_disk: bool = False, memory_limit: int | None = None,
                 timeout_s: float = 300.0, env: dict[str, str] | None = None) -> tuple[int | None, str, list[str]]:
    """``composer ARGV`` run in ``cwd`` as a user would: (exit status, stderr, what is left in
    ``cwd`` afterwards).  The status is None when the run was killed at ``timeout_s`` (a
    hang detector: far above any case's seconds, it times nothing).

    file_size_limit: RLIMIT_FSIZE in bytes (``ulimit -f``); full_disk: ``cwd`` is a 64 kB
    tmpfs, filled up before composer starts, mounted in a private user and mount namespace
    (``unshare -rm``), so no root is needed and nothing outlives the run; memory_limit:
    RLIMIT_AS in bytes; env: variables set on top of this process's."""
    import os
    import resource
    import subprocess
    import sys

    def limits() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    command = [sys.executable, "-m", "composer", *argv]
    marker = "@@composer-test-left@@"
    if full_disk:
        # The listing must happen inside the namespace: the tmpfs vanishes with it.
        # .fill takes every block; it is removed before the listing (it is the test's, not composer's).
        script = ('mount -t tmpfs -o size=64k tmpfs "$0" && cd "$0" && { cat /dev/zero > .fill 2>/dev/null; '
                  f'"$@"; rc=$?; rm -f .fill; echo {marker}; ls -A; exit $rc; }}')
        command = ["unshare", "-rm", "sh", "-c", script, str(cwd), *command]
    environ = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **(env or {})}
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s,
                              preexec_fn=limits, env=environ, errors="backslashreplace")
    except subprocess.TimeoutExpired:
        return None, "", sorted(os.listdir(cwd))
    if full_disk:
        out, _, listing = done.stdout.partition(marker)
        left = sorted(listing.split())
    else:
        left = sorted(os.listdir(cwd))
    return done.returncode, done.stderr, left


def full_disk_available() -> bool:
    """Whether ``unshare -rm`` can mount a tmpfs here (a user namespace, or root)."""
    import shutil
    import subprocess
    if not (shutil.which("unshare") and shutil.which("mount")):
        return False
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || "
                               "mount -t tmpfs tmpfs /tmp"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
