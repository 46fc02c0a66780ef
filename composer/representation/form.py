"""The form level's view of a song: per bar, phrase type, phrase starts, key; and where it ends.

A :class:`FormPlan` (phrases + a key per bar) is what the form level produces and the chord
level consumes.  As a tensor (``to_form_array`` / ``from_form_array``) it is float32
``[FORM_CHANNELS, length]``, channels-first, one column per bar, every channel in {-1, +1}
for data (a "one-hot" is +1 at the hot index and -1 elsewhere):

====== ======================================================================
0..5   phrase type one-hot over PHRASE_TYPES (A, B, other melodic, intro, outro, other)
6      END: +1 on the bars after the song (the song ends where END starts)
7      phrase start: +1 on the first bar of each phrase
8..19  key tonic one-hot, pitch classes C..B
20     key mode: -1 major, +1 minor
====== ======================================================================

Bars after the song (END = +1) carry no type, no phrase start and the last bar's key, so a
constraint "the key is X" is the same on every column whatever the song's length.

Constraints (:func:`form_constraints`) are a ``known`` array of that shape and a boolean
``mask`` (True = known) per channel and bar: they are inpainted, so they come out exactly.
Partial form strings extend the notation of :mod:`composer.form`:

* ``?N`` -- N bars whose phrases are generated (``i4A8?16o4``);
* ``*``  -- only at the end: the rest of the song, and its length, are generated (``i4A8*``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from composer.errors import FormError
from composer.form import (MAX_PHRASE_BARS, MAX_SONG_BARS, PHRASE_TYPES, Phrase, format_form,
                           phrase_type_of)
from composer.score import PITCH_CLASS_NAMES

N_TYPES = len(PHRASE_TYPES)
END = 6
START = 7
TONIC = 8
MODE = 20
FORM_CHANNELS = 21

TYPE_LETTERS = ("A", "B", "C", "i", "o", "b")
"""The label letter written for each phrase type when a generated form is printed."""


@dataclass(frozen=True)
class FormPlan:
    """A song's form: its phrases and a key per bar.

    phrases:   the phrases in order (label letter + bars); they cover ``n_bars`` bars.
    key_tonic: per bar, pitch class 0..11 of the key (length n_bars).
    key_mode:  per bar, 0 = major, 1 = minor (length n_bars).
    """

    phrases: tuple[Phrase, ...]
    key_tonic: tuple[int, ...]
    key_mode: tuple[int, ...]

    def __post_init__(self) -> None:
        n = sum(p.n_bars for p in self.phrases)
        if n < 1 or len(self.key_tonic) != n or len(self.key_mode) != n:
            raise FormError(f"form plan: {n} bars of phrases but {len(self.key_tonic)} keys")

    @property
    def n_bars(self) -> int:
        return len(self.key_tonic)

    @property
    def form(self) -> str:
        """The phrase string, e.g. ``i4A8B8o4``."""
        return format_form(self.phrases)

    def bar_phrase_index(self) -> np.ndarray:
        """int64 [n_bars]: index of the phrase each bar belongs to."""
        return np.repeat(np.arange(len(self.phrases)), [p.n_bars for p in self.phrases])

    def bar_labels(self) -> tuple[str, ...]:
        """The label letter of every bar."""
        return tuple(p.label for p in self.phrases for _ in range(p.n_bars))

    def phrase_starts(self) -> np.ndarray:
        """int64 [n_phrases]: first bar of each phrase."""
        return np.cumsum([0] + [p.n_bars for p in self.phrases[:-1]])

    def key_names(self) -> str:
        """Keys in order of appearance, e.g. ``"C major -> D major (bar 65)"``."""
        parts, last = [], None
        for bar, (t, m) in enumerate(zip(self.key_tonic, self.key_mode)):
            if (t, m) != last:
                name = f"{PITCH_CLASS_NAMES[t]} {'minor' if m else 'major'}"
                parts.append(name if last is None else f"{name} (bar {bar + 1})")
                last = (t, m)
        return " -> ".join(parts)


def to_form_array(plan: FormPlan, length: int) -> np.ndarray:
    """float32 [FORM_CHANNELS, length] (length >= n_bars; longer songs are cut to ``length``)."""
    x = -np.ones((FORM_CHANNELS, length), dtype=np.float32)
    n = min(plan.n_bars, length)
    types = np.array([phrase_type_of(lab) for lab in plan.bar_labels()])[:n]
    x[types, np.arange(n)] = 1.0
    x[END, n:] = 1.0
    starts = plan.phrase_starts()
    x[START, starts[starts < n]] = 1.0
    tonic = np.array(plan.key_tonic + (plan.key_tonic[-1],) * max(0, length - plan.n_bars))[:length]
    mode = np.array(plan.key_mode + (plan.key_mode[-1],) * max(0, length - plan.n_bars))[:length]
    x[TONIC + tonic, np.arange(length)] = 1.0
    x[MODE] = np.where(mode > 0, 1.0, -1.0)
    return x


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

    def to_json(self) -> dict:
        out = {"length_logp": [round(float(v), 6) for v in self.length_logp[1:]],
               "type_logp": [[round(float(v), 6) for v in row] for row in self.type_logp],
               "length_weight": self.length_weight}
        if self.same_length_p is not None:
            out["same_length_p"] = round(float(self.same_length_p), 6)
        if self.song_bars:
            out["song_bars"] = [int(b) for b in self.song_bars]
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
        return cls(length, types, float(data.get("length_weight", 1.0)),
                   None if same is None else float(same), bars)


def estimate_phrase_prior(plans: list[FormPlan], smoothing: float = 0.5) -> PhrasePrior:
    """Phrase-length and type-bigram log-probabilities of ``plans`` (add-``smoothing``), the
    share of returning labels that keep their first length, and the songs' lengths."""
    lengths = np.full(MAX_PHRASE_BARS + 1, smoothing)
    lengths[0] = 0.0
    pairs = np.full((N_TYPES + 1, N_TYPES + 1), smoothing)
    same, returning = smoothing, 2 * smoothing
    for plan in plans:
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
    return PhrasePrior(length_logp, type_logp, LENGTH_WEIGHT, same_p,
                       tuple(sorted(int(p.n_bars) for p in plans)))


TIE_WEIGHT = 20.0
"""Weight of the returning-length tie in :func:`decode_phrases` against the net's evidence.  On
forms sampled with nothing given the share of returning labels with their first length is
0.53 untied, 0.62 / 0.75 / 0.84 / 0.90 / 0.88 with weights 3 / 6 / 10 / 20 / 40 (30 forms for
3 and 6, 60 for the others; real songs 0.92), the phrase-length area staying at 0.83."""
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


def decode_phrases(x: np.ndarray, n: int, prior: PhrasePrior, letters: tuple[str | None, ...],
                   start_known: np.ndarray | None = None, rounds: int = 3) -> list[tuple[int, int, int]]:
    """The form level's decode: :func:`segment_phrases` with intros and outros placed at the
    ends of the song (dropped only when the user's letters contradict it), then, when the
    prior has ``same_length_p``, re-decoded with every melodic type tied to the length of
    its first phrase (soft: a returning phrase keeps that length with probability
    ``same_length_p``), until the first lengths stop changing (at most ``rounds``)."""
    types = placed_types(prior.type_logp)
    try:
        segments = segment_phrases(x, n, prior, letters, start_known, type_logp=types)
    except FormError:
        types = prior.type_logp
        segments = segment_phrases(x, n, prior, letters, start_known)
    if prior.same_length_p is None:
        return segments
    for _ in range(rounds):
        first: dict[int, int] = {}
        for a, b, k in segments:
            if k in MELODIC_TYPES:
                first.setdefault(k, b - a)
        tied = segment_phrases(x, n, prior, letters, start_known, type_logp=types, first_lengths=first,
                               tie_weight=TIE_WEIGHT)
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
    log_t = np.log(type_p / type_p.sum(axis=0, keepdims=True)).T            # [n, K]
    cum_ns = np.concatenate([[0.0], np.cumsum(log_ns)])                      # sum of bars < j
    cum_t = np.vstack([np.zeros(k_types), np.cumsum(log_t, axis=0)])        # [n + 1, K]
    letters = tuple(letters[:n]) + (None,) * max(0, n - len(letters))
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
    final = best[n] + type_lp[1:, k_types]
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


def from_form_array(x: np.ndarray, min_bars: int = 1,
                    letters: tuple[str | None, ...] | None = None,
                    n_bars: int | None = None, prior: PhrasePrior | None = None,
                    start_known: np.ndarray | None = None) -> FormPlan:
    """Decode a (generated) float [FORM_CHANNELS, length] array into a FormPlan.

    The song ends at the first bar (>= ``min_bars``) whose END channel beats every type.
    With a ``prior`` the phrases are the joint most probable split (:func:`segment_phrases`,
    what the form level uses); without one, a phrase starts where the start channel is
    positive or the type changes and takes its majority type (exact for data arrays).
    Each phrase takes its majority key (so keys change only at phrase starts).
    ``letters`` (optional, per bar, None = free) are label letters to keep (the user's own
    letters in a constraint such as ``X8``); a phrase also starts where they change.
    ``start_known`` (optional, bool per bar) marks given phrase starts (kept exactly).
    ``n_bars`` (optional) fixes the length instead of reading it from the END channel.
    """
    x = np.asarray(x, dtype=np.float32)
    length = x.shape[1]
    scores = x[:END + 1]
    ends = np.nonzero(np.argmax(scores, axis=0) == END)[0]
    ends = ends[ends >= max(1, min_bars)]
    n = int(ends[0]) if len(ends) else length
    if n_bars is not None:
        n = n_bars
    fixed = tuple(letters or ())[:n] + (None,) * max(0, n - len(letters or ()))
    if prior is not None:
        segments = decode_phrases(x, n, prior, fixed, start_known)
    else:
        types = np.argmax(x[:N_TYPES, :n], axis=0)
        starts = [0] + [b for b in range(1, n) if x[START, b] > 0 or types[b] != types[b - 1]
                        or fixed[b] != fixed[b - 1]]
        bounds = starts + [n]
        segments = [(a, b, int(np.bincount(types[a:b], minlength=N_TYPES).argmax()))
                    for a, b in zip(bounds[:-1], bounds[1:])]
    phrases, tonic, mode = [], [], []
    for a, b, t in segments:
        while b - a > MAX_PHRASE_BARS:  # never emit a phrase parse_form would refuse
            piece = a + MAX_PHRASE_BARS
            phrases.append(Phrase(fixed[a] or TYPE_LETTERS[t], MAX_PHRASE_BARS))
            tonic_m, mode_m = _key_of(x[:, a:piece])
            tonic += [tonic_m] * MAX_PHRASE_BARS
            mode += [mode_m] * MAX_PHRASE_BARS
            a = piece
        phrases.append(Phrase(fixed[a] or TYPE_LETTERS[t], b - a))
        tonic_m, mode_m = _key_of(x[:, a:b])
        tonic += [tonic_m] * (b - a)
        mode += [mode_m] * (b - a)
    return FormPlan(tuple(phrases), tuple(tonic), tuple(mode))


def _key_of(cols: np.ndarray) -> tuple[int, int]:
    tonic = int(np.bincount(np.argmax(cols[TONIC:TONIC + 12], axis=0), minlength=12).argmax())
    return tonic, int(cols[MODE].mean() > 0)


# ---------------------------------------------------------------------------- constraints
@dataclass(frozen=True)
class Gap:
    """``?N`` in a partial form: N bars whose phrases are generated."""

    n_bars: int


@dataclass(frozen=True)
class PartialForm:
    """A parsed partial form: ``parts`` (Phrase or Gap, in order) and ``open_end`` (a
    trailing ``*``: the rest of the song and its length are generated)."""

    parts: tuple[Phrase | Gap, ...]
    open_end: bool

    @property
    def n_bars(self) -> int:
        """Bars the parts cover (the song's length when not open-ended)."""
        return sum(p.n_bars for p in self.parts)

    @property
    def is_complete(self) -> bool:
        return not self.open_end and all(isinstance(p, Phrase) for p in self.parts)


def parse_partial_form(text: str) -> PartialForm:
    """Parse a full or partial form string (``i4A8?16B8o4``, ``A8B8*``, ``?32``).

    Raises :class:`FormError` with one line pointing at the offending character.
    """
    source = text
    text = text.strip()
    if not text:
        raise FormError("empty form string: write phrases as letter + bars, e.g. 'i4A8B8A8o4' "
                        "('?N' = N bars to generate, a final '*' = generate the rest)")
    parts: list[Phrase | Gap] = []
    open_end = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "*":
            if i != len(text) - 1:
                raise FormError(f"bad form {source!r}: '*' at position {i + 1} may only end the form "
                                f"(found {text[i + 1]!r} after it)")
            open_end = True
            i += 1
            continue
        if not (ch == "?" or (ch.isascii() and ch.isalpha())):
            raise FormError(f"bad form {source!r}: expected a phrase letter, '?' or '*' at position "
                            f"{i + 1} ({ch!r}); write phrases as letter + bars, e.g. 'i4A8B8A8o4'")
        j = i + 1
        while j < len(text) and text[j].isascii() and text[j].isdigit():
            j += 1
        if j == i + 1:
            where = repr(text[j]) if j < len(text) else "end of string"
            raise FormError(f"bad form {source!r}: {ch!r} at position {i + 1} needs a number of bars "
                            f"(found {where})")
        n_bars = int(text[i + 1:j])
        limit = MAX_SONG_BARS if ch == "?" else MAX_PHRASE_BARS
        if not 1 <= n_bars <= limit:
            raise FormError(f"bad form {source!r}: {ch!r} at position {i + 1} has {n_bars} bars; "
                            f"it may have 1 to {limit}")
        parts.append(Gap(n_bars) if ch == "?" else Phrase(ch, n_bars))
        i = j
    if not parts and open_end:
        raise FormError(f"bad form {source!r}: '*' alone says nothing; leave the form out instead")
    total = sum(p.n_bars for p in parts)
    if total > MAX_SONG_BARS:
        raise FormError(f"form {source!r} has {total} bars; at most {MAX_SONG_BARS} are supported")
    return PartialForm(tuple(parts), open_end)


def parse_key(text: str) -> tuple[int, int]:
    """``"A minor"``, ``"C# major"``, ``"Eb"``, ``"f#m"``, ``"Bb min"`` -> (tonic 0..11, mode 0/1).

    No mode means major.  Raises FormError naming the accepted spellings.
    """
    match = _KEY_RE.match(text.strip().replace("\u266f", "#").replace("\u266d", "b"))
    mode_text = match.group(3).strip().lower() if match else ""
    if match is None or mode_text not in _MODE_WORDS:
        raise FormError(f"unknown key {text!r}: write a tonic and a mode, e.g. 'A minor', 'C# major', 'Eb'")
    tonic = _NATURALS[match.group(1).upper()] + {"": 0, "#": 1, "b": -1}[match.group(2)]
    return tonic % 12, _MODE_WORDS[mode_text]


_KEY_RE = re.compile(r"^([A-Ga-g])([#b]?)(.*)$")
_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MODE_WORDS = {"": 0, "maj": 0, "major": 0, "m": 1, "min": 1, "minor": 1}


@dataclass(frozen=True)
class FormConstraint:
    """Known values for inpainting the form: ``known`` float32 [FORM_CHANNELS, length] and
    ``mask`` bool of the same shape (True = known); ``n_bars`` is the song's length when it is
    fixed by the constraints, else None."""

    known: np.ndarray
    mask: np.ndarray
    n_bars: int | None


def form_constraints(length: int, form: str | PartialForm | None = None, bars: int | None = None,
                     key: tuple[int, int] | None = None) -> FormConstraint:
    """Build the inpainting constraint for a form of ``length`` columns.

    form: full or partial form string (see :func:`parse_partial_form`); bars: the song's
    length in bars; key: (tonic, mode) for the whole song.  Everything is optional; what is
    given is kept exactly.  Raises FormError if they contradict each other.
    """
    partial = parse_partial_form(form) if isinstance(form, str) else form
    known = -np.ones((FORM_CHANNELS, length), dtype=np.float32)
    mask = np.zeros((FORM_CHANNELS, length), dtype=bool)
    n_bars = bars
    if bars is not None and not 1 <= bars <= length:
        raise FormError(f"a song has 1 to {length} bars here, not {bars}")
    if partial is not None:
        covered = partial.n_bars
        if not partial.open_end:
            if bars is not None and bars != covered and partial.is_complete:
                raise FormError(f"the form covers {covered} bars but --bars says {bars}; "
                                "drop one, or end the form with '*' or a '?N' gap")
            if bars is not None and bars < covered:
                raise FormError(f"the form covers {covered} bars but --bars says {bars}")
            if bars is None:
                n_bars = covered
        elif bars is not None and bars < covered:
            raise FormError(f"the form already covers {covered} bars but --bars says {bars}")
        if covered > length:
            raise FormError(f"the form covers {covered} bars; at most {length} are supported")
        bar = 0
        for part in partial.parts:
            if isinstance(part, Phrase):
                cols = slice(bar, bar + part.n_bars)
                mask[:END + 1, cols] = True
                mask[START, cols] = True
                known[phrase_type_of(part.label), cols] = 1.0
                known[START, bar] = 1.0
            else:
                mask[END, bar:bar + part.n_bars] = True
            bar += part.n_bars
        # A gap or the open end begins right after a known phrase: a phrase starts there.
        bar = 0
        for idx, part in enumerate(partial.parts):
            nxt = bar + part.n_bars
            if isinstance(part, Phrase) and nxt < length and (
                    idx + 1 < len(partial.parts) or partial.open_end):
                mask[START, nxt] = True
                known[START, nxt] = 1.0
            bar = nxt
    if n_bars is not None:
        mask[END, :] = True
        known[END, n_bars:] = 1.0
        # after the end everything is fixed by convention except the key (the last bar's)
        mask[:END, n_bars:] = True
        mask[START, n_bars:] = True
        known[START, n_bars:] = -1.0
    if key is not None:
        tonic, mode = key
        mask[TONIC:MODE + 1, :] = True
        known[TONIC:TONIC + 12, :] = -1.0
        known[TONIC + tonic, :] = 1.0
        known[MODE, :] = 1.0 if mode else -1.0
    return FormConstraint(known, mask, n_bars)


__all__ = ["FormPlan", "to_form_array", "from_form_array", "PhrasePrior", "estimate_phrase_prior",
           "segment_phrases", "decode_phrases", "placed_types", "MELODIC_TYPES", "FORM_CHANNELS", "N_TYPES", "END", "START",
           "TONIC", "MODE", "TYPE_LETTERS", "Gap", "PartialForm", "parse_partial_form", "parse_key",
           "FormConstraint", "form_constraints"]
