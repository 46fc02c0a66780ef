"""Write models/notes/MODEL_CARD.md from measured results (nothing typed in by hand).

Inputs, all produced by the repo's own commands:

* ``out/eval/cascade.json``: ``composer eval`` of the songs (``make quality``: 200) from the whole cascade
  (``python -m benchmarks.quality_notes --out out/eval/cascade``: the test songs' forms, keys,
  tempi; chords from the chord level, notes from the note level);
* ``out/eval/real_chords.json``: the same with the test songs' real chords
  (``--real-chords``: the note level judged alone);
* ``benchmarks/results/pipeline.json``: ``python -m benchmarks pipeline`` (speed and memory);
* ``models/notes/config.json``: the checkpoint's training record.

    python -m benchmarks.notes_card [--readme]

``--readme`` also rewrites the README's "Model quality" section (between the MODELS-TABLE
markers) from these results and ``benchmarks/results/levels.json``.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from composer.arrange import GROOVE_STRAY
from composer.levels.melody import DEFAULT_CADENCE_GUIDANCE, DEFAULT_REST_BIAS
from composer.pipeline import MELODY_STEPS

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "out" / "eval"
RESULTS = ROOT / "benchmarks" / "results"
CARD = ROOT / "models" / "notes" / "MODEL_CARD.md"

HEADLINE = ("oa_mean", "chord_tone_strong_beats", "structure_ratio_melody", "structure_ratio_accompaniment",
            "cadence_phrase_end", "copy_share_run_ge4")


def _metrics(path: Path) -> dict[str, dict]:
    data = json.loads(path.read_text())
    return {m["name"]: m for m in data["metrics"]}


def _fmt(v) -> str:
    if v is None:
        return "-"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "nan" if v != v else f"{v:.3f}"


def targets(cascade: dict[str, dict]) -> list[tuple[str, str, str, bool]]:
    """(figure, generated, target, met) for the issue's four targets."""
    out = []
    oa, oa_ref = cascade["oa_mean"]["generated"], cascade["oa_mean"]["reference"]
    out.append(("mean OA >= 0.9 x real", _fmt(oa), f">= {0.9 * oa_ref:.3f}", oa >= 0.9 * oa_ref))
    ct, ct_ref = cascade["chord_tone_strong_beats"]["generated"], cascade["chord_tone_strong_beats"]["reference"]
    out.append(("melody chord tones on strong beats within 0.05 of real", _fmt(ct),
                f"{ct_ref - 0.05:.3f}..{ct_ref + 0.05:.3f}", abs(ct - ct_ref) <= 0.05))
    sr, sr_ref = cascade["structure_ratio_melody"]["generated"], cascade["structure_ratio_melody"]["reference"]
    out.append(("melody structure ratio >= 0.9 x real", _fmt(sr), f">= {0.9 * sr_ref:.3f}", sr >= 0.9 * sr_ref))
    cp = cascade["copy_share_run_ge4"]
    ref_cp = cp.get("reference")
    out.append(("songs with a copied 4-bar melody <= real test vs train", _fmt(cp["generated"]),
                f"<= {_fmt(ref_cp)}", ref_cp is not None and cp["generated"] <= ref_cp))
    return out


def eval_table(cascade: dict[str, dict], real_chords: dict[str, dict],
               nothing: dict[str, dict] | None = None) -> list[str]:
    nothing = nothing or {}
    rows = ["| metric | cascade, test forms | cascade, from nothing | melody + notes on real chords | real test songs |",
            "|---|---|---|---|---|"]
    for name, m in cascade.items():
        rc = real_chords.get(name, {})
        no = nothing.get(name, {})
        rows.append(f"| {m['label']} | {_fmt(m['generated'])} | {_fmt(no.get('generated'))} | "
                    f"{_fmt(rc.get('generated'))} | {_fmt(m.get('reference'))} |")
    return rows


def _songs(metrics: dict[str, dict]) -> int:
    """How many generated songs a set's figures came from (``make quality``'s ``--n``)."""
    return max((int(m.get("n_generated") or 0) for m in metrics.values()), default=0)


def _optional(path: Path) -> dict[str, dict]:
    return _metrics(path) if path.is_file() else {}


def melody_card(cascade: dict[str, dict], pipe: dict | None, hw: str, nothing: dict[str, dict] | None = None) -> None:
    """models/melody/MODEL_CARD.md from its config.json and the measured results."""
    from benchmarks.music_targets import table
    cfg = json.loads((ROOT / "models" / "melody" / "config.json").read_text())
    tr = cfg["training"]
    lines = [
        "# melody level", "",
        "Diffusion model of the melody as one line: at each 16th step one of rest, hold or a pitch's onset "
        "(50 classes, one-hot), conditioned on the chords, the keys, the phrase type and the place in the "
        "phrase and bar. A 1-D UNet over time that outputs context logits; the sampler forms the exact "
        "posterior over the classes with the evidence of x_t. Non-melodic phrases are rests; returning "
        "phrases copy their first statement and regenerate only the notes that no longer fit the chords. "
        "See docs/ARCHITECTURE.md, \"The melody level\".", "",
        "## Training", "",
        f"- Data: POP909 prepared by `composer data pop909` ({cfg['data']['train_songs']} train / "
        f"{cfg['data']['valid_songs']} validation songs of at least 16 bars; the test songs held out): the "
        "`MELODY` track, songs moved to C, 16-bar crops, each item transposed by -5..+5 semitones with its "
        "condition.",
        f"- Recipe: `composer train melody --data .prepared/pop909 --out models/melody` "
        f"({tr['steps']} steps, batch {tr['config']['batch_size']}, AdamW peak lr {tr['config']['lr']}, "
        f"EMA {tr['config']['ema_decay']}; composer/tasks/melody.py).",
        f"- Network: {tr['params']:,} parameters, config {json.dumps(cfg['model'])}.",
        f"- Sampling (defaults of composer/levels/melody.py): DPM-Solver++(2M), {MELODY_STEPS} steps; "
        f"rest bias {DEFAULT_REST_BIAS} (subtracted from the rest's logit) and classifier-free guidance "
        f"{DEFAULT_CADENCE_GUIDANCE} on the chords in phrases' last bars, both chosen on the validation "
        "split (`DEFAULT_REST_BIAS`, `DEFAULT_CADENCE_GUIDANCE`).",
        f"- Wall time: {tr['wall_seconds'] / 60:.0f} min on {hw}, {tr['config']['num_threads']} threads.",
        f"- Validation loss (cross-entropy of the posterior, EMA weights): {tr['valid_loss']:.4f}; history: "
        + ", ".join(f"{h['step']}: {h['valid_loss']:.4f}" for h in tr["history"]) + ".", "",
        "## Quality: the music targets (issue 10)", "",
        f"`composer eval` of {_songs(cascade)} songs on the test songs' forms, keys and tempi and "
        f"{_songs(nothing or {})} songs from the seed alone, against the 74 real test songs (`make quality`):", "", table(), "",
        "The full table of figures is in the README (Model quality).", ""]
    if pipe:
        lines += ["## Speed", "", f"64-bar song, form string to MIDI: {pipe['median_s']:.2f} s median "
                  f"(melody level {pipe['level_median_s'].get('melody', float('nan')):.2f} s), peak "
                  f"{pipe['peak_rss_mb']:.0f} MB.", ""]
    lines += ["## Pictures", "", "![a generated song](../../docs/img/generated_song.png)", "",
              "![a real test song](../../docs/img/real_song.png)", "",
              "## Limits", "", "Trained on POP909's Chinese pop melodies: the style is theirs. Tuned on "
              "the test songs' forms (the return rule, the chord-tone test) as stated in docs/ARCHITECTURE.md; the "
              "rest bias and the cadence guidance were chosen on the validation split.", ""]
    path = ROOT / "models" / "melody" / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", action="store_true", help="rewrite the README's model-quality section too")
    args = p.parse_args(argv)
    cascade = _metrics(EVAL / "cascade.json")
    real_chords = _optional(EVAL / "real_chords.json")
    nothing = _optional(EVAL / "nothing.json")
    cfg = json.loads((ROOT / "models" / "notes" / "config.json").read_text())
    tr = cfg["training"]
    pipe = json.loads((RESULTS / "pipeline.json").read_text()) if (RESULTS / "pipeline.json").is_file() else None
    hw = f"{platform.machine()} CPU, 2 cores shared with other jobs, torch {torch.__version__}"
    lines = [
        "# notes level", "",
        "Diffusion model of the notes: melody and accompaniment as a piano roll on a 16th-note grid "
        "(onset and sustain per pitch), conditioned on the chords, the keys, the phrase type and the "
        "place in the phrase. A 1-D UNet over time (fully convolutional: a whole song is one sequence). "
        "Returning phrases are re-generated from the first occurrence of their label (SDEdit from a "
        "partly noised copy), which gives whole-song coherence; see docs/ARCHITECTURE.md. Since the "
        "melody level exists (models/melody), the pipeline samples this model with the melody rows "
        "known, so it writes the accompaniment to the melody level's line; the tables below measure "
        "the songs of the whole cascade as shipped.", "",
        "## Training", "",
        f"- Data: POP909 prepared by `composer data pop909` ({cfg['data']['train_songs']} train / "
        f"{cfg['data']['valid_songs']} validation songs; the 74 test songs held out): melody from "
        "`MELODY`, accompaniment from `PIANO` + `BRIDGE`.",
        "- Recipe: `composer train notes --data .prepared/pop909 --out models/notes` (the 3000-step "
        "schedule in composer/tasks/notes.py), then the same command with `--steps "
        f"{tr['steps']} --resume` (the cosine learning rate picks up the {tr['steps']}-step schedule at "
        f"step 3000); batch {tr['config']['batch_size']}, AdamW peak lr {tr['config']['lr']}, "
        f"EMA {tr['config']['ema_decay']}.",
        "- Sampling (defaults of composer/levels/notes.py): DPM-Solver++(2M), 12 steps; return pass "
        "at variation 0.55; classifier-free guidance on the chords 1.0 for the melody and 4.0 for "
        "the accompaniment (chosen on the validation split, see `DEFAULT_GUIDANCE`); then the "
        f"arrangement moves the piano's stray onsets (positions under {GROOVE_STRAY:.0%} of a section's "
        "bars) onto its groove (composer/arrange.py `tighten_groove`, chosen on the validation split).",
        f"- Network: {tr['params']:,} parameters, config {json.dumps(cfg['model'])}.",
        f"- Wall time: {tr['wall_seconds'] / 60:.0f} min on {hw}.",
        f"- Validation loss (v-prediction MSE, EMA weights): {tr['valid_loss']:.4f}; history: "
        + ", ".join(f"{h['step']}: {h['valid_loss']:.4f}" for h in tr["history"]) + ".", "",
        f"## Quality: `composer eval` on {_songs(cascade)} generated songs against the 74 real test songs", "",
        "Song i takes the form, main key, tempo and meter of test song i mod 74 and seed i "
        "(`python -m benchmarks.quality_notes`). Whole cascade: chords from the chord level; "
        "note level on real chords: the test song's own chords. The last column is the real test "
        "songs' own figures (OA rows: one half of them against the other; copying: against the training "
        "songs), the ceiling.", ""]
    lines += eval_table(cascade, real_chords, nothing)
    lines += ["", "### Targets (whole cascade)", "", "| target | generated | needed | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if d else 'no'} |" for a, b, c, d in targets(cascade)]
    lines += ["", "\"Real\" is the reference column of the same run: for the OA rows the real test songs split "
              "in halves, one half against the other (docs/EVAL.md's test-against-train table gives a higher "
              "OA mean, 0.951).  Weakest figures: the cadence at phrase ends "
              f"({cascade['cadence_phrase_end']['generated']:.3f} against "
              f"{cascade['cadence_phrase_end']['reference']:.3f}) and groove consistency "
              f"({cascade['groove_consistency']['generated']:.3f} against "
              f"{cascade['groove_consistency']['reference']:.3f})."]
    if pipe:
        lines += ["", "## Speed and memory (64-bar song, form string to MIDI bytes, `make bench`)", "",
                  f"Median of {pipe['repeats']} runs: **{pipe['median_s']:.2f} s** (target <= 5 s), "
                  f"peak RSS {pipe['peak_rss_mb']:.0f} MB (target <= 1024 MB), {pipe['threads']} threads. Per level: "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in pipe["level_median_s"].items()) + ".",
                  "For scale: whole-song-gen runs about 20,000 passes of a ~39M-parameter UNet for a 40-bar song."]
    lines += ["", "## Limits", "",
              "Trained on 650 Chinese pop songs (POP909): the style is theirs. Piano accompaniment only "
              "(the Bass track of `composer generate` is derived from the chords, not learned).", ""]
    CARD.write_text("\n".join(lines))
    print(f"wrote {CARD}")
    if (ROOT / "models" / "melody" / "config.json").is_file():
        melody_card(cascade, pipe, hw, nothing)
    if args.readme:
        write_readme(cascade, real_chords, pipe, nothing)
    return 0


def write_readme(cascade: dict[str, dict], real_chords: dict[str, dict], pipe: dict | None,
                 nothing: dict[str, dict] | None = None) -> None:
    from benchmarks.music_targets import table
    levels = json.loads((RESULTS / "levels.json").read_text())
    f, c = levels["quality"]["form"], levels["quality"]["chords"]
    sp = levels["speed"]["1"]
    lines = ["<!-- MODELS-TABLE -->",
             "Measured by `make quality` (needs `make data`); the cards in `models/*/MODEL_CARD.md` hold "
             "the details.  Form level: 100 forms sampled with nothing given against the 74 test songs' "
             "forms; chord level: chords for each test song's own form and keys against its real chords.", "",
             "| level | figure | generated | real |", "|---|---|---|---|",
             f"| form | overlapping area, phrase lengths | {f['oa_phrase_length']:.3f} | 1 |",
             f"| form | overlapping area, phrase-type bigrams | {f['oa_type_bigram']:.3f} | 1 |",
             f"| form | mean phrase length (bars) | {f['side_by_side']['lengths']['generated']:.2f} | "
             f"{f['side_by_side']['lengths']['real']:.2f} |",
             f"| form | phrases per song | {f['side_by_side']['phrases']['generated']:.1f} | "
             f"{f['side_by_side']['phrases']['real']:.1f} |",
             f"| chords | overlapping area, chord qualities | {c['oa_quality']:.3f} | 1 |",
             f"| chords | chord changes per bar | {c['changes_per_bar']['generated']:.2f} | "
             f"{c['changes_per_bar']['real']:.2f} |",
             f"| chords | diatonic share | {c['diatonic_share']['generated']:.3f} | {c['diatonic_share']['real']:.3f} |",
             f"| chords | harmony structure ratio (same label / all pairs) | "
             f"{c['structure_ratio']['generated']:.3f} | {c['structure_ratio']['real']:.3f} |", "",
             f"Songs: `composer eval` on {_songs(cascade)} songs generated from the test songs' forms, keys and "
             f"tempi (whole cascade), {_songs(nothing or {})} from the seed alone, and (when measured) "
             f"{_songs(real_chords)} from the melody and note "
             "levels on the real chords, against the 74 real test songs; the last column is the real test "
             "songs' own figures (OA rows: one half of them against the other; copying: against the "
             "training songs).", "",
             "The music targets (issue 10):", "", table(), ""]
    lines += eval_table(cascade, real_chords, nothing)
    lines += ["", "Targets of the note level (whole cascade):", "",
              "| target | generated | needed | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {cc} | {'yes' if d else 'no'} |" for a, b, cc, d in targets(cascade)]
    lines += ["", f"Speed: form and chord levels for a 128-bar song {sp['both_128_s']:.2f} s (1 thread, "
                  f"median of 5; target 2 s)."]
    if pipe:
        lines[-1] += (f"  A 64-bar song, form string to MIDI: {pipe['median_s']:.2f} s median, peak memory "
                      f"{pipe['peak_rss_mb']:.0f} MB (targets 5 s, 1 GB); whole-song-gen needs about 20,000 "
                      "passes of a ~39M-parameter UNet for a 40-bar song.")
    lines.append("<!-- /MODELS-TABLE -->")
    readme = ROOT / "README.md"
    text = readme.read_text()
    a = text.index("<!-- MODELS-TABLE -->")
    end_marker = "<!-- /MODELS-TABLE -->"
    b = text.index(end_marker) + len(end_marker) if end_marker in text else a + len("<!-- MODELS-TABLE -->")
    readme.write_text(text[:a] + "\n".join(lines) + text[b:])
    print(f"rewrote the model-quality section of {readme}")


if __name__ == "__main__":
    raise SystemExit(main())
