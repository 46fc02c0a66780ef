"""A learned prior on the melody's next pitch given its last one, used inside the sampler.

The melody net predicts every 16th step's class (rest, hold, onset of a pitch) from the
condition and the noisy song, one step at a time: its clean estimate is a product of
per-step distributions.  Two notes a fifth or an octave apart can each be likely at their
own step while the pair is not, and the sampler's ODE then walks each step towards its own
mode; the measured result was a line that leaps (15% of intervals over an octave against
0.1% in real songs, docs/ARCHITECTURE.md "The line").

This module adds what the per-step product cannot say.  From the training melodies it
counts which pitch follows which within a phrase (transposed like the training crops) and
keeps the pointwise ratio ``psi(a, b) = P(next = b | last = a) / P(next = b)``: how much
more (or less) likely ``b`` is after ``a`` than on its own.  The ratio, not the
conditional, because the net already gives each pitch its own likelihood (register, chord,
key); the prior only adds the dependence between successive notes.  At every solver step the
sampler's per-step estimate ``q`` is replaced by the marginals of the chain

    p(x) ∝ prod_i q_i(x_i) * prod_j psi(pitch_{j-1}, pitch_j) ** weight

over each melodic phrase (exact forward-backward over the state "last pitch sung"), so the
clean estimate the ODE moves towards is a line whose notes agree with each other.  A phrase
starts free (a new phrase is a new breath, as in the metrics).  ``weight`` 0 is the net
alone; it is chosen on the validation split and its effect is reported beside the net's own
figures in docs/ARCHITECTURE.md, so what the net knows and what the prior adds stay apart.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

import numpy as np

from composer.representation.melody import HOLD, ONSET, REST, notes_to_tokens
from composer.representation.pianoroll import MELODY_RANGE

N_PITCH = MELODY_RANGE.n_pitches
FIT_TRANSPOSE = 5
"""Pairs are counted at every transposition up to this many semitones either way (the
melody task's TRANSPOSE), so the table does not carry the accidents of 650 songs' keys."""
SMOOTHING = 20.0
"""Pseudo-counts per row, spread by the row-free interval distribution: a rare starting
pitch borrows the shape of all intervals instead of a noisy row of its own."""
DEFAULT_WEIGHT = 1.0
REGISTER_WEIGHT = 0.3
"""Exponent on the register term (:func:`register_pull`).  The pair table links a note to the
one before only, so a phrase could walk by steps out of its register (an 8-bar window spanned
15 semitones against 14 on 16 validation songs, 15.4-16.1 against 12.9 on the test sets).
On the 16 validation songs, before recalibrating the intervals: 0.5 gave 11.5 semitones, 1.0
9.0 (both narrower than real, with fewer leaps than real); 0.3 ships, and the interval
calibration runs with it."""
FLOOR = 0.1
"""Share of the uniform pitch distribution in the normaliser of a new note's factor (see
:func:`chain_marginals`)."""


@dataclass(frozen=True)
class LinePrior:
    """log_ratio: float32 [N_PITCH, N_PITCH], ``log psi(last, next)`` over MELODY_RANGE
    indices; weight: the exponent on psi at sampling (0 = off)."""

    log_ratio: np.ndarray
    weight: float = DEFAULT_WEIGHT
    pairs: int = 0
    interval_bias: np.ndarray | None = None
    """float32 [2 * N_PITCH - 1]: added to ``log psi`` by interval (next - last, from
    -(N-1) to N-1), fitted by :func:`calibrate_line_prior`; None = zeros."""
    register_logp: np.ndarray | None = None
    """float32 [2 * N_PITCH - 1]: log-probability of a note's distance (semitones, -(N-1)
    to N-1) from its phrase's centre in the training melodies; None = no register term."""
    register_weight: float = 0.0

    def log_psi(self) -> np.ndarray:
        """float64 [N_PITCH, N_PITCH]: the table the chain uses (before the weight)."""
        table = self.log_ratio.astype(np.float64)
        if self.interval_bias is not None:
            a, b = np.indices(table.shape)
            table = table + self.interval_bias.astype(np.float64)[b - a + N_PITCH - 1]
        return table

    def to_json(self) -> dict[str, Any]:
        bias = np.zeros(2 * N_PITCH - 1) if self.interval_bias is None else self.interval_bias
        out = {"weight": self.weight, "pairs": self.pairs,
               "log_ratio": np.round(self.log_ratio.astype(np.float64), 3).tolist(),
               "interval_bias": np.round(np.asarray(bias, np.float64), 3).tolist()}
        if self.register_logp is not None:
            out["register_logp"] = np.round(self.register_logp.astype(np.float64), 3).tolist()
            out["register_weight"] = self.register_weight
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LinePrior":
        table = np.asarray(data["log_ratio"], dtype=np.float32)
        if table.shape != (N_PITCH, N_PITCH) or not np.isfinite(table).all():
            raise ValueError(f"line_prior.log_ratio must be a finite {N_PITCH}x{N_PITCH} table")
        bias = np.asarray(data.get("interval_bias", np.zeros(2 * N_PITCH - 1)), dtype=np.float32)
        if bias.shape != (2 * N_PITCH - 1,) or not np.isfinite(bias).all():
            raise ValueError(f"line_prior.interval_bias must be {2 * N_PITCH - 1} finite numbers")
        register = data.get("register_logp")
        if register is not None:
            register = np.asarray(register, dtype=np.float32)
            if register.shape != (2 * N_PITCH - 1,) or not np.isfinite(register).all():
                raise ValueError(f"line_prior.register_logp must be {2 * N_PITCH - 1} finite numbers")
        return cls(table, float(data.get("weight", DEFAULT_WEIGHT)), int(data.get("pairs", 0)), bias,
                   register, float(data.get("register_weight", 0.0)) if register is not None else 0.0)

    def with_weight(self, weight: float) -> "LinePrior":
        return replace(self, weight=float(weight))

    def with_bias(self, bias: np.ndarray) -> "LinePrior":
        return replace(self, interval_bias=np.asarray(bias, np.float32))

    def with_register(self, logp: np.ndarray | None, weight: float) -> "LinePrior":
        return replace(self, register_logp=None if logp is None else np.asarray(logp, np.float32),
                       register_weight=float(weight))


def phrase_pitch_pairs(tokens: np.ndarray, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    """int64 [n, 2]: (last, next) pitch indices of successive onsets inside each span
    ``(start_step, end_step)`` of ``tokens``; pairs never cross a span's edge."""
    out = []
    for a, b in spans:
        seq = tokens[a:b]
        pitches = seq[seq >= ONSET] - ONSET
        if len(pitches) > 1:
            out.append(np.stack([pitches[:-1], pitches[1:]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def melodic_spans(phrases, steps_per_bar: int) -> list[tuple[int, int]]:
    """(start_step, end_step) of every melodic (upper-case) phrase."""
    spans, bar = [], 0
    for ph in phrases:
        if ph.label.isupper():
            spans.append((bar * steps_per_bar, (bar + ph.n_bars) * steps_per_bar))
        bar += ph.n_bars
    return spans


def fit_line_prior(examples, weight: float = DEFAULT_WEIGHT,
                   register_weight: float = REGISTER_WEIGHT) -> LinePrior:
    """Count successive pitches in the melodic phrases of ``examples`` (SongExamples) and
    return the smoothed log ratio table, with the register term
    (:func:`phrase_register_logp`) at ``register_weight``."""
    from composer.representation.note_context import example_context
    counts = np.zeros((N_PITCH, N_PITCH), np.float64)
    n_pairs = 0
    for ex in examples:
        ctx, shift = example_context(ex)
        tokens = notes_to_tokens(ex.melody, ctx.n_steps, shift)
        pairs = phrase_pitch_pairs(tokens, melodic_spans(ctx.phrases, ctx.steps_per_bar))
        n_pairs += len(pairs)
        for s in range(-FIT_TRANSPOSE, FIT_TRANSPOSE + 1):
            moved = pairs + s
            ok = (moved >= 0).all(axis=1) & (moved < N_PITCH).all(axis=1)
            np.add.at(counts, (moved[ok, 0], moved[ok, 1]), 1.0)
    total = counts.sum()
    if total == 0:
        raise ValueError("no melody note pairs to fit the line prior on")
    # the interval distribution pooled over all starting pitches, for smoothing
    iv = np.zeros(2 * N_PITCH - 1)
    a, b = np.indices(counts.shape)
    np.add.at(iv, (b - a + N_PITCH - 1).ravel(), counts.ravel())
    iv = (iv + 1e-3) / (iv + 1e-3).sum()
    shape = iv[b - a + N_PITCH - 1]
    shape /= shape.sum(axis=1, keepdims=True)
    cond = (counts + SMOOTHING * shape) / (counts.sum(axis=1, keepdims=True) + SMOOTHING)
    marginal = counts.sum(axis=0) + 1.0
    marginal /= marginal.sum()
    return LinePrior(np.log(cond / marginal[None, :]).astype(np.float32), weight, n_pairs,
                     register_logp=phrase_register_logp(examples).astype(np.float32),
                     register_weight=register_weight)


CALIBRATION_SONGS = 24
CALIBRATION_ROUNDS = 8
CALIBRATION_RATE = 0.7
MAX_BIAS = 6.0


def interval_histogram(pairs: np.ndarray) -> np.ndarray:
    """float64 [2 * N_PITCH - 1]: counts of ``next - last`` over ``pairs`` [n, 2]."""
    iv = pairs[:, 1] - pairs[:, 0] + N_PITCH - 1
    return np.bincount(iv, minlength=2 * N_PITCH - 1).astype(np.float64)


def interval_groups() -> np.ndarray:
    """int64 [2 * N_PITCH - 1]: the calibration group of every interval (next - last).
    Each move up to a fifth is its own group; larger ones share a group per direction
    (8-9, 10-11, 12, and 13 or more semitones), since real melodies make them too rarely
    (3% of intervals together) for a per-semitone count of a dozen songs to mean anything:
    calibrated per semitone, a ninth up that one song made once was pushed to 7 nats.
    The moves past the octave (group :data:`PAST_OCTAVE` and its downward twin) are not
    calibrated at all (see :func:`calibrate_line_prior`)."""
    iv = np.arange(-(N_PITCH - 1), N_PITCH)
    size = np.abs(iv)
    group = np.where(size <= 7, size, np.where(size <= 9, 8, np.where(size <= 11, 9, np.where(size == 12, 10, 11))))
    return np.where(iv < 0, group + 12, group).astype(np.int64)          # 0..11 up, 13..23 down


PAST_OCTAVE = 11
"""The group of moves up by more than an octave (``PAST_OCTAVE + 12``: down).  Real melodies
make them in 0.015% of intervals, a count of zero or one in the calibration's songs, and the
smoothed ratio of real to generated then moves the bias by noise: to +1.5 and +2.5 nats in
two calibrations, pooled with the octave +0.9, and the cascade sang 3-5x the real share.
Their bias stays 0: the ratio table's own estimate of how rare they are."""


def calibrate_line_prior(prior: LinePrior, examples, sample, n_songs: int = CALIBRATION_SONGS,
                         rounds: int = CALIBRATION_ROUNDS, rate: float = CALIBRATION_RATE,
                         seed: int = 0, log=print, context_of=None) -> LinePrior:
    """Fit ``interval_bias`` so that the sampler's melodies move by the intervals the
    training melodies move by.

    The ratio table alone over-weights the likeliest move: the sampler follows the mode of
    its clean estimate, and the repeated note, the pair with the largest ratio, came out in
    31% of intervals against 23% (12 training songs).  Each round samples the melodies of
    ``n_songs`` training songs with ``sample(ctx, prior, i) -> tokens``, compares their
    interval histogram, by :func:`interval_groups`, with that of every training melody, and
    moves each group's bias by ``rate`` times the log ratio.  ``context_of(example, i) ->
    NoteContext`` sets the songs' conditions (default: their own forms and chords; the
    melody command passes chords drawn by the chord level, as the cascade sings over).
    The songs are training songs: validation and test stay unseen."""
    from composer.representation.note_context import example_context
    groups = interval_groups()
    n_groups = int(groups.max()) + 1

    def grouped(hist: np.ndarray) -> np.ndarray:
        return np.bincount(groups, weights=hist, minlength=n_groups)

    real = np.zeros(2 * N_PITCH - 1)
    contexts = []
    rng = np.random.default_rng(seed)
    picked = set(rng.choice(len(examples), min(n_songs, len(examples)), replace=False).tolist())
    for i, ex in enumerate(examples):
        ctx, shift = example_context(ex)
        spans = melodic_spans(ctx.phrases, ctx.steps_per_bar)
        real += interval_histogram(phrase_pitch_pairs(notes_to_tokens(ex.melody, ctx.n_steps, shift), spans))
        if i in picked:
            if context_of is not None:
                ctx = context_of(ex, i)
                spans = melodic_spans(ctx.phrases, ctx.steps_per_bar)
            contexts.append((ctx, spans))
    real_g = grouped(real)
    real_p = (real_g + 0.5) / (real_g + 0.5).sum()
    bias = np.zeros(n_groups)
    base = np.zeros(2 * N_PITCH - 1) if prior.interval_bias is None else prior.interval_bias.astype(np.float64)
    for r in range(rounds):
        current = prior.with_bias(base + bias[groups])
        gen = np.zeros(2 * N_PITCH - 1)
        for i, (ctx, spans) in enumerate(contexts):
            gen += interval_histogram(phrase_pitch_pairs(sample(ctx, current, i), spans))
        gen_g = grouped(gen)
        gen_p = (gen_g + 0.5) / (gen_g + 0.5).sum()
        log(f"round {r + 1}/{rounds}: interval OA {np.minimum(gen / max(gen.sum(), 1), real / real.sum()).sum():.3f}")
        # the weight scales the table in the chain, so a step in log psi is divided by it
        bias = np.clip(bias + rate * np.log(real_p / gen_p) / max(prior.weight, 1e-3), -MAX_BIAS, MAX_BIAS)
        bias[[PAST_OCTAVE, PAST_OCTAVE + 12]] = 0.0
    return prior.with_bias(base + bias[groups])


def chain_marginals(probs: np.ndarray, prior: LinePrior) -> np.ndarray:
    """Per-step class marginals of the chain over padded phrases.

    probs: float64 [P, T, K] per-step class distributions of ``P`` phrases (pad with a
    certain REST, which the chain passes unchanged).  Returns float64 [P, T, K], each row
    summing to 1: ``probs`` reweighted so that successive onsets follow the prior."""
    n_phr, n_t, _ = probs.shape
    psi = np.ones((N_PITCH + 1, N_PITCH))
    psi[1:] = np.exp(prior.weight * prior.log_psi())
    stay_p = probs[:, :, REST] + probs[:, :, HOLD]          # [P, T]
    onset_p = probs[:, :, ONSET:]                           # [P, T, N]
    # psi moves the choice of pitch at an onset, not whether there is one: divided by its
    # mean under the net's pitch distribution at that step, the factor of a new note
    # averages 1 (unnormalised, a likely pair multiplies by psi > 1 and the chain buys
    # extra notes: 10.2 onsets per bar against 5.5 on 6 validation songs).  The mean mixes
    # in FLOOR of the uniform distribution: a pitch the net is sure of would otherwise
    # divide its own psi away, and a certain note (a kept one, a user's) could not pull
    # the free note before it towards a move that reaches it.
    total = onset_p.sum(axis=2, keepdims=True)
    pitch_p = np.where(total > 0, onset_p / np.where(total > 0, total, 1.0), 1.0 / N_PITCH)
    pitch_p = (1.0 - FLOOR) * pitch_p + FLOOR / N_PITCH
    inv_z = 1.0 / (pitch_p @ psi.T)                          # [P, T, N + 1]
    # state 0: nothing sung yet in the phrase; state 1 + k: the last onset was pitch k
    alpha = np.zeros((n_phr, n_t + 1, N_PITCH + 1))
    alpha[:, 0, 0] = 1.0
    for t in range(n_t):
        a = alpha[:, t]
        new = a * stay_p[:, t, None]
        new[:, 1:] += ((a * inv_z[:, t]) @ psi) * onset_p[:, t]
        alpha[:, t + 1] = new / new.sum(axis=1, keepdims=True)
    beta = np.ones((n_phr, n_t + 1, N_PITCH + 1))
    for t in range(n_t - 1, -1, -1):
        b = beta[:, t + 1]
        new = b * stay_p[:, t, None] + ((onset_p[:, t] * b[:, 1:]) @ psi.T) * inv_z[:, t]
        beta[:, t] = new / new.sum(axis=1, keepdims=True)
    a, b = alpha[:, :-1], beta[:, 1:]
    out = np.empty_like(probs)
    same = (a * b).sum(axis=2)                               # [P, T]
    out[:, :, :ONSET] = probs[:, :, :ONSET] * same[:, :, None]
    out[:, :, ONSET:] = onset_p * ((a * inv_z) @ psi) * b[:, :, 1:]
    return out / out.sum(axis=2, keepdims=True)


def phrase_register_logp(examples) -> np.ndarray:
    """float64 [2 * N_PITCH - 1]: log-probability of (pitch - phrase centre) over the notes of
    the training melodies' melodic phrases, the centre being the phrase's mean pitch rounded."""
    from composer.representation.note_context import example_context
    counts = np.ones(2 * N_PITCH - 1)
    for ex in examples:
        ctx, shift = example_context(ex)
        tokens = notes_to_tokens(ex.melody, ctx.n_steps, shift)
        for a, b in melodic_spans(ctx.phrases, ctx.steps_per_bar):
            seq = tokens[a:b]
            pitches = seq[seq >= ONSET] - ONSET
            if len(pitches):
                centre = int(round(float(pitches.mean())))
                np.add.at(counts, pitches - centre + N_PITCH - 1, 1.0)
    return np.log(counts / counts.sum())


def register_pull(probs: np.ndarray, prior: LinePrior) -> np.ndarray:
    """probs [P, T, K] with each onset's pitch reweighted by ``register_logp`` of its
    distance from its phrase's centre, the centre being the mean pitch of the phrase's
    onsets under ``probs`` (the current estimate: mean field), the onset's share kept."""
    onset = probs[:, :, ONSET:]
    pitch = np.arange(N_PITCH, dtype=np.float64)
    mass = onset.sum(axis=(1, 2))
    centre = np.where(mass > 0, (onset * pitch).sum(axis=(1, 2)) / np.maximum(mass, 1e-300), N_PITCH / 2)
    dist = np.clip(np.rint(pitch[None, :] - centre[:, None]).astype(np.int64), -(N_PITCH - 1), N_PITCH - 1)
    factor = np.exp(prior.register_weight * prior.register_logp.astype(np.float64)[dist + N_PITCH - 1])  # [P, N]
    moved = onset * factor[:, None, :]
    total, new_total = onset.sum(axis=2, keepdims=True), moved.sum(axis=2, keepdims=True)
    out = probs.copy()
    out[:, :, ONSET:] = np.where(new_total > 0, moved * total / np.where(new_total > 0, new_total, 1.0), 0.0)
    return out


def apply_line_prior(logits: np.ndarray, spans: list[tuple[int, int]], prior: LinePrior) -> np.ndarray:
    """Class logits float [K, L] -> log marginals under the chain within each span (the
    steps outside every span keep their logits)."""
    out = np.array(logits, dtype=np.float64)
    if prior.weight == 0 or not spans:
        return out
    width = max(b - a for a, b in spans)
    probs = np.zeros((len(spans), width, out.shape[0]))
    probs[:, :, REST] = 1.0
    shifted = out - out.max(axis=0, keepdims=True)
    soft = np.exp(shifted)
    soft /= soft.sum(axis=0, keepdims=True)
    for i, (a, b) in enumerate(spans):
        probs[i, :b - a] = soft[:, a:b].T
    if prior.register_logp is not None and prior.register_weight:
        probs = register_pull(probs, prior)
    marg = chain_marginals(probs, prior)
    for i, (a, b) in enumerate(spans):
        out[:, a:b] = np.log(np.maximum(marg[i, :b - a].T, 1e-30))
    return out


__all__ = ["LinePrior", "fit_line_prior", "calibrate_line_prior", "interval_histogram", "interval_groups", "PAST_OCTAVE", "chain_marginals", "apply_line_prior", "melodic_spans",
           "phrase_pitch_pairs", "phrase_register_logp", "register_pull", "DEFAULT_WEIGHT", "REGISTER_WEIGHT", "FIT_TRANSPOSE", "SMOOTHING"]
