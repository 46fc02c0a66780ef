"""POP909 -> prepared training songs (:class:`~composer.data.example.SongExample`).

The bar grid is that of the hierarchical-structure-analysis (HSA) release of POP909
(Dai, Zhang, Dannenberg 2020): ``finalized_chord.txt`` (chords, durations in beats) and
``melody.txt`` (melody on the 16th grid) start at bar 0 of a regular grid whose downbeats
fall on barlines, and the phrase labels ``human_label1.txt`` / ``human_label2.txt`` count
bars on the same grid.  The accompaniment (``PIANO`` + ``BRIDGE`` tracks of the original
``NNN.mid``) is placed on that grid by a beat-level alignment of the MIDI ``MELODY`` track
(and of ``chord_midi.txt``) against ``melody.txt`` (and ``finalized_chord.txt``): HSA removed
or inserted whole beats where the original MIDI has irregular bars, so the offset between
the two grids is piecewise constant, found by a small Viterbi search
(:func:`~composer.data.pop909.align.align_steps`).

One module per job, in the order a song goes through them:

- ``sources``: where a song's files are (:class:`SongSources`, :func:`find_sources`);
- ``labels``: the text files' lines (chords, keys, melody, MIDI chord roots);
- ``phrases``: the phrase labels against the chord grid (bar count, repair);
- ``hsa``: one song's HSA files on its bar grid (:class:`~composer.data.pop909.hsa.HsaSong`);
- ``tracks``: the original MIDI file, read by :mod:`composer.io.midi`;
- ``steps``: the MIDI's own 16th grid and notes moved onto the HSA grid;
- ``align``: the Viterbi alignment of the two grids;
- ``chords``: chords per beat, chord-tone share, the chords' beat shift;
- ``keys``: key spans (POP909-CL, ``key_audio.txt``) and the key of each bar;
- ``song``: one song, step by step (:func:`build_song` -> :class:`SongBuildResult`);
- ``build``: the whole set (:func:`build_pop909` -> :class:`BuildReport`).

Every decision, and the numbers that back it, is in ``docs/DATA.md``.
Entry point: :func:`build_pop909` (the CLI ``composer data pop909`` calls it).
"""
from composer.data.pop909.build import BuildReport, build_pop909, cache_key
from composer.data.pop909.song import SongBuildResult, build_song
from composer.data.pop909.sources import SongSources, find_sources

__all__ = ["BuildReport", "SongBuildResult", "SongSources", "build_pop909", "build_song", "cache_key",
           "find_sources"]
