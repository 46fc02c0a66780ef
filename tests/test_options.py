"""A song's options are checked and parsed once (composer.options.read_options) and travel down parsed."""
from __future__ import annotations

import numpy as np
import pytest

from composer.errors import ComposerError, FormError
from composer.form import parse_partial_form
from composer.options import DRAWN_TEMPO_BPM, Meter, Options, check_options, draw_tempo, read_options


def test_options_are_parsed_once_and_a_parsed_form_passes_through():
    options = read_options("i4A8?8o4", None, "A minor", 96.0, "6/8", 4, seed=7)
    assert options == Options(parse_partial_form("i4A8?8o4"), None, (9, 1), 96.0, Meter(6, 8), 4, 7)
    again = read_options(options.form, None, None, None, "4/4", None)
    assert again.form is options.form                      # not read a second time
    assert check_options("A8", None, "A minor", None, "3/4", None) == ((9, 1), Meter(3, 4))


def test_a_parsed_key_and_meter_pass_through():
    options = read_options(None, None, "A minor", None, "6/8", None)
    again = read_options(None, None, options.key, None, options.meter, None)
    assert again.key == (9, 1) and again.meter is options.meter     # taken as they are
    assert str(Meter(6, 8)) == "6/8" and str(Meter(4, 4)) == "4/4"
    with pytest.raises(ComposerError, match="unsupported meter '5/4'"):
        read_options(None, None, None, None, Meter(5, 4), None)
    with pytest.raises(ComposerError, match="a key is a name"):
        read_options(None, None, (12, 0), None, "4/4", None)


@pytest.mark.parametrize("args, error", [
    (("A８", None, None, None, "4/4", None), FormError),   # a full-width digit
    ((None, 0, None, None, "4/4", None), FormError),
    ((None, None, None, 19.0, "4/4", None), ComposerError),
    ((None, None, None, None, "5/4", None), ComposerError),
])
def test_bad_options_are_refused_before_any_work(args, error):
    with pytest.raises(error):
        read_options(*args)


def test_the_drawn_tempo_is_one_draw_from_70_to_130_bpm():
    assert DRAWN_TEMPO_BPM == (70, 130)
    tempos = [draw_tempo(np.random.default_rng(seed)) for seed in range(200)]
    assert min(tempos) == 70 and max(tempos) == 130
    # the draw the cascade has always made, so seeded songs keep their tempo
    assert draw_tempo(np.random.default_rng(3)) == float(np.random.default_rng(3).integers(70, 131))


def test_a_song_given_no_seed_draws_it_in_one_place():
    """Every entry point (the commands, Composer, the app) draws a missing seed with
    seeds.random_seed, within the seeds a user may give back."""
    from pathlib import Path

    from composer.limits import MAX_SEED
    from composer.seeds import random_seed

    assert all(0 <= random_seed() < 2**31 <= MAX_SEED for _ in range(50))
    package = Path(__file__).resolve().parents[1] / "composer"
    assert [p.name for p in package.rglob("*.py") if "randbits(" in p.read_text() and p.name != "seeds.py"] == []
