"""The piano roll on the page: a playhead that follows the player, and bars picked by click.

The view stays the PNG that ``composer plot`` draws; what makes it interactive is a small
script (:data:`ROLL_JS`, run by Gradio once the page loads: ``launch(js=...)``) and the
song's :class:`RollMap` (where each bar line lies in the picture and
when it sounds), which the app puts in a hidden element beside the view
(:func:`roll_map_html`).  No library is loaded and nothing is fetched: the script only reads
the page.

- **Playhead**: a line over the picture at the audio player's current time, placed bar by
  bar (so a tempo change moves it at the right speed), every animation frame.
- **Click a bar**: "Change a part" switches to "a bar range" with From bar = To bar = that
  bar; shift-click extends the range to another bar; a double click takes the whole
  section under the pointer.  The chosen bars are shaded on the picture.
- **Zoom**: the buttons ``#zoom-in`` / ``#zoom-out`` ask the server for the view drawn
  wider (``outputs.zoom_view``: longer notes, text the same size); the map's ``zoom`` says
  how many frames wide the script shows it, the frame scrolling sideways, with the bar that
  was under the frame's middle kept there.  While the player plays, the frame scrolls to
  keep the playhead in sight.  The playhead and the shading are clipped to the frame, and
  clicks map to bars as before (all positions come from the picture's box, wherever it is
  scrolled); the bars picked stay picked through a zoom.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from composer.score import Score

@dataclass(frozen=True)
class RollMap:
    """Where the bars of a drawn song lie, for the page's playhead and bar picking.

    x: the left edge of bars 1..n and the song's end, as fractions of the picture's width
    (n + 1 values, increasing); seconds: the time of each of those bar lines in the audio;
    sections: (first bar, last bar, name), 1-based and inclusive, as the picker names them;
    zoom: the picture is drawn this many times the width of the whole-song view (the page
    shows it that many frames wide, scrolling); song: names the version drawn, so that the
    page keeps the bars picked when only the zoom changes.
    """

    x: tuple[float, ...]
    seconds: tuple[float, ...]
    sections: tuple[tuple[int, int, str], ...] = ()
    zoom: int = 1
    song: str = ""

    def to_json(self) -> str:
        import json  # noqa: PLC0415

        return json.dumps({"x": [round(v, 5) for v in self.x], "s": [round(v, 4) for v in self.seconds],
                           "sections": [list(s) for s in self.sections], "zoom": self.zoom,
                           "song": self.song}, separators=(",", ":"))


def roll_map(score: Score, image) -> RollMap:
    """The :class:`RollMap` of ``score`` as ``composer.plot.draw_score`` drew it (``image``,
    its RollImage: pixel = x_scale * tick + x_offset)."""
    n_bars = max(score.n_bars, max((s.start_bar + s.n_bars for s in score.sections), default=0), 1)
    ticks = [score.bar_to_tick(b) for b in range(n_bars + 1)]
    return RollMap(tuple((image.x_scale * t + image.x_offset) / image.width_px for t in ticks),
                   tuple(score.tick_to_seconds(t) for t in ticks),
                   tuple((s.start_bar + 1, s.start_bar + s.n_bars, s.name or s.label) for s in sorted(score.sections)))


ROLL_JS = r"""
() => {
  const pick = {anchor: null, from: null, to: null};
  let zoom = 1, middle = null;
  // The frame the picture scrolls in: Gradio's box around the image's button.
  const frameOf = (img) => img.closest('.image-container') || img.parentElement;
  // A picture drawn `zoom` times wider is shown `zoom` frames wide (so its height, and its
  // text, stay as at zoom 1) and the frame scrolls sideways.  Applied every frame: Gradio
  // puts a new <img> for a new picture.
  const applyZoom = (img, m) => {
    const frame = frameOf(img);
    if (!frame) return;
    const next = m && m.zoom > 1 ? m.zoom : 1;
    if (next !== zoom) {
      zoom = next;
      if (middle !== null) {  // after a zoom button: the same bar under the frame's middle
        requestAnimationFrame(() => { frame.scrollLeft = Math.max(0, middle * frame.scrollWidth - frame.clientWidth / 2); });
      }
    }
    const width = zoom === 1 ? '' : Math.round(frame.clientWidth * zoom) + 'px';
    if (img.style.width !== width) {
      img.style.width = width;
      img.style.maxWidth = zoom === 1 ? '' : 'none';
      img.style.height = zoom === 1 ? '' : 'auto';
      for (let e = img.parentElement; e && e !== frame; e = e.parentElement) {
        e.style.maxWidth = zoom === 1 ? '' : 'none';
        e.style.width = zoom === 1 ? '' : 'max-content';
      }
      frame.style.overflowX = zoom === 1 ? '' : 'auto';
    }
    img.dataset.zoom = String(zoom);
  };
  // A zoom button pressed: remember which part of the song is in the frame's middle.
  document.addEventListener('pointerdown', (event) => {
    const img = document.querySelector('#view img');
    if (!img || !(event.target.closest && event.target.closest('#zoom-in, #zoom-out'))) return;
    const frame = frameOf(img);
    middle = frame.scrollWidth ? (frame.scrollLeft + frame.clientWidth / 2) / frame.scrollWidth : 0.5;
  }, true);
  const readMap = () => {
    const el = document.querySelector('#roll-map [data-roll]');
    if (!el) return null;
    try { return JSON.parse(el.getAttribute('data-roll')); } catch (e) { return null; }
  };
  // The picture inside its <img> box (the box keeps its aspect ratio with object-fit).
  const pictureBox = (img) => {
    const r = img.getBoundingClientRect();
    const nw = img.naturalWidth, nh = img.naturalHeight;
    if (!nw || !nh || !r.width) return null;
    const s = Math.min(r.width / nw, r.height / nh);
    return {left: r.left + (r.width - nw * s) / 2, top: r.top + (r.height - nh * s) / 2,
            width: nw * s, height: nh * s};
  };
  const xOfTime = (m, t) => {
    const n = m.s.length - 1;
    if (n < 1 || t < m.s[0] || t > m.s[n]) return null;
    let i = 0;
    while (i < n - 1 && t >= m.s[i + 1]) i++;
    const span = m.s[i + 1] - m.s[i];
    return m.x[i] + (span > 0 ? (t - m.s[i]) / span : 0) * (m.x[i + 1] - m.x[i]);
  };
  const barOfX = (m, f) => {
    const n = m.x.length - 1;
    if (n < 1 || f < m.x[0] || f > m.x[n]) return null;
    let i = 0;
    while (i < n - 1 && f >= m.x[i + 1]) i++;
    return i + 1;
  };
  const overlay = (id, css) => {
    let el = document.getElementById(id);
    if (!el) {
      el = document.createElement('div');
      el.id = id;
      el.style.cssText = 'position:fixed;pointer-events:none;z-index:20;display:none;' + css;
      document.body.appendChild(el);
    }
    return el;
  };
  const setText = (selector, value) => {
    const box = document.querySelector(selector);
    if (!box) return;
    box.value = String(value);
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const choose = (m, first, last) => {
    pick.from = first; pick.to = last;
    const radio = [...document.querySelectorAll('#change input[type=radio]')].find(r => r.value === 'a bar range');
    if (radio && !radio.checked) radio.click();
    setText('#from-bar textarea, #from-bar input', first);
    setText('#to-bar textarea, #to-bar input', last);
  };
  let lastSong = null;
  const frame = () => {
    const img = document.querySelector('#view img');
    const m = readMap();
    const box = img && m ? pictureBox(img) : null;
    const head = overlay('roll-playhead', 'width:2px;background:#d62728;');
    const shade = overlay('roll-selection', 'background:rgba(31,119,180,0.18);border:1px solid rgba(31,119,180,0.6);');
    // A new song (not the same one zoomed): the old choice is gone.
    const song = m ? (m.song || img && img.getAttribute('src')) : null;
    if (song !== lastSong) { lastSong = song; pick.anchor = pick.from = pick.to = null; }
    if (img) applyZoom(img, m);
    // What of the picture is in sight: the frame's box (a zoomed picture runs past it).
    const seen = img ? frameOf(img).getBoundingClientRect() : null;
    const audio = document.querySelector('#player audio');
    const x = box && audio && audio.src ? xOfTime(m, audio.currentTime) : null;
    let px = x === null ? null : box.left + x * box.width;
    if (px !== null && zoom > 1 && !audio.paused && (px < seen.left || px > seen.right - 2)) {
      // playing off the frame's edge: scroll so that the playhead is a tenth in from the left
      const frame = frameOf(img);
      frame.scrollLeft += px - (seen.left + seen.width / 10);
      px = box.left + x * box.width - (px - (seen.left + seen.width / 10));
    }
    if (px === null || px < seen.left - 1 || px > seen.right + 1) { head.style.display = 'none'; }
    else {
      head.style.display = 'block';
      head.style.left = px + 'px';
      head.style.top = box.top + 'px';
      head.style.height = box.height + 'px';
      head.dataset.time = audio.currentTime.toFixed(3);
    }
    const x0 = box && pick.from !== null ? box.left + m.x[pick.from - 1] * box.width : null;
    const x1 = x0 === null ? null : box.left + m.x[Math.min(pick.to, m.x.length - 1)] * box.width;
    const left = x0 === null ? null : Math.max(x0, seen.left), right = x0 === null ? null : Math.min(x1, seen.right);
    if (left === null || right <= left) { shade.style.display = 'none'; }
    else {
      shade.style.display = 'block';
      shade.style.left = left + 'px';
      shade.style.width = (right - left) + 'px';
      shade.style.top = box.top + 'px';
      shade.style.height = box.height + 'px';
    }
    requestAnimationFrame(frame);
  };
  const barAt = (event) => {
    const img = event.target.closest && event.target.closest('#view img');
    const m = readMap();
    if (!img || !m) return null;
    const box = pictureBox(img);
    if (!box) return null;
    const bar = barOfX(m, (event.clientX - box.left) / box.width);
    return bar === null ? null : {m, bar};
  };
  document.addEventListener('click', (event) => {
    const hit = barAt(event);
    if (!hit) return;
    if (event.shiftKey && pick.anchor !== null) {
      choose(hit.m, Math.min(pick.anchor, hit.bar), Math.max(pick.anchor, hit.bar));
    } else {
      pick.anchor = hit.bar;
      choose(hit.m, hit.bar, hit.bar);
    }
  }, true);
  document.addEventListener('dblclick', (event) => {
    const hit = barAt(event);
    if (!hit) return;
    const section = (hit.m.sections || []).find(s => s[0] <= hit.bar && hit.bar <= s[1]);
    if (section) { pick.anchor = section[0]; choose(hit.m, section[0], section[1]); }
  }, true);
  requestAnimationFrame(frame);
}
"""


def roll_map_html(roll_json: str | None) -> str:
    """The hidden element that carries a song's RollMap (JSON) to :data:`ROLL_JS`."""
    if not roll_json:
        return "<div></div>"
    return f'<div data-roll="{html.escape(roll_json, quote=True)}" style="display:none"></div>'
