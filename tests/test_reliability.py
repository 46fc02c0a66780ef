"""Bad input never crashes, hangs or fills the disk (issue 12).

Every case of the issue's table through ``composer.cli.main``, in-process: one
``composer: error:`` line naming the problem, exit status 2, nothing left behind.  The words
each case must print are what makes the test able to fail: a check that went missing would
print another error (later, e.g. the missing model folder) or none at all.
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import signal
import stat
from pathlib import Path

import numpy as np
import pytest
from reliability_fixtures import drums_midi, huge_note_midi, save_tiny_models

from composer import limits
from composer.cli import main
from composer.errors import ComposerError, DataError, MidiError, ModelError
from composer.io.atomic import (TEMP_MARK, atomic_path, check_writable, read_regular_file,
                                remove_stale_temps)
from composer.io.midi import read_midi, write_midi
from composer.score import Note, Score, TempoChange, Track

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    return save_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.fixture()
def out_dir(tmp_path) -> Path:
    """An empty folder for outputs: after a refused command it must still be empty."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture()
def song_mid(tmp_path) -> Path:
    path = tmp_path / "song.mid"
    write_midi(Score(tempos=(TempoChange.from_bpm(0, 120),),
                     tracks=(Track("Melody", 73, notes=tuple(Note(i * 480, 400, 72, 90) for i in range(4))),)),
               path)
    return path


def one_error(capsys, rc: int, *words: str) -> str:
    """The single stderr line of a refused command; checks rc 2 and the words."""
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("composer: error: "), err
    for w in words:
        assert w in err, err
    return err


def expand(args: list[str], **paths: Path) -> list[str]:
    return [a.format(**{k: str(v) for k, v in paths.items()}) for a in args]


# ---------------------------------------------------------------------- generate
GENERATE_CASES = [
    # (extra arguments, words the error must hold)
    (["--form", "A²"], ["'²' at position 2 is not an ASCII"]),
    (["--form", "A８"], ["'８' at position 2 is not an ASCII"]),
    (["--form", "i٤A8"], ["not an ASCII"]),
    (["--seed", "-1"], ["--seed must be a whole number from 0 to 4,294,967,295"]),
    (["--seed", str(2**63 - 1)], ["--seed must be"]),
    (["--seed", str(2**64)], ["--seed must be"]),
    (["--seed", "9" * 400], ["--seed must be", "(400 digits)"]),
    (["--tempo", "1"], ["--tempo must be 20 to 400 bpm", "not 1.0"]),
    (["--tempo", "0.001"], ["--tempo must be 20 to 400"]),
    (["--tempo", "1e-300"], ["not 1e-300"]),
    (["--tempo", "400.0001"], ["not 400.0001"]),
    (["--tempo", "nan"], ["--tempo must be"]),
    (["--tempo", "inf"], ["--tempo must be"]),
    (["--steps", "1000"], ["--steps must be 1 to 100"]),
    (["--steps", "0"], ["--steps must be 1 to 100"]),
    (["--bars", "abc"], ["composer generate: argument --bars: invalid int value: 'abc'"]),
    (["--bars", "512", "--tempo", "20", "--audio", "{out}/s.wav"],
     ["--audio renders at most 3600 s", "--bars 300 or fewer"]),
    (["--tempo", "30", "--audio", "{out}/s.wav"], ["--audio renders at most", "up to 512 bars"]),
    (["--timbre", "²=sf:0", "--audio", "{out}/s.wav"], ["no track '²'"]),
    (["--timbre", "Melody=sf:²", "--audio", "{out}/s.wav"], ["0..127"]),
    (["--timbre", "Melody=sf:١٢", "--audio", "{out}/s.wav"], ["0..127"]),
    (["--audio", "{out}"], ["is a folder"]),
    (["--audio", "{out}/s.mid"], ["--output and --audio both name"]),
    (["--audio", "{out}/../out/s.mid"], ["--output and --audio both name"]),
    (["--audio", "{out}/s.ogg"], [".wav, .flac or .mp3"]),
    (["--audio", "{out}/no/such/s.wav"], ["does not exist"]),
]


@pytest.mark.parametrize("args, words", GENERATE_CASES, ids=[" ".join(a) for a, _ in GENERATE_CASES])
def test_generate_refuses_bad_options(tiny_models, out_dir, capsys, args, words):
    rc = main(["generate", "--models", str(tiny_models), "-o", str(out_dir / "s.mid"),
               *expand(args, out=out_dir)])
    one_error(capsys, rc, *words)
    assert list(out_dir.iterdir()) == []


OUTPUT_CASES = [
    ("{out}", ["is a folder"]),
    (".", ["is a folder"]),
    ("", ["argument -o/--output: an empty file name"]),
    ("/dev/null", ["not a regular file"]),     # without --force: must not say "pass --force"
    ("{out}/s.wav", ["give it a .mid or .midi name"]),
    ("{out}/no/such/s.mid", ["folder", "does not exist"]),
]
# Each also with --force, except /dev/null: never risk it.  With --force it is the FIFO of
# test_outputs_replace_only_regular_files and check_writable("/dev/null", force=True) there.
OUTPUT_CASES += [(o, w, ["--force"]) for o, w in OUTPUT_CASES if o != "/dev/null"]
OUTPUT_CASES = [c if len(c) == 3 else (*c, []) for c in OUTPUT_CASES]


@pytest.mark.parametrize("output, words, force", OUTPUT_CASES)
def test_generate_refuses_bad_outputs(tiny_models, out_dir, capsys, output, words, force):
    rc = main(["generate", "--models", str(tiny_models), "-o", output.format(out=out_dir), *force])
    one_error(capsys, rc, *words)
    assert list(out_dir.iterdir()) == []


def test_output_and_audio_must_differ_even_with_force(tiny_models, out_dir, capsys):
    target = out_dir / "s.wav"
    rc = main(["generate", "--models", str(tiny_models), "-o", str(target), "--audio", str(target), "--force"])
    one_error(capsys, rc, ".mid")
    rc = main(["generate", "--models", str(tiny_models), "-o", str(out_dir / "s.mid"),
               "--audio", str(out_dir / "s.mid"), "--force"])
    one_error(capsys, rc, "both name")
    assert list(out_dir.iterdir()) == []


def test_outputs_replace_only_regular_files(tiny_models, out_dir, capsys):
    fifo = out_dir / "node.mid"
    os.mkfifo(fifo)  # stands for a device node: not a regular file, even with --force
    rc = main(["generate", "--models", str(tiny_models), "-o", str(fifo), "--force"])
    one_error(capsys, rc, "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(ComposerError, match="not a regular file"):
        check_writable("/dev/null", force=True)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_valid_edges_still_compose(tiny_models, out_dir, capsys):
    out = out_dir / "s.mid"
    assert main(["generate", "--models", str(tiny_models), "--bars", "2", "--steps", "1", "--tempo", "20",
                 "--seed", str(limits.MAX_SEED), "-o", str(out)]) == 0
    assert "seed 4294967295" in capsys.readouterr().out
    assert read_midi(out).tempos[0].bpm == pytest.approx(20, rel=1e-6)
    assert main(["generate", "--models", str(tiny_models), "--bars", "2", "--steps", "1", "--tempo", "400",
                 "--seed", "0", "-o", str(out), "--force"]) == 0


def test_argparse_errors_are_one_line(capsys):
    for argv, words in [(["generate"], "the following arguments are required: -o/--output"),
                        (["render", "x.mid", "-o", "x.wav", "--sample-rate", "1"], "invalid choice: 1"),
                        (["frobnicate"], "invalid choice: 'frobnicate'"),
                        (["render"], "composer render:")]:
        one_error(capsys, main(argv), words, "--help")


# ---------------------------------------------------------------------- render, convert, inspect
@pytest.fixture()
def huge_mid(tmp_path) -> Path:
    path = tmp_path / "huge.mid"
    path.write_bytes(huge_note_midi())
    return path


@pytest.fixture()
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.mid"
    os.mkfifo(path)
    return path


RENDER_CASES = [
    (["{song}", "-o", "{out}/a.wav", "--loudness", "nan"], ["--loudness must be -60 to 0 LUFS", "not nan"]),
    (["{song}", "-o", "{out}/a.wav", "--loudness", "inf"], ["--loudness must be"]),
    (["{song}", "-o", "{out}/a.wav", "--loudness=-inf"], ["--loudness must be"]),
    (["{song}", "-o", "{out}/a.wav", "--loudness", "-inf"], ["argument --loudness: expected one argument"]),
    (["{song}", "-o", "{out}/a.wav", "--loudness", "-200"], ["--loudness must be"]),
    (["{song}", "-o", "{out}/a.wav", "--sample-rate", "1"], ["argument --sample-rate: invalid choice"]),
    (["{song}", "-o", "{out}"], ["is a folder"]),
    (["{song}", "-o", "/dev/null"], ["not a regular file"]),
    (["{song}", "-o", "{out}/a.mid"], [".wav, .flac or .mp3"]),
    (["{song}", "-o", "{out}/a.wav", "--timbre", "²=sf:0"], ["no track '²'"]),
    (["{song}", "-o", "{out}/a.wav", "--timbre", "Melody=sf:²"], ["0..127"]),
    (["{song}", "-o", "{out}/a.wav", "--timbre", "Melody=sf:١٢"], ["0..127"]),
    (["{song}", "-o", "{out}/a.wav", "--program", "0=٣"], ["TRACK=N"]),
    (["{huge}", "-o", "{out}/a.wav"], ["the song lasts 134,217,728 s", "at most 3,600 s"]),
    (["/dev/zero", "-o", "{out}/a.wav"], ["/dev/zero is not a regular file"]),
    (["{fifo}", "-o", "{out}/a.wav"], ["not a regular file"]),
    (["{out}", "-o", "{out}/a.wav"], ["is a folder"]),
]


@pytest.mark.parametrize("args, words", RENDER_CASES, ids=[" ".join(a) for a, _ in RENDER_CASES])
def test_render_refuses_bad_input(song_mid, huge_mid, fifo, out_dir, capsys, args, words):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    rc = main(["render", *expand(args, song=song_mid, huge=huge_mid, fifo=fifo, out=out_dir)])
    one_error(capsys, rc, *words)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("argv, words", [
    (["inspect", "/dev/zero"], ["/dev/zero is not a regular file"]),
    (["inspect", "{fifo}"], ["not a regular file"]),
    (["inspect", "{out}"], ["is a folder"]),
    (["convert", "/dev/zero", "{out}/b.mid"], ["not a regular file"]),
    (["convert", "{fifo}", "{out}/b.mid"], ["not a regular file"]),
    (["convert", "{song}", "{out}/b.wav"], ["give it a .mid or .midi name", "composer render"]),
    (["convert", "{song}", "/dev/null", "--force"], ["not a regular file"]),
    (["eval", "/dev/zero", "--reference", "{song}"], ["not a regular file"]),
    (["eval", "{fifo}", "--reference", "{song}"], ["not a regular file"]),
])
def test_midi_commands_refuse_non_files(song_mid, fifo, out_dir, capsys, argv, words):
    rc = main(expand(argv, song=song_mid, fifo=fifo, out=out_dir))
    one_error(capsys, rc, *words)
    assert list(out_dir.iterdir()) == []


def test_more_tracks_than_synth_channels_is_one_error(tmp_path, out_dir, capsys):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from reliability_fixtures import smf
    many = tmp_path / "many.mid"
    many.write_bytes(smf(*(bytes([0, 0x90 | i % 16, 60, 100, 0x60, 0x80 | i % 16, 60, 0]) for i in range(300)),
                         file_type=1, division=96))
    rc = main(["render", str(many), "-o", str(out_dir / "a.wav")])
    one_error(capsys, rc, "281 melodic and 19 drum tracks; FluidSynth's 256 channels play at most 240 and 16")
    assert list(out_dir.iterdir()) == []


def test_huge_note_is_inspected_but_neither_converted_nor_rendered(huge_mid, out_dir, capsys):
    # Valid MIDI: reading it is fine.  At 480 PPQ its note needs a delta time of more than
    # 28 bits, which no MIDI file holds, and rendering it would fill the disk.
    assert main(["inspect", str(huge_mid)]) == 0
    assert "134217727.50 s" in capsys.readouterr().out
    one_error(capsys, main(["convert", str(huge_mid), str(out_dir / "b.mid")]), "longer than a MIDI file")
    assert list(out_dir.iterdir()) == []


def test_reads_are_bounded(tmp_path):
    big = tmp_path / "big.mid"
    with open(big, "wb") as f:
        f.truncate(17 * 2**20)  # sparse: 17 MB claimed, nothing on disk
    with pytest.raises(MidiError, match="over the 16 MB limit"):
        read_midi(big)
    # /dev/zero claims 0 bytes and never ends: refused before any read.
    with pytest.raises(ComposerError, match="not a regular file"):
        read_regular_file("/dev/zero", 10)
    assert read_regular_file(big, 17 * 2**20)[:4] == b"\0\0\0\0"
    with pytest.raises(ComposerError, match="limit"):
        read_regular_file(big, 17 * 2**20 - 1)


def test_truncated_midi_files_are_one_error_each(song_mid, tmp_path, capsys):
    data = song_mid.read_bytes()
    bad = tmp_path / "cut.mid"
    for n in [0, 1, 4, 13, 14, 20, 22, len(data) // 2, len(data) - 1]:
        bad.write_bytes(data[:n])
        rc = main(["inspect", str(bad)])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if rc != 0:  # a cut that happens to end on an event boundary may still read
            assert rc == 2 and err.count("\n") == 1 and err.startswith("composer: error: ")


def test_drum_track_under_a_learned_timbre_keeps_its_kit(tmp_path, out_dir, capsys):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    if not (REPO / "models" / "timbres" / "flute" / "config.json").is_file():
        pytest.skip("shipped flute timbre not present")
    from composer.io.audio import read_audio
    drums = tmp_path / "drums.mid"
    drums.write_bytes(drums_midi())
    rc = main(["render", str(drums), "-o", str(out_dir / "d.wav"), "--timbre", "0=ddsp:flute"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "composer: warning: track 0 'Drums' is a drum track" in captured.err
    assert "LUFS" in captured.out and "-inf LUFS" not in captured.out
    audio = read_audio(out_dir / "d.wav")
    assert audio.duration_seconds > 3.5 and np.abs(audio.samples).max() > 0.1


# ---------------------------------------------------------------------- model folders
def _model_copy(tmp_path: Path, tiny_models: Path, level: str, change) -> Path:
    root = tmp_path / "models"
    shutil.copytree(tiny_models, root)
    path = root / level / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))
    return root


@pytest.mark.parametrize("level, change, words", [
    ("form", lambda c: c["model"].update(bogus=1), "unknown setting 'bogus' for FormDenoiser"),
    ("form", lambda c: c["model"].update(width="16"), 'width = "16" is not a whole number'),
    ("form", lambda c: c["model"].update(width=1e6), "width = 1000000.0 is not a whole number"),
    ("form", lambda c: c["model"].update(width=1_000_000), "far larger than the 500,000,000 parameters"),
    ("form", lambda c: c["model"].update(n_attn=10**9), "far larger than"),
    ("form", lambda c: c["model"].update(width=-3), "the settings do not make a FormDenoiser"),
    ("chords", lambda c: c.update(model=[1, 2]), "must be a JSON object"),
    ("chords", lambda c: c.pop("model"), "must be a JSON object, not NoneType"),
    ("notes", lambda c: c["model"].update(channels=8), "channels = 8 is not a list"),
    ("notes", lambda c: c["model"].update(channels=[8, 8]), "the settings do not make a NoteUNet"),
    ("notes", lambda c: c.update(decoding={"threshold": 1}), "decoding.threshold: Extra inputs are not permitted"),
    ("notes", lambda c: c.update(decoding={"max_piano_onsets": -1}),
     "decoding.max_piano_onsets: Input should be greater than or equal to 0"),
])
def test_bad_model_config_is_one_model_error(tiny_models, tmp_path, out_dir, capsys, level, change, words):
    root = _model_copy(tmp_path, tiny_models, level, change)
    rc = main(["generate", "--models", str(root), "--bars", "2", "--steps", "1", "-o", str(out_dir / "s.mid")])
    one_error(capsys, rc, words, f"{level}/config.json")
    assert list(out_dir.iterdir()) == []


def test_config_is_checked_before_allocation(tiny_models, tmp_path, monkeypatch):
    # A 4-TB model must be refused on the meta device: fail the test if a real build starts.
    from composer.levels.form import FormLevel
    from composer.nets import form as form_nets
    root = _model_copy(tmp_path, tiny_models, "form", lambda c: c["model"].update(width=1_000_000))
    built = []
    original = form_nets.FormDenoiser.__init__

    @functools.wraps(original)
    def spy(self, *args, **kwargs):
        import torch
        built.append(torch.empty(0).device.type)
        original(self, *args, **kwargs)

    monkeypatch.setattr(form_nets.FormDenoiser, "__init__", spy)
    with pytest.raises(ModelError, match="far larger"):
        FormLevel.from_pretrained(root / "form")
    assert built == ["meta"]


def test_bad_timbre_config_is_one_model_error(tmp_path, out_dir, song_mid, capsys, monkeypatch):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from timbre_fixtures import install_tiny_timbre
    folder = install_tiny_timbre(tmp_path / "timbres")
    config = json.loads((folder / "config.json").read_text())
    config["model"]["decoder"]["hidden"] = 1e6
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("COMPOSER_TIMBRES", str(tmp_path / "timbres"))
    rc = main(["render", str(song_mid), "-o", str(out_dir / "a.wav"), "--timbre", "0=ddsp:tiny"])
    one_error(capsys, rc, "(decoder): hidden = 1000000.0 is not a whole number (TimbreDecoder)")


# ---------------------------------------------------------------------- data, eval, training
def test_data_force_never_deletes_a_folder_that_is_not_a_build(tmp_path, capsys):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    rc = main(["data", "pop909", "--root", str(tmp_path / "no_data"), "--out", str(precious), "--force"])
    one_error(capsys, rc, "is not a POP909 build")
    assert (precious / "chapter1.tex").read_text() == "years of work"


@pytest.mark.parametrize("ids, words", [
    (["../../etc/passwd"], "song id '../../etc/passwd' in split 'test' is not a plain name"),
    (["/tmp/x"], "is not a plain name"),
    ([7], "song id 7"),
    (["٠٠١"], "is not a plain name"),
])
def test_eval_split_ids_are_checked(tmp_path, capsys, ids, words):
    prepared = tmp_path / "prepared"
    (prepared / "songs").mkdir(parents=True)
    (prepared / "split.json").write_text(json.dumps({"test": ids, "train": []}))
    rc = main(["eval", f"{prepared}@test", "--reference", f"{prepared}@test"])
    one_error(capsys, rc, words)


def test_eval_split_file_that_is_not_a_split(tmp_path, capsys):
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "split.json").write_text("[1, 2]")
    rc = main(["eval", f"{prepared}@test", "--reference", f"{prepared}@test"])
    one_error(capsys, rc, "is not a split file")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    import soundfile as sf
    folder = tmp_path_factory.mktemp("recordings")
    sr = 44100
    t = np.arange(sr) / sr
    sf.write(folder / "flute_A4_1_forte_normal.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    sf.write(folder / "flute_B4_1_forte_normal.wav",   # a 5 ms note: shorter than the analysis window
             (0.5 * np.sin(2 * np.pi * 494 * t[: sr // 200])).astype(np.float32), sr)
    whole = (folder / "flute_A4_1_forte_normal.wav").read_bytes()
    (folder / "flute_C5_1_forte_normal.wav").write_bytes(whole[:30])            # header cut short
    (folder / "flute_D5_1_forte_normal.wav").write_bytes(whole[: len(whole) // 3])  # data cut short
    return folder


@pytest.mark.parametrize("args, words", [
    (["--threads", "-3"], "--threads must be at least 1, not -3"),
    (["--threads", "0"], "--threads must be at least 1, not 0"),
    (["--seed", "-1"], "--seed must be a whole number from 0"),
    (["--steps", "-5"], "--steps must be at least 0, not -5"),
    (["--warm-steps", "-1"], "--warm-steps must be at least 0, not -1"),
    (["--steps", "0", "--warm-steps", "0"], "nothing would be trained"),
    (["--out", "{tmp}/no/such/dir"], "does not exist; create it first"),
])
def test_train_timbre_refuses_bad_options(recordings, tmp_path, capsys, args, words):
    args = [a.format(tmp=tmp_path) for a in args]
    argv = ["train-timbre", str(recordings), "--quiet"]
    if "--out" not in args:
        argv += ["--out", str(tmp_path / "flute")]
    rc = main(argv + args)
    one_error(capsys, rc, words)
    assert not (tmp_path / "flute").exists() and not (tmp_path / "no").exists()


def test_train_timbre_short_and_truncated_recordings(recordings, tmp_path, capsys):
    # The 5 ms note is skipped as toneless, the cut files are skipped with a warning each,
    # and 1.3 s of sound is too little: one error, no traceback.
    rc = main(["train-timbre", str(recordings), "--out", str(tmp_path / "flute"), "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and rc == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("composer: error: ") and "of usable sound" in lines[-1]
    assert all(line.startswith("composer: warning: skipped") for line in lines[:-1])


@pytest.mark.parametrize("args, words", [
    (["--seed", "-1"], "--seed must be"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--steps", "0"], "--steps must be at least 1"),
])
def test_train_refuses_bad_options(tmp_path, capsys, args, words):
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "split.json").write_text("{}")
    rc = main(["train", "form", "--data", str(prepared), "--out", str(tmp_path / "m"), *args])
    one_error(capsys, rc, words)


# ---------------------------------------------------------------------- temporary files
def test_temporary_files_are_named_and_stale_ones_removed(tmp_path):
    target = tmp_path / "song.wav"
    with atomic_path(target, suffix=".wav") as tmp:
        assert tmp.name.startswith(f".song.wav{TEMP_MARK}{os.getpid()}-") and tmp.suffix == ".wav"
        tmp.write_bytes(b"x")
    # A leftover of a process that is gone (pid 2**22 + 1 is above Linux's pid_max default)
    # goes on the next write into the folder; one of a live process (this one) stays.
    tag = tmp.name.rsplit("-", 1)[1][:4]  # this machine's tag, then 4 random hex digits
    dead = tmp_path / f".old.wav{TEMP_MARK}{2**22 + 1}-{tag}abcd.wav"
    dead.write_bytes(b"left by SIGKILL")
    dead_dir = tmp_path / f".build{TEMP_MARK}{2**22 + 1}-{tag}abcd"
    dead_dir.mkdir()
    live = tmp_path / f".mine.wav{TEMP_MARK}{os.getpid()}-{tag}abcd.wav"
    live.write_bytes(b"being written")
    elsewhere = tmp_path / f".theirs.wav{TEMP_MARK}{2**22 + 1}-{'0000' if tag != '0000' else '1111'}abcd.wav"
    elsewhere.write_bytes(b"another machine's pid: not ours to judge")
    other = tmp_path / ".hidden-but-not-ours"
    other.write_bytes(b"x")
    with atomic_path(tmp_path / "other.mid") as tmp:
        tmp.write_bytes(b"y")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([".hidden-but-not-ours", live.name, elsewhere.name, "other.mid", "song.wav"])
    assert remove_stale_temps(tmp_path) == []


def test_an_error_mid_write_removes_the_temporary_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "a.mid") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- the README's limits
def test_readme_states_the_limits_the_code_enforces():
    from composer.form import MAX_SONG_BARS
    from composer.io import midi
    text = (REPO / "README.md").read_text()
    match = re.search(r"^## Limits\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, "README.md has no '## Limits' section"
    section = match.group(1)

    def number(label: str) -> float:
        row = re.search(rf"^\| {re.escape(label)} \| ([^|]+) \|", section, re.M)
        assert row, f"no row {label!r} in the README's Limits table"
        return float(row.group(1).strip().split()[0].replace(",", ""))

    assert number("longest song rendered") == limits.MAX_RENDER_SECONDS
    assert number("most notes rendered") == limits.MAX_RENDER_NOTES
    assert number("slowest tempo") == limits.MIN_TEMPO_BPM
    assert number("fastest tempo") == limits.MAX_TEMPO_BPM
    assert number("most sampler steps") == limits.MAX_STEPS
    assert number("largest seed") == limits.MAX_SEED
    assert number("longest song composed") == MAX_SONG_BARS
    assert number("largest MIDI file read") == midi.MAX_BYTES / 2**20
    assert number("most notes read") == midi.MAX_NOTES
    assert number("largest model") == limits.MAX_MODEL_PARAMETERS
    assert number("longest song exported, drawn or measured") == limits.MAX_SONG_BARS_DRAWN
    assert number("most sections exported, drawn or measured") == limits.MAX_SECTIONS
    assert number("most chord symbols exported, drawn or measured") == limits.MAX_CHORDS
    assert number("most tempo changes exported, drawn or measured") == limits.MAX_TEMPO_CHANGES
    assert number("most tracks exported, drawn or measured") == limits.MAX_TRACKS
    assert number("quietest loudness target") == limits.MIN_LOUDNESS_LUFS
    assert number("loudest loudness target") == limits.MAX_LOUDNESS_LUFS
    # MIDI holds tempos down to 60e6 / (2**24 - 1) bpm: the range must be inside that.
    assert limits.MIN_TEMPO_BPM >= 60e6 / (2**24 - 1) and math.isfinite(limits.MAX_TEMPO_BPM)


def test_limits_are_checked_in_the_api_too(monkeypatch):
    from composer.mastering import plan_gain, LoudnessMeter
    from composer.options import check_options
    from composer.render.base import check_render_limits
    with pytest.raises(ComposerError, match="--tempo"):
        check_options(None, None, None, 10.0, "4/4", None)
    with pytest.raises(ComposerError, match="--steps"):
        check_options(None, None, None, None, "4/4", 101)
    with pytest.raises(ComposerError):
        plan_gain(LoudnessMeter(44100, 2), float("nan"))
    from composer.render import base
    monkeypatch.setattr(base, "MAX_RENDER_NOTES", 3)  # the same check, without building 500,001 notes
    many = Score(tracks=(Track("x", notes=tuple(Note(i, 1, 60) for i in range(4))),))
    with pytest.raises(ComposerError, match="has 4 notes; composer renders at most 3"):
        check_render_limits(many)
    with pytest.raises(DataError):
        from composer.data.example import load_split
        load_split("/nonexistent-folder", "test")


# ---------------------------------------------------------------------- the app's actions
@pytest.mark.parametrize("options, words", [
    (dict(seed=-1), "Seed must be"),
    (dict(seed=2**64), "Seed must be"),
    (dict(tempo=1.0), "Tempo must be"),
    (dict(tempo="inf"), "Tempo"),
    (dict(steps=1000), "Sampler steps must be"),
    (dict(form="A²"), "needs a number of bars"),
    (dict(form="A８B8"), "needs a number of bars"),
])
def test_app_compose_refuses_bad_options(tmp_path, options, words):
    """The app's Compose fields go through the same checks as the CLI, in the app's words,
    before any work and without writing anything."""
    from composer.app.inputs import read_inputs, user_message
    with pytest.raises(ComposerError) as err:
        read_inputs(**{"seed": 1, "steps": 1, **options})
    text = user_message(err.value, tmp_path)
    assert words in text and "\n" not in text and "--" not in text
    assert list(tmp_path.iterdir()) == []


def test_app_render_refuses_bad_uploads(tmp_path, huge_mid, fifo):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from test_pipeline import tiny_composer

    from composer.app.actions import open_midi
    from composer.app.session import AppContext, Session
    ctx = AppContext(tiny_composer(), tmp_path / "out", ())
    session = Session(ctx.out_root)
    for upload, words in [("/dev/zero", "not a regular file"), (fifo, "not a regular file"),
                          (huge_mid, "renders at most 3,600 s")]:
        with pytest.raises(ComposerError, match=re.escape(words)):
            open_midi(ctx, session, str(upload))
    assert session.current is None and not list(session.folder.glob("*"))

# ---------------------------------------------------------------------- issue 25: export and plot
# Each of these small files hung `composer export` and `composer plot` (killed after 90 s)
# while inspect, convert and render refused them at once.  Every one is refused now, by
# the limit named, before any bar is written or drawn.
HANG_CASES = [
    ("note at tick 2**31, 480 PPQ", "lasts 1,118,482 bars"),
    ("note at tick 2**33, 1 PPQ", "lasts 2,147,483,652 bars"),
    ("chord cue at tick 2**28", "lasts 67,108,864 bars"),
    ("50,000 chord cues", "has 49,999 chord symbols"),
    ("20,000 sections on one tick", "has 20,000 sections"),
    ("section [A 999999999]", "lasts 999,999,999 bars"),
    ("end of track 2**27 ticks after a note-on", "lasts 69,906 bars"),
    ("10,000 tempos of 1 us per beat", "lasts 87,381,329 bars"),
    ("meter 1/64 at 1 PPQ", "lasts 67,108,865 bars"),
    ("meter 1/64 at 16 PPQ", "lasts 268,435,459 bars"),
]


@pytest.mark.parametrize("name, words", HANG_CASES, ids=[n for n, _ in HANG_CASES])
@pytest.mark.parametrize("command, output, what", [("export", "o.musicxml", "composer export writes at most"),
                                                   ("plot", "o.png", "composer plot draws at most")])
def test_export_and_plot_refuse_what_the_limits_refuse(tmp_path, out_dir, capsys, name, words,
                                                        command, output, what):
    from reliability_fixtures import HANG_FILES
    src = tmp_path / "crafted.mid"
    src.write_bytes(HANG_FILES[name]())
    rc = main([command, str(src), "-o", str(out_dir / output)])
    one_error(capsys, rc, f"{src} {words}", what)
    assert list(out_dir.iterdir()) == []


def test_song_limits_let_the_longest_drawn_song_through():
    # The edges themselves pass: 2,048 bars, 1,024 sections, 16,384 chords, 10,000 tempos.
    from composer.score import ChordSymbol, Section
    score = Score(tempos=tuple(TempoChange.from_bpm(i * 96, 400) for i in range(limits.MAX_TEMPO_CHANGES)),
                  sections=tuple(Section(2 * i, 2, "A") for i in range(limits.MAX_SECTIONS)),
                  chords=tuple(ChordSymbol(i * 240, 240, 0, "maj", 0) for i in range(limits.MAX_CHORDS)),
                  tracks=(Track("Melody", notes=(Note(0, 480, 60),)),))
    assert score.n_bars == limits.MAX_SONG_BARS_DRAWN
    limits.check_song_limits(score, "song.mid", "composer export writes")
    longer = score.replace(sections=score.sections[:-1] + (Section(2046, 3, "A"),))
    with pytest.raises(ComposerError, match="lasts 2,049 bars"):
        limits.check_song_limits(longer, "song.mid", "composer export writes")


def test_convert_refuses_more_tracks_than_a_midi_file_holds(tmp_path, out_dir, capsys):
    from reliability_fixtures import many_tracks_midi
    src = tmp_path / "tracks.mid"
    src.write_bytes(many_tracks_midi(65_535))
    rc = main(["convert", str(src), str(out_dir / "o.mid")])
    one_error(capsys, rc, "needs 65,536 MIDI tracks", "at most 65,535")
    assert list(out_dir.iterdir()) == []


# ---------------------------------------------------------------------- issue 25: full disk, ulimit -f
def _long_song(path: Path) -> Path:
    """64 notes: every output of it (MIDI, MusicXML, PNG, audio, JSON) is over 512 bytes."""
    write_midi(Score(tempos=(TempoChange.from_bpm(0, 240),),
                     tracks=(Track("Melody", 73, notes=tuple(Note(i * 120, 100, 60 + i % 24, 90)
                                                             for i in range(64))),)), path)
    return path


WRITERS = [
    # (argument list, the output it writes); {song}, {models} filled in
    (["convert", "{song}", "o.mid"], "o.mid"),
    (["export", "{song}", "-o", "o.musicxml"], "o.musicxml"),
    (["plot", "{song}", "-o", "o.png"], "o.png"),
    (["render", "{song}", "-o", "o.wav"], "o.wav"),
    (["render", "{song}", "-o", "o.flac", "--bit-depth", "24"], "o.flac"),
    (["render", "{song}", "-o", "o.mp3"], "o.mp3"),
    (["render", "{song}", "-o", "o.wav", "--stems", "stems"], "o.wav"),
    (["eval", "{song}", "--reference", "{song}", "--json", "o.json"], "o.json"),
    (["generate", "--models", "{models}", "--bars", "2", "--steps", "1", "--seed", "0", "-o", "o.mid"], "o.mid"),
    (["generate", "--models", "{models}", "--bars", "2", "--steps", "1", "--seed", "0", "-o", "s.mid",
      "--musicxml", "o.musicxml"], "s.mid"),
    (["generate", "--models", "{models}", "--bars", "2", "--steps", "1", "--seed", "0", "-o", "s.mid",
      "--audio", "o.wav"], "s.mid"),
]
FILE_SIZE_LIMIT = 512


def _check_write_failure(rc, err, left, words, cwd=None):
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("composer: error:")]
    assert rc == 2 and len(errors) == 1 and err.rstrip().endswith(errors[0]), (rc, err)
    assert words in errors[0], err
    # No output, no temporary file, no stems folder; only generate keeps its song's MIDI
    # file when what follows fails (composing took the time, the MIDI file is whole).
    assert left in ([], ["s.mid"]), left
    if left and cwd is not None:
        assert read_midi(cwd / "s.mid").n_bars == 2


@pytest.mark.slow
@pytest.mark.parametrize("argv, output", WRITERS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in WRITERS])
def test_every_writer_under_a_file_size_limit(tmp_path, tiny_models, argv, output):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from reliability_fixtures import run_composer
    song = _long_song(tmp_path / "song.mid")
    cwd = tmp_path / "out"
    cwd.mkdir()
    rc, err, left = run_composer(expand(argv, song=song, models=tiny_models), cwd,
                                 file_size_limit=FILE_SIZE_LIMIT)
    _check_write_failure(rc, err, left, "the file-size limit (ulimit -f, 512 bytes) was reached while writing ", cwd)


@pytest.mark.slow
@pytest.mark.parametrize("argv, output", WRITERS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in WRITERS])
def test_every_writer_on_a_full_disk(tmp_path, tiny_models, argv, output):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from reliability_fixtures import full_disk_available, run_composer
    if not full_disk_available():
        pytest.skip("no user namespace or root to mount a full tmpfs (unshare -rm)")
    song = _long_song(tmp_path / "song.mid")
    cwd = tmp_path / "out"
    cwd.mkdir()
    rc, err, left = run_composer(expand(argv, song=song, models=tiny_models), cwd, full_disk=True)
    _check_write_failure(rc, err, left, "no space left on the device holding ")


@pytest.mark.parametrize("stems, words", [
    ("/proc/stems", "cannot create --stems folder /proc/stems: "),
    ("/sys/stems", "cannot create --stems folder /sys/stems: "),
    ("{ro}/stems", "cannot create --stems folder {ro}/stems: "),
])
def test_stems_folder_that_cannot_be_made_is_one_error(song_mid, tmp_path, out_dir, capsys, stems, words):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.geteuid() == 0 and "{ro}" in stems:
            pytest.skip("root writes into a read-only folder")
        rc = main(["render", str(song_mid), "-o", str(out_dir / "a.wav"), "--stems", stems.format(ro=ro)])
        one_error(capsys, rc, words.format(ro=ro))
    finally:
        ro.chmod(0o755)
    assert list(out_dir.iterdir()) == [] and list(ro.iterdir()) == []


def test_a_stem_that_fails_removes_the_mix_and_the_stems_before_it(tmp_path, out_dir, capsys, monkeypatch):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from composer.io import audio
    song = tmp_path / "two.mid"
    write_midi(Score(tracks=(Track("Melody", 73, notes=(Note(0, 480, 72),)),
                             Track("Bass", 33, notes=(Note(0, 480, 36),)))), song)
    real = audio.write_audio
    calls = []

    def second_fails(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) == 2:
            raise ComposerError(f"no space left on the device holding {out_dir} while writing {path}")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(audio, "write_audio", second_fails)
    rc = main(["render", str(song), "-o", str(out_dir / "mix.wav"), "--stems", str(out_dir / "stems")])
    one_error(capsys, rc, "no space left", "01_Bass.wav")
    assert calls == ["00_Melody.wav", "01_Bass.wav"]
    assert list(out_dir.iterdir()) == []


# ---------------------------------------------------------------------- issue 25: smaller items
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP])
def test_other_fatal_signals_mid_write_remove_temporary_files(tmp_path, signum):
    # SIGQUIT and SIGUSR1 during an audio write left its hidden temporary file behind.
    from test_signals import long_song as _unused  # noqa: F401 - the fixture's module
    from test_signals import start_render, wait_for_temp
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    song = tmp_path / "long.mid"
    notes = tuple(Note(i * 1920, 1800, 60 + i % 12, 80) for i in range(420))   # 14 minutes at 120 bpm
    write_midi(Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(Track("Piano", 0, notes=notes),)), song)
    out = tmp_path / "out"
    out.mkdir()
    proc = start_render(song, out)
    wait_for_temp(proc, out)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signum, err
    assert "composer: terminated; temporary files removed" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("name", ["bad\nname.mid", "tab\there.mid", "esc\x1b[31mred.mid", "bidi\u202ename.mid"])
def test_names_with_control_characters_stay_in_one_line(tmp_path, capsys, name):
    from composer.errors import escape_controls
    path = tmp_path / name
    rc = main(["inspect", str(path)])
    err = one_error(capsys, rc, f"{escape_controls(str(path))}: no such file")
    assert all(c not in err[:-1] for c in "\n\t\x1b\u202e")
    rc = main(["render", str(path), "-o", str(tmp_path / name) + ".wav", "--sample-rate", "1"])
    one_error(capsys, rc, "invalid choice")


def test_emoji_names_of_240_bytes_are_written(tmp_path, song_mid, capsys):
    name = "😀" * 60
    for argv, suffix in [(["convert", str(song_mid)], ".mid"), (["plot", str(song_mid), "-o"], ".png"),
                         (["eval", str(song_mid), "--reference", str(song_mid), "--json"], ".json")]:
        out = tmp_path / (name + suffix)
        assert len(out.name.encode()) <= 245   # legal: at most 255
        assert main([*argv, str(out)]) == 0, capsys.readouterr().err
        assert out.stat().st_size > 0
    capsys.readouterr()
    assert sorted(p.suffix for p in tmp_path.iterdir() if p.name.startswith(name)) == [".json", ".mid", ".png"]
    assert not [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]


def test_trailing_slash_output_is_refused(song_mid, out_dir, capsys):
    for argv in (["convert", str(song_mid), f"{out_dir}/o.mid/"],
                 ["export", str(song_mid), "-o", f"{out_dir}/o.musicxml/"],
                 ["plot", str(song_mid), "-o", f"{out_dir}/o.png/"]):
        one_error(capsys, main(argv), "ends in a slash, which names a folder")
    assert list(out_dir.iterdir()) == []


# ---------------------------------------------------------------------- issue 25: crafted model folders
PRIOR = {"length_logp": [-4.0] * 64, "type_logp": [[-2.0] * 7 for _ in range(7)], "length_weight": 3.0}


def _deep(n: int) -> str:
    return "[" * n + "]" * n


FORM_CONFIG_CASES = [
    # (change to config.json, words of the one line)
    (lambda c: c.update(phrase_prior="abc"), "phrase_prior: Input should be a valid dictionary"),
    (lambda c: c.update(phrase_prior={}), "phrase_prior.length_logp: Field required"),
    (lambda c: c.update(phrase_prior={**PRIOR, "length_logp": ["x"] * 64}),
     'phrase_prior.length_logp.0: Input should be a valid number (got "x")'),
    (lambda c: c.update(phrase_prior={**PRIOR, "length_logp": [[1.0]] * 64}),
     "phrase_prior.length_logp.0: Input should be a valid number (got [1.0])"),
    (lambda c: c.update(phrase_prior={**PRIOR, "type_logp": [[-2.0] * 7, [-2.0] * 3] + [[-2.0] * 7] * 5}),
     "phrase_prior.type_logp.1: List should have at least 7 items"),
    (lambda c: c.update(phrase_prior={**PRIOR, "length_logp": [-4.0] * 10}),
     "phrase_prior.length_logp: List should have at least 64 items"),
    (lambda c: c.update(phrase_prior={**PRIOR, "song_bars": [0]}),
     "phrase_prior.song_bars.0: Input should be greater than or equal to 1"),
    (lambda c: c.update(phrase_prior={**PRIOR, "same_length_p": 2}),
     "phrase_prior.same_length_p: Input should be less than 1"),
    (lambda c: c.update(form_length=10**30), "form_length: Input should be less than or equal to 576"),
    (lambda c: c.update(form_length=True), "form_length: Input should be a valid integer (got true)"),
]


@pytest.mark.parametrize("change, words", FORM_CONFIG_CASES, ids=[w.split(":")[0] + str(i) for i, (_, w)
                                                                   in enumerate(FORM_CONFIG_CASES)])
def test_crafted_form_config_is_one_model_error(tiny_models, tmp_path, out_dir, capsys, change, words):
    root = _model_copy(tmp_path, tiny_models, "form", change)
    rc = main(["generate", "--models", str(root), "--bars", "2", "--steps", "1", "-o", str(out_dir / "s.mid")])
    one_error(capsys, rc, f"form/config.json: {words}")
    assert list(out_dir.iterdir()) == []


def test_a_valid_phrase_prior_still_loads(tiny_models, tmp_path):
    from composer.levels.form import FormLevel
    root = _model_copy(tmp_path, tiny_models, "form", lambda c: c.update(phrase_prior=PRIOR))
    assert FormLevel.from_pretrained(root / "form").prior.length_weight == 3.0


def test_deeply_nested_config_json_is_one_model_error(tiny_models, tmp_path, out_dir, capsys):
    root = tmp_path / "models"
    shutil.copytree(tiny_models, root)
    path = root / "form" / "config.json"
    text = path.read_text()
    path.write_text(text[:text.rindex("}")] + ', "phrase_prior": ' + _deep(100_000) + "}")
    rc = main(["generate", "--models", str(root), "--bars", "2", "--steps", "1", "-o", str(out_dir / "s.mid")])
    one_error(capsys, rc, "form/config.json: its JSON is nested too deeply")


TIMBRE_CONFIG_CASES = [
    (lambda c: c["model"]["synth"].update(hop=0), "model.synth.hop: Input should be greater than or equal to 1"),
    (lambda c: c["model"]["synth"].update(hop=1), "model.synth: hop 1 at 16000 Hz makes 16000 frames a second"),
    (lambda c: c["model"]["synth"].update(hop=10**12), "model.synth.hop: Input should be less than or equal to 9600"),
    (lambda c: c["model"]["synth"].update(sample_rate="16000"), "model.synth.sample_rate: Input should be a valid integer"),
    (lambda c: c["model"]["synth"].update(reverb_seconds=1e9), "model.synth.reverb_seconds: Input should be less"),
    (lambda c: c["expression"].update(dynamics_velocity=[], dynamics_loudness_db=[]),
     "expression.dynamics_velocity: List should have at least 1 item"),
    (lambda c: c["expression"].update(dynamics_velocity=[30, 60], dynamics_loudness_db=[-30.0]),
     "expression: dynamics_velocity has 2 entries and dynamics_loudness_db 1; they are one table"),
    (lambda c: c["expression"].update(dynamics_velocity=[60, 30], dynamics_loudness_db=[-30.0, -20.0]),
     "expression: dynamics_velocity must rise from entry to entry"),
    (lambda c: c["expression"].update(release_seconds=604800.0),
     "expression.release_seconds: Input should be less than or equal to 10"),
    (lambda c: c["expression"].update(pitch_min=90, pitch_max=30), "pitch_min 90 is above pitch_max 30"),
    (lambda c: c["expression"].update(attack_seconds=float("nan")), "cannot read"),  # NaN is not JSON
    (lambda c: c.update(expression=[1, 2]), "expression: Input should be a valid dictionary"),
]


@pytest.mark.parametrize("change, words", TIMBRE_CONFIG_CASES,
                         ids=[w.split(":")[0] + str(i) for i, (_, w) in enumerate(TIMBRE_CONFIG_CASES)])
def test_crafted_timbre_config_is_one_model_error(tmp_path, out_dir, song_mid, capsys, monkeypatch, change, words):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from timbre_fixtures import install_tiny_timbre
    folder = install_tiny_timbre(tmp_path / "timbres")
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config).replace("NaN", "nan"))
    # The three ways a downloaded timbre folder comes in: by name, by path, by listing.
    monkeypatch.setenv("COMPOSER_TIMBRES", str(tmp_path / "timbres"))
    for argv in (["render", str(song_mid), "-o", str(out_dir / "a.wav"), "--timbre", "0=ddsp:tiny"],
                 ["render", str(song_mid), "-o", str(out_dir / "a.wav"), "--timbre", f"0=ddsp:{folder}"],
                 ["timbres", "--dir", str(tmp_path / "timbres")]):
        rc = main(argv)
        one_error(capsys, rc, words, "tiny/config.json")
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("code, words", [(28, "no space left on the device holding /var/log while writing "
                                               "/var/log/train.jsonl"),
                                         (27, "the file is larger than its filesystem allows while writing")])
def test_a_full_disk_outside_the_atomic_writer_is_one_line_too(monkeypatch, capsys, code, words):
    # A training log appended line by line, a folder made on the way: the CLI's net.
    from composer.commands import midi as midi_commands

    def writes_a_log(args):
        raise OSError(code, os.strerror(code), "/var/log/train.jsonl")

    monkeypatch.setattr(midi_commands, "run_inspect", writes_a_log)
    one_error(capsys, main(["inspect", "x.mid"]), words)


@pytest.mark.parametrize("name, words", HANG_CASES, ids=[n for n, _ in HANG_CASES])
def test_eval_refuses_what_the_limits_refuse(tmp_path, out_dir, song_mid, capsys, name, words):
    # Before the limits, eval of these files asked numpy for 3 GB to 2 TiB (bars x bars).
    from reliability_fixtures import HANG_FILES
    songs = tmp_path / "songs"
    songs.mkdir()
    src = songs / "crafted.mid"
    src.write_bytes(HANG_FILES[name]())
    rc = main(["eval", str(songs), "--reference", str(song_mid), "--json", str(out_dir / "e.json")])
    one_error(capsys, rc, f"{src} {words}", "composer eval measures at most")
    assert list(out_dir.iterdir()) == []


def test_export_refuses_more_tracks_than_it_writes(tmp_path, out_dir, capsys):
    from reliability_fixtures import many_tracks_midi
    src = tmp_path / "tracks.mid"
    src.write_bytes(many_tracks_midi(257))
    for argv in (["export", str(src), "-o", str(out_dir / "o.musicxml")], ["plot", str(src), "-o", str(out_dir / "o.png")]):
        one_error(capsys, main(argv), f"{src} has 257 tracks;", "at most 256")
    assert list(out_dir.iterdir()) == []


def test_app_refuses_what_export_and_plot_refuse(tmp_path):
    pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")
    from reliability_fixtures import HANG_FILES
    from test_pipeline import tiny_composer

    from composer.app.actions import open_midi
    from composer.app.inputs import user_message
    from composer.app.session import AppContext, Session
    ctx = AppContext(tiny_composer(), tmp_path / "out", ())
    session = Session(ctx.out_root)
    upload = tmp_path / "sections.mid"
    upload.write_bytes(HANG_FILES["20,000 sections on one tick"]())   # 2 s of music: render takes it
    with pytest.raises(ComposerError) as err:
        open_midi(ctx, session, str(upload))
    assert user_message(err.value, tmp_path) == "sections.mid has 20,000 sections; the app draws at most 1,024"
    assert user_message(ComposerError("bad\x1b[31mname.mid\nis odd"), tmp_path) == "bad\\x1b[31mname.mid\\nis odd"


def test_output_lines_escape_names_too(tmp_path, song_mid, capsys):
    weird = tmp_path / "two\nlines\x1b[2J.mid"
    assert main(["convert", str(song_mid), str(weird)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "two\\nlines\\x1b[2J.mid" in out
    assert main(["inspect", str(weird)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.splitlines()[0].startswith(f"{tmp_path}/two\\nlines\\x1b[2J.mid: ")


def test_the_normaliser_spill_file_under_a_file_size_limit(tmp_path):
    # A long render spills its float32 blocks to a temporary file first: that write fails
    # first, and is the same one line, with nothing left.  (A subprocess: RLIMIT_FSIZE.)
    import subprocess
    import sys
    code = ("import resource, sys, numpy as np\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))\n"
            "from composer.errors import ComposerError\n"
            "from composer.io.audio import write_normalised_blocks\n"
            "blocks = (np.full((4096, 2), 0.1, np.float32) for _ in range(40))\n"
            "try:\n"
            "    write_normalised_blocks(sys.argv[1], blocks, 44100, memory_limit_mb=0.01)\n"
            "except ComposerError as err:\n"
            "    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.wav")], capture_output=True, text=True)
    assert done.stdout.strip() == (f"the file-size limit (ulimit -f, 50,000 bytes) was reached while writing "
                                   f"{tmp_path / 'x.wav'}; nothing was written there"), done.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- issue 25: the app's API
@pytest.mark.slow
def test_crafted_uploads_through_the_apps_api_get_one_line_and_no_traceback(tmp_path):
    # The files that hung `export` and `plot`, a truncated file and a text file, uploaded to the
    # running app through its named API (as a script or another program would): each is
    # refused with the app's one-line message, and the server logs no traceback.
    gradio_client = pytest.importorskip("gradio_client")
    import reliability_fixtures as crafted
    from app_server import running_app
    files = {"huge_note": crafted.huge_note_midi(), "far_chord": crafted.far_chord_midi(),
             "many_sections": crafted.many_sections_midi(), "huge_section": crafted.huge_section_midi(),
             "fast_tempos": crafted.fast_tempos_midi(), "tiny_meter": crafted.tiny_meter_midi(),
             "note_at_2_31": crafted.note_at_tick_midi(2 ** 31), "truncated": drums_midi()[:30],
             "not_midi": b"hello world"}
    with running_app(tmp_path / "app") as app:
        client = gradio_client.Client(app.url, verbose=False, download_files=str(tmp_path / "dl"))
        for name, data in files.items():
            path = tmp_path / f"{name}.mid"
            path.write_bytes(data)
            with pytest.raises(Exception) as caught:
                client.predict(midi=gradio_client.handle_file(str(path)), api_name="/render")
            message = str(caught.value)
            assert "\n" not in message.strip() and "Traceback" not in message, (name, message)
            assert re.search(r"lasts|sections|truncated|not a MIDI file", message), (name, message)
        assert "Traceback" not in app.log()
