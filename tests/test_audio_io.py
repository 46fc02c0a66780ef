"""Audio files: formats, round trips, loudness normalisation, atomic writes."""
from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soundfile

from composer.errors import AudioError, ComposerError
from composer.io.audio import audio_format, read_audio, write_audio, write_normalised_blocks
from composer.mastering import (LIMITER_MAX_REDUCTION_DB, GainPlan, LoudnessMeter, integrated_loudness,
                                normalisation_gain, normalise, plan_gain)
from composer.audio import Audio

SR = 44100


def tone(seconds=2.0, hz=440.0, amp=0.1, sr=SR) -> Audio:
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * hz * t)
    return Audio(np.stack([x, 0.5 * x], axis=1).astype(np.float32), sr)


@pytest.mark.parametrize("name,bits,subtype,tol", [
    ("a.wav", 16, "PCM_16", 1 / 32768), ("a.wav", 24, "PCM_24", 1 / 2 ** 23),
    ("a.flac", 16, "PCM_16", 1 / 32768), ("a.flac", 24, "PCM_24", 1 / 2 ** 23)])
def test_round_trip(tmp_path, name, bits, subtype, tol):
    audio = tone()
    path = write_audio(tmp_path / name, audio, bit_depth=bits)
    info = soundfile.info(str(path))
    assert info.subtype == subtype and info.samplerate == SR and info.channels == 2
    back = read_audio(path)
    assert back.samples.shape == audio.samples.shape
    assert np.abs(back.samples - audio.samples).max() <= tol


def test_mp3_where_supported(tmp_path):
    try:
        audio_format("x.mp3")
    except AudioError as err:
        pytest.skip(str(err))
    audio = tone(seconds=3.0)
    path = write_audio(tmp_path / "a.mp3", audio)
    back = read_audio(path)
    assert back.sample_rate == SR
    # MP3 pads the start with encoder delay; the length is close and the level survives.
    assert abs(back.n_samples - audio.n_samples) < SR // 10
    assert np.sqrt((back.samples ** 2).mean()) == pytest.approx(np.sqrt((audio.samples ** 2).mean()), rel=0.1)


def test_bad_names_and_depths(tmp_path):
    with pytest.raises(AudioError, match=r"\.wav, \.flac or \.mp3"):
        write_audio(tmp_path / "a.ogx", tone())
    with pytest.raises(AudioError, match="16 or 24"):
        audio_format("a.wav", bit_depth=32)
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="cannot read"):
        read_audio(tmp_path / "junk.wav")


def test_refuses_to_overwrite(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone())
    with pytest.raises(ComposerError, match="--force"):
        write_audio(path, tone(amp=0.2))
    write_audio(path, tone(amp=0.2), force=True)
    assert read_audio(path).samples.max() > 0.15


def test_read_resamples_and_mixes_down(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(hz=1000.0), bit_depth=24)
    back = read_audio(path, sample_rate=16000, mono=True)
    assert back.sample_rate == 16000 and back.n_channels == 1
    assert back.n_samples == 2 * 16000
    spectrum = np.abs(np.fft.rfft(back.samples[:, 0]))
    assert np.argmax(spectrum) * 16000 / back.n_samples == pytest.approx(1000.0, abs=1.0)


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("seconds", [0.3, 0.41, 0.7, 3.05])
def test_streaming_meter_equals_pyloudnorm(sr, seconds):
    rng = np.random.default_rng(1)
    n = int(seconds * sr)
    x = rng.standard_normal((n, 2)) * np.linspace(1e-4, 0.3, n)[:, None]
    expected = integrated_loudness(Audio(x, sr))
    # Odd chunks, and chunks that end exactly on the meter's 100 ms steps.
    for chunk in (5003, sr // 10, sr // 20):
        meter = LoudnessMeter(sr, 2)
        for start in range(0, n, chunk):
            meter.add(x[start:start + chunk])
        if np.isinf(expected):
            assert np.isinf(meter.lufs)
        else:
            assert meter.lufs == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(x), abs=1e-4)
        assert meter.peak == pytest.approx(np.abs(x).max())


def test_normalise_reaches_the_target():
    out = normalise(tone(amp=0.01), -14.0)
    assert integrated_loudness(out) == pytest.approx(-14.0, abs=0.05)
    assert np.abs(out.samples).max() < 10 ** (-1 / 20)


def clicks(level=0.1, seconds=3.0) -> Audio:
    """Quiet noise with sparse loud clicks: -14 LUFS would need peaks far above full scale."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((int(SR * seconds), 2)) * 0.01).astype(np.float32)
    x[::SR // 4] = level
    return Audio(x, SR)


def test_limiter_reaches_the_target_without_clipping():
    audio = clicks()
    out = normalise(audio, -14.0)
    ceiling = 10 ** (-1 / 20)
    assert np.abs(out.samples).max() <= ceiling * (1 + 1e-6)
    assert integrated_loudness(out) == pytest.approx(-14.0, abs=0.1)
    # Away from the clicks the sound is only scaled: the limiter acts near peaks alone.
    meter = LoudnessMeter(SR, 2)
    meter.add(audio.samples)
    plan = plan_gain(meter, -14.0)
    assert 0 < plan.max_reduction_db <= LIMITER_MAX_REDUCTION_DB
    gains = plan.gains(0, audio.n_samples)
    quiet = slice(SR // 8 - 100, SR // 8 + 100)  # halfway between two clicks
    assert np.allclose(gains[quiet], 10 ** (plan.base_db / 20), rtol=1e-5)


def test_peak_scaling_never_clips():
    audio = clicks()
    out = normalise(audio, -14.0, limit=False)
    assert np.abs(out.samples).max() == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    assert integrated_loudness(out) < -14.5  # quieter than the target rather than clipped
    # A limiter deeper than its maximum falls back to scaling the whole song down.
    spiky = normalise(clicks(level=0.9, seconds=2.0), -5.0)
    assert np.abs(spiky.samples).max() <= 10 ** (-1 / 20) * (1 + 1e-6)
    # Silence stays silence.
    assert normalisation_gain(float("-inf"), 0.0) == 1.0
    assert not np.any(normalise(Audio(np.zeros((SR, 2)), SR)).samples)


def test_limiter_out_of_its_depth_still_never_passes_the_ceiling():
    # Regression: clicks so dense that the limited loudness rises slowly with the gain; the
    # gain search used to stop with a base gain raised past its limiter envelope (0.9 dB over).
    for level, noise, target, ceiling_db in [(0.12, 0.01, -14.0, -1.0), (0.5, 0.08, -8.0, -1.0),
                                             (0.12, 0.03, -8.0, -3.0)]:
        rng = np.random.default_rng(3)
        x = (rng.standard_normal((2 * SR, 2)) * noise).astype(np.float32)
        x[::3129] = level
        meter = LoudnessMeter(SR, 2)
        meter.add(x)
        plan = plan_gain(meter, target, ceiling_db)
        y = x * plan.gains(0, len(x))[:, None]                     # before any clipping
        assert np.abs(y).max() <= 10 ** (ceiling_db / 20) * (1 + 1e-6)
        assert plan.max_reduction_db <= LIMITER_MAX_REDUCTION_DB + 1e-9
        # It reaches the target, or stops short of it (quieter) with the limiter at its depth.
        lufs = integrated_loudness(Audio(y, SR))
        assert lufs <= target + 0.1
        if lufs < target - 0.1:
            assert plan.max_reduction_db == pytest.approx(LIMITER_MAX_REDUCTION_DB)


def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(SR) / SR
    sine = np.repeat((0.3 * np.sin(2 * np.pi * 220 * t))[:, None], 2, axis=1)
    burst = sine.copy()
    burst[SR // 2:SR // 2 + 40] *= 3.0                            # one short loud burst
    decaying = rng.standard_normal((SR, 2)) * np.exp(-6 * t)[:, None] * 0.2
    decaying[rng.integers(0, SR, 30)] = 0.95                      # scattered full-scale clicks
    short = 0.99 * sine[:SR // 4] / 0.3                           # too short to measure: -inf LUFS
    return {name: a.astype(np.float32) for name, a in
            dict(sine=sine, burst=burst, decaying=decaying, short=short).items()}


@pytest.mark.parametrize("ceiling_db", [0.0, -0.1, -1.0, -3.0])
@pytest.mark.parametrize("target", [-23.0, -14.0, -6.0, 0.0])
@pytest.mark.parametrize("limit", [True, False])
def test_normalisation_never_passes_the_ceiling(tmp_path, ceiling_db, target, limit):
    ceiling = 10 ** (ceiling_db / 20)
    for name, x in signals().items():
        meter = LoudnessMeter(SR, 2)
        meter.add(x)
        plan = plan_gain(meter, target, ceiling_db, limit)
        planned = np.abs(x * plan.gains(0, len(x))[:, None]).max()
        assert planned <= ceiling * (1 + 1e-6), f"{name}: {20 * np.log10(planned):.2f} dBFS"
        # The written file, in odd blocks: under the ceiling but for the 24-bit rounding.
        blocks = (x[i:i + 3001] for i in range(0, len(x), 3001))
        report = write_normalised_blocks(tmp_path / f"{name}.wav", blocks, SR, 2, target_lufs=target,
                                         ceiling_dbfs=ceiling_db, limit=limit, bit_depth=24, force=True)
        written = np.abs(read_audio(report.path).samples).max()
        assert report.peak_after <= ceiling * (1 + 1e-6) and written <= ceiling + 2 ** -23, name
        assert written <= 1.0


def test_unmeasurable_loudness_is_only_turned_down_to_the_ceiling():
    x = signals()["short"]                                        # 0.25 s: no 400 ms loudness block
    assert np.isinf(integrated_loudness(Audio(x, SR)))
    out = normalise(Audio(x, SR), -14.0)
    assert np.abs(out.samples).max() == pytest.approx(10 ** (-1 / 20), rel=1e-5)  # was 0.99
    quiet = x * np.float32(0.5)                                   # peak under the ceiling: unchanged
    np.testing.assert_array_equal(normalise(Audio(quiet, SR), -14.0).samples, quiet)


def test_gain_plan_interpolates_under_the_ceiling():
    plan = GainPlan(2.0, np.array([0.0, -6.0, -6.0, 0.0]))
    g = plan.gains(0, 4 * 32).astype(np.float64)
    top, low = 10 ** (2 / 20), 10 ** (-4 / 20)
    assert g[0] == pytest.approx(top, rel=1e-5) and g[32] == pytest.approx(low, rel=1e-5)
    assert g[16] == pytest.approx((top + low) / 2, rel=1e-5)  # halfway down the first frame, linearly
    assert np.all(g[32:65] <= low * (1 + 1e-6))  # the limited frame stays limited throughout
    assert np.allclose(g[96:], top, rtol=1e-5)  # past the plan: the last gain
    assert GainPlan.constant(-3.0).max_reduction_db == 0.0


def test_write_normalised_blocks(tmp_path):
    audio = tone(seconds=5.0, amp=0.02)
    blocks = (audio.samples[i:i + 4096] for i in range(0, audio.n_samples, 4096))
    report = write_normalised_blocks(tmp_path / "a.flac", blocks, SR, 2, target_lufs=-14.0, bit_depth=24)
    back = read_audio(report.path)
    assert back.n_samples == audio.n_samples == report.n_samples
    assert integrated_loudness(back) == pytest.approx(-14.0, abs=0.05)
    assert report.lufs_after == pytest.approx(integrated_loudness(back), abs=0.01)
    clicky = write_normalised_blocks(tmp_path / "c.wav", [clicks().samples], SR, 2)
    assert clicky.plan.max_reduction_db > 0
    assert clicky.lufs_after == pytest.approx(integrated_loudness(read_audio(clicky.path)), abs=0.1)
    assert report.plan.max_reduction_db == 0.0  # a sine needs no limiting
    assert report.peak_after == pytest.approx(np.abs(back.samples).max(), abs=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "c.wav"]  # no temporary left behind
    unscaled = write_normalised_blocks(tmp_path / "b.wav", [audio.samples], SR, 2, target_lufs=None)
    assert unscaled.plan.base_db == 0.0
    assert np.abs(read_audio(unscaled.path).samples - audio.samples).max() <= 1 / 32768


def test_no_half_written_file(tmp_path):
    def failing():
        yield np.zeros((4096, 2), np.float32)
        raise ComposerError("render failed half-way")

    with pytest.raises(ComposerError, match="half-way"):
        write_normalised_blocks(tmp_path / "a.wav", failing(), SR, 2)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ComposerError, match="half-way"):  # after spilling to a temporary file
        write_normalised_blocks(tmp_path / "a.wav", failing(), SR, 2, memory_limit_mb=0.01)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(AudioError):
        write_audio(tmp_path / "b.mp4", tone())
    assert list(tmp_path.iterdir()) == []


def test_long_streams_spill_to_disk_and_match(tmp_path):
    # A memory limit far below the signal: the blocks go through a temporary file, and the
    # result is identical to the in-memory path.
    audio = clicks(seconds=4.0)  # with limiting, so the envelope crosses the spill too
    blocks = [audio.samples[i:i + 10000] for i in range(0, audio.n_samples, 10000)]
    small = write_normalised_blocks(tmp_path / "disk.wav", iter(blocks), SR, 2, memory_limit_mb=0.1)
    big = write_normalised_blocks(tmp_path / "mem.wav", iter(blocks), SR, 2)
    assert small.plan.base_db == big.plan.base_db
    np.testing.assert_array_equal(read_audio(small.path).samples, read_audio(big.path).samples)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.wav", "mem.wav"]
