"""MIDI in and out on a real POP909 song: median read and write times, pretty_midi as a peer.

Needs ../shared/data (POP909); without it the benchmark says so and writes nothing.
Results go to benchmarks/results/midi.json.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import median_seconds, print_table, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SONG = DATA / "POP909-Dataset" / "POP909" / "001" / "001.mid"
REPEATS = 9


def main() -> None:
    if not SONG.exists():
        print(f"  skipped: {SONG} is absent (POP909 data not found)")
        return
    import pretty_midi

    from composer.io.midi import midi_bytes, read_midi, read_midi_bytes, write_midi

    score = read_midi(SONG)
    n_notes = sum(len(t.notes) for t in score.tracks)
    data = SONG.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mid"
        read_s = median_seconds(lambda: read_midi(SONG), REPEATS)
        parse_s = median_seconds(lambda: read_midi_bytes(data), REPEATS)
        encode_s = median_seconds(lambda: midi_bytes(score), REPEATS)
        write_s = median_seconds(lambda: write_midi(score, out), REPEATS)
        both_s = median_seconds(lambda: write_midi(read_midi(SONG), out), REPEATS)
        peer_read_s = median_seconds(lambda: pretty_midi.PrettyMIDI(str(SONG)), REPEATS)
        peer = pretty_midi.PrettyMIDI(str(SONG))
        peer_write_s = median_seconds(lambda: peer.write(str(out)), REPEATS)
    rows = {
        "file": str(SONG.relative_to(DATA)),
        "n_notes": n_notes,
        "n_bytes": len(data),
        "read_ms": read_s * 1e3,
        "read_bytes_ms": parse_s * 1e3,
        "encode_ms": encode_s * 1e3,
        "write_ms": write_s * 1e3,
        "read_plus_write_ms": both_s * 1e3,
        "pretty_midi_read_ms": peer_read_s * 1e3,
        "pretty_midi_write_ms": peer_write_s * 1e3,
        "read_ratio_vs_pretty_midi": read_s / peer_read_s,
    }
    print_table([
        ("file", f"{rows['file']} ({n_notes} notes, {len(data)} bytes)"),
        ("read_midi", f"{rows['read_ms']:.1f} ms (median of {REPEATS})"),
        ("write_midi", f"{rows['write_ms']:.1f} ms (midi_bytes alone {rows['encode_ms']:.1f} ms)"),
        ("read + write", f"{rows['read_plus_write_ms']:.1f} ms"),
        ("pretty_midi read", f"{rows['pretty_midi_read_ms']:.1f} ms "
                             f"(ours / theirs = {rows['read_ratio_vs_pretty_midi']:.2f})"),
        ("pretty_midi write", f"{rows['pretty_midi_write_ms']:.1f} ms"),
    ])
    write_results("midi", rows)


if __name__ == "__main__":
    main()
