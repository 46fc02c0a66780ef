"""A timbre's model card: :func:`write_model_card` puts the resynthesis scores
(``evaluate.py``) and the timbre protocol (``protocol.py``, issue 21) into its config.json and
MODEL_CARD.md.

    python -m composer.render.ddsp.card TIMBRE_FOLDER AUDIO_DIR [--reuse-resynthesis]
"""
from __future__ import annotations

from composer.render.ddsp.evaluate import (HARDWARE, ResynthesisScores, evaluate_resynthesis,
                                           training_command)


def protocol_table(summary: dict) -> str:
    """The card's rows of the timbre protocol (composer/render/ddsp/protocol.py) for one timbre."""
    from composer.render.ddsp.protocol import MEASURE_TITLES, MEASURES

    sf = (f"GM {summary['soundfont_program']}{' + reverb/chorus' if summary['soundfont_effects'] else ' dry'}"
          if summary.get("soundfont_program") is not None else "not measured")
    rows = ["| measure (lower is closer) | learned timbre | default SoundFont | learned closer by | notes where learned is closer |",
            "|---|---:|---:|---:|---:|"]
    for m in MEASURES:
        d = summary[m]
        if d["soundfont"] is None:
            rows.append(f"| {MEASURE_TITLES[m]} | {d['learned']:.3f} | - | - | - |")
        else:
            rows.append(f"| {MEASURE_TITLES[m]} | {d['learned']:.3f} | {d['soundfont']:.3f} | "
                        f"{100 * (1 - d['learned'] / d['soundfont']):+.0f}% | {100 * d['share_closer']:.0f}% |")
    return f"SoundFont baseline: FluidR3 Mono GM, {sf}.\n\n" + "\n".join(rows)


def fine_tune_note(training: dict) -> str:
    """How the fine-tune was shaped, for the card: its anchor term and rate schedule, as the
    training recorded them (timbres trained before issue 21's second round recorded neither:
    a constant rate and no anchor)."""
    anchor, floor = training.get("anchor", 0.0), training.get("fine_lr_floor", 1.0)
    lr = training.get("fine_lr", 1e-3)
    text = ""
    if "anchor" not in training:
        text += " alone (the recipe before the anchor of issue 21: `TimbreRecipe(anchor=0.0)`)"
    elif anchor:
        text += (f" plus {anchor:g} x the warm start's loss on the analysed harmonics and noise floor"
                 f" (an anchor that keeps the spectral envelope)")
    return text + (f", at a constant rate of {lr:g}" if floor >= 1 else
                   f", at a rate falling by a cosine from {lr:g} to {floor:g} of it")


def register_line(ex) -> str:
    """The card's line for the level offsets per register (empty when none were measured)."""
    from composer.pitch import pitch_name

    if not ex.register_pitch:
        return ""
    return ("- Level by register (pitch: dB above the dynamic's level; the network hears it, the output "
            "gain evens it out): " + ", ".join(f"{pitch_name(p)}: {d:+.1f}" for p, d in zip(ex.register_pitch, ex.register_db))
            + "\n")


def played_line(ex) -> str:
    """The card's line for the played length per written length (empty when none was measured)."""
    if not ex.written_seconds:
        return ""
    return ("- Held before the release (written: played s): "
            + ", ".join(f"{w:g}: {p:.2f}" for w, p in zip(ex.written_seconds, ex.played_seconds)) + "\n")


def remeasured_note(training: dict, audio_dir, name: str) -> str:
    """Says when the expression was measured again after training (``--expression-only``)."""
    if not training.get("expression_remeasured"):
        return ""
    from pathlib import Path

    return (f"\nMeasured again after training, the weights unchanged (`composer train-timbre "
            f"../shared/data/philharmonia/{Path(audio_dir).name} --out models/timbres/{name} --expression-only`, "
            f"{training.get('expression_wall_seconds', '?')} s including the analysis; issue 21's third "
            f"round added the register and the played lengths).\n")


def write_model_card(folder, audio_dir, log=print, reuse_resynthesis: bool = False) -> dict:
    """Evaluate the timbre in ``folder`` on the held-out recordings of ``audio_dir`` (the
    resynthesis scores and the timbre protocol of ``protocol.py``), store the figures in its
    config.json (``metrics``) and write its MODEL_CARD.md.  ``reuse_resynthesis`` keeps the
    resynthesis figures already in config.json (they depend only on the weights).  Returns the
    metrics."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from composer.io.atomic import atomic_path
    from composer.nets.blocks import count_parameters
    from composer.render.ddsp.analysis import analyse_folder, split_held_out
    from composer.render.ddsp.timbre import describe_range, load_timbre

    from composer.render.ddsp.protocol import evaluate_instrument

    folder, audio_dir = Path(folder), Path(audio_dir)
    timbre = load_timbre(folder)
    sc, decoder = timbre.model.synth_config, timbre.model.decoder
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    metrics = dict(config.get("metrics") or {})
    if reuse_resynthesis and metrics.get("resynthesis"):
        resynth = ResynthesisScores(**metrics["resynthesis"])
    else:
        analyses = analyse_folder(audio_dir, folder / ".cache" / "analysis.npz", sc,
                                  decoder.n_harmonics, decoder.n_noise_bands, progress=False)
        _, held = split_held_out(analyses)
        resynth = evaluate_resynthesis(timbre.model, held)
    log(f"{folder.name} resynthesis: {resynth}")
    protocol = evaluate_instrument(timbre, audio_dir, folder.name).summary()
    log(f"{folder.name} protocol: {protocol}")
    metrics["resynthesis"] = asdict(resynth)
    metrics["protocol"] = protocol
    # The older MIDI-vs-reality figure is the protocol's loudness-matched row now.
    metrics.pop("midi_vs_reality", None)
    config["metrics"] = metrics
    with atomic_path(config_path) as tmp:
        Path(tmp).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    ex = timbre.expression
    tr = metrics.get("training", {})
    n_notes = protocol["n_notes"]
    wall = tr.get("wall_seconds", "?")
    wall_note = f" ({tr['wall_note']})" if tr.get("wall_note") else ""
    card = f"""# Timbre `{folder.name}` (DDSP)

A learned timbre for `composer render --timbre TRACK=ddsp:{folder.name}`: a small decoder
(MLPs + a 128-unit GRU, {count_parameters(timbre.model):,} parameters including a
{sc.reverb_seconds:.1f} s learned reverb) from f0 and A-weighted loudness at {sc.frame_rate:.0f} frames/s
to a {timbre.model.decoder.n_harmonics}-harmonic additive synthesiser plus filtered noise
({timbre.model.decoder.n_noise_bands} bands), at {sc.sample_rate} Hz (resampled on output).

## Training data

Philharmonia Orchestra single-note recordings of the {folder.name} (`{audio_dir.name}/`, plain sustained
articulations only): {tr.get('recordings', '?')} recordings for training, {tr.get('held_out', '?')} held
out by a hash of the file name, {tr.get('minutes_of_sound', '?')} minutes of sound after trimming
silence.  The recordings may not be redistributed and are not part of this project; this model is
derived from them (allowed by their licence).

Training (`{training_command(audio_dir, folder.name, tr)}`,
{tr.get('warm_steps', '?')} + {tr.get('steps', '?')} steps): analysis (pitch from the file name refined by a harmonic-peak
tracker, A-weighted loudness, harmonic amplitudes and noise floor per frame), a supervised warm
start on the analysed harmonics ({tr.get('warm_steps', '?')} steps), then {tr.get('steps', '?')} steps of
multi-resolution STFT loss through the synthesiser{fine_tune_note(tr)}; {wall} s wall time{wall_note} on
{HARDWARE}.

## Range and expression (measured from the recordings)

- Range: {describe_range(ex)} (MIDI {ex.pitch_min}-{ex.pitch_max}); notes outside move by octaves.
- Loudness per dynamic (velocity: dB{', at the mean register' if ex.register_pitch else ''}): {', '.join(f'{v}: {l:.1f}' for v, l in zip(ex.dynamics_velocity, ex.dynamics_loudness_db))}
{register_line(ex)}- Attack {ex.attack_seconds:.3f} s, release {ex.release_seconds:.3f} s (40 dB), attack overshoot {ex.decay_db:.1f} dB
{played_line(ex)}- Vibrato {ex.vibrato_rate_hz:.2f} Hz, depth {ex.vibrato_depth_cents:.1f} cents, after {ex.vibrato_delay_seconds:.2f} s
{remeasured_note(tr, audio_dir, folder.name)}
## Quality on the {resynth.n_notes} held-out recordings

Resynthesis (f0 and loudness taken from the recording, as in the DDSP paper's Table 1):

| loudness L1 (dB) | f0 L1 (cents) | multi-resolution STFT distance |
|---|---|---|
| {resynth.loudness_l1_db:.2f} | {resynth.f0_l1_cents:.2f} | {resynth.mrstft:.3f} |

MIDI to audio against the real recording: the timbre protocol of `composer eval-timbre`
(docs/EVAL.md, "Learned timbres"; {n_notes} held-out notes played from their file names, pitch,
length and dynamic; onset-aligned; the SoundFont measured in the same run):

{protocol_table(protocol)}

## Limits

Trained on isolated notes only: fast passages, slurs and extended techniques are approximated by
the control curves of `composer/render/ddsp/controls.py`, not learned.  Monophonic per voice; chords
are split into voices (at most 8 per track by default).
"""
    with atomic_path(folder / "MODEL_CARD.md") as tmp:
        Path(tmp).write_text(card)
    return metrics


if __name__ == "__main__":
    import sys

    args = [a for a in sys.argv[1:] if a != "--reuse-resynthesis"]
    if len(args) != 2:
        print("usage: python -m composer.render.ddsp.card TIMBRE_FOLDER AUDIO_DIR [--reuse-resynthesis]",
              file=sys.stderr)
        raise SystemExit(2)
    write_model_card(args[0], args[1], reuse_resynthesis="--reuse-resynthesis" in sys.argv[1:])
