"""Processes ended mid-write leave nothing behind (issue 12): SIGTERM and SIGINT remove the
temporary files, and the leftover of a SIGKILL (which nothing can catch) is recognisable and
removed by the next composer command that writes in the same folder.

Real processes and real signals: a 14-minute song renders for several seconds, long enough
for the normaliser's temporary file to appear (it spills to disk after about 12 minutes of
audio).  The timeouts only guard against a hang; nothing is timed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from composer.io.atomic import TEMP_MARK
from composer.io.midi import write_midi
from composer.score import Note, Score, TempoChange, Track

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 300


@pytest.fixture(scope="module")
def long_song(tmp_path_factory) -> Path:
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    path = tmp_path_factory.mktemp("song") / "long.mid"
    notes = tuple(Note(i * 1920, 1800, 60 + i % 12, 80) for i in range(420))   # 14 minutes at 120 bpm
    write_midi(Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(Track("Piano", 0, notes=notes),)), path)
    return path


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_MARK in p.name)


def start_render(song: Path, out: Path) -> subprocess.Popen:
    # SIGINT, SIGQUIT and SIGHUP restored to their defaults: a background job of a
    # non-interactive shell inherits SIGINT and SIGQUIT ignored (POSIX), and a run under
    # nohup SIGHUP; composer then leaves an ignored signal ignored, on purpose.
    def defaults() -> None:
        for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "composer", "render", str(song), "-o", str(out / "a.wav")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=defaults)


def wait_for_temp(proc: subprocess.Popen, folder: Path) -> list[str]:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        found = temps(folder)
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"render ended before writing a temporary file: {proc.communicate()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no temporary file appeared")


@pytest.mark.parametrize("signum, status, word", [(signal.SIGTERM, 143, "terminated"),
                                                  (signal.SIGINT, 130, "interrupted")])
def test_signal_mid_write_removes_temporary_files(long_song, tmp_path, signum, status, word):
    out = tmp_path / "out"
    out.mkdir()
    proc = start_render(long_song, out)
    found = wait_for_temp(proc, out)
    assert found[0].startswith(f".a.wav{TEMP_MARK}{proc.pid}-")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == status, err
    assert f"composer: {word}; temporary files removed" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_sigkill_leftover_is_removed_by_the_next_run(long_song, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = start_render(long_song, out)
    found = wait_for_temp(proc, out)
    proc.kill()
    proc.communicate(timeout=HANG_GUARD_S)
    assert temps(out) == found   # what SIGKILL leaves: named after the output and the dead pid
    small = tmp_path / "small.mid"
    write_midi(Score(tracks=(Track("x", notes=(Note(0, 480, 60),)),)), small)
    done = subprocess.run([sys.executable, "-m", "composer", "convert", str(small), str(out / "b.mid")],
                          cwd=REPO, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["b.mid"]
