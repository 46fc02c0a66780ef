"""The one stems writer (composer/render/stems.py) of `composer render --stems` and the app."""
import numpy as np
import pytest

from composer.audio import Audio
from composer.io.audio import read_audio
from composer.mastering import DEFAULT_CEILING_DBFS, GainPlan
from composer.render.mix import Stem, TrackTimbre
from composer.render.stems import stem_names, write_stems

SR = 8000


def test_stem_names_and_files_the_mix_gain_and_the_ceiling(tmp_path):
    names = ["Melody", "Piano RH", "Lead (flute)", "()", "Piano RH", "é" * 60]
    assert stem_names(names) == ["00_Melody", "01_Piano_RH", "02_Lead_flute", "03_track", "04_Piano_RH",
                                 "05_" + "é" * 48]  # 96 bytes of UTF-8
    t = np.arange(SR, dtype=np.float32) / SR
    quiet = np.stack([0.2 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32)
    loud = np.stack([0.9 * np.sin(2 * np.pi * 330 * t)] * 2, axis=1).astype(np.float32)
    timbre = TrackTimbre("sf", "0")
    stems = [Stem("Melody", timbre, Audio(quiet, SR)), Stem("Bass", timbre, Audio(quiet * 0.5, SR))]
    plan = GainPlan.constant(-3.0)  # the mix's gain: each stem gets it
    mix = (quiet + quiet * 0.5) * np.float32(10 ** (-3 / 20))
    seen = []
    paths = write_stems(stems, plan, tmp_path, ".wav", bit_depth=24, progress=lambda i, n: seen.append((i, n)))
    assert [p.name for p in paths] == ["00_Melody.wav", "01_Bass.wav"] and seen == [(0, 2), (1, 2)]
    total = sum(read_audio(p).samples for p in paths)
    np.testing.assert_allclose(total, mix, atol=1e-6)  # 24-bit steps, 1.2e-7 each
    # A stem that would pass the ceiling alone is turned down alone, to the ceiling exactly.
    ceiling = 10 ** (DEFAULT_CEILING_DBFS / 20)
    written, folder = [], tmp_path / "loud"
    folder.mkdir()
    (path,) = write_stems([Stem("Lead", timbre, Audio(loud, SR))], GainPlan.constant(3.0), folder, ".flac",
                          written=written)
    assert written == [path] and path.name == "00_Lead.flac"
    assert np.abs(read_audio(path).samples).max() == pytest.approx(ceiling, abs=1e-4)
