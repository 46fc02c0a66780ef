"""The command line's fuzzing (issues 12 and 25) as tests: crafted MIDI files and a seeded
sample of byte-mutated real POP909 files through what ``inspect``, ``convert`` and ``render``
do, the crafted files through every subcommand that reads MIDI (export, plot and eval too),
and the subprocess run of ``tests/fuzz_cli.py`` (every subcommand, odd names, crafted model
folders, mutated files; time and memory bounds per case).

The bar is the same for every input: it is read or refused with one ComposerError, and
what is read can be summarised, rewritten as MIDI (read back equal) and rendered, or
refused with one ComposerError.  Anything else (a library exception, a hang) fails.  The
mutated files run in-process (hundreds of processes would cost minutes); a SIGALRM guard
turns a hang into a failure naming the file, it does not time anything.
"""
from __future__ import annotations

import contextlib
import signal
import struct
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from reliability_fixtures import HANG_FILES, drums_midi, huge_note_midi, smf, vlq

from composer.cli import main
from composer.commands.midi import MAX_DELTA_TICKS, format_summary, summarize
from composer.errors import ComposerError
from composer.io.midi import WRITE_RESOLUTION, midi_bytes, read_midi_bytes
from composer.render.base import check_render_limits
from composer.score import Score

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POP909 = DATA / "POP909-Dataset" / "POP909"
needs_pop909 = pytest.mark.skipif(not POP909.is_dir(), reason="POP909 not in ../shared/data")

N_MUTATED = 300        # files mutated and read, summarised, rewritten and checked for rendering
N_RENDERED_FAST = 24   # of those, rendered (their first RENDER_SECONDS) in the default run
RENDER_SECONDS = 6.0
HANG_GUARD_S = 120     # far above any single file's work: only a hang reaches it


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(what: str):
    def fire(signum, frame):
        raise Hang(f"no result after {HANG_GUARD_S} s: {what}")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(HANG_GUARD_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random mutation of a file's bytes and its name."""
    b = bytearray(data)
    kind = rng.integers(9)
    if kind in (7, 8):
        # Data bytes (< 0x80) changed to other data bytes: the file still parses, with wild
        # pitches, velocities, delta times and meta values for the renderer and the writer.
        where = np.flatnonzero(np.frombuffer(bytes(b[14:]), np.uint8) < 0x80) + 14
        for at in rng.choice(where, size=min(len(where), int(rng.integers(1, 33))), replace=False):
            b[int(at)] = int(rng.integers(128))
        return "data bytes", bytes(b)
    if kind == 0:
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
        return "flip bytes", bytes(b)
    if kind == 1:
        return "truncate", bytes(b[: int(rng.integers(len(b)))])
    if kind == 2:
        at = int(rng.integers(len(b)))
        return "insert", bytes(b[:at] + rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes() + b[at:])
    if kind == 3:
        at = int(rng.integers(len(b)))
        return "delete", bytes(b[:at] + b[at + int(rng.integers(1, 256)):])
    if kind == 4:
        # A chunk length (header or a track) set to a random 32-bit value.
        starts = [i for i in range(len(b) - 8) if b[i:i + 4] in (b"MThd", b"MTrk")]
        at = starts[int(rng.integers(len(starts)))] + 4
        b[at:at + 4] = struct.pack(">L", int(rng.integers(2**32)))
        return "chunk length", bytes(b)
    if kind == 5:
        # Delta times and data bytes pushed to extremes: 0x7F / 0xFF runs in a track.
        at = int(rng.integers(14, len(b)))
        n = int(rng.integers(1, 16))
        b[at:at + n] = bytes([int(rng.choice([0x7F, 0xFF, 0x80, 0x00]))]) * n
        return "extreme bytes", bytes(b)
    # The header's division: SMPTE, 0, or huge.
    b[12:14] = struct.pack(">H", int(rng.choice([0, 1, 0x7FFF, 0xE728, 0xFFFF])))
    return "division", bytes(b)


def crop(score: Score, seconds: float) -> Score:
    """The first ``seconds`` of ``score`` (notes cut at the end), to render quickly."""
    end = score.seconds_to_tick(seconds)
    tracks = tuple(replace(t, notes=tuple(replace(n, duration_ticks=min(n.duration_ticks, end - n.start_tick))
                                          for n in t.notes if n.start_tick < end),
                           controls=tuple(c for c in t.controls if c.tick < end),
                           pitch_bends=tuple(p for p in t.pitch_bends if p.tick < end))
                   for t in score.tracks)
    return score.replace(tracks=tracks)


def check_one(data: bytes, name: str, render) -> str:
    """Everything inspect, convert and render do with ``data``; returns how far it got.
    Raises whatever is not a ComposerError."""
    try:
        score = read_midi_bytes(data, name)
    except ComposerError:
        return "refused"
    format_summary(summarize(score), Path(name))
    if score.end_tick * WRITE_RESOLUTION // score.resolution <= MAX_DELTA_TICKS:
        again = read_midi_bytes(midi_bytes(score), name)
        assert sum(len(t.notes) for t in again.tracks) == sum(len(t.notes) for t in score.tracks)
    try:
        check_render_limits(score)
    except ComposerError:
        return "read, too long to render"
    if render is not None:
        render(crop(score, RENDER_SECONDS))
        return "rendered"
    from composer.render.soundfont import plan_channels, schedule_events
    schedule_events(score, plan_channels(score.tracks), 44100)
    return "read"


def mutated_sample(n: int, seed: int = 12) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    files = sorted(POP909.glob("*/*.mid"))
    assert len(files) > 800
    out = []
    for i in range(n):
        path = files[int(rng.integers(len(files)))]
        how, data = mutate(path.read_bytes(), rng)
        out.append((f"{path.name} #{i} ({how})", data))
    return out


def run_sample(sample, renderer, n_rendered: int) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    failures = []
    for name, data in sample:
        try:
            with hang_guard(name):
                got = check_one(data, name, renderer.render if outcomes.get("rendered", 0) < n_rendered else None)
        except Exception:  # noqa: BLE001 - the point: anything but a ComposerError is a failure
            failures.append(f"{name}: {traceback.format_exc(limit=-3)}")
            continue
        outcomes[got] = outcomes.get(got, 0) + 1
    assert not failures, f"{len(failures)} of {len(sample)} mutated files crashed:\n" + "\n".join(failures[:5])
    return outcomes


@pytest.fixture(scope="module")
def renderer():
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from composer.render.soundfont import SoundFontRenderer
    return SoundFontRenderer()


@pytest.mark.data
@needs_pop909
def test_mutated_pop909_files_never_crash(renderer):
    outcomes = run_sample(mutated_sample(N_MUTATED), renderer, N_RENDERED_FAST)
    # Both kinds of outcome must occur, or the mutations are not testing anything.
    assert outcomes.get("refused", 0) > 30 and outcomes.get("read", 0) > 30, outcomes
    assert outcomes.get("rendered", 0) == N_RENDERED_FAST, outcomes


@pytest.mark.data
@needs_pop909
@pytest.mark.slow
def test_mutated_pop909_files_all_render(renderer):
    run_sample(mutated_sample(N_MUTATED, seed=13), renderer, N_MUTATED)


CRAFTED = {
    "huge note": huge_note_midi(),
    "empty": b"",
    "header only": smf()[:14],
    "no tracks": smf(),
    "type 2": smf(b"", b"", file_type=2),
    "division 0": smf(b"\x00\x90\x3c\x64\x10\x80\x3c\x00", division=0),
    "SMPTE division": smf(b"\x00\x90\x3c\x64\x10\x80\x3c\x00", division=0xE728),
    "track length past the end": b"MThd" + struct.pack(">LHHH", 6, 0, 1, 96) + b"MTrk\xff\xff\xff\xf0\x00",
    "header length huge": b"MThd\xff\xff\xff\xff" + b"\x00" * 20,
    "running status without status": smf(b"\x00\x3c\x64"),
    "unterminated sysex": smf(b"\x00\xf0\x7f\x7f\x7f"),
    "delta of 5 bytes": smf(b"\x8f\xff\xff\xff\x7f\x90\x3c\x64"),
    "note on, never off": smf(b"\x00\x90\x3c\x64"),
    "1000 tempo changes": smf(b"".join(b"\x01\xff\x51\x03" + struct.pack(">L", 1 + i * 9973)[1:] for i in range(1000))
                              + b"\x00\x90\x3c\x64\x60\x80\x3c\x00"),
    "tempo 0": smf(b"\x00\xff\x51\x03\x00\x00\x00\x00\x90\x3c\x64\x60\x80\x3c\x00"),
    "meter 0/0": smf(b"\x00\xff\x58\x04\x00\x00\x18\x08\x00\x90\x3c\x64\x60\x80\x3c\x00"),
    "key sharps 99": smf(b"\x00\xff\x59\x02\x63\x05\x00\x90\x3c\x64\x60\x80\x3c\x00"),
    "meta length huge": smf(b"\x00\xff\x01" + vlq(2**27) + b"abc"),
    "random bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "MThd then random": b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0"
                        + np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes(),
}


# Issue 25's files that hung export and plot, but the one of 7 MB (2**48: 5 s a read; the
# subprocess run of tests/fuzz_cli.py has it).
CRAFTED.update({f"issue 25: {name}": build for name, build in HANG_FILES.items() if "2**48" not in name})


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_file_through_the_cli(name, tmp_path, capsys):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    src = tmp_path / "in.mid"
    data = CRAFTED[name]
    src.write_bytes(data() if callable(data) else data)
    song = tmp_path / "song.mid"
    song.write_bytes(drums_midi())
    out = tmp_path / "out"
    out.mkdir()
    written = {"convert": "c.mid", "render": "r.wav", "export": "e.musicxml", "plot": "p.png", "eval": "v.json"}
    for argv in (["inspect", str(src)], ["convert", str(src), str(out / "c.mid")],
                 ["render", str(src), "-o", str(out / "r.wav")],
                 ["export", str(src), "-o", str(out / "e.musicxml")],
                 ["plot", str(src), "-o", str(out / "p.png")],
                 ["eval", str(src), "--reference", str(song), "--json", str(out / "v.json")]):
        with hang_guard(f"{name}: {argv[0]}"):
            rc = main(argv)
        err = capsys.readouterr().err
        assert "Traceback" not in err
        errors = [line for line in err.splitlines() if line.startswith("composer: error:")]
        assert (rc, len(errors)) in ((0, 0), (2, 1)), (argv[0], rc, err)
        # Exit 0 wrote its file; exit 2 wrote nothing.
        if argv[0] in written:
            assert (out / written[argv[0]]).is_file() == (rc == 0), (argv[0], rc, err)
    # Whatever was refused left nothing; whatever was written is a complete file.
    for path in out.iterdir():
        assert path.name in written.values() and path.stat().st_size > 0


# ---------------------------------------------------------------------- every subcommand, as a user runs it
@pytest.mark.slow
@pytest.mark.parametrize("group", ["crafted", "names", "models"])
def test_fuzz_run_of_every_subcommand(group):
    """tests/fuzz_cli.py's groups, one composer process a case, with its time and memory
    bounds: no traceback, no hang, no exit 0 on failure, nothing left behind."""
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    import fuzz_cli
    counts, bad = fuzz_cli.run({group})
    assert not bad, "\n".join(f"{outcome}: {case.name!r}: {line}" for case, outcome, line in bad[:10])
    assert sum(sum(c.values()) for c in counts.values()) > 40


@pytest.mark.slow
@pytest.mark.data
@needs_pop909
def test_fuzz_run_of_mutated_files_through_every_subcommand():
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    import fuzz_cli
    counts, bad = fuzz_cli.run({"mutated"}, n_mutated=12)
    assert not bad, "\n".join(f"{outcome}: {case.name!r}: {line}" for case, outcome, line in bad[:10])
    outcomes = counts["mutated POP909 files"]
    assert outcomes["ok"] > 10 and outcomes["refused"] > 5, outcomes
