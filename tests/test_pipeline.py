"""Pipeline mechanics with tiny seeded untrained networks and 2-step samplers: shapes,
sections, determinism, options kept, regenerate keeps the outside exactly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from composer.errors import ComposerError, FormError
from composer.form import Phrase, parse_form
from composer.levels.chords import ChordLevel
from composer.levels.form import FormLevel
from composer.levels.notes import NoteLevel, repeats_of
from composer.nets.chords import ChordDenoiser
from composer.nets.form import FormDenoiser
from composer.nets.notes import NoteUNet
from composer.arrange import monophonic
from composer.band import bass_line, grid_from_score, named_sections, piano_track, plan_from_score
from composer.options import parse_meter
from composer.pipeline import Composer
from composer.tracks import PIANO_TRACKS
from composer.representation.harmony import ChordGrid
from composer.representation.note_context import NoteContext

TINY_NOTES = dict(channels=(8, 8, 8, 8), blocks=(1, 1, 1, 1), mid_dilations=(1,), emb_dim=16)


def tiny_composer(seed: int = 0) -> Composer:
    torch.manual_seed(seed)
    return Composer(FormLevel(FormDenoiser(width=16, n_attn=1, heads=2), length=64),
                    ChordLevel(ChordDenoiser(width=16, beat_width=8, n_attn=1, heads=2)),
                    NoteLevel(NoteUNet(**TINY_NOTES)))


@pytest.fixture(scope="module")
def composer() -> Composer:
    return tiny_composer()


@pytest.fixture(scope="module")
def song(composer):
    return composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2)


def test_compose_keeps_options_and_dresses_the_score(song):
    assert [(s.label, s.n_bars, s.start_bar) for s in song.sections] == [
        ("i", 2, 0), ("A", 4, 2), ("B", 4, 6), ("A", 4, 10), ("o", 2, 14)]
    assert [s.name for s in song.sections] == ["Intro", "Verse 1", "Chorus", "Verse 2", "Outro"]
    assert [(k.tonic, k.mode) for k in song.key_signatures] == [(9, "minor")]
    assert song.tempos[0].bpm == pytest.approx(100, abs=1e-3)
    assert (song.time_signatures[0].numerator, song.time_signatures[0].denominator) == (4, 4)
    assert [t.name for t in song.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass"]
    assert [t.program for t in song.tracks] == [71, 0, 0, 33]
    assert song.chords and all(c.end_tick <= 16 * 4 * 480 for c in song.chords)
    end = 16 * 4 * 480
    for t in song.tracks:
        assert all(0 <= n.start_tick < end and n.end_tick <= end for n in t.notes)
        assert all(n.duration_ticks > 0 for n in t.notes)
    vel = {n.velocity for t in song.tracks for n in t.notes}
    assert len(vel) > 3
    mel = song.track("Melody").notes
    assert all(a.end_tick <= b.start_tick for a, b in zip(mel, mel[1:]))  # one voice
    assert song.title == "composer seed 3"


def test_the_arrangement_is_for_players(song):
    """Melody only where the form has one, inside the clarinet's range; the piano in two
    hands with the pedal through the chords; and the MIDI round trip still exact."""
    from composer.io.midi import midi_bytes, read_midi_bytes
    bar = 4 * 480
    mel = song.track("Melody").notes
    quiet = [(s.start_bar * bar, (s.start_bar + s.n_bars) * bar) for s in song.sections if s.label in "io"]
    assert not [n for n in mel for lo, hi in quiet if lo <= n.start_tick < hi or lo < n.end_tick <= hi]
    assert all(50 <= n.pitch <= 96 for n in mel)
    rh, lh = (song.track(n) for n in PIANO_TRACKS)
    assert rh.notes and lh.notes
    assert np.mean([n.pitch for n in rh.notes]) > np.mean([n.pitch for n in lh.notes])
    pedal = [c for c in rh.controls if c.number == 64]
    assert pedal and rh.controls == lh.controls
    assert {c.value for c in pedal} == {0, 127}
    downs = [c.tick for c in pedal if c.value == 127]
    assert all(any(ch.start_tick < t < ch.end_tick for ch in song.chords) for t in downs)
    assert read_midi_bytes(midi_bytes(song)) == song


def test_humanize_is_seeded_small_and_keeps_the_notes(composer, song):
    human = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2, humanize=True)
    assert human == composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2,
                                     humanize=True)
    for a, b in zip(song.tracks, human.tracks):
        assert a.name == b.name and len(a.notes) == len(b.notes)
        assert sorted(n.pitch for n in a.notes) == sorted(n.pitch for n in b.notes)
    moved = [abs(x.start_tick - y.start_tick) for a, b in zip(song.tracks, human.tracks)
             for x, y in zip(sorted(a.notes, key=lambda n: (n.pitch, n.start_tick)),
                             sorted(b.notes, key=lambda n: (n.pitch, n.start_tick)))]
    assert max(moved) <= 14 and np.mean(moved) > 2
    assert any(n.start_tick % 120 for t in human.tracks for n in t.notes)
    assert not any(n.start_tick % 120 for t in song.tracks for n in t.notes)   # off by default
    from composer.io.midi import midi_bytes, read_midi_bytes
    assert read_midi_bytes(midi_bytes(human)) == human


def test_same_seed_same_score_and_bytes(composer, song):
    from composer.io.midi import midi_bytes
    again = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2)
    assert again == song
    assert midi_bytes(again) == midi_bytes(song)
    other = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=4, steps=2)
    assert other != song


def test_compose_without_arguments_and_with_bars(composer):
    s = composer.compose(seed=1, steps=2)
    assert s.sections and 70 <= s.tempos[0].bpm <= 130
    assert sum(x.n_bars for x in s.sections) == s.sections[-1].start_bar + s.sections[-1].n_bars
    s = composer.compose(bars=12, seed=2, steps=2, meter="3/4")
    assert sum(x.n_bars for x in s.sections) == 12
    assert (s.time_signatures[0].numerator, s.time_signatures[0].denominator) == (3, 4)
    assert s.end_tick <= 12 * 3 * 480


@pytest.mark.parametrize("kwargs, match", [
    (dict(form="A8B?"), "position 3"),
    (dict(bars=0), "1 to 512"),
    (dict(bars=10000), "1 to 512"),
    (dict(key="H minor"), "unknown key"),
    (dict(tempo=0), "tempo"),
    (dict(meter="5/4"), "meter"),
    (dict(steps=0), "steps"),
])
def test_bad_options_are_one_line_errors(composer, kwargs, match):
    with pytest.raises(ComposerError, match=match) as err:
        composer.compose(seed=0, **kwargs)
    assert "\n" not in str(err.value)


def pedal_alternates(score) -> bool:
    """Every pedal-down is released before the next one, and the last is released."""
    for name in PIANO_TRACKS:
        values = [c.value for c in score.track(name).controls if c.number == 64]
        if values[0::2] != [127] * len(values[0::2]) or values[1::2] != [0] * len(values[1::2]) \
                or len(values) % 2:
            return False
    return True


def _outside(score, lo_tick, hi_tick):
    return {t.name: tuple(n for n in t.notes if not lo_tick <= n.start_tick < hi_tick) for t in score.tracks}


def test_regenerate_notes_keeps_everything_outside(composer, song):
    new = composer.regenerate(song, section=2, level="notes", seed=9, steps=2)
    lo, hi = 6 * 1920, 10 * 1920
    assert _outside(new, lo, hi) == _outside(song, lo, hi)
    assert new.chords == song.chords and new.sections == song.sections
    assert new.key_signatures == song.key_signatures and new.tempos == song.tempos
    inside_old = [n for n in piano_track(song).notes if lo <= n.start_tick < hi]
    inside_new = [n for n in piano_track(new).notes if lo <= n.start_tick < hi]
    assert inside_new != inside_old
    assert all(n.end_tick <= hi for n in inside_new)
    assert composer.regenerate(song, section=2, seed=9, steps=2) == new   # seeded
    assert pedal_alternates(song) and pedal_alternates(new)
    # Outside the chords that reach into the range, the pedal is the old one.
    reach = [c for c in song.chords if c.start_tick < hi and c.end_tick > lo]
    lo_p, hi_p = min(c.start_tick for c in reach), max(c.end_tick for c in reach)
    assert [c for c in new.track("Piano RH").controls if not lo_p <= c.tick <= hi_p] == \
        [c for c in song.track("Piano RH").controls if not lo_p <= c.tick <= hi_p]


def test_regenerate_chords_keeps_outside_chords(composer, song):
    new = composer.regenerate(song, bars=(3, 7), level="chords", seed=2, steps=2)
    lo, hi = 3 * 1920, 7 * 1920
    assert _outside(new, lo, hi) == _outside(song, lo, hi)
    old_out = [c for c in song.chords if c.end_tick <= lo or c.start_tick >= hi]
    new_out = [c for c in new.chords if c.end_tick <= lo or c.start_tick >= hi]
    assert old_out == [c for c in new_out if c in old_out] and set(old_out) <= set(new_out)
    grid_old = grid_from_score(song, 16, 4)
    grid_new = grid_from_score(new, 16, 4)
    outside = np.r_[0:12, 28:64]
    assert np.array_equal(grid_old.root[outside], grid_new.root[outside])
    assert pedal_alternates(new)


def test_regenerate_bad_ranges(composer, song):
    for kwargs in (dict(bars=(5, 5)), dict(bars=(0, 17)), dict(section=9), dict(), dict(bars=(0, 1), section=1)):
        with pytest.raises(ComposerError):
            composer.regenerate(song, seed=0, steps=2, **kwargs)
    with pytest.raises(ComposerError, match="level"):
        composer.regenerate(song, bars=(0, 2), level="drums", seed=0, steps=2)


def test_plan_round_trip(song):
    plan, meter = plan_from_score(song)
    assert plan.form == "i2A4B4A4o2" and set(plan.key_tonic) == {9} and meter.beats_per_bar == 4


def test_helpers():
    assert [s.name for s in named_sections(parse_form("i4A8B8A8B8b4B8o4"))] == [
        "Intro", "Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Interlude", "Chorus 3", "Outro"]
    notes = np.array([[0, 8, 60, 80], [0, 4, 67, 80], [4, 4, 64, 80]])
    assert monophonic(notes).tolist() == [[0, 4, 67, 80], [4, 4, 64, 80]]
    grid = ChordGrid(np.array([0, 0, 7, 7, -1, -1, 5, 5], np.int8), np.zeros(8, np.int8),
                     np.array([0, 0, 11, 11, -1, -1, 5, 5], np.int8), 4)
    grid = ChordGrid(grid.root, np.where(grid.root >= 0, 0, -1).astype(np.int8), grid.bass, 4)
    line = bass_line(grid, 16)
    assert line[:, 0].tolist() == [0, 8, 24] and line[:, 2].tolist() == [36, 35, 41]
    assert line[:, 1].tolist() == [7, 7, 7]
    assert parse_meter("6/8").steps_per_bar == 12
    with pytest.raises(ComposerError):
        parse_meter("7/8")
    ctx = NoteContext(16, np.zeros(20, int), np.zeros(20, int), -np.ones(80, int), -np.ones(80, int),
                      -np.ones(80, int), parse_form("i4A4B4A6B2"))
    r = repeats_of(ctx)
    assert [(x.start_bar, x.n_bars, x.source_bar, x.source_bars) for x in r] == [(12, 6, 4, 4), (18, 2, 8, 4)]


def test_return_pass_copies_material_at_zero_variation():
    """With variation 0 the returning phrase is the first one, copied exactly; with some
    variation it differs."""
    from composer.levels.notes import sample_notes
    torch.manual_seed(0)
    level = NoteLevel(NoteUNet(**TINY_NOTES))
    ctx = NoteContext(16, np.zeros(8, int), np.zeros(8, int), np.zeros(32, int), np.zeros(32, int),
                      np.zeros(32, int), (Phrase("A", 2), Phrase("B", 2), Phrase("A", 2), Phrase("o", 2)))
    out = sample_notes(level, ctx, torch.Generator().manual_seed(0), steps=4, variation=0.0)
    assert out.shape == (128, 2, 120)
    assert np.array_equal(out[64:96], out[0:32])
    varied = sample_notes(level, ctx, torch.Generator().manual_seed(0), steps=4, variation=0.5)
    assert np.array_equal(varied[:64], out[:64])          # the draft is the same
    assert not np.array_equal(varied[64:96], varied[0:32])


def test_known_positions_come_back_exactly():
    from composer.levels.notes import sample_notes
    torch.manual_seed(0)
    level = NoteLevel(NoteUNet(**TINY_NOTES))
    ctx = NoteContext(16, np.zeros(4, int), np.zeros(4, int), np.zeros(16, int), np.zeros(16, int),
                      np.zeros(16, int), (Phrase("A", 4),))
    rng = np.random.default_rng(0)
    known = rng.random((64, 2, 120)) < 0.05
    mask = np.zeros((64, 2))
    mask[:16] = 1
    mask[:, 1] = 1
    out = sample_notes(level, ctx, torch.Generator().manual_seed(1), steps=2, known=known, mask=mask)
    assert np.array_equal(out[:16] > 0, known[:16])
    assert np.array_equal(out[:, :, 48:] > 0, known[:, :, 48:])


# ---------------------------------------------------------------------------- with a melody level
def tiny_composer_with_melody(seed: int = 0) -> Composer:
    from composer.levels.melody import MelodyLevel
    from composer.nets.melody import MelodyUNet
    base = tiny_composer(seed)
    torch.manual_seed(seed)
    net = MelodyUNet(channels=(8, 8, 8, 8), blocks=(1, 1, 1, 1), mid_dilations=(1,), emb_dim=16)
    with torch.no_grad():       # an untrained net that prefers notes to rests
        net.out.weight.normal_(0, 0.5)
        net.out.bias[0] = -3.0
    base.melody_level = MelodyLevel(net)
    return base


@pytest.fixture(scope="module")
def melodic():
    composer = tiny_composer_with_melody()
    return composer, composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2)


def test_melody_level_writes_one_voice_only_where_phrases_sing(melodic):
    composer, song = melodic
    mel = song.track("Melody").notes
    assert mel and all(a.end_tick <= b.start_tick for a, b in zip(mel, mel[1:]))
    bar = 1920
    # the intro (bars 0-1) and outro (bars 14-15) have no melody
    assert all(2 * bar <= n.start_tick < 14 * bar for n in mel)
    assert song.track("Piano RH").notes or song.track("Piano LH").notes
    from composer.io.midi import midi_bytes
    again = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2)
    assert midi_bytes(again) == midi_bytes(song)


def test_melody_level_regenerate_keeps_the_outside(melodic):
    composer, song = melodic
    new = composer.regenerate(song, section=2, level="notes", seed=9, steps=2)
    lo, hi = 6 * 1920, 10 * 1920
    assert _outside(new, lo, hi) == _outside(song, lo, hi)
    assert new.chords == song.chords and new.sections == song.sections


def test_level_generators_are_distinct_and_seeded():
    from composer.pipeline import LEVELS, level_generators
    a, b = level_generators(5), level_generators(5)
    assert list(a) == list(LEVELS)
    draws = [torch.rand(1, generator=g).item() for g in a.values()]
    assert draws == [torch.rand(1, generator=g).item() for g in b.values()]
    assert len(set(draws)) == len(draws)


def test_compose_over_keeps_the_given_form_and_chords(composer, song):
    """The note level alone over a given plan and chords (what `composer generate --chart`
    and judging the note level by itself rest on): the plan's sections and the grid's chords
    come out as given, the notes are the seed's."""
    from composer.io.midi import midi_bytes
    plan, meter = plan_from_score(song)
    grid = grid_from_score(song, plan.n_bars, meter.beats_per_bar)
    over = composer.compose_over(plan, grid, "4/4", tempo=90, seed=5, steps=2)
    assert over.sections == song.sections
    assert over.key_signatures == song.key_signatures
    assert over.chords and over.chords == song.chords
    assert over.tempos[0].bpm == pytest.approx(90, abs=1e-3)
    assert [t.name for t in over.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass"]
    assert any(t.notes for t in over.tracks)
    again = composer.compose_over(plan, grid, "4/4", tempo=90, seed=5, steps=2)
    assert midi_bytes(again) == midi_bytes(over)
    other = composer.compose_over(plan, grid, "4/4", tempo=90, seed=6, steps=2)
    assert [t.notes for t in other.tracks] != [t.notes for t in over.tracks]
    # a grid that does not fit the bars in the meter asked for is one line
    with pytest.raises(ComposerError, match="chord beats do not fit"):
        composer.compose_over(plan, grid, "3/4", seed=5, steps=2)
