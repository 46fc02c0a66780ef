"""The shipped models' seeded output, pinned: a short song composed with models/ and a fixed
seed must give the same MIDI bytes, byte for byte.

Refactors claim "seeded MIDI bytes unchanged"; this is the test that holds them to it.  A
deliberate change of a model or of sampling changes the bytes: then update PINNED with the
hashes this file prints (`.venv/bin/python tests/test_shipped_models.py`), and say in the commit
why the song changed.  The bytes were the same with 1 and 2 torch threads and with torch's
kernels held to AVX2 (ATEN_CPU_CAPABILITY=avx2, DNNL_MAX_CPU_ISA=AVX2) as with AVX-512.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from composer.io.midi import midi_bytes
from composer.pipeline import Composer

MODELS = Path(__file__).resolve().parents[1] / "models"
# 12 bars, so every level runs (the form level on the given form and key, chords, the melody
# where A and B sing, accompaniment, bass, drums) and each song takes about a second on a CPU
SONG = dict(form="i2A4B4o2", key="C major", tempo=100, seed=1)

PINNED = {  # drums on / off -> sha256 of the song's MIDI bytes
    True: "e52c34c319f36a25f9527dbb99fed0bb79182493e23def18d7de514ef7bbba9c",
    False: "0cc36863350bf3f3244355450a051275fb8af62844b741493471acbf7cb9eeb4",
}


def song_hashes(models: Path = MODELS) -> dict[bool, tuple[str, str]]:
    """drums on / off -> (sha256 of the MIDI bytes, the tracks' note counts, to say what moved)."""
    composer = Composer.from_pretrained(models)   # this checkout's models, whatever $COMPOSER_MODELS says
    out = {}
    for drums in PINNED:
        score = composer.compose(**SONG, drums=drums)
        counts = ", ".join(f"{t.name} {len(t.notes)}" for t in score.tracks)
        out[drums] = (hashlib.sha256(midi_bytes(score)).hexdigest(), counts)
    return out


@pytest.fixture(scope="module")
def hashes():
    return song_hashes()


@pytest.mark.parametrize("drums", sorted(PINNED))
def test_the_shipped_models_seeded_song_is_pinned(hashes, drums):
    digest, counts = hashes[drums]
    assert digest == PINNED[drums], (
        f"compose({SONG}, drums={drums}) with models/ no longer gives the pinned MIDI bytes "
        f"(now sha256 {digest}; tracks: {counts}).  If a model or sampling was changed on "
        "purpose, set PINNED in tests/test_shipped_models.py to the new hashes "
        "(`.venv/bin/python tests/test_shipped_models.py` prints them); if not, the change "
        "altered the music it claims to keep.")


if __name__ == "__main__":
    for drums, (digest, counts) in song_hashes().items():
        print(f"    {drums}: \"{digest}\",   # {counts}")
