"""The form level's decoder: a sampled form array -> the most probable phrases, given a prior.

A sampled array (:mod:`composer.representation.form`) says per bar how likely a phrase
starts and which type it is; read bar by bar it splits phrases into 1- and 2-bar pieces
where the net is unsure.  :func:`decode_form` instead finds the most probable split
(semi-Markov Viterbi, :func:`segment_phrases`) under a :class:`PhrasePrior` of what real
forms look like: phrase lengths, which type follows which, intros first and outros last,
a returning label keeping its first length.  The prior is estimated from the training
forms (:func:`estimate_phrase_prior`) and kept in the form model's config.json.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.errors import FormError
from composer.form import MAX_PHRASE_BARS, MAX_SONG_BARS, FormPlan, phrase_type_of
from composer.representation.form import (MODE, N_TYPES, START, TONIC, TYPE_LETTERS, bar_letters,
                                          from_form_array, plan_from_segments, song_length)

LENGTH_WEIGHT = 3.0
"""Weight of the phrase-length prior against the net's evidence in :func:`segment_phrases`.
Chosen on the validation forms (100 samples of the shipped model): weight 1 gives a
phrase-length overlapping area of 0.742 and 41% 4- and 8-bar phrases (real 66%); 2 gives
0.828 / 51%; 3 gives 0.873 / 61%, with the type-bigram area 0.852 -> 0.823."""


@dataclass(frozen=True)
class PhrasePrior:
    """What real songs' forms look like, for decoding a sampled form array (see
    :func:`segment_phrases`): log-probabilities of a phrase's length (index = bars,
    1..MAX_PHRASE_BARS) and of a phrase type following another (rows: BOS then the six
    types; columns: the six types then EOS).  Estimated from the training forms by
    :func:`estimate_phrase_prior` and kept in the form model's config.json."""

    length_logp: np.ndarray     # float64 [MAX_PHRASE_BARS + 1], index 0 unused (-inf)
    type_logp: np.ndarray       # float64 [N_TYPES + 1, N_TYPES + 1]
    length_weight: float = LENGTH_WEIGHT
    same_length_p: float | None = None
    """Share of returning labels that keep their first statement's length (None: no tie)."""
    song_bars: tuple[int, ...] = ()
    """The training songs' lengths in bars: a song's length is drawn from them when nothing
    fixes it (the END channel alone let 1-bar songs through)."""
    key_stay_logp: float | None = None
    """Log-probability that the key stays the same from one phrase to the next."""
    key_move_logp: np.ndarray | None = None
    """float64 [KEY_MOVES]: log-probability of each key move (:func:`key_move`) given that the
    key changes.  With ``key_stay_logp``, the decoder's prior on keys (:func:`decode_keys`)."""

    def to_json(self) -> dict:
        out = {"length_logp": [round(float(v), 6) for v in self.length_logp[1:]],
               "type_logp": [[round(float(v), 6) for v in row] for row in self.type_logp],
               "length_weight": self.length_weight}
        if self.same_length_p is not None:
            out["same_length_p"] = round(float(self.same_length_p), 6)
        if self.song_bars:
            out["song_bars"] = [int(b) for b in self.song_bars]
        if self.key_stay_logp is not None and self.key_move_logp is not None:
            out["key_stay_logp"] = round(float(self.key_stay_logp), 6)
            out["key_move_logp"] = [round(float(v), 6) for v in self.key_move_logp]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "PhrasePrior":
        length = np.concatenate([[-np.inf], np.asarray(data["length_logp"], dtype=np.float64)])
        types = np.asarray(data["type_logp"], dtype=np.float64)
        if length.shape != (MAX_PHRASE_BARS + 1,) or types.shape != (N_TYPES + 1, N_TYPES + 1):
            raise FormError("the form model's phrase prior has the wrong shape; retrain or re-save the model")
        same = data.get("same_length_p")
        bars = tuple(int(b) for b in data.get("song_bars", ()))
        if same is not None and not 0.0 < float(same) < 1.0:
            raise FormError("the form model's phrase prior has a same-length share outside (0, 1)")
        if any(not 1 <= b <= MAX_SONG_BARS for b in bars):
            raise FormError(f"the form model's phrase prior has song lengths outside 1..{MAX_SONG_BARS}")
        stay, move = data.get("key_stay_logp"), data.get("key_move_logp")
        move = None if move is None else np.asarray(move, dtype=np.float64)
        if (stay is None) != (move is None) or (move is not None and move.shape != (KEY_MOVES,)):
            raise FormError("the form model's phrase prior has an incomplete key prior; "
                            "re-fit it with `composer train form --prior-only`")
        return cls(length, types, float(data.get("length_weight", 1.0)),
                   None if same is None else float(same), bars,
                   None if stay is None else float(stay), move)


KEY_MOVES = 48
"""Key moves: the tonic's step up (0..11) x the mode before x the mode after (:func:`key_move`)."""


def key_move(before: tuple[int, int], after: tuple[int, int]) -> int:
    """A key change (tonic 0..11, mode 0 major / 1 minor) as 0..47: the tonic's step up in
    semitones * 4 + mode before * 2 + mode after (C major -> A minor is 9 * 4 + 1)."""
    return ((after[0] - before[0]) % 12) * 4 + before[1] * 2 + after[1]


def _phrase_keys(plan: FormPlan) -> list[tuple[int, int]]:
    out, bar = [], 0
    for p in plan.phrases:
        out.append((int(plan.key_tonic[bar]), int(plan.key_mode[bar])))
        bar += p.n_bars
    return out


def estimate_phrase_prior(plans: list[FormPlan], smoothing: float = 0.5) -> PhrasePrior:
    """Phrase-length and type-bigram log-probabilities of ``plans`` (add-``smoothing``), the
    share of returning labels that keep their first length, the songs' lengths, and how
    often and where the key moves from phrase to phrase."""
    lengths = np.full(MAX_PHRASE_BARS + 1, smoothing)
    lengths[0] = 0.0
    pairs = np.full((N_TYPES + 1, N_TYPES + 1), smoothing)
    stays, moves = smoothing, np.full(KEY_MOVES, smoothing / KEY_MOVES)
    # (the codes of "no move", C major -> C major and C minor -> C minor, keep their smoothing:
    # decode_keys never reads them, and every value stays finite in config.json)
    same, returning = smoothing, 2 * smoothing
    for plan in plans:
        keys = _phrase_keys(plan)
        for before, after in zip(keys, keys[1:]):
            if before == after:
                stays += 1
            else:
                moves[key_move(before, after)] += 1
        prev = 0                                         # BOS row
        first: dict[str, int] = {}
        for p in plan.phrases:
            if p.label.isupper() and p.label in first:
                returning += 1
                same += first[p.label] == p.n_bars
            first.setdefault(p.label, p.n_bars)
            lengths[min(p.n_bars, MAX_PHRASE_BARS)] += 1
            t = phrase_type_of(p.label)
            pairs[prev, t] += 1
            prev = t + 1
        pairs[prev, N_TYPES] += 1                        # EOS column
    with np.errstate(divide="ignore", invalid="ignore"):   # smoothing 0: unseen rows are -inf
        length_logp = np.log(lengths / lengths.sum())
        type_logp = np.nan_to_num(np.log(pairs / pairs.sum(axis=1, keepdims=True)), nan=-np.inf)
    same_p = float(same / returning) if returning > 0 else None
    if same_p is not None and not 0.0 < same_p < 1.0:
        same_p = None
    with np.errstate(divide="ignore"):
        total_moves = moves.sum()
        stay_logp = float(np.log(stays / (stays + total_moves)))
        move_logp = np.log(moves / total_moves) if total_moves > 0 else np.full(KEY_MOVES, -np.inf)
    return PhrasePrior(length_logp, type_logp, LENGTH_WEIGHT, same_p,
                       tuple(sorted(int(p.n_bars) for p in plans)), stay_logp, move_logp)


FREE_PHRASE_MAX_BARS = 24
"""The longest phrase the decoder writes where the user gave no letter.  Of the 8,484
phrases of the POP909 training forms 35 are longer than 16 bars, 4 longer than 24, none longer
than 32.  Without a limit the decoder merged phrases whose starts the net had marked into
one of 35-55 bars (A47 over starts at bars 4, 17 and 40) in 1% of the forms sampled with
nothing given; on 150 such forms (validation) phrases above 16 bars were 18 of 1868 with no
limit (longest 46), 12 at 32 (longest 27), 9 at 24 (0.48%, real 0.41%), the phrase-length
area 0.864, 0.873, 0.871.  A phrase the user writes (A40) keeps any length up to
MAX_PHRASE_BARS."""
TIE_WEIGHT = 20.0
"""Weight of the returning-length tie in :func:`decode_phrases` against the net's evidence.  On
forms sampled with nothing given the share of returning labels with their first length is
0.53 untied, 0.62 / 0.75 / 0.84 / 0.90 / 0.88 with weights 3 / 6 / 10 / 20 / 40 (30 forms for
3 and 6, 60 for the others; real songs 0.92), the phrase-length area staying at 0.83."""
END_WEIGHT = 3.0
"""Weight of the last phrase's type-to-end log-probability in :func:`segment_phrases`.  At 1
the net's per-bar type evidence outweighed the one end term, and forms sampled with nothing
given ended on a verse or chorus without an outro (13% against 7% of the validation songs,
outros last 66% against 73%).  On 100 forms (seeds 5000.., against the validation forms)
weight 3 gives 7% and 77%, with the phrase-length area 0.841 -> 0.848, the type-bigram area
0.838 -> 0.837 and the phrases-per-song area 0.890 -> 0.908; weight 6 overshoots (3%, 88%).
Only free phrases feel it: where the user lettered the last phrase its type is fixed."""
TYPE_WEIGHT = 0.25
"""Weight of the net's per-bar type evidence in :func:`segment_phrases`.  Each bar's type
probability counted in full (weight 1) treats neighbouring bars as independent witnesses,
which they are not: a stretch the net marks "chorus" for 36 bars then outweighs every prior
and is cut into nine 4-bar choruses in a row.  On 60 forms sampled with nothing given
(seeds 5000.., against the 86 validation forms: longest run of one label 2.33, 15% of songs
with a run of four or more, phrase-length area 1 by definition): weight 1 gave a longest run
of 3.18 (33%), phrase-length area 0.824, label-bigram area 0.579; 0.5 gave 2.88 (27%), 0.926,
0.601; 0.25 gives 2.75 (18%), 0.874, 0.605, with 93% of songs ending without a melody (real
76%).  A run-aware type prior (the next type given how many of one type ran) was tried
first: at weights 1, 3 and 6 it moved the longest run only to 3.12, 2.98 and 3.27."""
INTRO, OUTRO = TYPE_LETTERS.index("i"), TYPE_LETTERS.index("o")
MELODIC_TYPES = tuple(k for k, letter in enumerate(TYPE_LETTERS) if letter.isupper())


def placed_types(type_logp: np.ndarray) -> np.ndarray:
    """``type_logp`` with intros allowed only at the song's start (after BOS or another
    intro) and outros only at its end (followed by another outro or EOS)."""
    t = np.array(type_logp, dtype=np.float64)
    intro_ok = t[1 + INTRO, INTRO]
    t[1:, INTRO] = -np.inf
    t[1 + INTRO, INTRO] = intro_ok
    outro_row = t[1 + OUTRO].copy()
    t[1 + OUTRO, :] = -np.inf
    t[1 + OUTRO, OUTRO] = outro_row[OUTRO]
    t[1 + OUTRO, N_TYPES] = outro_row[N_TYPES]
    return t


def type_lengths(segments: list[tuple[int, int, int]]) -> dict[int, int]:
    """The length each melodic type keeps: the one most of its phrases have (ties to the
    earliest).  Not simply the first phrase's: when the net's first verse runs 10 bars and the
    three after it 8, the verse is an 8-bar verse.  On 100 forms sampled with nothing given,
    tying to the first phrase gave a phrase-length overlapping area of 0.803 with the test
    songs (0.849 with the validation songs), tying to the most common 0.895 (0.864)."""
    by_type: dict[int, list[int]] = {}
    for a, b, k in segments:
        if k in MELODIC_TYPES:
            by_type.setdefault(k, []).append(b - a)
    return {k: max(dict.fromkeys(ls), key=ls.count) for k, ls in by_type.items()}


def decode_phrases(x: np.ndarray, n: int, prior: PhrasePrior, letters: tuple[str | None, ...],
                   start_known: np.ndarray | None = None, rounds: int = 3) -> list[tuple[int, int, int]]:
    """The form level's decode: :func:`segment_phrases` with intros and outros placed at the
    ends of the song (dropped only when the user's letters contradict it), then, when the
    prior has ``same_length_p``, re-decoded with every melodic type tied to its length
    (:func:`type_lengths`; soft: a phrase keeps that length with probability
    ``same_length_p``), until the split stops changing (at most ``rounds``)."""
    types = placed_types(prior.type_logp)
    try:
        segments = segment_phrases(x, n, prior, letters, start_known, type_logp=types)
    except FormError:
        types = prior.type_logp
        segments = segment_phrases(x, n, prior, letters, start_known)
    if prior.same_length_p is None:
        return segments
    for _ in range(rounds):
        tied = segment_phrases(x, n, prior, letters, start_known, type_logp=types,
                               first_lengths=type_lengths(segments), tie_weight=TIE_WEIGHT)
        if tied == segments:
            break
        segments = tied
    return segments


def segment_phrases(x: np.ndarray, n: int, prior: PhrasePrior,
                    letters: tuple[str | None, ...], start_known: np.ndarray | None = None,
                    eps: float = 1e-4, type_logp: np.ndarray | None = None,
                    first_lengths: dict[int, int] | None = None,
                    tie_weight: float = 1.0) -> list[tuple[int, int, int]]:
    """The most probable split of bars ``0..n`` into typed phrases (semi-Markov Viterbi).

    The sampled array gives, per bar, a probability of starting a phrase (``(x[START] + 1) / 2``)
    and of each type (``(x[type] + 1) / 2``, normalised); the prior gives phrase lengths and
    which type follows which.  Decoding bar by bar (a phrase wherever the start flag is positive
    or the type flickers) splits phrases into 1- and 2-bar pieces where the net is unsure; the
    joint decode instead weighs the net's evidence against what real forms look like.
    ``letters`` (per bar, None = free) are the user's letters: phrases follow them exactly;
    ``start_known`` (bool per bar) marks bars whose start flag was given: kept exactly.
    ``type_logp`` (optional) replaces the prior's type bigrams (see :func:`placed_types`);
    ``first_lengths`` (optional, type -> bars) ties phrases of those types to that length:
    log ``same_length_p`` for that length, log(1 - ``same_length_p``) plus the length
    prior for any other.  Returns (first bar, end bar, type index) per phrase.
    """
    type_lp = prior.type_logp if type_logp is None else np.asarray(type_logp, dtype=np.float64)
    k_types = N_TYPES
    start_p = np.clip((x[START, :n].astype(np.float64) + 1) / 2, eps, 1 - eps)
    log_s, log_ns = np.log(start_p), np.log1p(-start_p)
    type_p = np.clip((x[:k_types, :n].astype(np.float64) + 1) / 2, eps, None)
    log_t = TYPE_WEIGHT * np.log(type_p / type_p.sum(axis=0, keepdims=True)).T   # [n, K]
    cum_ns = np.concatenate([[0.0], np.cumsum(log_ns)])                      # sum of bars < j
    cum_t = np.vstack([np.zeros(k_types), np.cumsum(log_t, axis=0)])        # [n + 1, K]
    letters = bar_letters(letters, n)
    forced = np.zeros(n + 1, dtype=bool)
    forbidden = np.zeros(n + 1, dtype=bool)
    run = np.zeros(n, dtype=np.int64)
    for b in range(1, n):
        if letters[b] != letters[b - 1]:
            forced[b] = True
        run[b] = run[b - 1] + (letters[b] != letters[b - 1])
    if start_known is not None:
        known = np.asarray(start_known[:n], dtype=bool)
        forced[:n] |= known & (x[START, :n] > 0)
        forbidden[:n] |= known & (x[START, :n] <= 0)
    forbidden[0] = False
    cum_forced = np.concatenate([[0], np.cumsum(forced[:n])])               # forced starts < j
    fixed_type = np.array([-1 if lab is None else phrase_type_of(lab) for lab in letters], dtype=np.int64)

    neg = -np.inf
    # into[a, k]: best score of a split of bars < a whose next phrase (starting at a) has type k
    into = np.full((n + 1, k_types), neg)
    into_prev = np.zeros((n + 1, k_types), dtype=np.int64)
    into[0] = type_lp[0, :k_types]
    best = np.full((n + 1, k_types), neg)        # best split of bars < e ending with type k
    back_len = np.zeros((n + 1, k_types), dtype=np.int64)
    max_len = MAX_PHRASE_BARS
    for e in range(1, n + 1):
        lengths = np.arange(1, min(max_len, e) + 1)
        a = e - lengths
        score = into[a] + (log_s[a] * (a > 0))[:, None]
        score = score + (cum_ns[e] - cum_ns[np.minimum(a + 1, e)])[:, None]
        score = score + (cum_t[e][None, :] - cum_t[a])
        length_score = np.repeat(prior.length_weight * prior.length_logp[lengths][:, None], k_types, axis=1)
        if first_lengths and prior.same_length_p is not None:
            q = prior.same_length_p
            for k, tied in first_lengths.items():
                length_score[:, k] = np.where(lengths == tied, tie_weight * np.log(q),
                                              tie_weight * np.log1p(-q) + length_score[:, k])
        score = score + length_score
        bad = (cum_forced[e] - cum_forced[np.minimum(a + 1, e)] > 0) | forbidden[a] | (run[a] != run[e - 1])
        bad |= (lengths > FREE_PHRASE_MAX_BARS) & (fixed_type[a] < 0)
        score[bad] = neg
        ft = fixed_type[a]
        typed = ft >= 0
        if typed.any():
            allowed = np.zeros_like(score, dtype=bool)
            allowed[~typed] = True
            allowed[np.nonzero(typed)[0], ft[typed]] = True
            score[~allowed] = neg
        pick = np.argmax(score, axis=0)
        best[e] = score[pick, np.arange(k_types)]
        back_len[e] = lengths[pick]
        if e < n:
            cand = best[e][:, None] + type_lp[1:, :k_types]
            into_prev[e] = np.argmax(cand, axis=0)
            into[e] = cand[into_prev[e], np.arange(k_types)]
    final = best[n] + END_WEIGHT * type_lp[1:, k_types]
    k = int(np.argmax(final))
    if not np.isfinite(final[k]):
        raise FormError("the form's constraints leave no valid split into phrases")
    out = []
    e = n
    while e > 0:
        length = int(back_len[e, k])
        a = e - length
        out.append((a, e, k))
        k = int(into_prev[a, k]) if a > 0 else k
        e = a
    return out[::-1]



KEY_EVIDENCE_EPS = 1e-3
"""Floor of a bar's key probabilities read off the sampled array (a flat channel is not proof)."""
KEY_MOVE_BONUS = 2.9
"""Log-weight of moving the key against staying, added to the prior's log-probability of
where a move goes (``key_move_logp``, which sums to 1 over the moves).  The bars' key
evidence sums a log-probability per bar, so it is far surer of itself than the prior: at
full weight every flicker is kept out (0.017 key changes per song on 60 validation forms).
The frequency and the destination are set apart: the bonus sets how often the key moves,
and the destination keeps the prior's full weight, so a move goes where real songs' moves
go (up a semitone or a tone, to the relative key).  On 300 forms sampled from nothing
(validation seeds): 2.75 gave 0.130 changes per song, 3.0 0.167 (training songs 0.151, test
0.135), with the moves' histogram overlapping the training songs' by 0.69-0.71.  The
previous decode scaled stay and destination together by 0.02: 0.190 changes, overlap 0.41,
since a flattened destination prior lets the evidence's noise choose where to go."""


def decode_keys(x: np.ndarray, segments: list[tuple[int, int, int]],
                prior: PhrasePrior) -> list[tuple[int, int]] | None:
    """The most probable key (tonic 0..11, mode 0/1) of each phrase (Viterbi over phrases).

    Each bar of the sampled array gives a probability per tonic (``(x[TONIC + t] + 1) / 2``,
    normalised) and of minor (``(x[MODE] + 1) / 2``); the prior gives how often the key stays
    from phrase to phrase and, when it moves, where to (``key_stay_logp``, ``key_move_logp``,
    from the training forms).  Taking each phrase's majority key instead let a bar or two
    of doubt change the key and change it back (F# major, G major, F# major, G major): 0.38
    key changes per song from nothing against 0.135 in the test songs.  None when the prior
    has no key part (the majority key then decides)."""
    if prior.key_stay_logp is None or prior.key_move_logp is None or not segments:
        return None
    eps = KEY_EVIDENCE_EPS
    tonic_p = np.clip((np.asarray(x[TONIC:TONIC + 12], np.float64) + 1) / 2, eps, None)
    log_tonic = np.log(tonic_p / tonic_p.sum(axis=0, keepdims=True))          # [12, length]
    minor_p = np.clip((np.asarray(x[MODE], np.float64) + 1) / 2, eps, 1 - eps)
    log_mode = np.stack([np.log1p(-minor_p), np.log(minor_p)])                 # [2, length]
    # emission[j, t * 2 + m]: the evidence of phrase j's bars for key (t, m)
    emission = np.array([(log_tonic[:, a:b].sum(axis=1)[:, None] + log_mode[:, a:b].sum(axis=1)[None, :]).ravel()
                         for a, b, _ in segments])
    keys = [(t, m) for t in range(12) for m in range(2)]
    trans = np.array([[0.0 if k1 == k2 else KEY_MOVE_BONUS + prior.key_move_logp[key_move(k1, k2)]
                       for k2 in keys] for k1 in keys])
    score = emission[0].copy()
    back = np.zeros((len(segments), len(keys)), np.int64)
    for j in range(1, len(segments)):
        cand = score[:, None] + trans
        back[j] = np.argmax(cand, axis=0)
        score = cand[back[j], np.arange(len(keys))] + emission[j]
    k = int(np.argmax(score))
    path = [k]
    for j in range(len(segments) - 1, 0, -1):
        k = int(back[j, k])
        path.append(k)
    return [keys[k] for k in path[::-1]]


def decode_form(x: np.ndarray, min_bars: int = 1, letters: tuple[str | None, ...] | None = None,
                n_bars: int | None = None, prior: PhrasePrior | None = None,
                start_known: np.ndarray | None = None) -> FormPlan:
    """Decode a (generated) float [FORM_CHANNELS, length] array into a FormPlan.

    The song ends at the first bar (>= ``min_bars``) whose END channel beats every type
    (:func:`~composer.representation.form.song_length`), or after ``n_bars`` when given.
    With a ``prior`` the phrases are the joint most probable split (:func:`decode_phrases`,
    what the form level uses); without one they are read bar by bar
    (:func:`~composer.representation.form.from_form_array`).  Each phrase takes its
    majority key (so keys change only at phrase starts).
    ``letters`` (optional, per bar, None = free) are label letters to keep (the user's own
    letters in a constraint such as ``X8``); a phrase also starts where they change.
    ``start_known`` (optional, bool per bar) marks given phrase starts (kept exactly).
    """
    x = np.asarray(x, dtype=np.float32)
    if prior is None:
        return from_form_array(x, min_bars, letters, n_bars)
    n = song_length(x, min_bars) if n_bars is None else n_bars
    fixed = bar_letters(letters, n)
    segments = decode_phrases(x, n, prior, fixed, start_known)
    return plan_from_segments(x, segments, fixed, decode_keys(x, segments, prior))


__all__ = ["PhrasePrior", "estimate_phrase_prior", "decode_form", "decode_phrases", "segment_phrases",
           "placed_types", "type_lengths", "MELODIC_TYPES", "FREE_PHRASE_MAX_BARS", "LENGTH_WEIGHT", "TIE_WEIGHT",
           "END_WEIGHT", "TYPE_WEIGHT", "KEY_MOVE_BONUS", "KEY_MOVES", "key_move", "decode_keys"]
