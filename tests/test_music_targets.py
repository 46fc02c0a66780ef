"""benchmarks/music_targets.py: a missed figure shows the bootstrap interval of its song mean."""
import json

import pytest

from benchmarks import music_targets as mt


def _write(path, above_songs, reference=0.604):
    songs = [{"name": f"s{i}", "melody_above_accompaniment": v} for i, v in enumerate(above_songs)]
    mean = sum(above_songs) / len(above_songs)
    # the rows the table always reads, beside the one under test
    fixed = [{"name": n, "generated": g, "reference": r} for n, g, r in
             (("melody_interval_over_octave", 0.0001, 0.0002), ("cadence_phrase_end", 0.75, 0.77),
              ("cadence_elsewhere", 0.6, 0.63))]
    path.write_text(json.dumps({"metrics": [{"name": "melody_above_accompaniment", "generated": mean,
                                             "reference": reference}, *fixed], "songs": songs}))
    return path


def test_a_miss_shows_the_interval_of_its_song_mean_and_a_pooled_figure_none(tmp_path):
    # target 0.534..0.674 (within 0.07 of 0.604); songs 0.60 and 0.80 average 0.70: a miss
    rows = mt._rows(_write(tmp_path / "a.json", [0.60, 0.80] * 10))
    low, high = rows["melody_above_accompaniment"]["ci"]
    assert 0.64 < low < 0.70 < high < 0.76      # about 0.70 +- 1.96 * 0.1 / sqrt(20)
    text = mt.table(sets=(("test forms", tmp_path / "a.json"),))
    line = next(l for l in text.splitlines() if l.startswith("| melody above accompaniment"))
    assert "0.700 NOT met (95%: " in line
    # a figure that is not the mean of its songs (notes pooled over the set) gets no interval
    data = json.loads((tmp_path / "a.json").read_text())
    data["metrics"][0]["generated"] = 0.71
    (tmp_path / "b.json").write_text(json.dumps(data))
    assert "ci" not in mt._rows(tmp_path / "b.json")["melody_above_accompaniment"]


def test_a_met_figure_has_no_interval_in_its_cell(tmp_path):
    _write(tmp_path / "a.json", [0.60, 0.62] * 5)
    text = mt.table(sets=(("test forms", tmp_path / "a.json"),))
    line = next(l for l in text.splitlines() if l.startswith("| melody above accompaniment"))
    assert line.endswith("| 0.610 met |") and "95%" not in line
    assert mt._fmt(0.0005) == "0.0005" and mt._fmt(0.604) == "0.604" and mt._fmt(0.0) == "0.000"
    with pytest.raises(StopIteration):
        next(l for l in text.splitlines() if "NOT met" in l)
