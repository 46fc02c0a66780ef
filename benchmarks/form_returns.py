"""How well the form read from a melody (``composer arrange`` without markers; README, "Start
from your own music") finds the song's phrases and its returns, against POP909's human labels.

For each POP909 song of a split (the prepared ``split.json``): its MIDI file is read as
``composer arrange`` reads it (read_midi, the lead-track rule, melody_steps, in the song's
meter) and :func:`composer.harmonise.read_lead` gives the form.  Each MIDI bar in which the
melody starts a note is mapped to a bar of the human labels' grid (the data build's own
alignment, composer/data/pop909/align.py: the bar most of its onsets land on).  Over pairs of
such bars that the annotator put in melodic phrases (uppercase letters):

* ``precision`` / ``recall`` / ``f1``: "these two bars belong to phrases with the same label",
  predicted against human, pooled over the songs' pairs (both annotators, averaged);
* ``songs_with_return``: share of songs in which some melodic label of the form comes back.

    .venv/bin/python -m benchmarks.form_returns [--split test] [--root ../shared/data]

Writes benchmarks/results/form_returns_<split>.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_results


def bar_labels(form: str) -> list[str]:
    """One label per bar of a phrase string such as ``i4A8b4`` ('' for a non-melodic one)."""
    from composer.form import parse_form
    return [p.label if p.label.isupper() else "" for p in parse_form(form) for _ in range(p.n_bars)]


def song_pairs(src) -> tuple[list[np.ndarray], bool, str]:
    """(per annotator: bool [pairs, 2] (same predicted, same human) over the song's melodic
    bar pairs, whether a predicted label returns, the predicted form)."""
    from composer.data.pop909.hsa import read_hsa_song
    from composer.data.pop909.labels import parse_midi_chord_roots, read_lines
    from composer.data.pop909.align import align_steps
    from composer.data.pop909.steps import TICKS_PER_STEP, MidiSteps, grid_phase, quantise_ticks
    from composer.data.pop909.tracks import read_played_song
    from composer.harmonise import read_lead as read_file_lead
    from composer.io.midi import read_midi
    from composer.score import Score

    hsa = read_hsa_song(src.hsa_dir, src.meter)
    meter = f"{hsa.beats_per_bar}/4"            # the labels' bars (the file may say 1/4 or 2/4)
    played = read_played_song(src.midi)
    origin = grid_phase(played.onset_ticks)
    steps = MidiSteps.of(played.onset_ticks, origin, Score(tempos=played.tempos))
    roots = parse_midi_chord_roots(read_lines(src.chord_midi), steps.step_of_seconds, steps.n_steps)
    al = align_steps(hsa.melody, quantise_ticks(played.melody[:, 0], origin), played.melody[:, 2],
                     hsa.chord[:, 0].astype(np.int64), roots, hsa.n_bars * hsa.beats_per_bar)
    inv = al.midi_to_grid_step(steps.n_steps)
    lead = read_file_lead(read_midi(src.midi), meter=meter)
    per_bar = hsa.beats_per_bar * 4             # 16ths a bar, in the file's bars and the labels'
    predicted = [p.label for p in lead.plan.phrases for _ in range(p.n_bars)]
    bar_of: dict[int, list[int]] = {}
    for start in lead.steps[:, 0]:
        # the song's 16th from tick 0 -> the data build's step from its origin -> its grid bar
        s = int(round((int(start) * TICKS_PER_STEP - origin) / TICKS_PER_STEP))
        if 0 <= s < len(inv) and inv[s] >= 0:
            bar_of.setdefault(int(start) // per_bar, []).append(int(inv[s]) // per_bar)
    bars = sorted(b for b in bar_of if b < len(predicted))
    grid_bar = {b: int(np.bincount(bar_of[b]).argmax()) for b in bars}
    out = []
    for form in hsa.forms:
        human = bar_labels(form)
        kept = [b for b in bars if grid_bar[b] < len(human) and human[grid_bar[b]]]
        pred = np.array([predicted[b] for b in kept])
        hum = np.array([human[grid_bar[b]] for b in kept])
        i, j = np.triu_indices(len(kept), 1)
        out.append(np.stack([pred[i] == pred[j], hum[i] == hum[j]], axis=1))
    melodic = [p.label for p in lead.plan.phrases if p.label.isupper()]
    return out, len(set(melodic)) < len(melodic), lead.plan.form


def main(argv: list[str] | None = None) -> int:
    from composer.data.pop909.sources import find_sources

    p = argparse.ArgumentParser()
    p.add_argument("--split", default="test")
    p.add_argument("--root", default="../shared/data")
    p.add_argument("--prepared", default=".prepared/pop909")
    p.add_argument("--songs", type=int, default=0, help="the first N songs of the split (0: all)")
    args = p.parse_args(argv)
    ids = json.loads((Path(args.prepared) / "split.json").read_text())[args.split]
    ids = ids[:args.songs] if args.songs else ids
    counts = np.zeros((2, 3))           # per annotator: both same, predicted same, human same
    returns, forms = [], {}
    for src in find_sources(Path(args.root), ids):
        pairs, returned, form = song_pairs(src)
        for a, pr in enumerate(pairs):
            counts[a] += [np.sum(pr[:, 0] & pr[:, 1]), pr[:, 0].sum(), pr[:, 1].sum()]
        returns.append(returned)
        forms[src.song_id] = form
        print(src.song_id, form, flush=True)
    precision = float(np.mean(counts[:, 0] / np.maximum(counts[:, 1], 1)))
    recall = float(np.mean(counts[:, 0] / np.maximum(counts[:, 2], 1)))
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    means = {"songs": len(returns), "precision": precision, "recall": recall, "f1": f1,
             "songs_with_return": float(np.mean(returns))}
    print_table([(k, f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in means.items()])
    write_results(f"form_returns_{args.split}", {**means, "forms": forms})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
