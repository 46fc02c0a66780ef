"""One list of per-song metrics (composer.metrics.song.METRICS) feeds `composer eval`'s table."""
from __future__ import annotations

import composer.metrics as M
from composer.evaluation import ROWS, SET_ROWS, table_rows
from composer.metrics.song import METRICS, SONG_METRICS, MetricInfo


def test_a_metric_added_to_song_py_alone_gets_a_row_in_its_place():
    added = {**METRICS, "melody_new_figure": MetricInfo("Melody", "a new figure", "what it means")}
    rows = table_rows(added, SET_ROWS)
    assert rows["melody_new_figure"] == ("Melody", "a new figure", "what it means")
    names = list(rows)
    # after the last per-song metric and its set rows, before the rows that close the table
    assert names.index("melody_new_figure") == names.index("accompaniment_playable_share") + 1
    assert names[names.index("melody_new_figure") + 1] == "oa_pitch"


def test_the_table_holds_every_song_metric_once_in_order_with_its_oa_rows():
    assert SONG_METRICS == tuple(METRICS)
    assert [n for n in ROWS if n in METRICS] == list(SONG_METRICS)
    assert set(ROWS) == set(SONG_METRICS) | {name for name, _, _ in SET_ROWS}
    names = list(ROWS)
    assert names[names.index("melody_above_accompaniment") + 1:][:2] == ["oa_melody_duration", "oa_melody_pitch"]
    assert names[-4:] == ["oa_mean", "copy_longest_run_mean", "copy_longest_run_max", "copy_share_run_ge4"]


def test_every_metric_is_a_public_function():
    for name in SONG_METRICS:
        assert name in M.__all__ and callable(getattr(M, name))
