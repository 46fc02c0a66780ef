"""Take the README's pictures: the app in Debian's chromium (Playwright) and `composer plot`.

    python docs/screenshots.py        # writes docs/img/*.png (small, 256-colour PNGs)

Seeded, so a rerun draws the same songs (the browser's fonts may shift a pixel or two).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"
sys.path.insert(0, str(REPO / "tests"))
from app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402


def shrink(path: Path, width: int) -> None:
    """Scale to ``width`` px and keep 256 colours: a screenshot of a few tens of KB."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def wait_new_view(page, before):
    page.wait_for_function("b => { const i = document.querySelector('#view img');"
                           " return i && i.getAttribute('src') && i.getAttribute('src') !== b; }", arg=before)


def view_src(page):
    img = page.locator("#view img")
    return img.first.get_attribute("src") if img.count() else None


def main() -> None:
    from playwright.sync_api import sync_playwright

    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song.mid"
        # COMPOSER_TEST_MODELS: the models folder the app and this song use (as in the tests).
        models = ["--models", os.environ["COMPOSER_TEST_MODELS"]] if os.environ.get("COMPOSER_TEST_MODELS") else []
        subprocess.run([sys.executable, "-m", "composer", "generate", "--form", "i4A8B8A8B8o4", "--seed", "7",
                        "-o", str(song), *models], check=True, cwd=REPO)
        subprocess.run([sys.executable, "-m", "composer", "plot", str(song), "-o", str(IMG / "plot.png"),
                        "--force", "--title", "composer generate --form i4A8B8A8B8o4 --seed 7"],
                       check=True, cwd=REPO)
        shrink(IMG / "plot.png", 1600)
        with running_app(Path(tmp) / "app") as app, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(300_000)
            page.goto(app.url)
            page.wait_for_selector("#compose")
            page.locator("#form textarea, #form input").first.fill("i4A8B8A8B8o4")
            page.locator("#seed textarea, #seed input").first.fill("7")
            before = view_src(page)
            page.click("#compose")
            wait_new_view(page, before)
            page.wait_for_selector('#downloads a[download$=".wav"]')
            page.wait_for_timeout(1500)  # the audio player draws its waveform
            page.screenshot(path=str(IMG / "app-compose.png"), full_page=True)
            shrink(IMG / "app-compose.png", 1100)

            # The third section picked by a double click on the roll, as a user does.
            roll = page.evaluate("() => JSON.parse(document.querySelector('#roll-map [data-roll]').dataset.roll)")

            def pick_section(bar: int) -> None:
                # Measured just before the click: clicking the controls below scrolls the page
                # (a click measured before it landed on Undo).
                page.locator("#view img").scroll_into_view_if_needed()
                x0, w, y = page.evaluate(
                    "() => { const i = document.querySelector('#view img'); const r = i.getBoundingClientRect();"
                    " const s = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);"
                    " return [r.left + (r.width - i.naturalWidth * s) / 2, i.naturalWidth * s, r.top + r.height / 2]; }")
                page.mouse.dblclick(x0 + (roll["x"][bar - 1] + roll["x"][bar]) / 2 * w, y)

            first_bar = roll["sections"][2][0]
            pick_section(first_bar)
            page.locator("#regen-seed textarea, #regen-seed input").first.fill("3")
            page.click("#regenerate")
            # (the summary, not the picture's address: that can change twice for one song)
            page.wait_for_function("() => document.querySelector('#summary').innerText.includes('new notes, seed 3')")
            # The player part way into the song: the playhead stands there.
            page.evaluate("s => { const a = document.querySelector('#player audio'); a.currentTime = s; }",
                          roll["s"][first_bar + 2])
            pick_section(first_bar)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(IMG / "app-regenerate.png"), full_page=False,
                            clip={"x": 0, "y": 0, "width": 1360, "height": 900})
            shrink(IMG / "app-regenerate.png", 1100)

            # New drums for the last chorus, then the roll zoomed in on it: the drum row in the
            # view and "new drums" under Change a part.
            last = roll["sections"][4]
            page.evaluate("() => document.querySelector('#player audio').pause()")
            pick_section(last[0])
            page.get_by_label("new drums").check()
            page.locator("#regen-seed textarea, #regen-seed input").first.fill("5")
            page.click("#regenerate")
            page.wait_for_function("() => document.querySelector('#summary').innerText.includes('new drums, seed 5')")
            pick_section(last[0])
            for natural in (3200, 4800):
                page.click("#zoom-in")
                page.wait_for_function("n => document.querySelector('#view img').naturalWidth === n", arg=natural)
            page.evaluate("s => { const a = document.querySelector('#player audio'); a.currentTime = s; }",
                          roll["s"][last[0] + 1])
            page.evaluate("f => { const c = document.querySelector('#view .image-container');"
                          " c.scrollLeft = f * c.scrollWidth - c.clientWidth / 3; }", roll["x"][last[0] - 1])
            # A taller window from the roll down to Change a part (its "new drums" chosen).
            page.set_viewport_size({"width": 1360, "height": 1180})
            page.evaluate("() => window.scrollTo(0, document.querySelector('#view').getBoundingClientRect().top"
                          " + window.scrollY - 60)")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(IMG / "app-drums.png"), full_page=False)
            shrink(IMG / "app-drums.png", 1100)
            page.set_viewport_size({"width": 1360, "height": 900})
            for natural in (3200, 1600):
                page.click("#zoom-out")
                page.wait_for_function("n => document.querySelector('#view img').naturalWidth === n", arg=natural)

            page.get_by_role("tab", name="Lead sheet").click()
            page.click("#engrave")
            page.locator("#lead-sheet img").first.wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(IMG / "app-lead-sheet.png"), full_page=False,
                            clip={"x": 0, "y": 0, "width": 1360, "height": 900})
            shrink(IMG / "app-lead-sheet.png", 1100)
            page.get_by_role("tab", name="Piano roll").click()

            page.get_by_role("tab", name="Open a MIDI file").click()
            before = view_src(page)
            page.locator("#midi-in input[type=file]").set_input_files(str(song))
            wait_new_view(page, before)
            page.locator("#sound").scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            page.screenshot(path=str(IMG / "app-render.png"), full_page=True)
            shrink(IMG / "app-render.png", 1100)
            browser.close()
    for f in sorted(IMG.glob("*.png")):
        print(f"wrote {f.relative_to(REPO)} ({f.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
