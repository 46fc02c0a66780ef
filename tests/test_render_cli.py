"""``composer render`` end to end, per-track timbres and the mixer."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from composer.cli import main
from composer.errors import RenderError
from composer.io.audio import read_audio
from composer.mastering import integrated_loudness
from composer.audio import Audio
from composer.render.mix import (UNBALANCED, Mixer, TimbreOption, TrackTimbre, mix_audio, parse_program_options,
                                 parse_timbre, parse_timbre_options, resolve_timbres)
from composer.io import midi
from composer.score import ControlChange, Note, Score, TempoChange, Track

pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")

SR = 44100
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def small_song() -> Score:
    melody = Track("Melody", program=73, notes=tuple(Note(i * 480, 400, 72 + i % 5, 100) for i in range(8)))
    piano = Track("Piano", program=0, notes=tuple(Note(i * 960, 900, p, 70) for i in range(4) for p in (48, 55, 64)),
                  controls=(ControlChange(0, 64, 127), ControlChange(3800, 64, 0)))
    drums = Track("Drums", is_drum=True, notes=tuple(Note(i * 240, 60, 36 if i % 2 == 0 else 42, 100)
                                                     for i in range(16)))
    return Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=(melody, piano, drums))


@pytest.fixture()
def song_mid(tmp_path) -> Path:
    path = tmp_path / "song.mid"
    midi.write_midi(small_song(), path)
    return path


# ---------------------------------------------------------------------- timbre specs
def test_parse_timbres():
    assert parse_timbre("sf:73") == TrackTimbre("sf", "73")
    assert parse_timbre("ddsp:flute") == TrackTimbre("ddsp", "flute")
    assert parse_timbre("40") == TrackTimbre("sf", "40")
    assert parse_timbre_options(["Melody=sf:73", "0=ddsp:flute"]) == (
        TimbreOption("Melody", TrackTimbre("sf", "73")), TimbreOption("0", TrackTimbre("ddsp", "flute")))
    assert parse_program_options(["Piano=5"]) == (TimbreOption("Piano", TrackTimbre("sf", "5")),)
    for bad in ["Melody", "Melody=", "Melody=sf:200", "Melody=sf:x", "Melody=vst:foo", "=sf:1", "M=ddsp:"]:
        with pytest.raises(RenderError):
            parse_timbre_options([bad])
    with pytest.raises(RenderError, match="TRACK=N"):
        parse_program_options(["Piano=sf:5"])


def test_resolve_timbres():
    score = small_song()
    assert resolve_timbres(score) == (TrackTimbre("sf", "73"), TrackTimbre("sf", "0"), TrackTimbre("sf", "0"))
    got = resolve_timbres(score, parse_timbre_options(["Piano=sf:5", "0=ddsp:flute", "Piano=sf:6"]))
    assert got == (TrackTimbre("ddsp", "flute"), TrackTimbre("sf", "6"), TrackTimbre("sf", "0"))
    with pytest.raises(RenderError, match="no track 'Bass'.*0='Melody'"):
        resolve_timbres(score, parse_timbre_options(["Bass=sf:33"]))
    with pytest.raises(RenderError, match="no track '7'"):
        resolve_timbres(score, parse_timbre_options(["7=sf:33"]))
    # A two-handed part is named without the hand; an exact track name still wins.
    hands = Score(tracks=(Track("Melody", 73), Track("Piano RH"), Track("Piano LH"), Track("Bass", 33)))
    got = resolve_timbres(hands, parse_timbre_options(["Piano=sf:5", "Piano LH=sf:6"]))
    assert got == (TrackTimbre("sf", "73"), TrackTimbre("sf", "5"), TrackTimbre("sf", "6"), TrackTimbre("sf", "33"))


class ConstantRenderer:
    """A test renderer: a DC level per note-second, to check the mixer's dispatch exactly."""

    def __init__(self, level: float) -> None:
        self.level = level
        self.seen: list[tuple[str, ...]] = []

    def render(self, score: Score, sample_rate: int) -> Audio:
        self.seen.append(tuple(t.name for t in score.tracks))
        return Audio(np.full((sample_rate, 2), self.level, np.float32), sample_rate)


@pytest.mark.slow
def test_mixer_dispatches_per_kind():
    score = small_song()
    made: dict[str, ConstantRenderer] = {}

    def factory(name: str) -> ConstantRenderer:
        made[name] = ConstantRenderer(0.25)
        return made[name]

    mixer = Mixer(factories={"ddsp": factory})
    timbres = resolve_timbres(score, parse_timbre_options(["Melody=ddsp:flute"]))
    audio = mixer.render(score, SR, timbres, UNBALANCED)  # each renderer's own level, to check dispatch
    assert made["flute"].seen == [("Melody",)]
    sf_only = mixer.soundfont.render(score.replace(tracks=score.tracks[1:]), SR)
    n = sf_only.n_samples
    # Each SoundFont track plays on its own synthesiser now: only FluidSynth's dither (an
    # int16 step, 3e-5, per synthesiser) differs from the two tracks rendered together.
    np.testing.assert_allclose(audio.samples[:SR], sf_only.samples[:SR] + 0.25, atol=2e-4)
    assert audio.n_samples == max(n, SR)
    # The shipped factories refuse a DDSP timbre that does not exist, in one line.
    missing = resolve_timbres(score, parse_timbre_options(["Melody=ddsp:no_such_timbre"]))
    with pytest.raises(RenderError, match="no_such_timbre"):
        Mixer().render(score, SR, missing)


def test_mix_audio_pads_and_spreads_mono():
    out = mix_audio([Audio(np.ones((3, 1)), SR), Audio(np.ones((5, 2)), SR)], SR)
    assert out.samples.tolist() == [[2, 2]] * 3 + [[1, 1]] * 2
    with pytest.raises(RenderError, match="48000"):
        mix_audio([Audio(np.ones((3, 2)), 48000)], SR)


def test_stems_add_up_to_the_mix():
    score = small_song()
    mixer = Mixer()
    stems = mixer.render_stems(score, SR)
    assert [s.track_name for s in stems] == ["Melody", "Piano", "Drums"]
    assert len({s.audio.n_samples for s in stems}) == 1
    for stem in stems:
        assert np.sqrt((stem.audio.samples ** 2).mean()) > 1e-3, f"{stem.track_name} is silent"
    total = sum(s.audio.samples for s in stems)
    whole = mixer.render(score, SR).samples
    # The mix is the stems' sum: each track is rendered alone in both, with the same gain.
    assert len(total) == len(whole)
    np.testing.assert_allclose(total, whole, atol=1e-6)


# ---------------------------------------------------------------------- the command
def test_render_command(tmp_path, song_mid, capsys):
    out = tmp_path / "song.wav"
    assert main(["render", str(song_mid), "-o", str(out)]) == 0
    audio = read_audio(out)
    assert audio.sample_rate == SR and audio.n_channels == 2
    assert integrated_loudness(audio) == pytest.approx(-14.0, abs=0.3)
    assert np.abs(audio.samples).max() <= 10 ** (-1 / 20) + 1e-4
    assert audio.duration_seconds > small_song().duration_seconds  # the tail is kept
    assert "wrote" in capsys.readouterr().out
    # Refuses to overwrite without --force.
    assert main(["render", str(song_mid), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_render_options(tmp_path, song_mid):
    out = tmp_path / "song.flac"
    stems = tmp_path / "stems"
    code = main(["render", str(song_mid), "-o", str(out), "--sample-rate", "48000", "--loudness", "-20",
                 "--program", "Melody=56", "--timbre", "1=sf:40", "--stems", str(stems), "--bit-depth", "24"])
    assert code == 0
    audio = read_audio(out)
    assert audio.sample_rate == 48000
    assert integrated_loudness(audio) == pytest.approx(-20.0, abs=0.3)
    files = sorted(p.name for p in stems.iterdir())
    assert files == ["00_Melody.flac", "01_Piano.flac", "02_Drums.flac"]
    for name in files:
        stem = read_audio(stems / name)
        assert stem.sample_rate == 48000 and np.abs(stem.samples).max() > 1e-3


def test_program_option_changes_the_sound(tmp_path, song_mid):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    assert main(["render", str(song_mid), "-o", str(a), "--no-normalise"]) == 0
    assert main(["render", str(song_mid), "-o", str(b), "--no-normalise", "--program", "Melody=56"]) == 0
    x, y = read_audio(a).samples, read_audio(b).samples
    n = min(len(x), len(y))
    assert np.sqrt(((x[:n] - y[:n]) ** 2).mean()) > 0.1 * np.sqrt((x[:n] ** 2).mean())


@pytest.mark.parametrize("args,message", [
    (["--soundfont", "missing.sf2"], "not found"),
    (["--gain", "Melody=loud"], "'loud' is not a number of dB"),
    (["--gain", "Melody=99"], "the gain must be -60 to +24 dB"),
    (["--gain", "Bass=-3"], "no track 'Bass' in this song"),
    (["--program", "Bass=3"], "no track 'Bass'"),
    (["--timbre", "Melody=ddsp:no_such_timbre"], "no_such_timbre"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, song_mid, capsys, args, message):
    out = tmp_path / "out.wav"
    assert main(["render", str(song_mid), "-o", str(out)] + args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_bad_files(tmp_path, song_mid, capsys):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"this is not a soundfont")
    assert main(["render", str(song_mid), "-o", str(tmp_path / "o.wav"), "--soundfont", str(fake)]) == 2
    err = capsys.readouterr().err
    assert "not a SoundFont" in err and err.count("\n") == 1
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00\x90")
    assert main(["render", str(corrupt), "-o", str(tmp_path / "o.wav")]) == 2
    assert "corrupt.mid" in capsys.readouterr().err
    assert main(["render", str(song_mid), "-o", str(tmp_path / "o.ogx")]) == 2
    assert ".wav, .flac or .mp3" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists() and not (tmp_path / "o.ogx").exists()


def test_failing_render_leaves_no_audio_file(tmp_path, song_mid, capfd):
    # A SoundFont with the right header and a broken body passes the cheap checks and fails
    # inside FluidSynth, mid-command: one line, and neither the output nor a temporary remains.
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00sfbkLIST\x04\x00\x00\x00INFO")
    out = tmp_path / "out.wav"
    assert main(["render", str(song_mid), "-o", str(out), "--soundfont", str(broken)]) == 2
    err = capfd.readouterr().err  # at the file descriptor: FluidSynth's and GLib's own logs too
    assert err.startswith("composer: error:") and "could not load" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sf2", "song.mid"]
    # The same when it fails half-way, after audio has been produced: the old file stays as it was.
    out.write_bytes(b"old")

    def failing(self, score, rate, timbres=None, levels=None):
        yield np.zeros((4096, 2), np.float32)
        raise RenderError("synthesiser crashed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Mixer, "render_blocks", failing)
        assert main(["render", str(song_mid), "-o", str(out), "--force"]) == 2
    assert "synthesiser crashed" in capfd.readouterr().err
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sf2", "out.wav", "song.mid"]


# ---------------------------------------------------------------------- real files
def _audible_tracks(path: Path) -> tuple[list[str], list[float]]:
    score = midi.read_midi(path)
    # The first 20 s keep the test short; every track of these files plays by then.
    end = score.seconds_to_tick(20.0)
    tracks = tuple(replace(t, notes=tuple(n for n in t.notes if n.start_tick < end)) for t in score.tracks)
    score = score.replace(tracks=tuple(t for t in tracks if t.notes))
    stems = Mixer().render_stems(score, SR)
    return [s.track_name for s in stems], [float(np.sqrt((s.audio.samples ** 2).mean())) for s in stems]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("pattern", ["POP909-Dataset/POP909/001/001.mid", "groove/drummer1/*/*.mid"])
def test_real_files_every_track_audible(pattern):
    files = sorted(DATA.glob(pattern))
    if not files:
        pytest.skip(f"{DATA / pattern} not present")
    names, rms = _audible_tracks(files[0])
    assert names
    for name, level in zip(names, rms):
        assert level > 1e-3, f"track {name} of {files[0].name} is silent (rms {level:.2e})"


def test_gain_option_mutes_a_track_and_the_stems_add_up_to_the_mix(tmp_path, song_mid):
    out, stems = tmp_path / "mix.wav", tmp_path / "stems"
    assert main(["render", str(song_mid), "-o", str(out), "--gain", "Drums=mute", "--gain", "Piano=-6",
                 "--stems", str(stems)]) == 0
    parts = [read_audio(stems / f"{name}.wav").samples for name in ("00_Melody", "01_Piano", "02_Drums")]
    assert not parts[2].any() and np.abs(parts[0]).max() > 1e-3
    mix = read_audio(out).samples
    n = min(len(mix), len(parts[0]))
    # 16-bit files: each stem and the mix are rounded to a step of 3e-5 on their own.
    np.testing.assert_allclose(sum(p[:n] for p in parts), mix[:n], atol=2e-4)
