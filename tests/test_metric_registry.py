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


def test_a_metric_added_to_song_py_alone_is_a_row_of_composer_eval(tmp_path):
    """Adding a metric touches one file: a copy of the package whose metrics/song.py gains one
    function and its METRICS entry, and nothing else, shows the metric in `composer eval`'s
    table and JSON (song_metrics calls the function; evaluation.ROWS reads METRICS)."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import composer
    from composer.io.midi import write_midi
    from eval_fixtures import song

    package = tmp_path / "copy" / "composer"
    shutil.copytree(Path(composer.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    song_py = package / "metrics" / "song.py"
    text = song_py.read_text()
    before_all_at_once = "# " + "-" * 76 + " all at once"
    end_of_metrics = '\n}\n"""name -> how the table shows it'
    assert text.count(before_all_at_once) == 1 and text.count(end_of_metrics) == 1
    function = ('def melody_probe_notes(score: Score) -> float:\n'
                '    """The number of melody notes (a metric added in one place)."""\n'
                '    return float(len(song_view(score).melody))\n\n\n')
    entry = '\n    "melody_probe_notes": MetricInfo("Melody", "probe: melody notes", "added in one place"),'
    song_py.write_text(text.replace(before_all_at_once, function + before_all_at_once)
                       .replace(end_of_metrics, entry + end_of_metrics))

    for folder, n_bars in (("gen", 2), ("ref", 4)):
        (tmp_path / folder).mkdir()
        write_midi(song([[(0, 4, 72), (4, 4, 74)]] * n_bars, [[(0, 16, 48)]] * n_bars, sections=[("A", n_bars)]),
                   tmp_path / folder / "song.mid")
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "composer", "eval", str(tmp_path / "gen"), "--reference",
                          str(tmp_path / "ref"), "--json", str(report)],
                         env={**os.environ, "PYTHONPATH": str(package.parent)}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "probe: melody notes" in run.stdout
    rows = {row["name"]: row for row in json.loads(report.read_text())["metrics"]}
    assert (rows["melody_probe_notes"]["group"], rows["melody_probe_notes"]["generated"],
            rows["melody_probe_notes"]["reference"]) == ("Melody", 4.0, 8.0)
    assert "melody_probe_notes" not in ROWS  # the copy's, not this package's
