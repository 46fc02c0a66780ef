"""The drum level: Groove MIDI preparation on a hand-made set, the bar representation, the
drum measures, the training task, the sampler's placement by the form (tiny seeded net), and
`composer drums` / `composer generate --no-drums` / `composer eval` with a drum reference."""
from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import torch

from composer.cli import main
from composer.data.groove import build_groove, drum_bars, load_groove
from composer.io.checkpoint import save_checkpoint
from composer.io.midi import read_midi, write_midi
from composer.tasks.drums import DrumTask
from composer.errors import ComposerError, DataError
from composer.evaluation_drums import groove_pieces
from composer.levels.drums import (DEFAULT_FILL_MIN_HITS, DrumLevel, add_drums, fill_hits, pick_fills, plan_sections,
                                   regenerate_drums, sample_drums, sections_from_notes)
from composer.metrics.drums import DrumPiece, drum_measures, onset_position_oa, velocity_oa
from composer.nets.drums import DrumDenoiser
from composer.representation.drums import (BAR_COND_CHANNELS, CLOSED_HAT, CRASH, DRUM_CHANNEL, DRUM_CHANNELS,
                                           HIGH_TOM, KICK, LOW_TOM, MID_TOM, SNARE, bars_from_track, from_drum_array, to_drum_array,
                                           track_from_bars)
from composer.score import Note, Score, Section, TempoChange, TimeSignature, Track

# ---------------------------------------------------------------------------- a tiny Groove set
BEAT = [(0, 36, 100), (0, 42, 80), (2, 42, 60), (4, 38, 110), (4, 42, 80), (6, 42, 60),
        (8, 36, 90), (8, 42, 80), (10, 42, 60), (12, 38, 110), (12, 44, 70), (14, 42, 60)]
"""(16th, pitch, velocity) of one bar of a rock beat (44 is the pedal hat: a closed hat)."""
FILL = [(0, 36, 100), (0, 42, 80), (4, 38, 100), (8, 48, 100), (9, 48, 90), (10, 45, 90),
        (11, 45, 80), (12, 43, 100), (13, 43, 90), (14, 41, 100), (15, 38, 120)]


def write_drum_midi(path: Path, bars: list[list[tuple[int, int, int]]], shift_ticks: dict | None = None,
                    ppq: int = 480) -> None:
    """A Groove-like file: one track, channel 10, hits a 16th long at ``ppq``."""
    mid = mido.MidiFile(ticks_per_beat=ppq)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    events = []
    for b, bar in enumerate(bars):
        for step, pitch, vel in bar:
            tick = (b * 16 + step) * ppq // 4 + (shift_ticks or {}).get((b, step, pitch), 0)
            events += [(tick, 1, pitch, vel), (tick + ppq // 8, 0, pitch, 0)]
    now = 0
    for tick, on, pitch, vel in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(mido.Message("note_on", channel=9, note=pitch, velocity=vel, time=tick - now))
        now = tick
    mid.save(path)


@pytest.fixture(scope="module")
def groove_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "groove"
    (root / "d1").mkdir(parents=True)
    rows = [("d1/1", "rock/groove1", 120, "beat", "4-4", "train", [BEAT] * 4, {(1, 4, 38): -30}),
            ("d1/2", "funk/groove2", 100, "beat", "4-4", "validation", [BEAT] * 2, None),
            ("d1/3", "rock/fill1", 120, "fill", "4-4", "train", [FILL], None),
            ("d1/4", "jazz/groove3", 90, "beat", "4-4", "test", [BEAT] * 3, None),
            ("d1/5", "rock/odd", 120, "beat", "5-4", "train", [BEAT], None)]
    lines = ["drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split"]
    for i, (pid, style, bpm, kind, meter, split, bars, shift) in enumerate(rows):
        name = f"d1/{i}_{kind}.mid"
        write_drum_midi(root / name, bars, shift)
        lines.append(f"d1,d1/s,{pid},{style},{bpm},{kind},{meter},{name},,1.0,{split}")
    (root / "info.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def prepared(groove_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prep") / "groove"
    rep = build_groove(groove_root.parent, out)
    assert not rep.cached
    return out


def test_groove_bars_on_the_grid_with_offset_and_velocity(groove_root):
    vel, off, unknown = drum_bars(groove_root / "d1/0_beat.mid", 16)
    assert vel.shape == (4, 16, 9) and unknown == 0
    assert vel[0, 0, KICK] == 100 and vel[0, 4, SNARE] == 110 and vel[0, 12, CLOSED_HAT] == 70  # 44 -> hat
    assert (vel[0] > 0).sum() == 12
    # the snare of bar 2 played 30 ticks early (a quarter of a 16th at 480 PPQ) stays on its 16th
    assert vel[1, 4, SNARE] == 110 and off[1, 4, SNARE] == pytest.approx(-0.25)
    assert off[0, 4, SNARE] == 0


def test_prepared_set_keeps_split_fills_and_drops_odd_meters(prepared, groove_root):
    split = json.loads((prepared / "split.json").read_text())
    assert split == {"train": ["d1/1", "d1/3"], "valid": ["d1/2"], "test": ["d1/4"]}
    report = json.loads((prepared / "report.json").read_text())
    assert report["dropped"] == [["d1/5", "meter 5/4 is not on the drum level's grid"]]
    assert "CC BY 4.0" in report["licence"]
    data = load_groove(prepared)
    kinds = {p["id"]: p["beat_type"] for p in data.performances}
    assert kinds == {"d1/1": "beat", "d1/2": "beat", "d1/3": "fill", "d1/4": "beat"}
    fill = data.bars_of(data.split("train")[1])[0]
    assert fill[0, 8, 6] == 100 and fill[0, 14, 4] == 100   # high tom 48, low tom 41
    # a second build is cached; a folder that is not a build is never replaced
    assert build_groove(groove_root, prepared).cached
    other = prepared.parent / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert main(["data", "groove", "--root", str(groove_root), "--out", str(other)]) == 2
    assert (other / "keep.txt").read_text() == "x"


def test_data_groove_bad_root_is_one_line(tmp_path, capsys):
    assert main(["data", "groove", "--root", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "info.csv" in err and not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- representation
def test_drum_array_and_track_round_trip():
    vel = np.zeros((2, 16, 9), np.uint8)
    off = np.zeros((2, 16, 9), np.float32)
    vel[0, 0, KICK], vel[0, 0, CRASH], vel[1, 15, SNARE] = 100, 90, 64
    off[1, 15, SNARE] = -0.25
    v2, o2 = from_drum_array(to_drum_array(vel, off))
    assert np.array_equal(v2, vel) and np.allclose(o2, off)
    track = track_from_bars(vel, off, 480, 16)
    assert track.is_drum and [(n.start_tick, n.pitch, n.velocity) for n in track.notes] == [
        (0, 36, 100), (0, 49, 90), (1920 + 15 * 120 - 30, 38, 64)]
    v3, o3 = bars_from_track(track, 480, 16)
    assert np.array_equal(v3, vel) and np.allclose(o3, off)
    assert np.array_equal(bars_from_track(track_from_bars(vel, None, 480, 16), 480, 16)[0], vel)


# ---------------------------------------------------------------------------- measures
def _bar(*hits: tuple[int, int]) -> np.ndarray:
    b = np.zeros((16, 9), np.uint8)
    for step, drum in hits:
        b[step, drum] = 80
    return b


def test_drum_measures_by_hand():
    groove = _bar((0, KICK), (4, SNARE), (8, KICK), (12, SNARE))
    other = _bar((2, KICK), (4, SNARE), (12, SNARE))
    fill = _bar((0, KICK), (12, SNARE), (13, SNARE), (14, SNARE), (15, SNARE))
    crash = groove.copy()
    crash[0, CRASH] = 100
    vel = np.stack([crash, groove, other, fill])
    piece = DrumPiece(vel, 16, ((0, 4),), np.array([False, False, False, True]), (0,))
    m = drum_measures([piece])
    assert m.hits_per_bar == pytest.approx((5 + 4 + 3) / 3)
    assert m.kick_on_beat_1 == pytest.approx(2 / 3)
    assert m.crash_on_section_starts == 1.0
    # consecutive groove bars: (crash, groove) equal onsets -> 1; (groove, other) differ at 0, 2, 8
    assert m.groove_consistency == pytest.approx((1.0 + (1 - 3 / 16)) / 2)
    # snare/tom hits: the fill 4, the groove bars 2 + 2 + 2
    assert m.fill_density_ratio == pytest.approx(4 / 2)
    assert onset_position_oa(m, m) == pytest.approx(1.0) and velocity_oa(m, m) == pytest.approx(1.0)
    empty = drum_measures([DrumPiece(np.zeros((2, 16, 9), np.uint8), 16, (), np.zeros(2, bool), ())])
    assert np.isnan(empty.hits_per_bar) and np.isnan(empty.fill_density_ratio)


# ---------------------------------------------------------------------------- task and level
TINY = dict(channels=DRUM_CHANNELS, cond_channels=BAR_COND_CHANNELS, steps=16, width=16, n_conv=1,
            n_attn=1, heads=2)


@pytest.fixture(scope="module")
def tiny_drums(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "drums"
    torch.manual_seed(0)
    save_checkpoint(folder, DrumDenoiser(**TINY), "drums", TINY, {"intensity_edges": [16.0, 21.0]})
    return folder


def test_task_batches_and_a_training_step(prepared):
    task = DrumTask(prepared, TINY)
    assert len(task.train_items) == 5 and task.train_items.fill.sum() == 1   # 4 beat bars, 1 fill bar
    assert len(task.valid_items) == 2
    gen = torch.Generator().manual_seed(0)
    batch = next(task.train_batches(8, gen))
    assert batch.x0.shape == (8, DRUM_CHANNELS, 16) and batch.cond.shape == (8, BAR_COND_CHANNELS)
    assert batch.cond[:2, 0].tolist() == [1.0, 1.0] and batch.cond[2:, 0].sum() == 0   # 25% fills first
    model = task.build_model()
    loss = task.loss(model, batch, gen)
    loss.backward()
    assert torch.isfinite(loss)


def test_sampler_follows_the_form(tiny_drums):
    level = DrumLevel.from_pretrained(tiny_drums)
    sections = [Section(0, 2, "i"), Section(2, 4, "A"), Section(6, 4, "B"), Section(10, 4, "A"), Section(14, 2, "o")]
    density = np.ones(16)
    density[14:] = 0          # the band stops for the outro: no drums there
    plan = plan_sections(sections, density)
    assert [(p.intensity, p.fill) for p in plan] == [(0, True), (1, True), (2, True), (1, True), (None, False)]
    vel, off = sample_drums(level, plan, 16, generator=torch.Generator().manual_seed(1), steps=2,
                            fill_kept=0.25)
    for s in plan[:4]:
        assert vel[s.start_bar, 0, CRASH] > 0 and vel[s.start_bar, 0, KICK] > 0
        assert vel[s.start_bar, 0, CLOSED_HAT] == 0
    assert not vel[14:].any()
    # the returning verse plays its first statement's bars again
    assert np.array_equal(vel[2:6], vel[10:14]) and np.array_equal(off[2:6], off[10:14])
    # the fill bar starts as the section's groove bar: its first beat is kept
    assert np.array_equal(vel[5, :4], vel[3, :4])
    again = sample_drums(level, plan, 16, generator=torch.Generator().manual_seed(1), steps=2,
                         fill_kept=0.25)
    assert np.array_equal(again[0], vel)


def _net_bar(hits: list[tuple[int, int]]) -> torch.Tensor:
    """The net's view [C, 16] of :func:`_bar`."""
    vel = _bar(*hits)[None]
    return torch.from_numpy(to_drum_array(vel, np.zeros(vel.shape, np.float32)))[0]


def _snares(n: int) -> list[tuple[int, int]]:
    return [(i, SNARE) for i in range(n)]


def test_pick_fills_keeps_the_first_candidate_that_plays_a_fill():
    hats = [(i, CLOSED_HAT) for i in range(0, 16, 2)]            # never count: not a fill drum
    cands = torch.stack([
        torch.stack([_net_bar(_snares(1) + hats), _net_bar(_snares(4)), _net_bar(_snares(9))]),   # the first with 4
        torch.stack([_net_bar(_snares(2)), _net_bar(_snares(3) + hats), _net_bar(_snares(1))]),   # none: the most
        torch.stack([_net_bar([(0, LOW_TOM), (1, HIGH_TOM), (2, SNARE), (3, LOW_TOM)]), _net_bar(_snares(12)),
                     _net_bar([])]),                                                     # toms count
    ])
    out = pick_fills(cands, 16, 4)
    assert torch.equal(out[0], cands[0, 1]) and torch.equal(out[1], cands[1, 1]) and torch.equal(out[2], cands[2, 0])
    # a 2/4 bar (8 16ths) needs half as many, and hits past its end do not count
    half = torch.stack([torch.stack([_net_bar([(0, SNARE), (12, SNARE), (13, SNARE), (14, SNARE)]),
                                     _net_bar([(0, SNARE), (7, LOW_TOM)]), _net_bar(_snares(8))])])
    assert torch.equal(pick_fills(half, 8, 4)[0], half[0, 1])
    assert torch.equal(pick_fills(cands, 16, 0), cands[:, 0])     # no minimum: the first draw
    # and busier than the groove it leaves: over a groove of 4, the first with 5 or more
    grooves = np.array([4, 0, 3])
    out = pick_fills(cands, 16, 4, grooves)
    assert torch.equal(out[0], cands[0, 2]) and torch.equal(out[1], cands[1, 1]) and torch.equal(out[2], cands[2, 0])
    assert fill_hits(cands[:, 2], 16).tolist() == [9, 1, 0]


def test_sampler_redraws_thin_fills_only(tiny_drums):
    """The same draws with and without a minimum: only the fill bars differ, and they play
    at least as many snare and tom hits."""
    level = DrumLevel.from_pretrained(tiny_drums)
    plan = plan_sections([Section(0, 4, "A"), Section(4, 4, "B"), Section(8, 4, "A")], np.ones(12))

    def run(min_hits: int) -> tuple[np.ndarray, np.ndarray]:
        return sample_drums(level, plan, 12, generator=torch.Generator().manual_seed(4), steps=2,
                            fill_candidates=4, fill_min_hits=min_hits)

    first, picked = run(0), run(100)
    ends = [s.start_bar + s.n_bars - 1 for s in plan if s.fill]
    others = [b for b in range(12) if b not in ends]
    assert np.array_equal(first[0][others], picked[0][others])
    drums = [SNARE, LOW_TOM, MID_TOM, HIGH_TOM]
    more, fewer = ((v[0][ends][:, :, drums] > 0).sum(axis=(1, 2)) for v in (picked, first))
    assert (more >= fewer).all() and (more > fewer).any()
    assert all(np.array_equal(a, b) for a, b in zip(run(100), picked))


def test_sections_from_notes_label_repeats():
    bar = 1920
    a = [Note(i * bar + k * 480, 240, 60 + k, 80) for i in range(8) for k in range(4)]
    b = [Note(i * bar + k * 240, 120, 65 + (k % 3), 80) for i in range(8, 16) for k in range(8)]
    a2 = [Note(n.start_tick + 16 * bar, n.duration_ticks, n.pitch, 80) for n in a]
    score = Score(tracks=(Track("Piano", 0, False, tuple(a + b + a2)),))
    assert [(s.start_bar, s.label) for s in sections_from_notes(score, 24, bar)] == [(0, "A"), (8, "B"), (16, "A")]


def _song(tmp_path: Path, name: str = "song.mid", meter=(4, 4), sections=True) -> Path:
    bar = meter[0] * 480 * 4 // meter[1]
    notes = tuple(Note(i * 480, 240, 60, 80) for i in range(8 * bar // 480))
    score = Score(tempos=(TempoChange.from_bpm(0, 96),), time_signatures=(TimeSignature(0, *meter),),
                  sections=(Section(0, 4, "A", "Verse"), Section(4, 4, "B", "Chorus")) if sections else (),
                  tracks=(Track("Piano", 0, False, notes),))
    path = tmp_path / name
    write_midi(score, path)
    return path


def test_composer_drums_adds_a_gm_track(tiny_drums, tmp_path, capsys):
    song = _song(tmp_path)
    out = tmp_path / "out.mid"
    args = ["drums", str(song), "-o", str(out), "--models", str(tiny_drums.parent), "--seed", "4", "--steps", "2"]
    assert main(args) == 0
    assert "seed 4" in capsys.readouterr().out
    score = read_midi(out)
    drums = [t for t in score.tracks if t.is_drum]
    assert len(drums) == 1 and drums[0].name == "Drums" and drums[0].notes
    assert {n.pitch for n in drums[0].notes} <= {36, 38, 42, 46, 43, 47, 50, 49, 51}
    assert b"\x99" in out.read_bytes()          # a note-on on channel 10
    assert {(n.start_tick, n.pitch) for n in drums[0].notes} >= {(0, 49), (4 * 1920, 49)}
    assert [t.notes for t in score.tracks if not t.is_drum] == [read_midi(song).tracks[0].notes]
    again = tmp_path / "again.mid"
    assert main(args[:3] + [str(again)] + args[4:]) == 0
    assert again.read_bytes() == out.read_bytes()
    # a 3/4 song and a song without markers get drums too
    assert main(["drums", str(_song(tmp_path, "w.mid", (3, 4), False)), "-o", str(tmp_path / "w_out.mid"),
                 "--models", str(tiny_drums.parent), "--seed", "1", "--steps", "2"]) == 0
    w = read_midi(tmp_path / "w_out.mid")
    assert all((n.start_tick % 1440) % 120 == 0 for t in w.tracks if t.is_drum for n in t.notes)


@pytest.mark.parametrize("case", ["has drums", "not midi", "bad meter", "wav name", "5/4 song"])
def test_composer_drums_bad_input_is_one_line(case, tiny_drums, tmp_path, capsys):
    song = _song(tmp_path)
    extra: list[str] = []
    out = tmp_path / "out.mid"
    if case == "has drums":
        assert main(["drums", str(song), "-o", str(out), "--models", str(tiny_drums.parent), "--steps", "2"]) == 0
        song, out = out, tmp_path / "twice.mid"
        capsys.readouterr()
    elif case == "not midi":
        song = tmp_path / "x.mid"
        song.write_text("hello")
    elif case == "bad meter":
        extra = ["--meter", "7/8"]
    elif case == "wav name":
        out = tmp_path / "out.wav"
    else:
        song = _song(tmp_path, "five.mid", (5, 4))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["drums", str(song), "-o", str(out), "--models", str(tiny_drums.parent)] + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("composer: error:") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_add_drums_humanize_moves_hits_by_the_offsets(tiny_drums, tmp_path):
    level = DrumLevel.from_pretrained(tiny_drums)
    score = read_midi(_song(tmp_path))
    plain = add_drums(level, score, torch.Generator().manual_seed(2), steps=2)
    human = add_drums(level, score, torch.Generator().manual_seed(2), steps=2, humanize=True)
    grid = [n.start_tick for n in plain.track("Drums").notes]
    assert all(t % 120 == 0 for t in grid)
    moved = [n.start_tick for n in human.track("Drums").notes]
    assert len(moved) == len(grid) and any(t % 120 for t in moved)   # an untrained net's offsets are not 0
    assert max(abs(a - b) for a, b in zip(sorted(moved), sorted(grid))) <= 14


def test_eval_with_a_groove_reference(prepared, tiny_drums, tmp_path, capsys):
    ref = f"{prepared}@test"
    assert main(["eval", f"{prepared}@valid", "--reference", ref, "--train", f"{prepared}@train"]) == 0
    text = capsys.readouterr().out
    assert "hits per bar (groove bars)" in text and "kick on beat 1" in text
    song = _song(tmp_path)
    out = tmp_path / "d.mid"
    assert main(["drums", str(song), "-o", str(out), "--models", str(tiny_drums.parent), "--steps", "2"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--reference", ref, "--json", str(tmp_path / "r.json")]) == 0
    rows = {r["name"]: r for r in json.loads((tmp_path / "r.json").read_text())["rows"]}
    assert rows["crash_on_section_starts"]["generated"] == 1.0
    assert rows["hits_per_bar"]["reference"] == pytest.approx(12.0)   # the test beat: 12 hits a bar
    assert main(["eval", str(song), "--reference", ref]) == 2          # no drums: one line
    assert "has a drum track" in capsys.readouterr().err


def test_groove_pieces_of_some_styles(prepared):
    rock = groove_pieces(f"{prepared}@train", ("rock",))     # the rock beat and the rock fill's bar
    assert [(p.n_bars, bool(p.ends.all())) for p in rock] == [(4, False), (1, True)]
    assert len(groove_pieces(f"{prepared}@train")) == len(rock)
    with pytest.raises(DataError, match="no performances"):
        groove_pieces(f"{prepared}@train", ("funk",))        # funk is in the validation split only


def test_plot_drums_beside_another_file(tiny_drums, groove_root, tmp_path, capsys):
    song = _song(tmp_path)
    with_drums = tmp_path / "d.mid"
    assert main(["drums", str(song), "-o", str(with_drums), "--models", str(tiny_drums.parent), "--steps", "2"]) == 0
    png = tmp_path / "grid.png"
    assert main(["plot", str(with_drums), "-o", str(png), "--drums", "--bars", "3-6",
                 "--beside", str(groove_root / "d1/0_beat.mid")]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "drums of 2 files" in capsys.readouterr().out
    for bad in (["--drums", "--bars", "6-3"], ["--bars", "1-2"], ["--drums", "--bars", "40-41"]):
        assert main(["plot", str(with_drums), "-o", str(tmp_path / "bad.png"), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["plot", str(song), "-o", str(tmp_path / "bad.png"), "--drums"]) == 2
    assert "no drum track" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_shipped_drum_model_fills_and_crashes():
    """The shipped model on a pop form: crashes on every section's downbeat, fills busier on
    snare and toms than the bars around them, the same bytes from the same seed."""
    folder = Path(__file__).resolve().parents[1] / "models" / "drums"
    if not (folder / "config.json").is_file():
        pytest.skip("models/drums is not in this checkout")
    level = DrumLevel.from_pretrained(folder)
    sections = [Section(0, 4, "i"), Section(4, 8, "A"), Section(12, 8, "B"), Section(20, 8, "A"),
                Section(28, 8, "B"), Section(36, 4, "o")]
    plan = plan_sections(sections, np.ones(40))
    fills, grooves = [], []
    for seed in range(4):
        vel, _ = sample_drums(level, plan, 40, generator=torch.Generator().manual_seed(seed))
        assert all(vel[s.start_bar, 0, CRASH] > 0 for s in sections)
        on = (vel[:, :, [SNARE, 4, 5, 6]] > 0).sum(axis=(1, 2))
        ends = [s.start_bar + s.n_bars - 1 for s in plan if s.fill]
        fills += [on[b] for b in ends]
        grooves += [on[b] for b in range(40) if b not in ends and b not in [s.start_bar for s in plan]]
    assert np.mean(fills) > 1.2 * np.mean(grooves)
    # no "fill" of one snare hit: every one plays the training fills' minimum on snare and toms
    assert min(fills) >= DEFAULT_FILL_MIN_HITS


def test_regenerate_drums_of_one_section(tiny_drums, tmp_path):
    level = DrumLevel.from_pretrained(tiny_drums)
    score = add_drums(level, read_midi(_song(tmp_path)), torch.Generator().manual_seed(2), steps=2)
    new = regenerate_drums(level, score, (4, 8), torch.Generator().manual_seed(9), steps=2)
    old_hits = [(n.start_tick, n.pitch, n.velocity) for n in score.track("Drums").notes]
    new_hits = [(n.start_tick, n.pitch, n.velocity) for n in new.track("Drums").notes]
    bar = 1920
    assert [h for h in new_hits if h[0] < 4 * bar] == [h for h in old_hits if h[0] < 4 * bar]
    assert [h for h in new_hits if h[0] >= 4 * bar] != [h for h in old_hits if h[0] >= 4 * bar]
    assert (4 * bar, 49, ) in {h[:2] for h in new_hits}          # the section still opens with a crash
    assert [t for t in new.tracks if not t.is_drum] == [t for t in score.tracks if not t.is_drum]
    whole = regenerate_drums(level, score.replace(tracks=score.tracks[:-1]), None,
                             torch.Generator().manual_seed(2), steps=2)
    assert whole == score                                          # no drums: the same as add_drums
    with pytest.raises(ComposerError, match="not a range inside"):
        regenerate_drums(level, score, (6, 20), steps=2)


def test_pipeline_drums_leave_the_other_levels_alone(tiny_drums):
    from test_pipeline import tiny_composer
    composer = tiny_composer()
    composer.drum_level = DrumLevel.from_pretrained(tiny_drums)
    song = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2)
    assert [t.name for t in song.tracks] == ["Melody", "Piano RH", "Piano LH", "Bass", "Drums"]
    assert song.track("Drums").is_drum and song.track("Drums").notes
    assert composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2) == song
    # the drums draw from their own stream: without them the song is the same, less its drums
    bare = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2, drums=False)
    assert bare.tracks == song.tracks[:-1]
    # regenerating a section's notes keeps the drums exactly
    again = composer.regenerate(song, section=2, seed=5, steps=2)
    assert again.track("Drums") == song.track("Drums")
    # humanized: the drums move by the net's offsets, never by arrange.humanize's jitter
    human = composer.compose(form="i2A4B4A4o2", key="A minor", tempo=100, seed=3, steps=2, humanize=True)
    plain = sorted((n.pitch, n.start_tick, n.velocity) for n in song.track("Drums").notes)
    moved = sorted((n.pitch, n.start_tick, n.velocity) for n in human.track("Drums").notes)
    assert [(p, v) for p, _, v in moved] == [(p, v) for p, _, v in plain]
    assert max(abs(a[1] - b[1]) for a, b in zip(moved, plain)) <= 14   # the band's humanize cap
