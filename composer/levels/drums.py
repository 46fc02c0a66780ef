"""Sampling the drum level: a song's sections and band in, a GM drum part out.

    level = DrumLevel.from_pretrained("models/drums")
    score = add_drums(level, score, seed=3)          # a "Drums" track on channel 10

The net (:mod:`composer.nets.drums`) writes one bar at a time, conditioned on the bar's kind
(groove or fill), intensity, style, tempo and meter; this module places its bars by the form,
the way a drummer reads a chart:

* each section gets an intensity from its label and from what the band plays there
  (:func:`plan_sections`): intros and outros light, verses medium, choruses heavy, one step
  up or down where the piano and bass play much more or less than in the rest of the song;
  a section where the band is silent has no drums;
* a section's groove is one sampled bar; its other bars are that bar and light variations of
  it (re-noised to :data:`DEFAULT_VARIATION` and denoised again), so the pattern holds within
  a section and changes between sections;
* the first bar of every section has a crash and a kick on its downbeat (inpainted: the net
  writes the rest of the bar around them);
* the last bar before a new section is a fill: a whole bar under the net's fill condition,
  drawn :data:`DEFAULT_FILL_CANDIDATES` times and the first that plays at least
  :data:`DEFAULT_FILL_MIN_HITS` snare and tom hits kept (:func:`pick_fills`);
* a returning section (same label and intensity) plays its first statement's bars again, as
  the melody and chords of a returning phrase return.

Groove MIDI has drums alone (no band, no form), so the net cannot learn the form or the band;
these placement rules are the arrangement, and the net writes every bar's hits, velocities and
timing from the data.  ``humanize`` moves each hit by the offset the net wrote (the drummers'
own timing); off, every hit is on its 16th.  Randomness: one ``torch.Generator``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from composer.arrange import HUMANIZE_MAX_TICKS, HUMANIZE_ONSET_SD_TICKS
from composer.diffusion.samplers import grid_time, guided, run_sampler, step_counter
from composer.diffusion.schedule import add_noise
from composer.errors import ComposerError
from composer.grid import STEPS_PER_BEAT
from composer.io.checkpoint import build_model, load_weights, read_config
from composer.levels.returns import return_start
from composer.nets.drums import DrumDenoiser
from composer.representation.drums import (CLOSED_HAT, CRASH, DRUM_CHANNELS, FILL_DRUMS, KICK, MAX_STEPS, N_DRUMS,
                                           OPEN_HAT, RIDE, STYLES, bar_condition, from_drum_array,
                                           to_drum_array, track_from_bars)
from composer.score import Score, Section, Track
from composer.tracks import DRUMS

DEFAULT_STEPS = 12
DEFAULT_VARIATION = 0.7
"""How far a section's varied bars move from its groove bar (0 = copies, 1 = new bars).
Chosen against the Groove *train* split on 30 cascade songs: groove consistency within
sections 0.910 at 0.5, 0.876 at 0.6, 0.849 at 0.7; train performances 0.842."""
DEFAULT_FILL_KEPT = 0.0
"""The share of a fill bar kept from the section's groove (0: the fill plays the whole bar,
as Groove MIDI's fills do)."""
DEFAULT_FILL_GUIDANCE = 1.0
"""Classifier-free guidance scale of the fill bars (1 = off, one net call per step)."""
DEFAULT_FILL_INTENSITY: int | None = 0
"""The intensity of every fill bar (None: its section's).  Intensity is the tercile of a
*groove* bar's hits, and 387 of the 629 training fills are light by it (181 medium, 61
heavy), so a chorus's fill asked for at "heavy" was a groove with a few toms.  Chosen
against the Groove train split's fill bars (per-drum hits per bar kick 1.77, snare 5.84,
closed hat 1.75, toms 1.91 / 0.46 / 1.70; snare+tom hits 1.55x the groove bars') on 30
cascade songs: the section's intensity with the first beat kept: 1.57x, L1 distance of the
per-drum profile 9.2; light, nothing kept: 1.45x, 3.9 (kick 1.23, snare 4.59, closed hat
1.14, toms 1.22 / 0.48 / 1.09); light with guidance 1.5: 1.53x, 5.1; the section's
intensity with guidance 2: 2.15x."""
DEFAULT_FILL_MIN_HITS = 4
"""Snare and tom hits a 4/4 fill bar must play (see :func:`pick_fills`): the training set's
minimum for a fill bar (4 hits), counted on the drums that make a fill.  One draw played
fewer in 12% of the fill bars of 100 cascade songs (2.7% one hit or none: seed 3 went into
its choruses on one snare hit).  Chosen against the Groove *train* split in the styles a
song's drummer plays (:data:`SONG_STYLES`: 381 fills of 10.03 snare and tom hits a bar,
1.838x the grooves' 5.45; 9% of them under 4) on those 100 songs, fill density ratio and
hits per fill bar: one draw 1.564x (7.25); the first of 4 with 4 or more 1.878x (8.71),
with 5 1.942x (9.01), with 6 2.015x (9.34); the first of 6 with 6 2.063x (9.56); the first
of 4 with one more than the section's groove bar (and 4 at least) 2.016x (9.35).  The whole
train split (1.548x, 9.91) is no target for a song's fills: its latin, New Orleans and
Afro-Cuban grooves are busy on snare and toms (8.5, 11.6, 6.9 a bar), the songs' styles not."""
DEFAULT_FILL_CANDIDATES = 4
"""How many fill bars are drawn (in the one batch of the fills) for each fill a song plays:
four leave none of the 100 songs' fill bars under :data:`DEFAULT_FILL_MIN_HITS` (two left
2.6% of 30 songs' under it)."""
DEFAULT_FILL_ABOVE_GROOVE = True
"""A fill must also play more snare and tom hits than the groove of the section it leaves
(:func:`pick_fills`): under a funk groove of 8-11 snare hits a bar, a 4-hit "fill" is the
groove again to the ear (the bar into Chorus 1 of a demo song played 8 snare hits after
bars of 8-11, no tom).  Measured on the 100 cascade songs, see the model card."""
SONG_STYLES = ("rock", "pop", "soul", "funk", "hiphop")
"""The styles a song's drummer is drawn from (the accompaniment is pop: no jazz, latin, punk)."""
DRUM_TRACK = DRUMS
DRUM_METERS = {(4, 4): ("4/4", 16), (3, 4): ("3/4", 12), (6, 8): ("6/8", 12), (2, 4): ("4/4", 8)}
"""Meters the level writes: (numerator, denominator) -> (meter the net was trained on, 16ths
per bar).  A 2/4 bar is the first half of a 4/4 bar."""
LIGHT, MEDIUM, HEAVY = 0, 1, 2
GROOVE_OFFSET_SD = 0.203
"""Standard deviation of Groove MIDI's hit offsets, in 16ths (docs/DATA.md)."""
TIMING_SCALE = HUMANIZE_ONSET_SD_TICKS / (GROOVE_OFFSET_SD * 120)
"""``humanize`` plays the net's offsets scaled to the spread of the band's humanized timing
(8 ticks of 480 against Groove's 24) and capped as it is (14 ticks): which hits push and
which lay back is the drummers', the amount the band's.  At the data's full spread MuseScore
read a humanized song as a free performance (120 bpm by beat tracking instead of its tempo)."""


class DrumLevel:
    """A trained drum denoiser, ready to sample (eval mode, CPU)."""

    def __init__(self, model: DrumDenoiser) -> None:
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "DrumLevel":
        config = read_config(folder, kind="drums")
        return cls(load_weights(folder, build_model(DrumDenoiser, config.get("model"), folder)))


@dataclass(frozen=True)
class DrumSection:
    """What the drummer plays in one section: bars ``start_bar .. start_bar + n_bars - 1``,
    the section's ``label``, ``intensity`` (0 light, 1 medium, 2 heavy; None = no drums) and
    whether a new section follows (``fill``: its last bar is a fill)."""

    start_bar: int
    n_bars: int
    label: str
    intensity: int | None
    fill: bool


def band_density(score: Score, n_bars: int, steps_per_bar: int) -> np.ndarray:
    """float [n_bars]: onsets per beat of every pitched (non-drum) track in each bar."""
    counts = np.zeros(n_bars)
    for t in score.tracks:
        if t.is_drum:
            continue
        for n in t.notes:
            bar = score.tick_to_bar(n.start_tick)
            if 0 <= bar < n_bars:
                counts[bar] += 1
    return counts / (steps_per_bar / STEPS_PER_BEAT)


def label_intensity(label: str) -> int:
    """The intensity a section's label asks for: intro / outro light, chorus heavy, verses,
    bridges and interludes medium."""
    if label in ("i", "o"):
        return LIGHT
    if label == "B":
        return HEAVY
    return MEDIUM


def plan_sections(sections: Sequence[Section], density: np.ndarray) -> tuple[DrumSection, ...]:
    """The drummer's plan of ``sections`` (sorted, tiling the bars) given the band's onsets per
    beat in each bar: the label's intensity, one step up where the band plays more than 1.3x
    its song-wide median, one down under 0.7x; no drums where the band is silent."""
    sections = sorted(sections)
    dens = [float(np.mean(density[s.start_bar:s.start_bar + s.n_bars])) if s.n_bars else 0.0
            for s in sections]
    playing = [d for d in dens if d > 0]
    median = float(np.median(playing)) if playing else 0.0
    out = []
    for i, (s, d) in enumerate(zip(sections, dens)):
        if d <= 0:
            level = None
        else:
            level = label_intensity(s.label)
            if d > 1.3 * median:
                level = min(HEAVY, level + 1)
            elif d < 0.7 * median:
                level = max(LIGHT, level - 1)
        nxt = sections[i + 1] if i + 1 < len(sections) else None
        fill = nxt is not None and s.n_bars >= 2 and level is not None
        out.append(DrumSection(s.start_bar, s.n_bars, s.label, level, fill))
    return tuple(out)


def _denoise_fn(level: DrumLevel, cond: torch.Tensor, known: torch.Tensor, mask: torch.Tensor,
                guidance: float):
    b = cond.shape[0]

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if guidance == 1.0:
            return level.model(x, t, cond, torch.ones(b), known, mask)
        both = level.model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, cond]),
                           torch.cat([torch.ones(b), torch.zeros(b)]), torch.cat([known, known]),
                           torch.cat([mask, mask]))
        return guided(both[:b], both[b:], guidance)

    return denoise


def _run(level: DrumLevel, cond: np.ndarray, known: torch.Tensor, mask: torch.Tensor, steps: int,
         generator: torch.Generator | None, guidance: float, tick, source: torch.Tensor | None = None,
         variation: float = 1.0) -> torch.Tensor:
    """One batched sampler run: from noise, or (``source`` given) from ``source`` noised to
    ``variation``; ``known`` / ``mask`` as the net takes them."""
    c = torch.from_numpy(np.asarray(cond, np.float32))
    noise = torch.randn(known.shape, generator=generator)
    start = 0
    x = noise.clone()
    if source is not None:
        start = return_start(steps, variation)
        x = add_noise(source, noise, grid_time(steps, start).expand(known.shape[0]))
    return run_sampler(_denoise_fn(level, c, known, mask, guidance), x, steps, known=known,
                       mask=mask, noise=noise, tick=tick, start=start)


def fill_hits(bars: torch.Tensor, steps_per_bar: int) -> np.ndarray:
    """int [n]: the snare and tom hits of ``n`` bars ([n, C, 16] drum arrays) in their first
    ``steps_per_bar`` steps."""
    vel, _ = from_drum_array(bars.numpy())
    return (vel[:, :steps_per_bar, list(FILL_DRUMS)] > 0).sum(axis=(1, 2))


def pick_fills(candidates: torch.Tensor, steps_per_bar: int, min_hits: int,
               groove_hits: np.ndarray | None = None) -> torch.Tensor:
    """[n, k, C, 16] candidates of n fill bars -> [n, C, 16]: for each, the first candidate
    that plays at least ``min_hits`` snare and tom hits (scaled to ``steps_per_bar`` of 16)
    and, with ``groove_hits`` (int [n]: the hits of each fill's section groove), more than its
    groove plays; else the one that plays the most.  A rejection sampler: the level learnt
    fills from bars of 4 hits or more, and a sampled "fill" of one snare hit is outside what
    it learnt as one; nor is a fill one the ear can tell from the groove it leaves."""
    n, k = candidates.shape[:2]
    hits = fill_hits(candidates.reshape(n * k, *candidates.shape[2:]), steps_per_bar).reshape(n, k)
    need = np.full(n, -(-min_hits * steps_per_bar // MAX_STEPS))
    if groove_hits is not None:
        need = np.maximum(need, np.asarray(groove_hits) + 1)
    ok = hits >= need[:, None]
    pick = np.where(ok.any(axis=1), ok.argmax(axis=1), hits.argmax(axis=1))
    return candidates[torch.arange(n), torch.from_numpy(pick)]


def _padding(steps_per_bar: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """known / mask [b, C, 16] with the padding beyond ``steps_per_bar`` known (no hits)."""
    empty = torch.from_numpy(to_drum_array(np.zeros((1, MAX_STEPS, N_DRUMS), np.uint8),
                                           np.zeros((1, MAX_STEPS, N_DRUMS), np.float32)))
    known = empty.expand(b, -1, -1).clone()
    mask = torch.zeros(b, DRUM_CHANNELS, MAX_STEPS)
    mask[:, :, steps_per_bar:] = 1
    return known, mask


@torch.no_grad()
def sample_drums(level: DrumLevel, plan: Sequence[DrumSection], n_bars: int, meter: str = "4/4",
                 steps_per_bar: int = 16, bpm: float = 100.0, style: str | None = None,
                 generator: torch.Generator | None = None, steps: int = DEFAULT_STEPS,
                 variation: float = DEFAULT_VARIATION, guidance: float = 1.0,
                 fill_kept: float = DEFAULT_FILL_KEPT, fill_guidance: float = DEFAULT_FILL_GUIDANCE,
                 fill_intensity: int | None = DEFAULT_FILL_INTENSITY,
                 fill_candidates: int = DEFAULT_FILL_CANDIDATES, fill_min_hits: int = DEFAULT_FILL_MIN_HITS,
                 fill_above_groove: bool = DEFAULT_FILL_ABOVE_GROOVE,
                 progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The drum part of a song planned as ``plan``: (velocity uint8, offset float32)
    ``[n_bars, 16, N_DRUMS]`` (see :mod:`composer.representation.drums`).

    meter: the net's meter ("4/4", "3/4", "6/8"); steps_per_bar: 16ths written per bar (8 for
    2/4, the first half of a 4/4 bar); bpm: the tempo condition; style: one of
    :data:`composer.representation.drums.STYLES` (default: drawn from :data:`SONG_STYLES` by
    ``generator``); steps: sampler steps; variation: see :data:`DEFAULT_VARIATION`;
    guidance: classifier-free guidance scale (1 = off); fill_kept, fill_guidance,
    fill_intensity, fill_candidates, fill_min_hits, fill_above_groove: see their defaults (and
    :func:`pick_fills`); progress(done, total) after each
    network call.  Three batched sampler runs whatever the song's length: the grooves, then
    the crash bars, fills and variations of every (label, intensity) played."""
    if style is None:
        style = SONG_STYLES[int(torch.randint(len(SONG_STYLES), (1,), generator=generator))]
    if style not in STYLES:
        raise ComposerError(f"unknown drum style {style!r}; choose one of {', '.join(STYLES)}")
    s_idx = STYLES.index(style)
    net_steps = MAX_STEPS if meter == "4/4" else steps_per_bar
    velocity = np.zeros((n_bars, MAX_STEPS, N_DRUMS), np.uint8)
    offset = np.zeros((n_bars, MAX_STEPS, N_DRUMS), np.float32)
    keys = list(dict.fromkeys((s.label, s.intensity) for s in plan if s.intensity is not None))
    if not keys:
        return velocity, offset
    longest = {k: max(s.n_bars for s in plan if (s.label, s.intensity) == k) for k in keys}
    n_var = {k: max(1, (longest[k] - 2) // 2) for k in keys}   # variations: every other bar
    tick = step_counter(progress, 3 * steps)

    def cond(k, fill: bool) -> np.ndarray:
        level = k[1] if not fill or fill_intensity is None else fill_intensity
        return bar_condition(fill, level, s_idx, bpm, meter)

    # 1. one groove bar per (label, intensity)
    known, mask = _padding(net_steps, len(keys))
    grooves = _run(level, np.stack([cond(k, False) for k in keys]), known, mask, steps, generator,
                   guidance, tick)
    # 2. the crash bar of each (the groove with a crash and a kick on the downbeat, no hat
    # there), its fill (the groove's first half kept) and its variations, in one batch
    rows, conds, knowns, masks, sources = [], [], [], [], []
    for i, k in enumerate(keys):
        g = grooves[i]
        kn, mk = _padding(net_steps, 1)
        kn, mk = kn[0], mk[0]
        crash_known, crash_mask = kn.clone(), mk.clone()
        crash_known[:N_DRUMS, 0] = torch.where(g[:N_DRUMS, 0] > 0, 1.0, -1.0)
        for d in (CRASH, KICK):
            crash_known[d, 0] = 1.0
        for d in (CLOSED_HAT, OPEN_HAT, RIDE):
            crash_known[d, 0] = -1.0
        crash_mask[:N_DRUMS, 0] = 1
        rows.append((k, "crash"))
        conds.append(cond(k, False)), knowns.append(crash_known), masks.append(crash_mask), sources.append(g)
        fill_known, fill_mask = kn.clone(), mk.clone()
        half = int(round(net_steps * fill_kept))
        fill_known[:, :half] = g[:, :half]
        fill_mask[:, :half] = 1
        rows.append((k, "fill"))
        conds.append(cond(k, True)), knowns.append(fill_known), masks.append(fill_mask), sources.append(None)
        for j in range(n_var[k]):
            rows.append((k, f"var{j}"))
            conds.append(cond(k, False)), knowns.append(kn), masks.append(mk), sources.append(g)
    known2, mask2 = torch.stack(knowns), torch.stack(masks)
    # the varied bars start from their groove noised to `variation`, the fills from noise:
    # two runs, so each starts at its own time
    is_var = torch.tensor([s is not None for s in sources])
    out = torch.zeros_like(known2)
    var_idx = torch.nonzero(is_var)[:, 0]
    fill_idx = torch.nonzero(~is_var)[:, 0]
    cond2 = np.stack(conds)
    src = torch.stack([sources[int(i)] for i in var_idx])
    out[var_idx] = _run(level, cond2[var_idx.numpy()], known2[var_idx], mask2[var_idx], steps,
                        generator, guidance, tick, source=src, variation=variation)
    # every fill drawn `fill_candidates` times in the one run, the first that plays a fill kept
    rep = fill_idx.repeat_interleave(max(1, fill_candidates))
    cand = _run(level, cond2[rep.numpy()], known2[rep], mask2[rep], steps, generator, fill_guidance, tick)
    # fill rows come one per key, in the keys' order, as the grooves do
    out[fill_idx] = pick_fills(cand.reshape(len(fill_idx), -1, *cand.shape[1:]), steps_per_bar,
                               fill_min_hits, fill_hits(grooves, steps_per_bar) if fill_above_groove else None)
    bars = {row: out[i] for i, row in enumerate(rows)}
    for i, k in enumerate(keys):
        bars[(k, "groove")] = grooves[i]
    # 3. place the bars
    for s in plan:
        if s.intensity is None:
            continue
        k = (s.label, s.intensity)
        for j in range(s.n_bars):
            if j == 0:
                name = "crash"
            elif s.fill and j == s.n_bars - 1:
                name = "fill"
            elif j % 2 == 1:
                name = "groove"
            else:
                name = f"var{(j // 2 - 1) % n_var[k]}"
            v, o = from_drum_array(bars[(k, name)][None].numpy())
            velocity[s.start_bar + j, :steps_per_bar] = v[0, :steps_per_bar]
            offset[s.start_bar + j, :steps_per_bar] = o[0, :steps_per_bar]
    return velocity, offset


# ---------------------------------------------------------------------------- a Score's drums
def drum_meter(score: Score, meter: str | None = None) -> tuple[str, int, int]:
    """(net meter, 16ths per bar, ticks per bar) of ``score``'s one meter (or of ``meter``,
    e.g. "4/4", when given); ComposerError for a meter the level does not write or a song
    whose meter changes."""
    if meter is not None:
        try:
            num, den = (int(p) for p in meter.strip().split("/"))
        except ValueError:
            raise ComposerError(f"bad meter {meter!r}; write it like 4/4") from None
    else:
        meters = {(ts.numerator, ts.denominator) for ts in score.time_signatures} or {(4, 4)}
        if len(meters) > 1:
            names = ", ".join(f"{a}/{b}" for a, b in sorted(meters))
            raise ComposerError(f"the song changes meter ({names}); drums are written for one meter "
                                "(give --meter to read the whole song in one)")
        num, den = meters.pop()
    if (num, den) not in DRUM_METERS:
        raise ComposerError(f"drums are written in 4/4, 3/4, 2/4 and 6/8, not {num}/{den}"
                            + ("" if meter is not None else " (give --meter to read the song in another)"))
    net_meter, spb = DRUM_METERS[(num, den)]
    return net_meter, spb, spb * score.resolution // STEPS_PER_BEAT


def sections_from_notes(score: Score, n_bars: int, bar_ticks: int) -> tuple[Section, ...]:
    """Sections for a song without markers: blocks of 8 bars (4 in a song under 16 bars), a
    block labelled as the first earlier block whose bars' pitch classes and onsets it repeats
    (cosine >= 0.9), else with a new capital letter (A, B, C...)."""
    block = 8 if n_bars >= 16 else 4
    feats = []
    starts = list(range(0, n_bars, block))
    for a in starts:
        lo, hi = a * bar_ticks, min(n_bars, a + block) * bar_ticks
        f = np.zeros(12 + 16)
        for t in score.tracks:
            if t.is_drum:
                continue
            for n in t.notes:
                if lo <= n.start_tick < hi:
                    f[n.pitch % 12] += 1
                    f[12 + ((n.start_tick - lo) * 16 // bar_ticks) % 16] += 1
        feats.append(f / (np.linalg.norm(f) or 1.0))
    labels: list[str] = []
    fresh = iter("ABCDEFGHJKLMNPQRSTUVWXYZ")
    for i, f in enumerate(feats):
        same = next((labels[j] for j in range(i) if float(f @ feats[j]) >= 0.9 and feats[j].any()), None)
        labels.append(same or next(fresh, "X"))
    return tuple(Section(a, min(block, n_bars - a), lab, "") for a, lab in zip(starts, labels))


def song_sections(score: Score, n_bars: int, bar_ticks: int) -> tuple[Section, ...]:
    """The score's sections made to tile bars 0..n_bars-1 (a gap becomes a section of its own,
    label "x"); from the notes when it has none."""
    if not score.sections:
        return sections_from_notes(score, n_bars, bar_ticks)
    out, bar = [], 0
    for s in sorted(score.sections):
        if s.start_bar >= n_bars:
            break
        if s.start_bar > bar:
            out.append(Section(bar, s.start_bar - bar, "x", ""))
        start = max(bar, s.start_bar)
        end = min(n_bars, s.start_bar + s.n_bars)
        if end > start:
            out.append(Section(start, end - start, s.label, s.name))
            bar = end
    if bar < n_bars:
        out.append(Section(bar, n_bars - bar, "x", ""))
    return tuple(out)


def _drum_track(level: DrumLevel, score: Score, generator: torch.Generator | None, humanize: bool,
                steps: int, meter: str | None, style: str | None,
                progress: Callable[[int, int], None] | None) -> tuple[Track, int]:
    """A new Drums track for ``score`` (its other tracks as the band) and its bar length in ticks."""
    net_meter, spb, bar_ticks = drum_meter(score, meter)
    end = score.end_tick
    n_bars = -(-end // bar_ticks) if end > 0 else 0
    if n_bars == 0:
        raise ComposerError("the song has no notes to play drums to")
    bpm = score.tempos[0].bpm if score.tempos else 120.0
    own = {(ts.numerator, ts.denominator) for ts in score.time_signatures} or {(4, 4)}
    if meter is not None and own != {tuple(int(p) for p in meter.strip().split("/"))}:
        # the markers count bars of the file's meter, not of the one asked for
        score_for_sections = score.replace(sections=())
    else:
        score_for_sections = score
    sections = song_sections(score_for_sections, n_bars, bar_ticks)
    plan = plan_sections(sections, band_density(score, n_bars, spb))
    velocity, offset = sample_drums(level, plan, n_bars, net_meter, spb, float(bpm), style, generator,
                                    steps, progress=progress)
    cap = HUMANIZE_MAX_TICKS / 120          # in 16ths (120 ticks at 480 per quarter)
    timing = np.clip(offset * TIMING_SCALE, -cap, cap) if humanize else None
    track = track_from_bars(velocity, timing, score.resolution, spb, DRUM_TRACK)
    # a hit pulled early by its offset can not start before the song; none sounds past its end
    return Track(DRUM_TRACK, 0, True, tuple(n for n in track.notes if n.start_tick < end)), bar_ticks


def add_drums(level: DrumLevel, score: Score, generator: torch.Generator | None = None,
              humanize: bool = False, steps: int = DEFAULT_STEPS, meter: str | None = None,
              style: str | None = None, progress: Callable[[int, int], None] | None = None) -> Score:
    """``score`` with a :data:`DRUM_TRACK` track (GM kit, channel 10) written over its
    sections (or sections found from its notes), meter and first tempo; everything else
    unchanged.  humanize: each hit moved by the net's offset, scaled by :data:`TIMING_SCALE`
    (off: on the 16th grid)."""
    track, _ = _drum_track(level, score, generator, humanize, steps, meter, style, progress)
    return score.replace(tracks=tuple(score.tracks) + (track,)).validate()


def regenerate_drums(level: DrumLevel, score: Score, bars: tuple[int, int] | None = None,
                     generator: torch.Generator | None = None, humanize: bool = False,
                     steps: int = DEFAULT_STEPS, style: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Score:
    """New drums for bars ``start .. end - 1`` (0-based, end exclusive; None = the whole
    song): the hits of the song's drum tracks that start there are replaced by those of a new
    drum part drawn with ``generator``; every other hit and every other track stays exactly
    as it was.  A song without drums gets a whole new Drums track.  ComposerError for a range
    outside the song."""
    drum_tracks = [t for t in score.tracks if t.is_drum]
    track, bar_ticks = _drum_track(level, score, generator, humanize, steps, None, style, progress)
    n_bars = -(-score.end_tick // bar_ticks)
    if bars is None or not drum_tracks:
        return score.replace(tracks=tuple(t for t in score.tracks if not t.is_drum) + (track,)).validate()
    start, end = int(bars[0]), int(bars[1])
    if not 0 <= start < end <= n_bars:
        raise ComposerError(f"regenerate drums: bars ({start}, {end}) are not a range inside the song's "
                            f"{n_bars} bars (0-based, end exclusive)")
    lo, hi = start * bar_ticks, end * bar_ticks
    new = tuple(n for n in track.notes if lo <= n.start_tick < hi)
    out, placed = [], False
    for t in score.tracks:
        if t.is_drum:
            kept = tuple(n for n in t.notes if not lo <= n.start_tick < hi)
            # the new hits go to the first drum track (a song from composer has one: Drums)
            out.append(Track(t.name, t.program, True, kept + (() if placed else new), t.controls, t.pitch_bends))
            placed = True
        else:
            out.append(t)
    return score.replace(tracks=tuple(out)).validate()


__all__ = ["DrumLevel", "DrumSection", "sample_drums", "add_drums", "regenerate_drums", "plan_sections", "band_density",
           "label_intensity", "song_sections", "sections_from_notes", "drum_meter", "DRUM_TRACK",
           "DEFAULT_STEPS", "DEFAULT_VARIATION", "SONG_STYLES", "DRUM_METERS"]
