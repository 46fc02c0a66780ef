"""The app as a user meets it: ``app.py`` with the shipped models, driven by Debian's
chromium through Playwright, and by gradio_client through the named API.

Under ``make test`` chromium and Playwright are installed first (COMPOSER_REQUIRE_BROWSER=1
turns a missing browser into a failure); run alone without them, these tests skip and say why.
"""
from __future__ import annotations

import io
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from composer.band import piano_track

from app_server import CHROMIUM, CHROMIUM_ARGS, running_app
from composer.io.midi import read_midi, write_midi
from composer.score import ChordSymbol, Note, Score, Section, TempoChange, TimeSignature, Track

pytestmark = pytest.mark.slow
REQUIRED = os.environ.get("COMPOSER_REQUIRE_BROWSER") == "1"


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if REQUIRED:
            pytest.fail(reason + " (make test installs it: make system-deps install)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("app")) as app:
        yield app


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed (pip install playwright; never `playwright install`)")
    _need(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(180_000)  # a failing wait, not a speed limit: composing runs on 2 cores
    page.goto(server.url)
    page.wait_for_selector("#compose")
    yield page
    context.close()


# ---------------------------------------------------------------------------- helpers
def view_src(page) -> str | None:
    img = page.locator("#view img")
    return img.first.get_attribute("src") if img.count() else None


def click_and_wait_for_view(page, selector: str) -> str:
    """Click, then wait until the song's view shows a new picture; returns its src."""
    before = view_src(page)
    page.click(selector)
    page.wait_for_function(
        "before => { const i = document.querySelector('#view img');"
        " return i && i.getAttribute('src') && i.getAttribute('src') !== before; }", arg=before)
    return view_src(page)


def download(page, suffix: str, folder: Path) -> Path:
    """Download the file ending in ``suffix`` from the Downloads list."""
    link = page.locator(f'#downloads a[download$="{suffix}"]').first
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def wait_for_download(page, suffix: str, not_name: str | None = None) -> None:
    page.wait_for_function(
        "([suffix, old]) => [...document.querySelectorAll('#downloads a[download]')].some("
        " a => a.getAttribute('download').endsWith(suffix) && a.getAttribute('download') !== old)",
        arg=[suffix, not_name or ""])


def choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` in the dropdown ``elem_id`` (its own list: the input's aria-controls)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    listbox = box.get_attribute("aria-controls")
    page.locator(f"#{listbox} [role=option][aria-label='{option}']").click()
    page.wait_for_function("([id, v]) => document.querySelector(`#${id} input`).value === v",
                           arg=[elem_id, option])


def toast_text(page, text: str) -> str:
    toast = page.locator(".toast-body", has_text=text).first
    toast.wait_for()
    return toast.inner_text()


def summary(page) -> str:
    return page.locator("#summary").inner_text()


def seed_of(text: str) -> int:
    return int(text.split("Seed")[1].split()[0])


# ---------------------------------------------------------------------------- browser
def test_compose_with_nothing_given_shows_the_view_and_two_songs_differ(page, tmp_path):
    # Empty means "the model chooses": no 0 in any field of a fresh page.
    for field in ("form", "bars", "tempo", "seed", "steps"):
        assert page.locator(f"#{field} textarea, #{field} input").first.input_value() == ""
    first = click_and_wait_for_view(page, "#compose")
    assert first
    text = summary(page)
    assert "Form" in text and "Seed" in text and "Melody" in text
    wait_for_download(page, ".wav")
    (tmp_path / "a").mkdir()
    first_midi = download(page, ".mid", tmp_path / "a")
    second = click_and_wait_for_view(page, "#compose")
    text2 = summary(page)
    assert second != first and seed_of(text2) != seed_of(text)
    (tmp_path / "b").mkdir()
    wait_for_download(page, ".mid", not_name=first_midi.name)
    second_midi = download(page, ".mid", tmp_path / "b")
    assert read_midi(first_midi) != read_midi(second_midi)


def test_regenerate_a_section_then_undo(page, tmp_path):
    page.locator("#form textarea, #form input").first.fill("i2A4B4o2")
    page.locator("#seed textarea, #seed input").first.fill("5")
    page.get_by_label("Render audio").uncheck()
    first = click_and_wait_for_view(page, "#compose")
    old_path = download(page, ".mid", tmp_path)
    old = read_midi(old_path)
    choose(page, "section", "3. Chorus (bars 7-10)")
    page.locator("#regen-seed textarea, #regen-seed input").first.fill("11")
    second = click_and_wait_for_view(page, "#regenerate")
    assert second != first
    # The picker stays on the section just rewritten, and the seed shown is the song's.
    assert page.locator("#section input").input_value() == "3. Chorus (bars 7-10)"
    assert seed_of(summary(page)) == 5 and "section 3 (Chorus): new notes, seed 11" in summary(page)
    wait_for_download(page, ".mid", not_name=old_path.name)
    (tmp_path / "new").mkdir()
    new = read_midi(download(page, ".mid", tmp_path / "new"))
    lo, hi = old.bar_to_tick(6), old.bar_to_tick(10)
    for name in ("Melody", "Piano RH", "Piano LH", "Bass"):
        keep_old = [n for n in old.track(name).notes if not lo <= n.start_tick < hi]
        keep_new = [n for n in new.track(name).notes if not lo <= n.start_tick < hi]
        assert keep_new == keep_old, name
    assert piano_track(new).notes != piano_track(old).notes
    assert new.chords == old.chords and new.sections == old.sections
    back = click_and_wait_for_view(page, "#undo")
    assert back == first
    assert click_and_wait_for_view(page, "#redo") == second
    # The lead sheet of the song on screen, engraved from its MusicXML (also a download).
    assert page.locator('#downloads a[download$=".musicxml"]').count() == 1
    page.get_by_role("tab", name="Lead sheet").click()
    page.click("#engrave")
    page.locator("#lead-sheet img").first.wait_for()
    assert page.locator("#lead-sheet img").count() >= 1


def test_download_the_midi_and_read_it_back(page, tmp_path):
    page.locator("#form textarea, #form input").first.fill("A4B4")
    page.locator("#tempo textarea, #tempo input").first.fill("100")
    choose(page, "meter", "3/4")
    page.get_by_label("Render audio").uncheck()
    click_and_wait_for_view(page, "#compose")
    song = read_midi(download(page, ".mid", tmp_path))
    assert [(s.label, s.n_bars) for s in song.sections] == [("A", 4), ("B", 4)]
    assert round(song.tempos[0].bpm) == 100
    assert (song.time_signatures[0].numerator, song.time_signatures[0].denominator) == (3, 4)
    assert [t.name for t in song.tracks][:1] == ["Melody"] and all(t.notes for t in song.tracks)


def _upload_song(path: Path) -> None:
    """Two named tracks, neither called Melody or Piano: a lead line and held chords."""
    R = 480
    lead = tuple(Note(i * R, R, 72 + (i % 5), 90) for i in range(16))
    chords = tuple(Note(b * 4 * R, 4 * R, p, 70) for b in range(4) for p in (48, 52, 55))
    write_midi(Score(resolution=R, tempos=(TempoChange.from_bpm(0, 120),),
                     time_signatures=(TimeSignature(0, 4, 4),), sections=(Section(0, 4, "A", "Verse"),),
                     chords=tuple(ChordSymbol(b * 4 * R, 4 * R, 0, "maj", 0) for b in range(4)),
                     tracks=(Track("Lead", 0, False, lead), Track("Chords", 0, False, chords))), path)


def test_render_an_upload_with_a_chosen_timbre(page, tmp_path):
    sf = pytest.importorskip("soundfile")
    song = tmp_path / "upload.mid"
    _upload_song(song)
    page.get_by_role("tab", name="Open a MIDI file").click()
    before = view_src(page)
    page.locator("#midi-in input[type=file]").set_input_files(str(song))
    page.wait_for_function("b => { const i = document.querySelector('#view img');"
                           " return i && i.getAttribute('src') !== b; }", arg=before)
    # One dropdown per track, named as the file names them.
    page.locator("#timbre-0").get_by_text("Lead (16 notes)").wait_for()
    page.locator("#timbre-1").get_by_text("Chords (12 notes)").wait_for()
    assert not page.locator("#timbre-2").is_visible()
    page.click("#render")
    wait_for_download(page, ".wav")
    default_wav = download(page, ".wav", tmp_path)
    choose(page, "timbre-0", "SoundFont: Alto Sax (65)")
    choose(page, "timbre-1", "Learned: cello")
    page.click("#render")
    wait_for_download(page, ".wav", not_name=default_wav.name)
    (tmp_path / "chosen").mkdir()
    chosen_wav = download(page, ".wav", tmp_path / "chosen")
    a, rate_a = sf.read(default_wav)
    b, rate_b = sf.read(chosen_wav)
    n = min(len(a), len(b))
    assert rate_a == rate_b and n > rate_a  # over a second of audio each
    # Not the same render: the old app ignored the choice and wrote identical bytes.
    assert np.abs(a[:n] - b[:n]).mean() > 0.01


def message(page, elem_id: str, text: str) -> str:
    """Wait for ``text`` in the message line ``elem_id``; returns the line."""
    box = page.locator(f"#{elem_id}")
    page.wait_for_function("([id, t]) => document.querySelector('#' + id).innerText.includes(t)",
                           arg=[elem_id, text])
    return box.inner_text()


def error_badges(page) -> int:
    """Components showing Gradio's error state (the red "Error" over an output)."""
    return page.evaluate("() => [...document.querySelectorAll('.wrap, .status-tracker, .error')]"
                         ".filter(e => e.offsetParent !== null && /^\\s*Error\\s*$/.test(e.innerText || '')).length")


def test_a_bad_input_shows_its_one_message_and_leaves_the_song(page, server, tmp_path):
    page.locator("#form textarea, #form input").first.fill("A4")
    page.get_by_label("Render audio").uncheck()
    view = click_and_wait_for_view(page, "#compose")
    text_before = summary(page)
    midi = download(page, ".mid", tmp_path)
    page.locator("#seed textarea, #seed input").first.fill("-1")
    page.click("#compose")
    text = message(page, "compose-message", "Seed must be")
    assert "Seed must be a whole number from 0 to 4294967295, not -1" in text
    assert "--" not in text and str(server.out_dir) not in text and "Traceback" not in text
    page.locator("#seed textarea, #seed input").first.fill("")
    page.locator("#bars textarea, #bars input").first.fill("2.5")
    page.click("#compose")
    assert "Bars must be a whole number from 1 to 512, not 2.5" in message(page, "compose-message", "Bars must")
    # The song and every control as they were: the view, summary, downloads, section picker,
    # timbre menus; no error badge anywhere, no error toast.
    page.wait_for_timeout(500)  # (let any late update land before looking)
    assert view_src(page) == view and summary(page) == text_before
    assert page.locator(f'#downloads a[download="{midi.name}"]').count() == 1
    assert page.locator("#section input").input_value().startswith("1. ")
    assert page.locator("#timbre-0").is_visible()
    assert error_badges(page) == 0 and page.locator(".toast-body").count() == 0
    # The next good press clears the message.
    page.locator("#bars textarea, #bars input").first.fill("")
    click_and_wait_for_view(page, "#compose")
    page.wait_for_function("() => !document.querySelector('#compose-message').innerText.trim()")
    # Logged as one line each, not a traceback.
    log = server.log()
    assert "composer.app INFO on_compose: Seed must be" in log and "Traceback" not in log


# ---------------------------------------------------------------------------- gradio_client
def test_gradio_client_named_api(server, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path))
    midi, audio, view, text = client.predict(form="i4A8B8o4", seed=7, api_name="/compose")
    song = read_midi(midi)
    assert [(s.label, s.n_bars) for s in song.sections] == [("i", 4), ("A", 8), ("B", 8), ("o", 4)]
    assert audio.endswith(".wav") and Path(audio).stat().st_size > 44
    assert Path(view).read_bytes()[:4] == b"\x89PNG" and "Seed** 7" in text
    # Same seed, same song.
    again = read_midi(client.predict(form="i4A8B8o4", seed=7, audio=False, api_name="/compose")[0])
    assert again == song

    midi2, _, _, _ = client.predict(midi=gradio_client.handle_file(midi), section=3, seed=2, audio=False,
                                    api_name="/regenerate")
    new = read_midi(midi2)
    lo, hi = song.bar_to_tick(12), song.bar_to_tick(20)
    assert [n for n in new.track("Melody").notes if n.start_tick < lo] == \
           [n for n in song.track("Melody").notes if n.start_tick < lo]
    assert piano_track(new).notes != piano_track(song).notes and new.chords == song.chords

    _, plain, _, _ = client.predict(midi=gradio_client.handle_file(midi), api_name="/render")
    _, sax, _, _ = client.predict(midi=gradio_client.handle_file(midi),
                                  timbres={"Melody": "sf:65", "Piano": "ddsp:cello"}, api_name="/render")
    sf = pytest.importorskip("soundfile")
    a, b = sf.read(plain)[0], sf.read(sax)[0]
    n = min(len(a), len(b))
    assert np.abs(a[:n] - b[:n]).mean() > 0.01

    with pytest.raises(gradio_client.exceptions.AppError, match="Tempo must be 30 to 300 bpm, not 5"):
        client.predict(tempo=5, api_name="/compose")


def test_no_user_can_fetch_the_output_folders(server):
    """A session's files lie in Gradio's cache (stored once: Gradio serves them as they are),
    under a folder named by 128 random bits that only its own tab is told.  Nothing else of
    the server is served: not the folders themselves, not a guessed session, not a file
    outside the cache."""
    import re
    import secrets

    files = [p for p in server.out_dir.rglob("*.mid")]
    assert files, "an earlier test composed through this server"
    assert all(re.fullmatch(r"(api-)?[0-9a-f]{32}", p.relative_to(server.out_dir).parts[0]) for p in files)
    guessed = server.out_dir / secrets.token_hex(16) / files[0].name
    for path in (server.out_dir, files[0].parent, guessed, server.log_path):
        url = f"{server.url}gradio_api/file={path}"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=30)
        assert info.value.code in (403, 404), path
    # Each output is stored once: no copy of a view or an audio file elsewhere in Gradio's
    # cache (MIDI files are there again only as the API clients' uploads of them).
    ours = {p.name for p in server.out_dir.rglob("*") if p.suffix in (".png", ".wav", ".flac")}
    copies = {p.name for p in server.cache_dir.rglob("*") if p.suffix in (".png", ".wav", ".flac")
              and server.out_dir not in p.parents}
    assert ours and not ours & copies


def test_preset_stems_flac_and_cancel(page, server, tmp_path):
    choose(page, "preset", "Short sketch")
    page.wait_for_function("() => document.querySelector('#form textarea, #form input').value === 'A8B8'")
    page.get_by_label("Render audio").uncheck()
    page.get_by_label("flac").check()
    click_and_wait_for_view(page, "#compose")
    page.click("#stems")
    wait_for_download(page, ".zip")
    import zipfile

    with zipfile.ZipFile(download(page, ".zip", tmp_path)) as zf:
        # the shipped models have a drum level; a COMPOSER_TEST_MODELS folder may not
        drums = ["04_Drums.flac"] if zf.namelist()[4:] else []
        assert zf.namelist() == ["00_Melody.flac", "01_Piano_RH.flac", "02_Piano_LH.flac", "03_Bass.flac", *drums]
    # Cancel: a long song is stopped at its next step, and the log says so in one line.
    page.locator("#form textarea, #form input").first.fill("")
    page.locator("#bars textarea, #bars input").first.fill("512")
    before = view_src(page)
    page.click("#compose")
    page.locator(".progress-text, .eta-bar, .meta-text").first.wait_for()  # the job has started
    page.click("#cancel")
    for _ in range(600):  # until the worker reaches its next step (bounded, not timed)
        if "on_compose: cancelled" in server.log():
            break
        page.wait_for_timeout(500)
    assert "on_compose: cancelled" in server.log()
    assert view_src(page) == before
    # Stopping is what the user asked for: no red "Error" toast, no error badge.
    page.wait_for_timeout(500)
    assert page.locator(".toast-body.error, .toast-wrap .error").count() == 0
    assert page.locator(".toast-body", has_text="Error").count() == 0 and error_badges(page) == 0


def test_a_drum_track_offers_drum_kits_only(page, tmp_path):
    R = 480
    path = tmp_path / "beat.mid"
    write_midi(Score(resolution=R, tempos=(TempoChange.from_bpm(0, 120),), tracks=(
        Track("Lead", 73, False, tuple(Note(i * R, R, 72, 90) for i in range(8))),
        Track("Drums", 0, True, tuple(Note(i * R, R // 4, 36 if i % 2 == 0 else 38, 100) for i in range(8))))),
        path)
    page.get_by_role("tab", name="Open a MIDI file").click()
    before = view_src(page)
    page.locator("#midi-in input[type=file]").set_input_files(str(path))
    page.wait_for_function("b => { const i = document.querySelector('#view img');"
                           " return i && i.getAttribute('src') !== b; }", arg=before)
    box = page.locator("#timbre-1 input")
    box.click()
    listbox = page.locator(f"#{box.get_attribute('aria-controls')} [role=option]")
    options = [o.get_attribute("aria-label") for o in listbox.all()]
    assert options[0] == "SoundFont: the track's own program"
    assert options[1:] and all(o.startswith("Drum kit: ") for o in options[1:]), options


def test_a_closed_tab_takes_its_files_with_it(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(server.url)
    page.wait_for_selector("#compose")
    before = {p.name for p in server.out_dir.iterdir()} if server.out_dir.exists() else set()
    page.locator("#form textarea, #form input").first.fill("A2")
    page.get_by_label("Render audio").uncheck()
    click_and_wait_for_view(page, "#compose")
    mine = [p for p in server.out_dir.iterdir() if p.name not in before and not p.name.startswith("api-")]
    assert len(mine) == 1 and any(mine[0].iterdir())
    context.close()
    for _ in range(240):  # until the server hears the tab close (bounded, not timed)
        if not mine[0].exists():
            break
        time.sleep(0.5)
    assert not mine[0].exists()
    assert "tab closed: its session folder removed" in server.log()


def test_gradio_client_bad_arguments_are_one_line_and_no_traceback(server, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path))
    song = tmp_path / "song.mid"
    _upload_song(song)
    midi = gradio_client.handle_file(str(song))
    cases = [
        (dict(timbres="flute", midi=midi), "/render", "timbres must map track names to timbres"),
        (dict(timbres=[1, 2, 3], midi=midi), "/render", "timbres must map track names to timbres"),
        (dict(gains={"Lead": "loud"}, midi=midi), "/render", "The volume of 'Lead' must be a number"),
        (dict(key="H minor", audio=False), "/compose", "unknown key 'H minor'"),
        (dict(meter="5/4", audio=False), "/compose", "Meter must be one of 4/4, 3/4, 2/4, 6/8, not '5/4'"),
        (dict(audio_format="mp3", audio=False), "/compose", "audio format must be wav or flac, not 'mp3'"),
        (dict(midi=midi, section=1, level="everything"), "/regenerate",
         "choose 'new notes', 'new chords and notes' or 'new drums', not 'everything'"),
        (dict(midi=midi, section=1, from_bar=1, to_bar=2), "/regenerate",
         "give a section or a bar range (from_bar, to_bar), not both"),
        (dict(form="A8" * 300, audio=False), "/compose", "Form: "),
    ]
    for kwargs, api, text in cases:
        with pytest.raises(gradio_client.exceptions.AppError) as info:
            client.predict(api_name=api, **kwargs)
        message = str(info.value)
        assert text in message and "\n" not in message and len(message) <= 300, (api, kwargs, message)
    assert "Traceback" not in server.log()


def test_gradio_client_regenerate_keeps_the_lead_sound(server, tmp_path):
    """/compose plays the melody on the learned clarinet; /regenerate of another section
    must too (it played the SoundFont clarinet, 12 dB louder in the untouched intro)."""
    gradio_client = pytest.importorskip("gradio_client")
    sf = pytest.importorskip("soundfile")
    client = gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path))
    midi, audio, _, text = client.predict(form="i4A8B8o4", seed=3, api_name="/compose")
    _, audio2, _, text2 = client.predict(midi=gradio_client.handle_file(midi), section=3, seed=2,
                                         api_name="/regenerate")
    song = read_midi(midi)
    a, rate = sf.read(audio)
    b, _ = sf.read(audio2)
    intro = int(song.tick_to_seconds(song.bar_to_tick(4)) * rate)
    level = [20 * np.log10(np.sqrt((x[:intro] ** 2).mean())) for x in (a, b)]
    # Both normalised to -14 LUFS: a new chorus moves the untouched intro by a little, not 12 dB.
    assert abs(level[0] - level[1]) < 2.0, level
    assert "section 3 (Chorus): new notes, seed 2" in text2


def test_the_playhead_follows_the_player_and_a_click_picks_bars(page):
    page.locator("#form textarea, #form input").first.fill("i2A4B4o2")
    page.locator("#seed textarea, #seed input").first.fill("8")
    click_and_wait_for_view(page, "#compose")
    page.locator("#player audio").wait_for(state="attached")
    page.wait_for_function("() => document.querySelector('#player audio').duration > 0")
    roll = page.evaluate("() => JSON.parse(document.querySelector('#roll-map [data-roll]').dataset.roll)")
    assert len(roll["x"]) == 13 and roll["x"] == sorted(roll["x"])  # 12 bars and the end

    def playhead_x() -> float:
        page.wait_for_function("() => { const h = document.getElementById('roll-playhead');"
                               " return h && h.style.display === 'block'; }")
        return page.evaluate("() => parseFloat(document.getElementById('roll-playhead').style.left)")

    # It plays (muted: headless chromium plays without a speaker) and the line moves right.
    page.evaluate("() => { const a = document.querySelector('#player audio'); a.muted = true; a.play(); }")
    page.wait_for_function("() => document.querySelector('#player audio').currentTime > 0.5")
    first = playhead_x()
    page.wait_for_function("t => document.querySelector('#player audio').currentTime > t + 1.0",
                           arg=page.evaluate("() => document.querySelector('#player audio').currentTime"))
    assert playhead_x() > first
    # At the start of bar 5 it stands on bar 5's line.
    page.evaluate("s => { const a = document.querySelector('#player audio'); a.pause(); a.currentTime = s; }",
                  roll["s"][4])
    page.wait_for_function("s => Math.abs(parseFloat(document.getElementById('roll-playhead').dataset.time) - s)"
                           " < 0.01", arg=roll["s"][4])
    box = page.evaluate("() => { const i = document.querySelector('#view img'); const r = i.getBoundingClientRect();"
                        " const s = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);"
                        " return [r.left + (r.width - i.naturalWidth * s) / 2, i.naturalWidth * s]; }")
    assert abs(playhead_x() - (box[0] + roll["x"][4] * box[1])) < 1.5

    def picture() -> list[float]:
        page.locator("#view img").scroll_into_view_if_needed()
        return page.evaluate(
            "() => { const i = document.querySelector('#view img'); const r = i.getBoundingClientRect();"
            " const s = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);"
            " return [r.left + (r.width - i.naturalWidth * s) / 2, i.naturalWidth * s, r.top + r.height / 2]; }")

    left, width, middle = picture()

    def click_bar(bar: int, **kwargs) -> None:
        x = left + (roll["x"][bar - 1] + roll["x"][bar]) / 2 * width
        page.mouse.click(x, middle, **kwargs)

    # A click picks bar 6, a shift-click bar 8: Change a part gets bars 6-8 ...
    click_bar(6)
    page.keyboard.down("Shift")
    click_bar(8)
    page.keyboard.up("Shift")
    assert page.locator("#from-bar textarea, #from-bar input").first.input_value() == "6"
    assert page.locator("#to-bar textarea, #to-bar input").first.input_value() == "8"
    assert page.get_by_label("a bar range").is_checked()
    # ... and a double click takes the section under it (the chorus, bars 7-10).
    page.mouse.dblclick(left + (roll["x"][7] + roll["x"][8]) / 2 * width, middle)
    page.wait_for_function("() => document.querySelector('#to-bar textarea, #to-bar input').value === '10'")
    assert page.locator("#from-bar textarea, #from-bar input").first.input_value() == "7"
    # Regenerate takes the bars picked by click (Gradio saw the values).
    before = view_src(page)
    click_and_wait_for_view(page, "#regenerate")
    assert "bars 7-10: new notes" in summary(page) and view_src(page) != before


def test_two_takes_and_keep_the_second(page):
    page.locator("#form textarea, #form input").first.fill("A2B2")
    page.locator("#seed textarea, #seed input").first.fill("40")
    page.get_by_label("Render audio").uncheck()
    choose(page, "takes", "2")
    first = click_and_wait_for_view(page, "#compose")
    assert seed_of(summary(page)) == 40
    page.locator("#take").get_by_label("Take 2 (seed 41)").wait_for()
    assert page.locator("#take").get_by_label("Take 1 (seed 40)").is_checked()
    before = view_src(page)
    page.locator("#take").get_by_label("Take 2 (seed 41)").check()
    page.wait_for_function("b => document.querySelector('#view img').getAttribute('src') !== b", arg=before)
    assert view_src(page) != first and seed_of(summary(page)) == 41
    # Keeping a take is not an undo step: Undo stays off after one Compose.
    assert page.locator("#undo").is_disabled()


def test_a_song_over_your_chords(page, tmp_path):
    page.locator("#chords textarea, #chords input").first.fill("| Am | F | C | G E7 |")
    page.locator("#seed textarea, #seed input").first.fill("6")
    page.get_by_label("Render audio").uncheck()
    click_and_wait_for_view(page, "#compose")
    assert "Over your chords" in summary(page)
    song = read_midi(download(page, ".mid", tmp_path))
    res = song.resolution
    assert [(c.start_tick // res, c.root, c.quality) for c in song.chords] == [
        (0, 9, "min"), (4, 5, "maj"), (8, 0, "maj"), (12, 7, "maj"), (14, 4, "7")]
    assert song.n_bars == 4 and song.track("Melody").notes


def test_a_chords_track_in_the_midi_muted_in_the_mix(page, tmp_path):
    page.locator("#form textarea, #form input").first.fill("A4")
    page.get_by_label("Render audio").uncheck()
    page.locator("#chord-track input[type=checkbox]").check()
    click_and_wait_for_view(page, "#compose")
    song = read_midi(download(page, ".mid", tmp_path))
    assert [t.name for t in song.tracks][-1] == "Chords" and song.track("Chords").notes
    row = len(song.tracks) - 1
    page.locator(f"#timbre-{row}").get_by_text("Chords (").wait_for()
    assert page.locator(f"#mute-{row} input[type=checkbox]").is_checked()


def test_drums_off_on_then_new_drums_for_a_section_and_undo(page, tmp_path):
    """Issue 20 in the app: the Drums box leaves the drum track out of a song (the band is the
    same song), and "new drums" rewrites one section's hits only, undoably."""
    page.locator("#form textarea, #form input").first.fill("i2A4B4o2")
    page.locator("#seed textarea, #seed input").first.fill("5")
    page.get_by_label("Render audio").uncheck()
    page.locator("#drums input").uncheck()
    click_and_wait_for_view(page, "#compose")
    (tmp_path / "off").mkdir()
    off_path = download(page, ".mid", tmp_path / "off")
    off = read_midi(off_path)
    assert not any(t.is_drum for t in off.tracks)
    page.locator("#drums input").check()
    first = click_and_wait_for_view(page, "#compose")
    (tmp_path / "on").mkdir()
    song = read_midi(download(page, ".mid", tmp_path / "on"))
    assert [t.name for t in song.tracks if t.is_drum] == ["Drums"] and song.track("Drums").notes
    assert [t for t in song.tracks if not t.is_drum] == list(off.tracks)
    assert "Drums (" in page.locator("#timbre-4").inner_text()  # its own row in the Sound panel
    choose(page, "section", "3. Chorus (bars 7-10)")
    page.get_by_label("new drums").check()
    page.locator("#regen-seed textarea, #regen-seed input").first.fill("11")
    second = click_and_wait_for_view(page, "#regenerate")
    assert "section 3 (Chorus): new drums, seed 11" in summary(page) and seed_of(summary(page)) == 5
    (tmp_path / "new").mkdir()
    new = read_midi(download(page, ".mid", tmp_path / "new"))
    assert [t for t in new.tracks if not t.is_drum] == [t for t in song.tracks if not t.is_drum]
    assert new.chords == song.chords and new.sections == song.sections
    lo, hi = song.bar_to_tick(6), song.bar_to_tick(10)

    def hits(score, inside):
        return [n for n in score.track("Drums").notes if (lo <= n.start_tick < hi) == inside]

    assert hits(new, False) == hits(song, False) and hits(new, True) != hits(song, True)
    assert click_and_wait_for_view(page, "#undo") == first
    assert click_and_wait_for_view(page, "#redo") == second


def test_zoom_the_roll_follow_the_playhead_and_pick_bars(page):
    """Zoom in: the view drawn wider in a frame that scrolls; the playhead stays in sight as
    the song plays, a click picks the bar under it, and the bars stay picked through a zoom."""
    page.locator("#form textarea, #form input").first.fill("i2A4B4A4o2")
    page.locator("#seed textarea, #seed input").first.fill("8")
    click_and_wait_for_view(page, "#compose")
    page.locator("#player audio").wait_for(state="attached")
    page.wait_for_function("() => document.querySelector('#player audio').duration > 0")
    geometry = ("() => { const i = document.querySelector('#view img'); const f = i.closest('.image-container');"
                " const r = i.getBoundingClientRect(), b = f.getBoundingClientRect();"
                " return {natural: i.naturalWidth, left: r.left, width: r.width, height: r.height,"
                " frameLeft: b.left, frameRight: b.right, top: r.top, scroll: f.scrollLeft,"
                " scrollWidth: f.scrollWidth, clientWidth: f.clientWidth}; }")
    whole = page.evaluate(geometry)
    assert whole["natural"] == 1600 and whole["scrollWidth"] == whole["clientWidth"]
    page.click("#zoom-in")
    page.wait_for_function("() => document.querySelector('#view img').naturalWidth === 3200")
    page.click("#zoom-in")
    page.wait_for_function("() => document.querySelector('#view img').naturalWidth === 4800")
    page.wait_for_function("() => JSON.parse(document.querySelector('#roll-map [data-roll]').dataset.roll).zoom === 3")
    page.wait_for_timeout(200)  # one animation frame for the script to size it
    zoomed = page.evaluate(geometry)
    # three frames wide, as tall as before (drawn wider, not magnified): the frame scrolls
    assert abs(zoomed["width"] - 3 * whole["width"]) < 3 and abs(zoomed["height"] - whole["height"]) < 3
    assert zoomed["scrollWidth"] > 2.9 * zoomed["clientWidth"]
    roll = page.evaluate("() => JSON.parse(document.querySelector('#roll-map [data-roll]').dataset.roll)")
    assert roll["zoom"] == 3 and len(roll["x"]) == 17  # 16 bars and the end
    # Playing from bar 13: the frame scrolls so that the playhead is in sight.
    page.evaluate("s => { const a = document.querySelector('#player audio'); a.muted = true;"
                  " a.currentTime = s; a.play(); }", roll["s"][12])
    page.wait_for_function("() => document.querySelector('#player audio').currentTime > 0"
                           " && document.querySelector('.image-container').scrollLeft > 0")
    page.wait_for_function("() => { const h = document.getElementById('roll-playhead');"
                           " return h && h.style.display === 'block'; }")
    page.evaluate("() => document.querySelector('#player audio').pause()")
    now = page.evaluate(geometry)
    head = page.evaluate("() => parseFloat(document.getElementById('roll-playhead').style.left)")
    assert now["frameLeft"] - 1 <= head <= now["frameRight"] + 1 and now["scroll"] > 0
    # A click on the middle of the frame picks the bar drawn there.
    x = (now["frameLeft"] + now["frameRight"]) / 2
    fraction = (x - now["left"]) / now["width"]
    bar = next(i for i in range(1, 17) if roll["x"][i - 1] <= fraction < roll["x"][i])
    page.mouse.click(x, now["top"] + now["height"] / 2)
    assert page.locator("#from-bar textarea, #from-bar input").first.input_value() == str(bar)
    # Back to the whole song: the bar stays picked (its shading shows).
    page.click("#zoom-out")  # each press waits for its picture: a press sends the zoom shown
    page.wait_for_function("() => document.querySelector('#view img').naturalWidth === 3200")
    page.click("#zoom-out")
    page.wait_for_function("() => document.querySelector('#view img').naturalWidth === 1600")
    page.wait_for_function("() => document.getElementById('roll-selection').style.display === 'block'")
    assert page.locator("#from-bar textarea, #from-bar input").first.input_value() == str(bar)
    assert page.locator("#change-message").inner_text().strip() == ""


def test_gradio_client_takes_drums_off_and_new_drums(server, tmp_path):
    """/takes: two songs of the same settings, seeds S and S+1, each as /compose writes it;
    /compose drums=False; /regenerate "new drums" of the whole song keeps the band."""
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path))
    midis, audios, views, text = client.predict(form="A2B2", seed=7, audio=False, takes=2, api_name="/takes")
    assert len(midis) == 2 and audios == [] and len(views) == 2
    assert "Seed** 7" in text and "Seed** 8" in text
    first, second = (read_midi(m) for m in midis)
    assert first != second
    assert first == read_midi(client.predict(form="A2B2", seed=7, audio=False, api_name="/compose")[0])
    bare = read_midi(client.predict(form="A2B2", seed=7, audio=False, drums=False, api_name="/compose")[0])
    assert not any(t.is_drum for t in bare.tracks)
    assert [t for t in first.tracks if not t.is_drum] == list(bare.tracks)
    new_midi, _, _, summary_text = client.predict(midi=gradio_client.handle_file(midis[0]), level="new drums",
                                                  seed=3, audio=False, api_name="/regenerate")
    new = read_midi(new_midi)
    assert [t for t in new.tracks if not t.is_drum] == [t for t in first.tracks if not t.is_drum]
    assert new.track("Drums").notes != first.track("Drums").notes
    assert "the whole song: new drums, seed 3" in summary_text
    with pytest.raises(gradio_client.exceptions.AppError, match="Takes must be a whole number from 1 to 4, not 5"):
        client.predict(takes=5, api_name="/takes")


def test_harmonise_an_uploaded_melody_then_undo(page, tmp_path):
    src = tmp_path / "upload.mid"
    _upload_song(src)
    page.get_by_label("Render audio").uncheck()   # (Compose's box: Harmonise follows it)
    page.get_by_role("tab", name="Open a MIDI file").click()
    before = view_src(page)
    page.locator("#midi-in input[type=file]").set_input_files(str(src))
    page.wait_for_function("b => { const i = document.querySelector('#view img');"
                           " return i && i.getAttribute('src') !== b; }", arg=before)
    uploaded = view_src(page)
    page.locator("#arrange-seed textarea, #arrange-seed input").first.fill("4")
    click_and_wait_for_view(page, "#harmonise")
    assert "Under the melody of upload" in summary(page) and "16 notes kept exactly" in summary(page)
    song = read_midi(download(page, ".mid", tmp_path))
    lead = read_midi(src).track("Lead").notes
    assert [(n.start_tick, n.duration_ticks, n.pitch) for n in song.track("Melody").notes] == [
        (n.start_tick, n.duration_ticks, n.pitch) for n in lead]
    assert [t.name for t in song.tracks][:4] == ["Melody", "Piano RH", "Piano LH", "Bass"] and song.chords
    assert [(s.label, s.n_bars) for s in song.sections] == [("A", 4)]       # the file's marker
    # A song like a composed one: its section can be picked and rewritten, and Undo brings the file back.
    assert page.locator("#section input").input_value().startswith("1. ")
    assert not page.locator("#regenerate").is_disabled()
    # Issue 22: "Keep the melody" is ticked for a harmonised song; new chords and notes for
    # the section keep every note of the melody.
    keep = page.locator("#keep-melody input[type=checkbox]")
    assert keep.is_checked()
    harmonised = view_src(page)
    page.get_by_label("new chords and notes").check()
    click_and_wait_for_view(page, "#regenerate")
    assert "new chords and notes (melody kept)" in summary(page) and keep.is_checked()
    wait_for_download(page, "-edit1.mid")
    rewritten = read_midi(download(page, "-edit1.mid", tmp_path))
    assert rewritten.track("Melody").notes == song.track("Melody").notes
    assert click_and_wait_for_view(page, "#undo") == harmonised
    assert click_and_wait_for_view(page, "#undo") == uploaded


def test_gradio_client_arrange(server, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path))
    src = tmp_path / "tune.mid"
    _upload_song(src)
    midi, audio, view, text = client.predict(midi=gradio_client.handle_file(str(src)), seed=5, audio=False,
                                             api_name="/arrange")
    song = read_midi(midi)
    assert song.track("Melody").notes == read_midi(src).track("Lead").notes and song.chords
    assert audio is None and Path(view).read_bytes()[:4] == b"\x89PNG"
    assert "Under the melody of tune" in text and "left out: 'Chords'" in text
    again = read_midi(client.predict(midi=gradio_client.handle_file(str(src)), seed=5, audio=False,
                                     api_name="/arrange")[0])
    assert again == song                           # seeded
    # Issue 22: /regenerate of the arranged song keeps its melody unless told otherwise
    arranged = gradio_client.handle_file(midi)
    kept = read_midi(client.predict(midi=arranged, section=1, level="new chords and notes", seed=2, audio=False,
                                    api_name="/regenerate")[0])
    assert kept.track("Melody").notes == song.track("Melody").notes
    new = read_midi(client.predict(midi=arranged, section=1, seed=2, audio=False, keep_melody=False,
                                   api_name="/regenerate")[0])
    assert new.track("Melody").notes != song.track("Melody").notes
    drums = tmp_path / "drums.mid"
    write_midi(Score(tracks=(Track("Drums", 0, True, (Note(0, 120, 36),)),)), drums)
    for kwargs, message in [({"midi": gradio_client.handle_file(str(drums))}, "no melody found"),
                            ({"midi": gradio_client.handle_file(str(src)), "key": "H"}, "unknown key 'H'"),
                            ({"midi": gradio_client.handle_file(str(src)), "form": "A2"},
                             "the form 'A2' has 2 bars but the melody lasts 4")]:
        with pytest.raises(gradio_client.exceptions.AppError, match=re.escape(message)):
            client.predict(audio=False, api_name="/arrange", **kwargs)
    assert "Traceback" not in server.log()
