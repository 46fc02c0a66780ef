"""What the app's buttons do, without Gradio: compose a song, render a MIDI file.

Kept apart from ``ui.py`` so that the logic is tested directly and the UI module only
wires widgets to these functions.  Every output goes into ``out_dir`` under a fresh
name, written atomically; bad input raises ComposerError, which the UI shows as one line.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from composer.errors import ComposerError
from composer.form import Phrase, format_form
from composer.score import Score

SOUNDFONT_DEFAULT = "SoundFont: the track's own program"
# A short list of General MIDI programs a songwriter reaches for first (program numbers from 0).
SOUNDFONT_PROGRAMS = (
    ("Acoustic Grand Piano", 0), ("Electric Piano", 4), ("Vibraphone", 11), ("Nylon Guitar", 24),
    ("Steel Guitar", 25), ("Acoustic Bass", 32), ("Fingered Bass", 33), ("Violin", 40),
    ("Cello", 42), ("Strings", 48), ("Choir Aahs", 52), ("Trumpet", 56), ("Alto Sax", 65),
    ("Tenor Sax", 66), ("Clarinet", 71), ("Flute", 73), ("Synth Lead", 80), ("Warm Pad", 89),
)

Progress = Callable[[str, int, int], None]


def timbre_choices(installed: Sequence[str]) -> list[str]:
    """Dropdown labels: the track's own program, GM programs, then the learned timbres."""
    labels = [SOUNDFONT_DEFAULT]
    labels += [f"SoundFont: {name} ({program})" for name, program in SOUNDFONT_PROGRAMS]
    labels += [f"Learned: {name}" for name in installed]
    return labels


def timbre_spec(label: str) -> str | None:
    """A dropdown label as a ``--timbre`` value (``sf:73``, ``ddsp:flute``), None for the default."""
    if not label or label == SOUNDFONT_DEFAULT:
        return None
    if label.startswith("Learned: "):
        return "ddsp:" + label.removeprefix("Learned: ")
    if label.startswith("SoundFont: ") and label.endswith(")"):
        return "sf:" + label.rsplit("(", 1)[1].rstrip(")")
    raise ComposerError(f"unknown timbre choice {label!r}")


@dataclass(frozen=True)
class SongResult:
    """What one press of Compose produced."""

    score: Score
    midi_path: Path
    audio_path: Path | None
    summary: str


def _fresh_stem(out_dir: Path, prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def describe(score: Score, seed: int | None) -> str:
    """A few Markdown lines: form, sections, key(s), tempo, meter, tracks."""
    form = format_form([Phrase(s.label, s.n_bars) for s in score.sections])
    keys = ", ".join(str(k) for k in score.key_signatures) or "none"
    meter = ", ".join(str(t) for t in score.time_signatures) or "4/4"
    tempo = f"{score.tempos[0].bpm:.0f} bpm" if score.tempos else "120 bpm"
    lines = [f"**Form** `{form}` ({score.n_bars} bars, {score.duration_seconds:.0f} s)",
             "**Sections** " + " | ".join(f"{s.name} ({s.n_bars})" for s in score.sections),
             f"**Key** {keys} · **Tempo** {tempo} · **Meter** {meter}",
             "**Tracks** " + ", ".join(f"{t.name} ({len(t.notes)} notes)" for t in score.tracks)]
    if seed is not None:
        lines.append(f"**Seed** {seed}")
    return "\n\n".join(lines)


def render_score(score: Score, out_path: Path, timbres: dict[str, str | None],
                 sample_rate: int = 44100) -> Path:
    """Render ``score`` with the chosen timbre per track name into ``out_path`` (normalised)."""
    from composer.io.audio import write_normalised_blocks
    from composer.render.mix import Mixer, parse_timbre_options, resolve_timbres

    options = [f"{name}={spec}" for name, spec in timbres.items()
               if spec is not None and name in {t.name for t in score.tracks}]
    chosen = resolve_timbres(score, parse_timbre_options(options))
    write_normalised_blocks(out_path, Mixer().render_blocks(score, sample_rate, chosen), sample_rate, 2)
    return out_path


def compose_song(composer, out_dir: str | os.PathLike, *, form: str = "", bars: int | None = None,
                 key: str = "", tempo: float | None = None, meter: str = "4/4", seed: int | None = None,
                 steps: int | None = None, timbres: dict[str, str | None] | None = None,
                 audio: bool = True, progress: Progress | None = None) -> SongResult:
    """Compose a song with ``composer`` (a pipeline.Composer) and write MIDI (and audio).

    Empty strings and None mean "let the model choose".  ``timbres`` maps track names
    (Melody, Piano, Bass) to a timbre spec or None.  Files: ``out_dir/song-XXXX.mid`` and
    ``.wav``.
    """
    from composer.io.midi import write_midi

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = int(secrets.randbits(31)) if seed is None else int(seed)
    score = composer.compose(form=form.strip() or None, bars=bars or None, key=key.strip() or None,
                             tempo=tempo or None, meter=meter, seed=seed, steps=steps or None,
                             progress=progress)
    stem = _fresh_stem(out_dir, "song")
    midi_path = out_dir / f"{stem}.mid"
    write_midi(score, midi_path)
    audio_path = render_score(score, out_dir / f"{stem}.wav", timbres or {}) if audio else None
    return SongResult(score, midi_path, audio_path, describe(score, seed))


def render_midi_file(midi_path: str | os.PathLike, out_dir: str | os.PathLike,
                     timbres: dict[str, str | None] | None = None) -> tuple[Path, str]:
    """Render any MIDI file a user brings; returns the audio path and a description."""
    from composer.io.midi import read_midi

    if not midi_path:
        raise ComposerError("upload a MIDI file first")
    score = read_midi(midi_path)
    if not any(t.notes for t in score.tracks):
        raise ComposerError(f"{Path(midi_path).name} has no notes to render")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = render_score(score, out_dir / f"{_fresh_stem(out_dir, 'render')}.wav", timbres or {})
    return path, describe(score, None)
