"""The FluidSynth renderer: pitch, timing, drums, programs, controllers, tails, bad input,
and agreement with the ``fluidsynth`` command line."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from composer.errors import RenderError
from composer.audio import Audio
from composer.render.base import Renderer
from composer.render.soundfont import (DEFAULT_SOUNDFONT, SoundFontRenderer, check_soundfont,
                                       plan_channels, schedule_events)
from composer.score import ControlChange, Note, PitchBend, Score, TempoChange, Track

pytest.importorskip("fluidsynth", reason="libfluidsynth missing: apt-get install fluidsynth")

SR = 44100
FLUTE = 73  # a near-sinusoidal GM program: its fundamental dominates the spectrum


@pytest.fixture(scope="module")
def dry() -> SoundFontRenderer:
    """No reverb or chorus: clean pitch and onset measurements."""
    return SoundFontRenderer(reverb=False, chorus=False)


@pytest.fixture(scope="module")
def wet() -> SoundFontRenderer:
    return SoundFontRenderer()


def one_note(pitch=69, program=FLUTE, start=480, duration=960, velocity=100, drum=False,
             controls=(), bends=(), bpm=120.0) -> Score:
    """One note, by default A4 at 0.5 s for 1 s (120 bpm, 480 ticks per quarter)."""
    track = Track("t", program=program, is_drum=drum, notes=(Note(start, duration, pitch, velocity),),
                  controls=tuple(controls), pitch_bends=tuple(bends))
    return Score(tempos=(TempoChange.from_bpm(0, bpm),), tracks=(track,))


def f0_hz(x: np.ndarray, start_s: float, guess_hz: float, length_s: float = 0.5) -> float:
    """Peak frequency near ``guess_hz`` of a Hann-windowed segment, zero-padded FFT with
    parabolic interpolation on the log magnitude (well under a cent of bias)."""
    seg = x[int(start_s * SR):int((start_s + length_s) * SR)]
    seg = seg * np.hanning(len(seg))
    n = 1 << 20
    mag = np.abs(np.fft.rfft(seg, n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    band = (freqs > guess_hz * 0.94) & (freqs < guess_hz * 1.06)
    k = np.flatnonzero(band)[np.argmax(mag[band])]
    a, b, c = np.log(mag[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n


def cents(hz: float, ref_hz: float) -> float:
    return 1200 * np.log2(hz / ref_hz)


def onset_s(x: np.ndarray, threshold=10 / 32768) -> float:
    """First sample whose |x| reaches ``threshold`` (10 LSB of 16 bits, far above
    FluidSynth's 1-LSB dither), in seconds."""
    return int(np.argmax(np.abs(x) >= threshold)) / SR


def spectrum(x: np.ndarray, n_bands=64) -> np.ndarray:
    """Unit-norm log-spaced band energies 40 Hz..16 kHz of the whole signal."""
    mag = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    edges = np.geomspace(40, 16000, n_bands + 1)
    bands = np.array([mag[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    bands = np.log10(bands + 1e-12)
    bands -= bands.mean()
    return bands / np.linalg.norm(bands)


def harmonics(x: np.ndarray, f0: float, n=10, start_s=0.7, length_s=0.5) -> np.ndarray:
    """Amplitudes of the first ``n`` harmonics of ``f0`` in a steady segment, summing to 1."""
    seg = x[int(start_s * SR):int((start_s + length_s) * SR)]
    mag = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / SR)
    amps = np.array([mag[np.abs(freqs - k * f0) < 0.03 * f0].max() for k in range(1, n + 1)])
    return amps / amps.sum()


def flatness(x: np.ndarray) -> float:
    """Spectral flatness (geometric / arithmetic mean of the power spectrum), 0..1."""
    p = np.abs(np.fft.rfft(x)) ** 2 + 1e-20
    return float(np.exp(np.mean(np.log(p))) / np.mean(p))


def test_is_a_renderer(dry):
    assert isinstance(dry, Renderer)
    audio = dry.render(one_note(), SR)
    assert isinstance(audio, Audio) and audio.sample_rate == SR
    assert audio.samples.dtype == np.float32 and audio.n_channels == 2


@pytest.mark.parametrize("pitch", [57, 69, 76])
def test_one_note_pitch_within_10_cents_and_onset_within_5_ms(dry, pitch):
    x = dry.render(one_note(pitch=pitch), SR).samples.mean(axis=1)
    expected_hz = 440.0 * 2 ** ((pitch - 69) / 12)
    assert abs(cents(f0_hz(x, 0.7, expected_hz), expected_hz)) < 10
    assert abs(onset_s(x) - 0.5) < 0.005


def test_tempo_map_places_notes(dry):
    # 60 bpm for one quarter (1 s), then 240 bpm: tick 960 is at 1 s + 0.25 s.
    track = Track("t", program=FLUTE, notes=(Note(960, 480, 69, 100),))
    score = Score(tempos=(TempoChange.from_bpm(0, 60), TempoChange.from_bpm(480, 240)), tracks=(track,))
    assert score.tick_to_seconds(960) == pytest.approx(1.25)
    x = dry.render(score, SR).samples.mean(axis=1)
    assert abs(onset_s(x) - 1.25) < 0.005


def test_48k(dry):
    x = dry.render(one_note(), 48000).samples.mean(axis=1)
    seg = x[int(0.7 * 48000):int(1.2 * 48000)] * np.hanning(int(0.5 * 48000))
    n = 1 << 20
    mag = np.abs(np.fft.rfft(seg, n))
    k = int(np.argmax(mag))
    assert abs(cents(k * 48000 / n, 440)) < 10
    assert abs(int(np.argmax(np.abs(x) >= 10 / 32768)) / 48000 - 0.5) < 0.005


def test_drum_note_lands_on_the_drum_kit(dry):
    # Snare (38) on a drum track is noise; the same key on a melodic track is a pitched piano D2.
    drum = dry.render(one_note(pitch=38, program=0, drum=True), SR).samples.mean(axis=1)
    piano = dry.render(one_note(pitch=38, program=0, drum=False), SR).samples.mean(axis=1)
    assert np.abs(drum).max() > 0.01
    assert flatness(drum) > 10 * flatness(piano)
    assert float(spectrum(drum) @ spectrum(piano)) < 0.9
    plans = plan_channels((Track("a"), Track("d", is_drum=True), Track("b")))
    assert [(p.channel, p.bank) for p in plans] == [(0, 0), (9, 128), (1, 0)]


def test_program_change_changes_the_instrument(dry):
    flute = dry.render(one_note(program=FLUTE), SR).samples.mean(axis=1)
    trumpet = dry.render(one_note(program=56), SR).samples.mean(axis=1)
    again = dry.render(one_note(program=FLUTE), SR).samples.mean(axis=1)
    # Harmonic profiles: identical for the same program, far apart for flute and trumpet.
    assert np.abs(harmonics(flute, 440) - harmonics(again, 440)).sum() < 1e-3
    assert np.abs(harmonics(flute, 440) - harmonics(trumpet, 440)).sum() > 0.5
    # Same pitch for both: the timbre changed, not the note.
    assert abs(cents(f0_hz(trumpet, 0.7, 440), 440)) < 10


def test_pitch_bend_up_one_semitone(dry):
    # Default bend range is 2 semitones, so +4096 of 8192 is one semitone up.
    x = dry.render(one_note(bends=[PitchBend(0, 4096)]), SR).samples.mean(axis=1)
    assert abs(cents(f0_hz(x, 0.7, 466.16), 440 * 2 ** (1 / 12))) < 10


def test_sustain_pedal_holds_the_note(dry):
    short = dict(program=0, start=0, duration=120)  # piano, released at 0.125 s
    free = dry.render(one_note(**short), SR).samples
    held = dry.render(one_note(controls=[ControlChange(0, 64, 127), ControlChange(1440, 64, 0)], **short),
                      SR).samples
    window = slice(int(0.8 * SR), int(1.2 * SR))  # pedal down until 1.5 s
    assert np.sqrt((held[window] ** 2).mean()) > 10 * np.sqrt((free[window] ** 2).mean())


def test_volume_and_pan_controllers(dry):
    loud = dry.render(one_note(), SR).samples
    quiet = dry.render(one_note(controls=[ControlChange(0, 7, 40)]), SR).samples
    assert np.abs(quiet).max() < 0.3 * np.abs(loud).max()
    left = dry.render(one_note(controls=[ControlChange(0, 10, 0)]), SR).samples
    right = dry.render(one_note(controls=[ControlChange(0, 10, 127)]), SR).samples
    assert np.abs(left[:, 0]).max() > 20 * np.abs(left[:, 1]).max()
    assert np.abs(right[:, 1]).max() > 20 * np.abs(right[:, 0]).max()


def test_controllers_stay_on_their_track(dry):
    # Track a is panned hard left; track b, alone on its own channel, stays centred.
    a = Track("a", program=FLUTE, controls=(ControlChange(0, 10, 0),))
    b = Track("b", program=FLUTE, notes=(Note(480, 960, 69, 100),))
    x = dry.render(Score(tracks=(a, b)), SR).samples
    assert np.abs(x[:, 0]).max() == pytest.approx(np.abs(x[:, 1]).max(), rel=0.05)


def test_release_tail_is_not_cut_and_is_bounded(wet):
    score = one_note(program=0, start=0, duration=480)  # piano released at 0.5 s
    audio = wet.render(score, SR)
    assert audio.duration_seconds > 0.5 + 0.2
    assert audio.duration_seconds <= 0.5 + wet.max_tail_seconds + 0.1
    assert np.abs(audio.samples[-2048:]).max() < 1e-3  # rendered until silent
    capped = SoundFontRenderer(max_tail_seconds=0.05).render(score, SR)
    assert capped.n_samples <= int(0.55 * SR) + 4096


def test_renders_are_independent(wet):
    # A render never depends on the one before it (fresh synthesiser each time).
    first = wet.render(song(), SR).samples
    wet.render(one_note(program=0, controls=[ControlChange(0, 10, 0)]), SR)
    np.testing.assert_array_equal(wet.render(song(), SR).samples, first)


def test_blocks_add_up_to_the_whole():
    score = Score(tracks=(Track("t", program=0, notes=tuple(Note(i * 240, 200, 60 + i, 90) for i in range(12))),))
    whole = SoundFontRenderer().render(score, SR)
    blocks = list(SoundFontRenderer(block_samples=1000).render_blocks(score, SR))
    assert all(len(b) == 1000 for b in blocks[:-1]) and 0 < len(blocks[-1]) <= 1000
    np.testing.assert_array_equal(np.concatenate(blocks), whole.samples)


def test_many_tracks_and_zero_length_notes(dry):
    # 20 melodic tracks (more than one MIDI port's 15 melodic channels) and a zero-length note.
    tracks = tuple(Track(f"t{i}", program=FLUTE, notes=(Note(i * 480, 240, 69, 100),)) for i in range(20))
    tracks += (Track("zero", program=0, notes=(Note(20 * 480, 0, 60, 100),)),)
    score = Score(tempos=(TempoChange.from_bpm(0, 120),), tracks=tracks)
    x = dry.render(score, SR).samples.mean(axis=1)
    for i in range(21):
        seg = x[int((i * 0.5 + 0.02) * SR):int((i * 0.5 + 0.2) * SR)]
        assert np.abs(seg).max() > 0.005, f"track {i} is silent"
    events = schedule_events(score, plan_channels(score.tracks), SR)
    assert np.all(np.diff(events.samples) >= 0)


def test_empty_score(dry):
    audio = dry.render(Score(), SR)
    assert audio.n_channels == 2 and audio.n_samples == 0
    assert dry.render(Score(tracks=(Track("no notes"),)), SR).n_samples == 0


def test_missing_or_bad_soundfont(tmp_path):
    with pytest.raises(RenderError, match="not found"):
        SoundFontRenderer(tmp_path / "nope.sf2")
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    with pytest.raises(RenderError, match="not a SoundFont"):
        SoundFontRenderer(fake)
    assert check_soundfont(DEFAULT_SOUNDFONT) == DEFAULT_SOUNDFONT
    # Right header, broken body: FluidSynth refuses it and we say so in one line.
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00sfbkLIST\x04\x00\x00\x00INFO")
    with pytest.raises(RenderError, match="could not load") as err:
        SoundFontRenderer(broken).render(one_note(), SR)
    assert "\n" not in str(err.value)


def test_missing_libfluidsynth_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # import now raises ImportError
    with pytest.raises(RenderError, match="apt-get install fluidsynth"):
        SoundFontRenderer().render(one_note(), SR)


# ---------------------------------------------------------------------- the reference
def write_midi(path, score: Score) -> None:
    """A type-1 MIDI file of ``score`` (one channel per track as the renderer plans them)."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=score.resolution)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=t.us_per_quarter, time=t.tick)
                           for t in score.tempos])
    mid.tracks.append(meta)
    for track, plan in zip(score.tracks, plan_channels(score.tracks)):
        ch = plan.channel
        ev = [(0, 0, mido.Message("program_change", channel=ch, program=track.program))]
        ev += [(c.tick, 1, mido.Message("control_change", channel=ch, control=c.number, value=c.value))
               for c in track.controls]
        ev += [(n.end_tick, 2, mido.Message("note_off", channel=ch, note=n.pitch)) for n in track.notes]
        ev += [(n.start_tick, 3, mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity))
               for n in track.notes]
        ev.sort(key=lambda e: e[:2])
        out, last = mido.MidiTrack(), 0
        for tick, _, msg in ev:
            out.append(msg.copy(time=tick - last))
            last = tick
        mid.tracks.append(out)
    # Fix the meta track's delta times (absolute ticks above).
    last = 0
    for msg in meta:
        msg.time, last = msg.time - last, msg.time
    mid.save(path)


def song() -> Score:
    """Four tracks, 8 s, with a tempo change: melody, bass, chords with pedal, drums."""
    melody = Track("melody", program=FLUTE, notes=tuple(
        Note(i * 240, 220, [72, 74, 76, 79][i % 4], 100) for i in range(32)))
    bass = Track("bass", program=33, notes=tuple(Note(i * 480, 440, [36, 43][i % 2], 110) for i in range(16)))
    chords = Track("chords", program=0, notes=tuple(
        Note(i * 960, 900, p, 70) for i in range(8) for p in (60, 64, 67)),
        controls=(ControlChange(0, 7, 90), ControlChange(0, 10, 40)))
    drums = Track("drums", is_drum=True, notes=tuple(
        Note(i * 240, 60, [36, 42, 38, 42][i % 4], 100) for i in range(32)))
    return Score(tempos=(TempoChange.from_bpm(0, 120), TempoChange.from_bpm(3840, 100)),
                 tracks=(melody, bass, chords, drums))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="no fluidsynth command line")
def test_matches_the_fluidsynth_command_line(tmp_path, wet):
    import soundfile

    score = song()
    write_midi(tmp_path / "song.mid", score)
    subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(tmp_path / "ref.wav"), "-r", str(SR),
                    str(DEFAULT_SOUNDFONT), str(tmp_path / "song.mid")], check=True, capture_output=True)
    ref, rate = soundfile.read(tmp_path / "ref.wav", dtype="float32", always_2d=True)
    assert rate == SR
    ours = wet.render(score, SR).samples
    n = min(len(ref), len(ours))
    x, y = ours[:n].mean(axis=1), ref[:n].mean(axis=1)
    corr = np.fft.irfft(np.fft.rfft(x, 2 * n) * np.conj(np.fft.rfft(y, 2 * n)))
    lag = int(np.argmax(np.concatenate([corr[-n + 1:], corr[:n]]))) - (n - 1)  # >0: ours later
    # FluidSynth applies events on its 64-sample block grid.  Its MIDI file player starts one
    # block late (its first timer call only records the start time), so the command line's
    # onsets trail ours by exactly one block, 64 samples = 1.45 ms; we schedule on the grid
    # point nearest after the true time.  Anything else would be a real timing difference.
    assert -64 <= lag <= 0
    shifted = ref[-lag:n, :] if lag else ref[:n]
    ours_aligned = ours[: len(shifted)]
    match = float(np.sum(ours_aligned * shifted) / np.sqrt(np.sum(ours_aligned ** 2) * np.sum(shifted ** 2)))
    assert match > 0.999  # the same waveform, sample for sample, not just the same spectrum
    assert float(spectrum(x) @ spectrum(y)) > 0.99
