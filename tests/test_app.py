"""The app's actions as plain functions, with a tiny untrained pipeline; the UI builds
without globals.  Browser and gradio_client tests are in test_app_browser.py."""
from __future__ import annotations

import os
import re
import time
import zipfile

import numpy as np
import pytest

from composer.app import actions as act
from composer.app.inputs import (KEYS, LEVEL_CHORDS, LEVEL_DRUMS, LEVEL_NOTES, METERS, WHOLE_SONG, SongInputs,
                                 check_gains, read_inputs, user_message)
from composer.app.outputs import (cleanup_outputs, describe, lead_sheet, render, section_choices, stems_zip,
                                  zoom_view)
from composer.app.session import AppContext, Cancelled, Session, choose_take, redo, undo
from composer.app.timbres import (SOUNDFONT_DEFAULT, check_timbres, default_timbres, merged_timbres, timbre_choices,
                                  timbre_label, timbre_spec)
from composer.errors import ComposerError, FormError
from composer.io.midi import read_midi, write_midi
from composer.score import Note, Score, Track
from test_pipeline import tiny_composer


@pytest.fixture
def ctx(tmp_path):
    return AppContext(tiny_composer(), tmp_path / "out", ("clarinet", "flute"))


@pytest.fixture
def session(ctx):
    return Session(ctx.out_root)


def test_timbre_choices_round_trip_to_specs():
    choices = timbre_choices(["flute", "cello"])
    assert choices[0] == SOUNDFONT_DEFAULT
    assert timbre_spec(SOUNDFONT_DEFAULT) is None
    assert timbre_spec("SoundFont: Flute (73)") == "sf:73"
    assert timbre_spec("Learned: cello") == "ddsp:cello"
    assert timbre_spec("sf:40") == "sf:40" and timbre_spec("ddsp:flute") == "ddsp:flute"
    assert [timbre_spec(c) for c in choices[-2:]] == ["ddsp:flute", "ddsp:cello"]
    assert all(timbre_label(timbre_spec(c), ["flute", "cello"]) == c for c in choices)
    with pytest.raises(ComposerError):
        timbre_spec("Kazoo")


def test_a_melody_starts_on_the_learned_timbre_of_its_own_instrument():
    song = Score(tracks=(Track("Melody", 73), Track("Piano RH", 0)))
    assert default_timbres(song, ["clarinet", "flute"]) == {"Melody": "ddsp:flute", "Piano RH": None}
    lead = Score(tracks=(Track("Melody", 71),))
    assert default_timbres(lead, ["clarinet"]) == {"Melody": "ddsp:clarinet"}
    # No learned timbre of that instrument installed: its own program.
    assert default_timbres(lead, ["flute"]) == {"Melody": None}
    assert default_timbres(Score(tracks=(Track("Lead", 71),)), ["clarinet"]) == {"Lead": None}


def test_blank_inputs_mean_the_model_chooses():
    assert read_inputs("", None, "(model chooses)", None, "4/4", None, None) == SongInputs()
    assert read_inputs("  ", float("nan"), "", "", None, "", "") == SongInputs()
    got = read_inputs("i4A8B8o4", 24.0, "A minor", 96, "6/8", 7.0, 4, False)
    assert got == SongInputs("i4A8B8o4", 24, "A minor", 96.0, "6/8", 7, 4, False)


@pytest.mark.parametrize("fields, message", [
    ({"seed": -1}, "Seed must be a whole number from 0 to 4294967295, not -1"),
    ({"seed": 1.5}, "Seed must be a whole number"),
    ({"bars": 0}, "Bars must be a whole number from 1 to 512, not 0"),
    ({"bars": 2.5}, "Bars must be a whole number from 1 to 512, not 2.5"),
    ({"bars": 10000}, "Bars must be a whole number from 1 to 512"),
    ({"tempo": 0}, "Tempo must be 30 to 300 bpm, not 0"),
    ({"tempo": 5}, "Tempo must be 30 to 300 bpm, not 5"),
    ({"tempo": "fast"}, "Tempo must be a number"),
    ({"steps": 0}, "Sampler steps must be a whole number from 1 to 100"),
    ({"meter": "5/4"}, "Meter must be one of 4/4, 3/4, 2/4, 6/8"),
    ({"key": "H minor"}, "unknown key 'H minor'"),
    ({"form": "A8?"}, "Form: bad form 'A8?'"),
    ({"form": "A8B8", "bars": 32}, "the form has 16 bars but Bars says 32"),
])
def test_bad_inputs_get_one_line_in_the_apps_words(fields, message):
    with pytest.raises(ComposerError) as info:
        read_inputs(**fields)
    text = str(info.value)
    assert message in text and "\n" not in text and "--" not in text


def test_user_message_hides_server_paths_and_flags(tmp_path):
    err = ComposerError(f"{tmp_path}/abc/x.mid: truncated; the form covers 8 bars but --bars says 4")
    text = user_message(err, tmp_path)
    assert str(tmp_path) not in text and "/" not in text.split(":")[0]
    assert text.startswith("x.mid: truncated") and "Bars says 4" in text and "--bars" not in text


def test_compose_writes_midi_view_and_summary(ctx, session):
    v = act.compose(ctx, session, read_inputs("A2B2", key="D major", tempo=90, seed=5, steps=2), audio=False)
    assert v.audio_path is None and v.midi_path.parent == session.folder
    assert read_midi(v.midi_path) == v.score
    assert v.view_path.read_bytes()[:4] == b"\x89PNG"
    assert [(s.label, s.n_bars) for s in v.score.sections] == [("A", 2), ("B", 2)]
    assert "`A2B2`" in v.summary and "D major" in v.summary and "90 bpm" in v.summary
    assert "Seed** 5" in v.summary and v.editable and session.current is v
    # The default timbres: the learned clarinet on the melody (installed here), the rest own program.
    assert v.timbres == (("Melody", "ddsp:clarinet"),)


def test_two_untouched_composes_give_two_songs(ctx, session):
    a = act.compose(ctx, session, read_inputs(form="A2", steps=2), audio=False)
    b = act.compose(ctx, session, read_inputs(form="A2", steps=2), audio=False)
    assert a.seed != b.seed and a.score != b.score


def test_same_seed_same_song(ctx, session):
    a = act.compose(ctx, session, read_inputs(form="A2", seed=11, steps=2), audio=False)
    b = act.compose(ctx, session, read_inputs(form="A2", seed=11, steps=2), audio=False)
    assert a.score == b.score and a.midi_path != b.midi_path


def test_no_bass_and_every_meter(ctx, session):
    for meter in METERS:
        v = act.compose(ctx, session, read_inputs(form="A2", meter=meter, seed=1, steps=2, bass=False),
                        audio=False)
        ts = v.score.time_signatures[0]
        assert f"{ts.numerator}/{ts.denominator}" == meter
        assert [t.name for t in v.score.tracks] == ["Melody", "Piano RH", "Piano LH"]


def test_regenerate_a_section_keeps_the_rest_and_undo_goes_back(ctx, session):
    first = act.compose(ctx, session, read_inputs("A2B2A2", seed=3, steps=2), audio=False)
    second = act.regenerate(ctx, session, section=2, level=LEVEL_NOTES, seed=9, steps=2, audio=False)
    bar = first.score.bar_to_tick
    lo, hi = bar(2), bar(4)

    def outside(score, name):
        return [n for n in score.track(name).notes if not lo <= n.start_tick < hi]

    for name in ("Melody", "Piano RH", "Piano LH", "Bass"):
        assert outside(second.score, name) == outside(first.score, name)
    assert second.score.chords == first.score.chords
    assert second.score != first.score and len(session.history) == 2
    assert undo(session) is first and session.current is first
    with pytest.raises(ComposerError, match="nothing to undo"):
        undo(session)
    # Redo goes forward across the regeneration; a new version ends what can be redone.
    assert redo(session) is second and session.current is second
    with pytest.raises(ComposerError, match="nothing to redo"):
        redo(session)
    undo(session)
    act.regenerate(ctx, session, section=1, seed=2, steps=2, audio=False)
    with pytest.raises(ComposerError, match="nothing to redo"):
        redo(session)


def test_regenerate_a_bar_range_with_new_chords(ctx, session):
    first = act.compose(ctx, session, read_inputs("A4", seed=4, steps=2), audio=False)
    second = act.regenerate(ctx, session, bars=(2, 3), level=LEVEL_CHORDS, seed=1, steps=2, audio=False)
    res = first.score.resolution
    keep = [c for c in first.score.chords if c.end_tick <= 4 * res]
    assert [c for c in second.score.chords if c.end_tick <= 4 * res] == keep


@pytest.mark.parametrize("target, message", [
    ({"section": 9}, "Section must be a whole number from 1 to 2"),
    ({"bars": (3, 2)}, "To bar (2) comes before From bar (3)"),
    ({"bars": (1, 99)}, "To bar must be a whole number from 1 to 4"),
    ({"bars": (None, 2)}, "give the bars to change"),
    ({}, "choose either a section or a bar range"),
])
def test_regenerate_bad_targets(ctx, session, target, message):
    act.compose(ctx, session, read_inputs("A2B2", seed=3, steps=2), audio=False)
    with pytest.raises(ComposerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        act.regenerate(ctx, session, audio=False, **target)


def test_regenerate_refuses_an_opened_file_that_composer_did_not_write(ctx, session, tmp_path):
    write_midi(Score(tracks=(Track("Lead", 0, False, (Note(0, 480, 60, 80),)),)), tmp_path / "x.mid")
    v = act.open_midi(ctx, session, tmp_path / "x.mid")
    assert not v.editable
    with pytest.raises(ComposerError, match="only songs written by composer"):
        act.regenerate(ctx, session, section=1, audio=False)


def test_cancel_stops_the_work_at_the_next_step(ctx, session):
    calls = []

    def progress(stage, done, total):
        calls.append(stage)
        session.cancel.set()  # as the Cancel button does, from another thread

    with pytest.raises(Cancelled):
        act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False, progress=progress)
    assert calls == ["form"] and session.current is None
    # Until the next press the flag stays set (a Cancel pressed while a job waits in the
    # queue stops it at its first step); the next press starts afresh.
    with pytest.raises(Cancelled):
        act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False)
    session.press()
    assert act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False).score


def test_open_midi_limits_and_errors(ctx, session, tmp_path):
    with pytest.raises(ComposerError, match="upload a MIDI file first"):
        act.open_midi(ctx, session, "")
    (tmp_path / "big.mid").write_bytes(b"0" * (ctx.limits.max_upload_bytes + 1))
    with pytest.raises(ComposerError, match="up to 4 MB"):
        act.open_midi(ctx, session, tmp_path / "big.mid")
    write_midi(Score(tracks=(Track("x"),)), tmp_path / "empty.mid")
    with pytest.raises(ComposerError, match="empty.mid has no notes"):
        act.open_midi(ctx, session, tmp_path / "empty.mid")
    (tmp_path / "junk.mid").write_bytes(b"nonsense")
    with pytest.raises(ComposerError) as info:
        act.open_midi(ctx, session, tmp_path / "junk.mid")
    assert str(tmp_path) not in user_message(info.value, tmp_path)


def test_render_unknown_track_or_timbre_is_refused(ctx, session):
    act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False)
    with pytest.raises(ComposerError, match="no track '0' in this song"):
        render(ctx, session, {"0": "sf:65"})
    with pytest.raises(ComposerError, match="unknown learned timbre 'kazoo'"):
        render(ctx, session, {"Melody": "ddsp:kazoo"})


@pytest.mark.slow
def test_render_uses_the_chosen_timbre_per_track_name(ctx, session):
    """The old app dropped the keys "0", "1", "2": chosen timbres must change the audio."""
    sf = pytest.importorskip("soundfile")
    act.compose(ctx, session, read_inputs("A2", seed=1, steps=2, tempo=120), audio=False)
    plain = render(ctx, session, {})
    plain_audio = sf.read(plain.audio_path)[0]
    sax = render(ctx, session, {"Piano": "SoundFont: Alto Sax (65)", "Melody": "sf:40"})
    assert dict(sax.timbres) == {"Piano RH": "sf:65", "Piano LH": "sf:65", "Melody": "sf:40"}
    sax_audio = sf.read(sax.audio_path)[0]
    n = min(len(plain_audio), len(sax_audio))
    assert np.abs(plain_audio[:n] - sax_audio[:n]).mean() > 0.01
    zpath = stems_zip(ctx, session, "flac")
    with zipfile.ZipFile(zpath) as zf:
        assert zf.namelist() == ["00_Melody.flac", "01_Piano_RH.flac", "02_Piano_LH.flac", "03_Bass.flac"]


def test_cleanup_removes_old_folders_then_oldest_over_size(tmp_path):
    now = time.time()
    folders = []
    for i, age in enumerate((5000, 300, 200, 100)):
        f = tmp_path / f"s{i}"
        f.mkdir()
        (f / "a.bin").write_bytes(b"x" * 1000)
        os.utime(f, (now - age, now - age))
        folders.append(f)
    removed = cleanup_outputs(tmp_path, max_age_s=3600, max_total_bytes=2500, now=now,
                                  keep=[folders[1]])
    # s0 is too old; then over 2500 bytes (3000 left): the oldest not kept (s2) goes.
    assert removed == [folders[0], folders[2]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1", "s3"]


def test_history_is_bounded(ctx):
    session = Session(ctx.out_root, max_undo=3)
    for seed in range(5):
        act.compose(ctx, session, read_inputs("A1", seed=seed, steps=2), audio=False)
    assert [v.seed for v in session.history] == [2, 3, 4]


def test_describe_names_tracks(ctx, session):
    v = act.compose(ctx, session, read_inputs("A2", seed=2, steps=2), audio=False)
    assert "Melody" in describe(v.score, None)
    assert section_choices(v.score) == ["1. Verse (bars 1-2)"]


def test_build_ui_twice_without_globals(tmp_path):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gr = pytest.importorskip("gradio")
    from composer.app.ui import build_ui

    first = build_ui(tiny_composer(), tmp_path / "a", ["flute"])
    second = build_ui(tiny_composer(), tmp_path / "b", [])
    assert isinstance(first, gr.Blocks) and isinstance(second, gr.Blocks) and first is not second
    # each app has its own context and folder: nothing passes through module state
    assert first.composer_context.out_root == tmp_path / "a"
    assert second.composer_context.out_root == tmp_path / "b"
    names = {d.api_name for d in first.fns.values() if d.api_visibility == "public"}
    assert names == {"compose", "takes", "render", "arrange", "regenerate"}

    # The named API as gradio_client sees it: argument names in order, each optional with
    # the README's default, and the same four returns; the UI's own events stay unlisted.
    info = first.get_api_info()
    assert info["unnamed_endpoints"] == {}
    api = info["named_endpoints"]
    args = {name: [(p["parameter_name"], p["parameter_default"]) for p in e["parameters"]]
            for name, e in api.items()}
    assert args == {
        "/compose": [("form", ""), ("bars", None), ("key", KEYS[0]), ("tempo", None),
                     ("meter", "4/4"), ("seed", None), ("steps", None), ("bass", True),
                     ("audio", True), ("audio_format", "wav"), ("chords", ""), ("drums", True)],
        "/takes": [("form", ""), ("bars", None), ("key", KEYS[0]), ("tempo", None),
                   ("meter", "4/4"), ("seed", None), ("steps", None), ("bass", True),
                   ("audio", True), ("audio_format", "wav"), ("chords", ""), ("drums", True), ("takes", 2)],
        "/render": [("midi", None), ("timbres", None), ("audio_format", "wav"), ("gains", None)],
        "/arrange": [("midi", None), ("seed", None), ("key", ""), ("tempo", None), ("meter", ""), ("form", ""),
                     ("bass", True), ("drums", True), ("audio", True), ("audio_format", "wav")],
        "/regenerate": [("midi", None), ("section", None), ("from_bar", None), ("to_bar", None),
                        ("level", LEVEL_NOTES), ("seed", None), ("audio", True),
                        ("audio_format", "wav"), ("timbres", None), ("gains", None), ("keep_melody", None)],
    }
    assert all(p["parameter_has_default"] for e in api.values() for p in e["parameters"])
    assert all([r["label"] for r in e["returns"]] == ["midi", "audio", "view", "summary"]
               for e in api.values())  # (/takes: a list of each file, one summary)

    # The page holds the controls that the browser tests and the README name.
    kinds = {b.elem_id: type(b).__name__ for b in first.blocks.values() if getattr(b, "elem_id", None)}
    assert {"form": "Textbox", "bars": "Textbox", "key": "Dropdown", "meter": "Dropdown",
            "seed": "Textbox", "compose": "Button", "cancel": "Button", "midi-in": "File",
            "view": "Image", "player": "Audio", "section": "Dropdown", "regenerate": "Button",
            "undo": "Button", "render": "Button", "stems": "Button", "downloads": "File",
            "timbre-0": "Dropdown", "volume-0": "Slider", "mute-0": "Checkbox",
            "compose-message": "Markdown", "change-message": "Markdown",
            "sound-message": "Markdown", "open-message": "Markdown",
            "keep-melody": "Checkbox"}.items() <= kinds.items()

    # The installed timbres, and only they, are offered per track.
    def learned(app):
        dropdown = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "timbre-0")
        return [value for _, value in dropdown.choices if value.startswith("Learned:")]

    assert learned(first) == ["Learned: flute"] and learned(second) == []

# ---------------------------------------------------------------------------- issue 22
def test_the_seed_in_the_summary_stays_the_songs_and_the_rewrites_are_listed(ctx, session):
    act.compose(ctx, session, read_inputs("A2B2", seed=3, steps=2), audio=False)
    v = act.regenerate(ctx, session, section=2, seed=9, steps=2, audio=False)
    # The seed composed the song; "Seed 9" would compose a different one.
    assert v.seed == 3 and "**Seed** 3" in v.summary and "Seed** 9" not in v.summary
    assert v.edits == ("section 2 (Chorus): new notes, seed 9",)
    assert "**Rewritten** section 2 (Chorus): new notes, seed 9" in v.summary
    w = act.regenerate(ctx, session, bars=(1, 1), level=LEVEL_CHORDS, seed=4, steps=2, audio=False)
    assert w.seed == 3 and w.edits[1] == "bars 1-1: new chords and notes, seed 4"
    # Download names carry the seed, key and tempo (and the rewrites), not random hex.
    key = str(w.score.key_signatures[0]).replace(" ", "-").replace("#", "sharp")
    assert w.midi_path.name == f"song-seed3-{key}-{w.score.tempos[0].bpm:.0f}bpm-edit2.mid"
    assert w.musicxml_path.name == w.midi_path.stem + ".musicxml"
    assert w.musicxml_path.read_text().lstrip().startswith("<?xml")


def test_an_opened_song_keeps_its_learned_lead_through_render_and_regenerate(ctx, session, tmp_path):
    first = act.compose(ctx, session, read_inputs("A2B2", seed=3, steps=2), audio=False)
    api = Session(ctx.out_root)  # as /render and /regenerate do: a new session opens the file
    opened = act.open_midi(ctx, api, first.midi_path)
    assert opened.timbres == first.timbres == (("Melody", "ddsp:clarinet"),)
    again = act.regenerate(ctx, api, section=1, seed=2, steps=2, audio=False)
    assert again.timbres == first.timbres
    # Naming one track keeps the others as they were; the SoundFont default turns it off.
    assert merged_timbres(ctx, again, {"Piano": "sf:4"}) == (
        ("Melody", "ddsp:clarinet"), ("Piano RH", "sf:4"), ("Piano LH", "sf:4"))
    assert merged_timbres(ctx, again, {"Melody": SOUNDFONT_DEFAULT}) == ()


@pytest.mark.parametrize("timbres, message", [
    ("flute", 'timbres must map track names to timbres, e.g. {"Melody": "ddsp:flute"}, not \'flute\''),
    ([1, 2, 3], "timbres must map track names to timbres"),
    ({"Melody": 5}, "the timbre of 'Melody' must be text such as sf:73 or ddsp:flute, not 5"),
    ({"Melody": "flute"}, "unknown timbre 'flute': write sf:PROGRAM (0-127) or ddsp:NAME"),
])
def test_timbres_of_the_wrong_shape_get_one_line(ctx, session, timbres, message):
    act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False)
    with pytest.raises(ComposerError) as info:
        render(ctx, session, timbres)
    assert str(info.value) == message or str(info.value).startswith(message)


def test_a_drum_track_is_offered_and_takes_drum_kits_only(ctx, session, tmp_path):
    kits = timbre_choices(["clarinet"], drum=True)
    assert kits[0] == SOUNDFONT_DEFAULT and all(k.startswith("Drum kit: ") for k in kits[1:])
    assert timbre_spec("Drum kit: Room (8)") == "sf:8"
    assert timbre_label("sf:8", ["clarinet"], drum=True) == "Drum kit: Room (8)"
    song = Score(tracks=(Track("Melody", 71, False, (Note(0, 480, 72, 90),)),
                         Track("Drums", 0, True, (Note(0, 120, 36, 100),))))
    assert check_timbres(song, {"Drums": "Drum kit: Jazz (32)"}, ["clarinet"]) == (("Drums", "sf:32"),)
    for bad in ("Learned: clarinet", "sf:73"):
        with pytest.raises(ComposerError, match="Drums is a drum track: it plays a drum kit"):
            check_timbres(song, {"Drums": bad}, ["clarinet"])


def test_regenerate_refuses_a_section_and_bars_together(ctx, session):
    act.compose(ctx, session, read_inputs("A2B2", seed=3, steps=2), audio=False)
    with pytest.raises(ComposerError, match=r"give a section or a bar range \(from_bar, to_bar\), not both"):
        act.regenerate(ctx, session, section=1, bars=(1, 2), audio=False)
    # Blank bar fields are no bar range.
    assert act.regenerate(ctx, session, section=1, bars=(None, ""), seed=1, steps=2, audio=False).edits


def test_volumes_are_checked_and_kept(ctx, session):
    v = act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False,
                    gains={"Melody": -3, "Piano": None, "Bass": 0, "Gone": 5})
    assert v.gains == (("Melody", -3.0), ("Piano RH", float("-inf")), ("Piano LH", float("-inf")))
    for gains, message in [({"Melody": 40}, "the volume of 'Melody' must be -60 to +24 dB, not 40"),
                           ({"Melody": "loud"}, "The volume of 'Melody' must be a number"),
                           ([1], "gains must map track names to dB")]:
        with pytest.raises(ComposerError, match=re.escape(message)):
            check_gains(v.score, gains)


@pytest.mark.parametrize("error, shown, hidden", [
    (ComposerError("x.mid: not a MIDI file (starts with b'RIFF\\x00', not b'MThd')"),
     "starts with 'RIFF\\x00', not 'MThd'", "b'"),
    (ComposerError("Form: bad form '" + "A8" * 300 + "': too long"), "Form: bad form 'A8A8", "A8" * 40),
    (ComposerError("the song lasts 4,000 s; composer renders at most 3,600 s (60 minutes) of music: "
                   "shorten it (`composer inspect` shows its tracks and tempo)"), "shorten it", "composer inspect"),
    (ComposerError(f"cannot read {os.getcwd()}/out/app/x.mid or {os.getcwd()}"), "x.mid", os.getcwd()),
])
def test_messages_show_no_bytes_no_long_echo_no_cli_advice_no_server_folder(error, shown, hidden):
    text = user_message(error)
    assert shown in text and hidden not in text and len(text) <= 300


def test_the_lead_sheet_is_engraved_once_per_version(ctx, session):
    import shutil

    if shutil.which("mscore3") is None and shutil.which("musescore3") is None:
        pytest.skip("MuseScore 3 is not installed (make system-deps)")
    with pytest.raises(ComposerError, match="compose a song or open a MIDI file first"):
        lead_sheet(ctx, session)
    act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False)
    v = lead_sheet(ctx, session)
    assert v.lead_sheet and all(p.read_bytes()[:4] == b"\x89PNG" for p in v.lead_sheet)
    assert v.lead_sheet[0].name == v.midi_path.stem + "-lead-sheet.png"
    assert lead_sheet(ctx, session) is session.current and session.current.lead_sheet == v.lead_sheet


def test_warm_up_loads_the_lead_timbre_a_song_starts_on(tmp_path):
    from composer.render.ddsp.timbre import installed_timbres

    if "clarinet" not in installed_timbres():
        pytest.skip("the shipped clarinet timbre is not installed")
    ctx = AppContext(tiny_composer(), tmp_path / "out", ("clarinet", "flute"))
    act.warm_up(ctx)
    assert list(ctx.mixer._renderers) == [("ddsp", "clarinet")]
    assert not any(ctx.out_root.iterdir())  # its trial song left nothing behind


def test_takes_are_songs_of_the_same_settings_and_one_is_kept(ctx, session):
    first = act.compose(ctx, session, read_inputs("A2", seed=20, steps=2), audio=False, takes=3)
    assert [t.seed for t in session.takes] == [20, 21, 22] and first is session.takes[0]
    assert len({t.score for t in session.takes}) == 3 and len(session.history) == 1
    # Each take is the song its own seed composes.
    alone = act.compose(ctx, Session(ctx.out_root), read_inputs("A2", seed=21, steps=2), audio=False)
    assert session.takes[1].score == alone.score
    kept = choose_take(session, 2)
    assert kept is session.takes[1] and session.current is kept and len(session.history) == 1
    with pytest.raises(ComposerError, match="Take must be a whole number from 1 to 3, not 4"):
        choose_take(session, 4)
    with pytest.raises(ComposerError, match="Takes must be a whole number from 1 to 4, not 5"):
        act.compose(ctx, session, read_inputs("A2", steps=2), audio=False, takes=5)
    # A new version ends the choice among takes.
    act.regenerate(ctx, session, section=1, seed=1, steps=2, audio=False)
    assert session.takes == ()


def test_compose_over_your_chords(ctx, session):
    v = act.compose(ctx, session, read_inputs("A4", chords="| C | Am | F G | C |", seed=3, steps=2), audio=False)
    assert [(c.start_tick // v.score.resolution, c.root, c.quality) for c in v.score.chords] == [
        (0, 0, "maj"), (4, 9, "min"), (8, 5, "maj"), (10, 7, "maj"), (12, 0, "maj")]
    assert "**Over your chords** `| C | Am | F G | C |`" in v.summary and v.editable
    for fields, message in [({"chords": "| C | Hm |"}, "Chords: bar 2: 'Hm' is not a chord name"),
                            ({"chords": "| C | Am |", "bars": 4}, "the chords have 2 bars but Bars says 4"),
                            ({"chords": "| C D E |", "meter": "3/4"}, None)]:
        if message is None:
            assert read_inputs(**fields).chords == "| C D E |"
            continue
        with pytest.raises(ComposerError, match=re.escape(message)):
            read_inputs(**fields)


def test_a_chords_track_for_a_daw_is_muted_in_the_mix_and_follows_new_chords(ctx, session):
    v = act.compose(ctx, session, read_inputs("A2B2", seed=3, steps=2), audio=False, chord_track=True)
    assert [t.name for t in v.score.tracks][-1] == "Chords" and v.chord_track
    assert ("Chords", float("-inf")) in v.gains
    assert len(v.score.track("Chords").notes) >= 3 * len(v.score.chords)
    assert read_midi(v.midi_path).track("Chords").notes == v.score.track("Chords").notes
    w = act.regenerate(ctx, session, section=2, level=LEVEL_CHORDS, seed=5, steps=2, audio=False)
    from composer.chart import chord_track
    assert w.chord_track and w.score.track("Chords") == chord_track(w.score)
    # Its volume given: it plays.
    x = act.compose(ctx, session, read_inputs("A2", seed=3, steps=2), audio=False, chord_track=True,
                    gains={"Chords": -6})
    assert dict(x.gains)["Chords"] == -6.0


# ---------------------------------------------------------------------------- drums (issue 20)
@pytest.fixture
def drum_ctx(tmp_path):
    """The tiny pipeline with a tiny untrained drum level (as test_drums builds it)."""
    import torch

    from composer.levels.drums import DrumLevel
    from composer.nets.drums import DrumDenoiser
    from test_drums import TINY

    composer = tiny_composer()
    torch.manual_seed(0)
    composer.drum_level = DrumLevel(DrumDenoiser(**TINY))
    return AppContext(composer, tmp_path / "out", ("clarinet",))


def _drum_hits(score, lo=None, hi=None):
    return [n for t in score.tracks if t.is_drum for n in t.notes
            if lo is None or lo <= n.start_tick < hi]


def _band(score):
    return [t for t in score.tracks if not t.is_drum]


def test_drums_on_or_off_when_composing(drum_ctx):
    session = Session(drum_ctx.out_root)
    on = act.compose(drum_ctx, session, read_inputs("A2B2", seed=4, steps=2), audio=False)
    off = act.compose(drum_ctx, session, read_inputs("A2B2", seed=4, steps=2, drums=False), audio=False)
    assert [t.name for t in on.score.tracks if t.is_drum] == ["Drums"] and _drum_hits(on.score)
    assert not _drum_hits(off.score) and "Drums" not in off.summary
    # The drums are the cascade's last level: the band is the same song either way.
    assert _band(on.score) == _band(off.score)
    assert read_inputs(drums=False).drums is False and read_inputs().drums is True


def test_new_drums_for_a_section_keep_everything_else_and_undo_goes_back(drum_ctx):
    session = Session(drum_ctx.out_root)
    first = act.compose(drum_ctx, session, read_inputs("A2B2A2", seed=4, steps=2), audio=False)
    song = first.score
    lo, hi = song.bar_to_tick(2), song.bar_to_tick(4)
    new = act.regenerate(drum_ctx, session, section=2, level=LEVEL_DRUMS, seed=9, audio=False)
    assert _band(new.score) == _band(song) and new.score.chords == song.chords
    assert new.score.sections == song.sections
    outside = [n for n in _drum_hits(song) if not lo <= n.start_tick < hi]
    assert [n for n in _drum_hits(new.score) if not lo <= n.start_tick < hi] == outside
    assert _drum_hits(new.score, lo, hi) != _drum_hits(song, lo, hi)
    assert "section 2 (Chorus): new drums, seed 9" in new.summary and new.seed == 4
    assert read_midi(new.midi_path) == new.score
    # The same seed writes the same drums; Undo goes back to the song before.
    session2 = Session(drum_ctx.out_root)
    act.compose(drum_ctx, session2, read_inputs("A2B2A2", seed=4, steps=2), audio=False)
    again = act.regenerate(drum_ctx, session2, section=2, level=LEVEL_DRUMS, seed=9, audio=False)
    assert again.score == new.score
    assert undo(session).score == song and redo(session).score == new.score


def test_new_drums_for_bars_or_the_whole_song(drum_ctx):
    session = Session(drum_ctx.out_root)
    song = act.compose(drum_ctx, session, read_inputs("A2B2", seed=2, steps=2), audio=False).score
    bars = act.regenerate(drum_ctx, session, bars=(2, 3), level="new drums", seed=5, audio=False)
    lo, hi = song.bar_to_tick(1), song.bar_to_tick(3)
    assert [n for n in _drum_hits(bars.score) if not lo <= n.start_tick < hi] == \
        [n for n in _drum_hits(song) if not lo <= n.start_tick < hi]
    assert "bars 2-3: new drums, seed 5" in bars.summary
    whole = act.regenerate(drum_ctx, session, whole_song=True, level="new drums", seed=6, audio=False)
    assert _band(whole.score) == _band(song) and _drum_hits(whole.score) != _drum_hits(bars.score)
    assert "the whole song: new drums, seed 6" in whole.summary
    assert len([t for t in whole.score.tracks if t.is_drum]) == 1
    with pytest.raises(ComposerError, match="not two of them"):
        act.regenerate(drum_ctx, session, section=1, whole_song=True, level="new drums", audio=False)
    with pytest.raises(ComposerError, match="choose 'new notes', 'new chords and notes' or 'new drums'"):
        act.regenerate(drum_ctx, session, whole_song=True, level="louder drums", audio=False)


def test_new_drums_for_an_opened_file_without_drums(drum_ctx, tmp_path):
    session = Session(drum_ctx.out_root)
    lead = Track("Lead", 73, False, tuple(Note(i * 480, 480, 60 + i % 5, 90) for i in range(16)))
    write_midi(Score(tracks=(lead,)), tmp_path / "tune.mid")
    act.open_midi(drum_ctx, session, tmp_path / "tune.mid")
    with pytest.raises(ComposerError, match="only songs written by composer can be changed part by part"):
        act.regenerate(drum_ctx, session, bars=(1, 2), level=LEVEL_NOTES, audio=False)
    # Bars of a song without drums: a whole drum part (a few bars alone would stop mid-song).
    v = act.regenerate(drum_ctx, session, bars=(1, 2), level=LEVEL_DRUMS, seed=3, audio=False)
    assert v.score.tracks[0] == lead and [t.name for t in v.score.tracks[1:]] == ["Drums"]
    assert {n.start_tick // 1920 for n in _drum_hits(v.score)} > {0, 1}
    assert v.summary.startswith("**tune**") and "the whole song (it had no drums): new drums, seed 3" in v.summary


def test_no_drum_level_no_new_drums(ctx, session):
    act.compose(ctx, session, read_inputs("A2", seed=1, steps=2), audio=False)
    assert not act.has_drum_level(ctx)
    with pytest.raises(ComposerError, match="these models have no drum level"):
        act.regenerate(ctx, session, whole_song=True, level=LEVEL_DRUMS, audio=False)


def test_the_drums_are_a_track_like_the_others_in_the_mix_and_stems(drum_ctx):
    """Mute and volume of the Drums row reach the mix, and the stems include the drums."""
    sf = pytest.importorskip("soundfile")
    session = Session(drum_ctx.out_root)
    act.compose(drum_ctx, session, read_inputs("A2", seed=2, steps=2, tempo=120), audio=False)
    assert act.has_drum_level(drum_ctx) and _drum_hits(session.current.score)
    loud = render(drum_ctx, session, {}, gains={"Drums": 6})
    assert dict(loud.gains) == {"Drums": 6.0}
    with zipfile.ZipFile(stems_zip(drum_ctx, session, "wav")) as zf:
        assert zf.namelist()[-1] == "04_Drums.wav"
        drums = sf.read(zf.open("04_Drums.wav"))[0]
    assert np.abs(drums).max() > 0.01
    muted = render(drum_ctx, session, {}, gains={"Drums": "mute"})
    assert dict(muted.gains) == {"Drums": float("-inf")}
    with zipfile.ZipFile(stems_zip(drum_ctx, session, "wav")) as zf:
        assert np.abs(sf.read(zf.open("04_Drums.wav"))[0]).max() == 0
    a, b = sf.read(loud.audio_path)[0], sf.read(muted.audio_path)[0]
    n = min(len(a), len(b))
    assert np.abs(a[:n] - b[:n]).mean() > 1e-3


def test_the_page_offers_drums_only_with_a_drum_level(drum_ctx, tmp_path):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pytest.importorskip("gradio")
    from composer.app.ui import build_ui

    def controls(app):
        blocks = {b.elem_id: b for b in app.blocks.values() if getattr(b, "elem_id", None)}
        return blocks["drums"].visible, [v for _, v in blocks["level"].choices], \
            [v for _, v in blocks["what"].choices]

    with_drums = controls(build_ui(drum_ctx.composer, tmp_path / "a", []))
    assert with_drums == (True, [LEVEL_NOTES, LEVEL_CHORDS, LEVEL_DRUMS],
                          ["a section", "a bar range", WHOLE_SONG])
    assert controls(build_ui(tiny_composer(), tmp_path / "b", []))[:2] == (False, [LEVEL_NOTES,
                                                                               LEVEL_CHORDS])


# ---------------------------------------------------------------------------- one fact in one place (issue 24)
def test_the_apps_ranges_are_the_pipelines():
    from composer.limits import MAX_SEED, MAX_STEPS
    from composer.options import SUPPORTED_METERS

    assert METERS is SUPPORTED_METERS
    # Any seed the CLI takes is typed back here (the app's own was 2**31 - 1).
    assert read_inputs(seed=MAX_SEED).seed == MAX_SEED and read_inputs(steps=MAX_STEPS).steps == MAX_STEPS
    for fields, field in (({"seed": MAX_SEED + 1}, "Seed"), ({"steps": MAX_STEPS + 1}, "Sampler steps")):
        with pytest.raises(ComposerError, match=f"{field} must be a whole number from"):
            read_inputs(**fields)
    # The key is the pipeline's check alone, its message unchanged in the app.
    with pytest.raises(FormError, match="unknown key 'H minor': write a tonic and a mode"):
        read_inputs(key="H minor")
    with pytest.raises(FormError, match="^Form: bad form 'A８': 'A' at position 1 needs a number of bars"):
        read_inputs(form="A８")


def test_the_app_writes_the_pipelines_song(drum_ctx):
    """The form is parsed by read_inputs and passed down parsed: the song is the one the
    pipeline writes from the same text; takes past the largest seed wrap to 0."""
    from composer.limits import MAX_SEED

    session = Session(drum_ctx.out_root)
    inputs = read_inputs("A2?2*", key="E minor", tempo=90, meter="3/4", seed=MAX_SEED, steps=2)
    assert inputs.parsed_form is not None and inputs.parsed_form.n_bars == 4
    v = act.compose(drum_ctx, session, inputs, audio=False, takes=2)
    direct = drum_ctx.composer.compose(form="A2?2*", key="E minor", tempo=90, meter="3/4", seed=MAX_SEED,
                                       steps=2)
    assert v.score == direct and any(t.is_drum for t in v.score.tracks)
    assert [t.seed for t in session.takes] == [MAX_SEED, 0]


# ---------------------------------------------------------------------------- the roll's zoom (issue 22)
def _png_size(path):
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_zoom_draws_the_view_wider_once_per_version(ctx, session):
    with pytest.raises(ComposerError, match="compose a song or open a MIDI file first"):
        zoom_view(session, 2)
    v = act.compose(ctx, session, read_inputs("A2B2", seed=3, steps=2), audio=False)
    assert zoom_view(session, 1) == (v.view_path, v.roll) and v.roll.zoom == 1
    path, roll = zoom_view(session, 3)
    assert _png_size(path) == (3 * _png_size(v.view_path)[0], _png_size(v.view_path)[1])
    assert roll.zoom == 3 and roll.song == v.roll.song == v.view_path.name
    # the same bars and times, each bar line at the same place of the song
    assert roll.seconds == v.roll.seconds and roll.sections == v.roll.sections and len(roll.x) == len(v.roll.x)
    assert all(a < b for a, b in zip(roll.x, roll.x[1:]))
    assert '"zoom":3' in roll.to_json()
    assert zoom_view(session, 3) == (path, roll)  # drawn once
    with pytest.raises(ComposerError, match="zoom must be one of 1, 2, 3, 5, not 4"):
        zoom_view(session, 4)
    # A new version is drawn anew at its zoom; the old version's zoomed views are dropped
    # once it leaves the history.
    act.regenerate(ctx, session, section=1, seed=2, steps=2, audio=False)
    new_path, new_roll = zoom_view(session, 3)
    assert new_path != path and new_roll.song != roll.song


def test_harmonise_an_opened_melody_then_change_a_section_and_undo(ctx, session, tmp_path):
    path = tmp_path / "tune.mid"
    lead = tuple(Note(i * 480, 480, 64 + (0, 4, 7, 12, 7, 4, 0, 2)[i % 8], 90) for i in range(32))   # 8 bars
    write_midi(Score(tracks=(Track("Flute", 73, False, lead),)), path)
    opened = act.open_midi(ctx, session, path)
    assert not opened.editable
    v = act.arrange(ctx, session, seed=2, steps=2, audio=False)
    assert v.score.track("Melody").notes == lead and v.editable and v.seed == 2
    assert [t.name for t in v.score.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass"] and v.score.chords
    assert "**Under the melody of tune** melody: track 'Flute', 32 notes kept exactly" in v.summary
    assert read_midi(v.midi_path).track("Melody").notes == lead
    # A song like a composed one: a section rewritten, then undone back to the file.
    new = act.regenerate(ctx, session, section=1, seed=1, steps=2, audio=False)
    assert new.score.chords == v.score.chords and "section 1" in new.summary
    assert undo(session) is v and undo(session) is opened
    # A file with no melody to harmonise: one line, and the song stays.
    write_midi(Score(tracks=(Track("Drums", 0, True, (Note(0, 120, 36),)),)), tmp_path / "drums.mid")
    act.open_midi(ctx, session, tmp_path / "drums.mid")
    with pytest.raises(ComposerError, match="no melody found"):
        act.arrange(ctx, session, seed=2, steps=2, audio=False)
    with pytest.raises(ComposerError, match="Seed must be a whole number"):
        act.arrange(ctx, session, seed=-1, steps=2, audio=False)
    assert session.current.name == "drums" and len(session.history) == 2   # (the tune, the drums)


def test_a_harmonised_songs_melody_is_kept_when_a_part_changes(ctx, session, tmp_path):
    """Issue 22: "keep my melody".  A harmonised song keeps the user's melody by default
    (new notes: a new piano under it; new chords: chosen to fit it), the flag follows the song
    through a rewrite, undo and its MIDI file opened again; keep_melody=False writes a new one."""
    path = tmp_path / "tune.mid"
    lead = tuple(Note(i * 480, 480, 64 + (0, 4, 7, 12, 7, 4, 0, 2)[i % 8], 90) for i in range(32))   # 8 bars
    write_midi(Score(tracks=(Track("Flute", 73, False, lead),)), path)
    assert not act.open_midi(ctx, session, path).users_melody
    song = act.arrange(ctx, session, seed=2, steps=2, audio=False, form="A4B4")
    assert song.users_melody and song.score.title == "composer arrange seed 2"
    lo, hi = 4 * 1920, 8 * 1920
    for level in (LEVEL_NOTES, LEVEL_CHORDS):
        new = act.regenerate(ctx, session, section=2, level=level, seed=1, steps=2, audio=False)
        assert new.users_melody and new.score.track("Melody").notes == lead     # the range too
        piano = [n for n in new.score.track("Piano RH").notes if lo <= n.start_tick < hi]
        assert piano != [n for n in song.score.track("Piano RH").notes if lo <= n.start_tick < hi]
        assert f"section 2 (Chorus): {level} (melody kept), seed 1" in new.summary
        assert undo(session) is song
    # told otherwise: a new melody there
    other = act.regenerate(ctx, session, section=2, seed=1, steps=2, audio=False, keep_melody=False)
    assert other.score.track("Melody").notes != lead and "(melody kept)" not in other.summary
    assert other.users_melody                      # (the song is still theirs: the next change keeps it)
    # the song's MIDI file opened again (the API's /regenerate): still the user's melody
    again = act.open_midi(ctx, Session(ctx.out_root), song.midi_path)
    assert again.users_melody and again.editable
    # a composed song: a new melody unless asked; a bad value is one line
    fresh = Session(ctx.out_root)
    composed = act.compose(ctx, fresh, read_inputs("A2B2", seed=3, steps=2), audio=False)
    assert not composed.users_melody
    mel = composed.score.track("Melody")
    kept = act.regenerate(ctx, fresh, section=2, seed=4, steps=2, audio=False, keep_melody=True)
    assert kept.score.track("Melody") == mel
    with pytest.raises(ComposerError, match="keep_melody must be true, false or left out"):
        act.regenerate(ctx, fresh, section=2, seed=4, steps=2, audio=False, keep_melody="yes")


def test_harmonise_a_file_of_chords_writes_a_melody_over_them(ctx, session, tmp_path):
    from composer.score import ChordSymbol

    chords = tuple(ChordSymbol(b * 1920, 1920, root, quality, root)
                   for b, (root, quality) in enumerate([(9, "min"), (5, "maj"), (0, "maj"), (7, "maj")]))
    # a DAW's chord track: block chords (no line to harmonise) with the chord names
    from composer.chart import with_chord_track
    write_midi(with_chord_track(Score(chords=chords)), tmp_path / "chart.mid")
    act.open_midi(ctx, session, tmp_path / "chart.mid")
    v = act.arrange(ctx, session, seed=1, steps=2, audio=False)
    assert v.score.chords == chords and v.score.track("Melody").notes and v.editable
    assert "**Over the chords of chart**" in v.summary
