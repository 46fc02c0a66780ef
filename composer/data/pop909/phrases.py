"""The phrase labels (``human_label1.txt``, ``human_label2.txt``) against the chord grid:
how many bars a song has, and a label string repaired to cover exactly that many."""
from __future__ import annotations

import math

from composer.errors import FormError
from composer.form import Phrase, format_form, parse_form

MAX_LABEL_REPAIR_BARS = 2
"""A label string may be trimmed or extended by at most this many bars at its end."""


def label_bars(text: str) -> int:
    """Bars a phrase string covers, -1 if it is not one."""
    try:
        return sum(p.n_bars for p in parse_form(text))
    except FormError:
        return -1


def repair_form(text: str, n_bars: int, max_change: int = MAX_LABEL_REPAIR_BARS) -> str:
    """Make a phrase string cover exactly ``n_bars`` by changing its last phrase(s).

    Too long: the last phrase is shortened (a phrase shortened to 0 is removed and the
    rest taken from the one before).  Too short: the last phrase is lengthened.  At most
    ``max_change`` bars may be added or removed, else FormError.
    """
    phrases = list(parse_form(text))
    diff = n_bars - sum(p.n_bars for p in phrases)
    if abs(diff) > max_change:
        raise FormError(f"form {text!r} covers {n_bars - diff} bars, the grid {n_bars} "
                        f"(more than {max_change} bars apart)")
    if diff > 0:
        phrases[-1] = Phrase(phrases[-1].label, phrases[-1].n_bars + diff)
    while diff < 0:
        last = phrases.pop()
        take = min(last.n_bars, -diff)
        diff += take
        if last.n_bars > take:
            phrases.append(Phrase(last.label, last.n_bars - take))
    return format_form(phrases)


def choose_n_bars(chord_beats: float, beats_per_bar: int, label1: str, label2: str) -> int:
    """Bars of a song on the HSA grid.

    The chord annotation runs ``chord_beats`` beats from bar 0, often with a few trailing
    beats or bars after the music; the phrase labels end with the music.  Candidates are
    ``ceil(chord_beats / beats_per_bar)`` and the three counts below it; the one needing the
    least label repair (sum over both annotators, counting only annotators within
    MAX_LABEL_REPAIR_BARS) wins, ties going to the longer.  Without any usable label, the
    whole bars of chords.
    """
    top = math.ceil(chord_beats / beats_per_bar - 1e-9)
    sums = [b for b in (label_bars(label1), label_bars(label2)) if b > 0]
    best, best_cost = int(math.floor(chord_beats / beats_per_bar + 1e-9)), None
    for n in range(top, max(top - 4, 0), -1):
        fits = [abs(b - n) for b in sums if abs(b - n) <= MAX_LABEL_REPAIR_BARS]
        if not fits:
            continue
        cost = (-len(fits), sum(fits))
        if best_cost is None or cost < best_cost:
            best, best_cost = n, cost
    return best


__all__ = ["MAX_LABEL_REPAIR_BARS", "choose_n_bars", "label_bars", "repair_form"]
