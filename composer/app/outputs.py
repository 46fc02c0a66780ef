"""The app's files: a version's MIDI, MusicXML, view and audio, downloads, stems, housekeeping.

- :func:`write_version`: a song's files in the session's folder (MIDI, MusicXML for a song
  composer wrote, the piano-roll PNG and its :class:`~composer.app.roll.RollMap`, the audio
  when asked for), named for the song (:func:`file_stem`), summed up by :func:`describe`.
- :func:`render`, :func:`render_audio`: the mix (``composer.render.mix``) with a timbre and a
  volume per track; :func:`stems_zip`: one file per track, written by the CLI's writer
  (``composer.render.stems``), zipped; :func:`lead_sheet`: the engraved pages;
  :func:`zoom_view`: the view drawn wider.
- :func:`cleanup_outputs`: old and oversized session folders removed.

Every output goes into the session's folder under a fresh name, written atomically.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from composer.app.inputs import AudioFormat, check_format, check_gains, short_repr
from composer.app.roll import RollMap, roll_map
from composer.app.session import API_PREFIX, AppContext, Progress, Session, Version, checked
from composer.app.timbres import merged_timbres
from composer.errors import ComposerError
from composer.form import Phrase, format_form
from composer.score import Score
from composer.tracks import MELODY, PIANO, PIANO_TRACKS

def describe(score: Score, seed: int | None, name: str | None = None,
             edits: Sequence[str] = ()) -> str:
    """A few Markdown lines: form, sections, key(s), tempo, meter, tracks, the seed that
    composed the song and the parts rewritten since (each with its own seed)."""
    lines = []
    if name:
        lines.append(f"**{name}**")
    if score.sections:
        form = format_form([Phrase(s.label, s.n_bars) for s in score.sections])
        lines.append(f"**Form** `{form}` ({score.n_bars} bars, {score.duration_seconds:.0f} s)")
        lines.append("**Sections** " + " | ".join(
            f"{i + 1}. {s.name or s.label} (bars {s.start_bar + 1}-{s.start_bar + s.n_bars})"
            for i, s in enumerate(sorted(score.sections))))
    else:
        lines.append(f"{score.n_bars} bars, {score.duration_seconds:.0f} s")
    keys = ", ".join(str(k) for k in score.key_signatures) or "none"
    meter = ", ".join(str(t) for t in score.time_signatures) or "4/4"
    tempo = f"{score.tempos[0].bpm:.0f} bpm" if score.tempos else "120 bpm"
    lines.append(f"**Key** {keys} · **Tempo** {tempo} · **Meter** {meter}")
    lines.append("**Tracks** " + ", ".join(f"{t.name} ({len(t.notes)} notes)" for t in score.tracks))
    if seed is not None:
        lines.append(f"**Seed** {seed}")
    if edits:
        lines.append("**Rewritten** " + "; then ".join(edits))
    return "\n\n".join(lines)


def section_choices(score: Score) -> list[str]:
    """Labels for the section picker: "1. Intro (bars 1-4)"."""
    return [f"{i + 1}. {s.name or s.label} (bars {s.start_bar + 1}-{s.start_bar + s.n_bars})"
            for i, s in enumerate(sorted(score.sections))]


def is_editable(score: Score) -> bool:
    """Whether :meth:`Composer.regenerate` can work on ``score``: sections that tile its bars
    from bar 1, and the Melody and piano tracks it rewrites (one "Piano", or the two hands
    "Piano RH" / "Piano LH" that composer writes since the piano was split)."""
    bar = 0
    for s in sorted(score.sections):
        if s.start_bar != bar:
            return False
        bar += s.n_bars
    names = {t.name for t in score.tracks}
    return bar > 0 and MELODY in names and (PIANO in names or set(PIANO_TRACKS) <= names)


def file_stem(score: Score, name: str, seed: int | None, n_edits: int = 0) -> str:
    """A download's name without suffix, saying which song it is: ``song-seed5-A-minor-96bpm``
    (``-edit2`` after two rewrites); an opened file keeps its own name (``-edit1`` ...)."""
    parts = [re.sub(r"[^\w-]+", "_", name).strip("_")[:60] or "song"]
    if seed is not None:  # (an opened file's own name says what it is)
        parts.append(f"seed{seed}")
        if score.key_signatures:
            parts.append(str(score.key_signatures[0]).replace("#", "sharp").replace(" ", "-"))
        if score.tempos:
            parts.append(f"{score.tempos[0].bpm:.0f}bpm")
    if n_edits:
        parts.append(f"edit{n_edits}")
    return re.sub(r"[^\w-]+", "_", "-".join(parts))


def _write_musicxml(session: Session, score: Score, stem: str) -> Path | None:
    """The song as MusicXML for a notation program or a DAW's score view; None (and one log
    line) when the song cannot be written as notation."""
    import logging  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from composer.errors import NotationError  # noqa: PLC0415
    from composer.io.musicxml import write_musicxml  # noqa: PLC0415

    path = session.fresh(stem, ".musicxml")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a staff's left-out notes: the MIDI file has them all
            write_musicxml(score, path)
    except NotationError as err:
        logging.getLogger("composer.app").info("no MusicXML: %s", err)
        return None
    return path


def _write_view(session: Session, score: Score, title: str, stem: str = "view",
                zoom: int = 1, song: str | None = None) -> tuple[Path, RollMap]:
    from composer.plot import DEFAULT_WIDTH_PX, draw_score  # noqa: PLC0415

    path = session.fresh(stem + ("-view" if zoom == 1 else f"-view-x{zoom}"), ".png")
    # Zoomed, the picture is drawn wider (not magnified): notes longer, text the same size.
    image = draw_score(score, path, title=title, width_px=DEFAULT_WIDTH_PX * zoom)
    return path, replace(roll_map(score, image), zoom=zoom, song=song or path.name)


def _view_title(name: str, seed: int | None, edits: Sequence[str]) -> str:
    title = f"{name} · seed {seed}" if seed is not None else name
    if edits:
        title += f" · {len(edits)} part{'s' if len(edits) > 1 else ''} rewritten"
    return title


ZOOM_LEVELS = (1, 2, 3, 5)
"""The piano roll's zooms: the view drawn 1600 px wide times these (5: 8,000 px, the most
``composer plot`` draws)."""


def zoom_view(session: Session, zoom) -> tuple[Path, RollMap]:
    """The current version's view drawn ``zoom`` (one of :data:`ZOOM_LEVELS`) times as wide,
    and its RollMap; drawn once per version and zoom (kept while the version is in the
    history).  Not an undo step: the song is unchanged."""
    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    if zoom not in ZOOM_LEVELS:
        raise ComposerError(f"zoom must be one of {', '.join(map(str, ZOOM_LEVELS))}, not {short_repr(zoom)}")
    if zoom == 1:
        return current.view_path, current.roll
    key = (current.view_path, zoom)
    cached = session.views.get(key)
    if cached is None or not cached[0].exists():
        stem = file_stem(current.score, current.name, current.seed, len(current.edits))
        cached = _write_view(session, current.score, _view_title(current.name, current.seed, current.edits),
                             stem, zoom, song=current.view_path.name)
        # only the versions still in the history keep their zoomed views
        kept = {v.view_path for v in session.history + session.future}
        session.views = {k: v for k, v in session.views.items() if k[0] in kept}
        session.views[key] = cached
    return cached


def _levels(gains: tuple[tuple[str, float], ...]):
    from composer.render.mix import GainOption, MixLevels  # noqa: PLC0415

    return MixLevels(gains=tuple(GainOption(name, db) for name, db in gains))


def render_audio(ctx: AppContext, session: Session, score: Score,
                 timbres: tuple[tuple[str, str], ...], fmt: AudioFormat = "wav",
                 progress: Progress | None = None,
                 gains: tuple[tuple[str, float], ...] = (), stem: str = "audio") -> tuple[Path, object]:
    """Render ``score`` with (track name, spec) timbres and (track name, dB) volumes into a
    fresh file of the session, the lead balanced over the band (``composer.render.mix``);
    returns (path, gain plan).  Reports stage "audio" in seconds of music rendered."""
    from composer.io.audio import write_normalised_blocks  # noqa: PLC0415
    from composer.render.mix import parse_timbre_options, resolve_timbres  # noqa: PLC0415

    check_format(fmt)
    seconds = score.duration_seconds
    limit = ctx.limits.max_audio_seconds
    if seconds > limit:
        raise ComposerError(f"the song is {seconds / 60:.0f} minutes long; this app renders audio "
                            f"up to {limit / 60:.0f} minutes (download the MIDI and use composer render)")
    report = checked(session, progress)
    mixer = ctx.get_mixer()
    chosen = resolve_timbres(score, parse_timbre_options([f"{n}={s}" for n, s in timbres]))
    rate = ctx.sample_rate
    total = max(seconds, 1e-3)

    def blocks():
        done = 0
        report("audio", 0, total)
        for block in mixer.render_blocks(score, rate, chosen, _levels(gains)):
            done += len(block)
            report("audio", min(done / rate, total), total)
            yield block

    path = session.fresh(stem, f".{fmt}")
    # 64 MB held in memory per render, beyond that a temporary file: the server's memory stays
    # bounded with several renders at once.
    written = write_normalised_blocks(path, blocks(), rate, 2, memory_limit_mb=64.0)
    return path, written.plan


def write_version(ctx: AppContext, session: Session, score: Score, *, seed: int | None, name: str,
            timbres: tuple[tuple[str, str], ...], audio: bool, fmt: AudioFormat,
            progress: Progress | None, edits: tuple[str, ...] = (),
            gains: tuple[tuple[str, float], ...] = ()) -> Version:
    from composer.io.midi import write_midi  # noqa: PLC0415

    stem = file_stem(score, name, seed, len(edits))
    midi_path = session.fresh(stem, ".mid")
    write_midi(score, midi_path)
    musicxml_path = _write_musicxml(session, score, stem) if is_editable(score) else None
    view, where = _write_view(session, score, _view_title(name, seed, edits), stem)
    audio_path = plan = None
    if audio:
        audio_path, plan = render_audio(ctx, session, score, timbres, fmt, progress, gains, stem)
    return Version(score, midi_path, view, describe(score, seed, edits=edits), seed, audio_path, timbres,
                   is_editable(score), name, plan, edits, gains, musicxml_path, (), where)


def render(ctx: AppContext, session: Session, timbres: Mapping[str, str | None] | None = None,
           fmt: AudioFormat = "wav", progress: Progress | None = None,
           gains: Mapping[str, float | None] | None = None) -> Version:
    """Render the current version with a timbre per track name over its own (see
    ``timbres.merged_timbres``) and ``gains`` (track name -> dB, None muted; None keeps the
    version's).  Replaces the current version's audio; the score is unchanged, so this is
    not an undo step."""
    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    check_format(fmt)
    chosen = merged_timbres(ctx, current, timbres)
    volumes = check_gains(current.score, gains) if gains is not None else current.gains
    audio_path, plan = render_audio(ctx, session, current.score, chosen, fmt, progress, volumes,
                                    file_stem(current.score, current.name, current.seed, len(current.edits)))
    return session.replace_current(replace(current, audio_path=audio_path, timbres=chosen, gain_plan=plan,
                                           gains=volumes))


def lead_sheet(ctx: AppContext, session: Session) -> Version:
    """Engrave the current song's lead sheet (the melody with its chord symbols, rehearsal
    marks, key, meter and tempo; ``composer.io.musicxml.write_lead_sheet``, MuseScore
    headless) as PNG pages, kept with the version (a second press shows them again)."""
    from composer.io.musicxml import write_lead_sheet  # noqa: PLC0415

    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    if current.lead_sheet and all(p.exists() for p in current.lead_sheet):
        return current
    stem = file_stem(current.score, current.name, current.seed, len(current.edits))
    pages = write_lead_sheet(current.score, session.fresh(stem + "-lead-sheet", ".png"))
    return session.replace_current(replace(current, lead_sheet=tuple(pages)))


def stems_zip(ctx: AppContext, session: Session, fmt: AudioFormat = "wav",
              progress: Progress | None = None) -> Path:
    """One audio file per track of the current version, with the mix's gain (so they add up
    to the mix in a DAW), zipped.  Renders the mix first when it has none yet."""
    from composer.io.atomic import atomic_path, make_folder  # noqa: PLC0415
    from composer.render.mix import parse_timbre_options, resolve_timbres  # noqa: PLC0415
    from composer.render.stems import write_stems  # noqa: PLC0415

    current = session.current
    if current is None:
        raise ComposerError("compose a song or open a MIDI file first")
    check_format(fmt)
    if current.gain_plan is None:
        current = render(ctx, session, None, fmt, progress)
    report = checked(session, progress)
    report("audio", 0, 1)
    score = current.score
    chosen = resolve_timbres(score, parse_timbre_options([f"{n}={s}" for n, s in current.timbres]))
    stems = ctx.get_mixer().render_stems(score, ctx.sample_rate, chosen, _levels(current.gains))
    zip_path = session.fresh(file_stem(score, current.name, current.seed, len(current.edits)) + "-stems", ".zip")
    folder = session.fresh("stems", "")
    make_folder(folder, "stems")
    try:
        # The CLI's writer (names, the mix's gain and ceiling), then through the atomic writer,
        # as every output: a full disk is one message, and no half-written zip is offered.
        paths = write_stems(stems, current.gain_plan, folder, f".{fmt}",
                            progress=lambda i, n: report("audio", i, n))
        with atomic_path(zip_path, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for path in paths:
                zf.write(path, path.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return zip_path


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def cleanup_outputs(root: str | os.PathLike, max_age_s: float, max_total_bytes: int,
                    now: float | None = None, keep: Sequence[str | os.PathLike] = (),
                    api_max_age_s: float | None = None) -> list[Path]:
    """Remove session folders under ``root`` untouched for ``max_age_s`` seconds (an API
    call's, named :data:`API_PREFIX`..., after ``api_max_age_s``), then the oldest ones until
    the rest fit in ``max_total_bytes``; folders in ``keep`` (the sessions working now) stay.
    Returns the folders removed, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    kept = {Path(k).resolve() for k in keep}
    folders = []
    for p in root.iterdir():
        if p.is_dir() and p.resolve() not in kept:
            try:
                folders.append((p.stat().st_mtime, p))
            except OSError:
                continue
    folders.sort()
    removed = []
    total = sum(folder_bytes(p) for _, p in folders) + sum(folder_bytes(k) for k in kept if k.is_dir())
    for mtime, p in folders:
        age_limit = api_max_age_s if api_max_age_s is not None and p.name.startswith(API_PREFIX) else max_age_s
        if now - mtime > age_limit or total > max_total_bytes:
            size = folder_bytes(p)
            shutil.rmtree(p, ignore_errors=True)
            total -= size
            removed.append(p)
    return removed
