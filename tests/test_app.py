"""The app's actions with a tiny untrained pipeline, and the UI builds without globals."""
from __future__ import annotations

import os

import pytest

from composer.app.actions import (SOUNDFONT_DEFAULT, compose_song, describe, render_midi_file,
                                  timbre_choices, timbre_spec)
from composer.errors import ComposerError, FormError
from composer.io.midi import read_midi
from test_pipeline import tiny_composer


def test_timbre_choices_round_trip_to_specs():
    choices = timbre_choices(["flute", "cello"])
    assert choices[0] == SOUNDFONT_DEFAULT
    assert timbre_spec(SOUNDFONT_DEFAULT) is None
    assert timbre_spec("SoundFont: Flute (73)") == "sf:73"
    assert timbre_spec("Learned: cello") == "ddsp:cello"
    assert [timbre_spec(c) for c in choices[-2:]] == ["ddsp:flute", "ddsp:cello"]
    with pytest.raises(ComposerError):
        timbre_spec("Kazoo")


def test_compose_song_writes_midi_that_reads_back(tmp_path):
    result = compose_song(tiny_composer(), tmp_path, form="A2B2", key="D major", tempo=90, seed=5,
                          steps=2, audio=False)
    assert result.audio_path is None and result.midi_path.parent == tmp_path
    back = read_midi(result.midi_path)
    assert back == result.score
    assert [(s.label, s.n_bars) for s in back.sections] == [("A", 2), ("B", 2)]
    assert "`A2B2`" in result.summary and "D major" in result.summary and "90 bpm" in result.summary


def test_compose_song_bad_form_writes_nothing(tmp_path):
    with pytest.raises(FormError):
        compose_song(tiny_composer(), tmp_path, form="A8?", seed=1, steps=2, audio=False)
    assert os.listdir(tmp_path) == []


def test_render_midi_file_rejects_missing_and_empty(tmp_path):
    with pytest.raises(ComposerError, match="upload"):
        render_midi_file("", tmp_path)


def test_describe_names_tracks(tmp_path):
    result = compose_song(tiny_composer(), tmp_path, form="A2", seed=2, steps=2, audio=False)
    assert "Melody" in describe(result.score, None)


def test_build_ui_twice_without_globals(tmp_path):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gr = pytest.importorskip("gradio")
    from composer.app.ui import build_ui

    first = build_ui(tiny_composer(), tmp_path / "a", ["flute"])
    second = build_ui(tiny_composer(), tmp_path / "b", [])
    assert isinstance(first, gr.Blocks) and isinstance(second, gr.Blocks) and first is not second
