"""Draw a Score as a piano roll: melody, accompaniment, bass and drums in their own colours,
section names and boundaries, chord symbols along the top and bar numbers below.

    from composer.plot import draw_score
    image = draw_score(read_midi("song.mid"), "song.png")   # also returns the PNG bytes

The same drawing serves ``composer plot``, the app's view of a song and the README.  It must
work for any MIDI file, so it never assumes the generator's track names: each track gets a
*role* from :func:`composer.tracks.classify_tracks`, the one rule every room uses (a track
named "Melody", else the highest monophonic-ish track, is the melody; the word "bass" in the
name or GM programs 32-39 the bass; drum tracks drums; everything else accompaniment).

Speed: every note of a role is one ``PolyCollection`` (one draw call, not one patch per
note) and chord labels that would overlap are left out, so a 3-minute song of ~3,000 notes
draws in a few tenths of a second (Agg backend, no screen needed).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from composer.errors import ComposerError
from composer.score import Score
from composer.tracks import ROLES, Role, classify_tracks


# Colour-blind-safe (Okabe-Ito) colours, one per role; the melody's vermilion is the
# strongest so the line reads first.  Tests look for these exact colours in the PNG.
ROLE_COLOURS: dict[Role, str] = {
    "melody": "#D55E00",
    "accompaniment": "#0072B2",
    "bass": "#009E73",
    "drums": "#555555",
}
DEFAULT_WIDTH_PX = 1600
DEFAULT_HEIGHT_PX = 560
DPI = 100


class PlotError(ComposerError):
    """A Score cannot be drawn (nothing to draw, bad size, unwritable path)."""


# ---------------------------------------------------------------------------- drawing
@dataclass(frozen=True)
class RollImage:
    """A drawn piano roll.

    png: the PNG file's bytes; width_px, height_px: its size; roles: one per track;
    x_of_tick / y_of_pitch: the affine map from (tick, MIDI pitch) to pixel column and row
    (rows counted from the top), so that a caller (a test) can find where a note was drawn.
    """

    png: bytes
    width_px: int
    height_px: int
    roles: tuple[Role, ...]
    x_scale: float
    x_offset: float
    y_scale: float
    y_offset: float

    def pixel(self, tick: float, pitch: float) -> tuple[int, int]:
        """(column, row) of the point at ``tick`` and the centre of ``pitch``'s lane."""
        return (int(round(self.x_scale * tick + self.x_offset)),
                int(round(self.y_scale * pitch + self.y_offset)))


def _bar_ticks(score: Score, n_bars: int) -> np.ndarray:
    return np.array([score.bar_to_tick(b) for b in range(n_bars + 1)], dtype=np.int64)


def _label_step(n_bars: int, width_px: int) -> int:
    """Label every bar, or every 2, 4, 8... so that labels stay ~28 px apart."""
    step = 1
    while n_bars / step * 28 > width_px * 0.9:
        step *= 2
    return step


def _rects(notes: Sequence, lo: float = 0.45) -> np.ndarray:
    """Note rectangles as polygon vertices ``float [n, 4, 2]`` (x ticks, y pitch)."""
    arr = np.array([(n.start_tick, max(n.duration_ticks, 1), n.pitch) for n in notes], dtype=np.float64)
    x0, x1 = arr[:, 0], arr[:, 0] + arr[:, 1]
    y0, y1 = arr[:, 2] - lo, arr[:, 2] + lo
    return np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1),
                     np.stack([x1, y1], 1), np.stack([x0, y1], 1)], axis=1)


def check_size(width_px: int, height_px: int) -> None:
    """PlotError unless 200 <= width_px <= 8000 and 150 <= height_px <= 8000 (smaller leaves
    no room for the roll; larger is a memory bomb, 8000 x 8000 RGBA is already 256 MB)."""
    if not (200 <= width_px <= 8000 and 150 <= height_px <= 8000):
        raise PlotError(f"image size {width_px}x{height_px} px is outside 200..8000 x 150..8000")


def draw_score(score: Score, path: str | os.PathLike | None = None, *,
               width_px: int = DEFAULT_WIDTH_PX, height_px: int = DEFAULT_HEIGHT_PX,
               title: str | None = None) -> RollImage:
    """Draw ``score`` as a piano roll PNG of ``width_px`` x ``height_px`` pixels.

    Writes the PNG to ``path`` when given (atomically: the file appears only complete) and
    returns it as a :class:`RollImage` either way.  ``title`` defaults to the Score's title.
    Raises PlotError for a Score without notes or a size outside 200..8000 px.
    """
    import matplotlib  # noqa: PLC0415 - heavy; only the plot needs it

    matplotlib.use("Agg", force=False)
    from matplotlib.collections import PolyCollection  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415 - no pyplot: no global figure state

    check_size(width_px, height_px)
    if not any(t.notes for t in score.tracks):
        raise PlotError("the song has no notes to draw")
    from composer.spelling import chord_text  # noqa: PLC0415

    roles = classify_tracks(score)
    n_bars = max(score.n_bars, max((s.start_bar + s.n_bars for s in score.sections), default=0), 1)
    bars = _bar_ticks(score, n_bars)
    end = int(bars[-1])
    pitched = [n.pitch for t, r in zip(score.tracks, roles) if r != "drums" for n in t.notes]
    has_drums = any(r == "drums" and t.notes for t, r in zip(score.tracks, roles))
    lo_pitch = min(pitched, default=48) - 2
    hi_pitch = max(pitched, default=72) + 2
    if hi_pitch - lo_pitch < 24:  # a narrow song still gets two octaves, centred
        mid = (hi_pitch + lo_pitch) / 2
        lo_pitch, hi_pitch = mid - 12, mid + 12

    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    # Fixed margins in pixels so the layout does not depend on text measurement (fast, and
    # the same for every song).
    left, right, bottom, top_title = 46 / width_px, 1 - 12 / width_px, 30 / height_px, 26 / height_px
    header = 44 / height_px  # two rows: section names, chord symbols
    drums_h = (0.09 if has_drums else 0.0)
    roll_bottom = bottom + drums_h
    roll_top = 1 - top_title - header
    ax = fig.add_axes((left, roll_bottom, right - left, roll_top - roll_bottom))
    head = fig.add_axes((left, roll_top, right - left, header), sharex=ax)
    dax = fig.add_axes((left, bottom, right - left, drums_h), sharex=ax) if has_drums else None

    ax.set_xlim(0, end)
    ax.set_ylim(lo_pitch, hi_pitch)
    head.set_ylim(0, 2)
    head.axis("off")

    # Sections: alternating shading, a boundary line and the name in the header's top row.
    for i, s in enumerate(sorted(score.sections)):
        x0, x1 = score.bar_to_tick(s.start_bar), score.bar_to_tick(s.start_bar + s.n_bars)
        shade = "#f3f3f3" if i % 2 else "#ffffff"
        ax.axvspan(x0, x1, color=shade, zorder=0, lw=0)
        head.axvspan(x0, x1, ymin=0.5, ymax=1.0, color="#e4e4ee" if i % 2 else "#eeeef6", lw=0)
        ax.axvline(x0, color="#444444", lw=1.2, zorder=1)
        name = s.name or s.label
        if (x1 - x0) / end * width_px * (right - left) > 7 * len(name) + 6:
            label = name
        elif (x1 - x0) / end * width_px * (right - left) > 7 * len(s.label) + 4:
            label = s.label
        else:
            label = ""
        if label:
            head.text(x0 + end * 0.002, 1.5, label, va="center", ha="left", fontsize=9,
                      fontweight="bold", clip_on=True)
    # Bar lines, light, behind the notes.
    ax.vlines(bars[1:-1], lo_pitch, hi_pitch, colors="#dddddd", lw=0.6, zorder=0.5)
    # Octave guides at every C.
    cs = [p for p in range(int(np.ceil(lo_pitch)), int(hi_pitch) + 1) if p % 12 == 0]
    ax.hlines(cs, 0, end, colors="#e8e8e8", lw=0.6, zorder=0.5)
    ax.set_yticks(cs, [f"C{p // 12 - 1}" for p in cs], fontsize=8)

    # Chord symbols in the header's lower row, where the chord changes and there is room.
    px_per_tick = width_px * (right - left) / max(end, 1)
    last_x, last_name = -1e9, None
    for c in score.chords:
        name = chord_text(c)
        if name == last_name:
            continue
        x = c.start_tick * px_per_tick
        if x - last_x >= 7.0 * len(last_name or "") + 8:  # ~7 px per character at 8 pt
            head.text(c.start_tick, 0.5, name, va="center", ha="left", fontsize=8, color="#333333",
                      clip_on=True)
            last_x, last_name = x, name

    # Notes, one collection per role; melody drawn last so it stays on top.  No antialiasing
    # and no edges: each note is a flat block of its role's exact colour.
    order = {"drums": 0, "accompaniment": 1, "bass": 2, "melody": 3}
    handles = []
    for role in sorted(set(roles), key=order.get):
        notes = [n for t, r in zip(score.tracks, roles) if r == role for n in t.notes]
        if not notes:
            continue
        target = dax if role == "drums" else ax
        verts = _rects(notes)
        if role == "drums":  # the GM drum map is not a pitch axis: one lane, short ticks
            verts[:, :, 1] = np.where(verts[:, :, 1] > np.array([n.pitch for n in notes])[:, None], 0.8, 0.2)
        target.add_collection(PolyCollection(verts, facecolors=ROLE_COLOURS[role], edgecolors="none",
                                             linewidths=0, antialiaseds=False, zorder=2 + order[role]))
        names = ", ".join(t.name or f"track {i}" for i, (t, r) in enumerate(zip(score.tracks, roles))
                          if r == role and t.notes)
        handles.append((role, names))
    if dax is not None:
        dax.set_ylim(0, 1)
        dax.set_yticks([0.5], ["drums"], fontsize=8)
        dax.tick_params(axis="x", labelbottom=False, length=0)
        ax.tick_params(axis="x", labelbottom=False)
    bottom_ax = dax if dax is not None else ax
    step = _label_step(n_bars, width_px)
    shown = list(range(0, n_bars, step))
    bottom_ax.set_xticks([bars[b] for b in shown], [str(b + 1) for b in shown], fontsize=8)
    ax.set_xticks([bars[b] for b in shown])
    ax.tick_params(axis="x", length=3)

    text = title if title is not None else score.title
    fig.text(left, 1 - top_title / 2, text, ha="left", va="center", fontsize=10, fontweight="bold")
    from matplotlib.patches import Patch  # noqa: PLC0415

    handles.sort(key=lambda h: ROLES.index(h[0]))
    fig.legend([Patch(color=ROLE_COLOURS[role]) for role, _ in handles],
               [f"{role} ({names})" for role, names in handles], loc="center right",
               bbox_to_anchor=(right, 1 - top_title / 2), ncol=len(handles), frameon=False,
               fontsize=8, handlelength=1.0, handleheight=0.8, columnspacing=1.2, borderaxespad=0)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    png = buf.getvalue()
    # Pixel map of the roll axes: data -> display (origin bottom-left) -> image rows from top.
    (x0d, y0d), (x1d, y1d) = ax.transData.transform([(0, lo_pitch), (end, hi_pitch)])
    x_scale = (x1d - x0d) / end
    y_scale = -(y1d - y0d) / (hi_pitch - lo_pitch)
    image = RollImage(png, width_px, height_px, roles, x_scale, x0d,
                      y_scale, height_px - y0d - y_scale * lo_pitch)
    if path is not None:
        _write_png(Path(path), png)
    return image


@dataclass(frozen=True)
class DrumGrid:
    """One drum part to draw: ``velocity`` uint8 [n_bars, 16, N_DRUMS] (see
    composer/representation/drums.py), 16ths per bar, the first bar's number (1-based) and
    the bars (0-based, within the grid) where a section starts."""

    title: str
    velocity: np.ndarray
    steps_per_bar: int
    first_bar: int = 1
    section_starts: tuple[int, ...] = ()


def draw_drum_grids(grids: Sequence[DrumGrid], path: str | os.PathLike | None = None, *,
                    width_px: int = DEFAULT_WIDTH_PX, height_px: int = DEFAULT_HEIGHT_PX,
                    title: str | None = None) -> bytes:
    """Draw drum parts one above the other, one row per kit piece and one column per 16th,
    each hit a cell as dark as it is loud: a generated song's drums beside a real
    performance (``composer plot --drums --beside``).  Returns the PNG; writes it to ``path``
    when given.  Raises PlotError for no grid or a size outside 200..8000 px."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # noqa: PLC0415

    from composer.representation.drums import DRUM_NAMES  # noqa: PLC0415

    check_size(width_px, height_px)
    if not grids:
        raise PlotError("no drum part to draw")
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    top = 30 / height_px if title else 8 / height_px
    gap = 1 - top - 8 / height_px
    each = gap / len(grids)
    for i, g in enumerate(grids):
        spb = g.steps_per_bar
        n_bars = len(g.velocity)
        # rows top to bottom: cymbals over drums, the way a drum chart reads
        img = g.velocity[:, :spb].reshape(n_bars * spb, -1).T[::-1].astype(float)
        ax = fig.add_axes((70 / width_px, 1 - top - (i + 1) * each + 36 / height_px,
                           1 - 82 / width_px, each - 58 / height_px))
        ax.imshow(img, aspect="auto", cmap="Greys", vmin=0, vmax=127, interpolation="nearest",
                  extent=(0, n_bars * spb, -0.5, img.shape[0] - 0.5))
        ax.set_yticks(range(img.shape[0]), list(DRUM_NAMES), fontsize=7)   # y 0 = the bottom row
        for b in range(1, n_bars):
            ax.axvline(b * spb, color="#2060c0" if b in g.section_starts else "#bbbbbb",
                       lw=1.6 if b in g.section_starts else 0.6)
        for b in range(n_bars):
            for beat in range(1, spb // 4):
                ax.axvline(b * spb + 4 * beat, color="#eeeeee", lw=0.4, zorder=0)
        step = max(1, n_bars // 16)
        ax.set_xticks([b * spb for b in range(0, n_bars, step)],
                      [str(g.first_bar + b) for b in range(0, n_bars, step)], fontsize=7)
        ax.set_title(g.title, fontsize=9, loc="left")
    if title:
        fig.text(70 / width_px, 1 - 15 / height_px, title, ha="left", va="center", fontsize=10,
                 fontweight="bold")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    png = buf.getvalue()
    if path is not None:
        _write_png(Path(path), png)
    return png


def _write_png(path: Path, png: bytes) -> None:
    from composer.io.atomic import atomic_path  # noqa: PLC0415

    if not path.parent.exists():
        raise PlotError(f"folder {path.parent} does not exist; create it first")
    with atomic_path(path, suffix=".png") as tmp:
        Path(tmp).write_bytes(png)


__all__ = ["draw_score", "draw_drum_grids", "DrumGrid", "check_size", "classify_tracks", "RollImage", "ROLE_COLOURS", "ROLES", "PlotError"]
