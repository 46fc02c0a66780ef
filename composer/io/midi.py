"""Standard MIDI Files in and out of a :class:`~composer.score.Score`.

Reading takes any SMF of type 0 or 1 (type 2 is refused with a clear error) and keeps
every note, the tempo map, meter and key changes, programs, drums (channel 10),
controllers and pitch bends, at the file's own resolution, exactly on its ticks.
Writing makes a DAW-ready SMF type 1 at 480 PPQ: a conductor track (title, tempo map,
meters, keys, a Marker named for people and a Cue Point with the section's label and
length at every section start, ending at the song's end), a "Chords" track of chord names
spelled in the key (Cue Points, plus Yamaha XF chord events that MuseScore turns into
chord symbols), then one track per instrument on its own channel (a piano's "RH" and "LH"
tracks share one, so notation programs join them on a grand staff) with a program change
at tick 0; the first pitched track also carries the key signatures (see :func:`key_carrier`).
Optionally (``chord_track=True``) a last track plays each chord's notes on a soft pad
(:func:`chord_pad_track`), for DAWs and the MIDI libraries that read no chord names.
``read_midi_bytes(midi_bytes(score)) == score`` for any valid Score at 480 PPQ whose
same-pitch overlaps (if any) end in the order they start and whose chords do not overlap.

Every failure, from a missing file to random bytes, is one :class:`MidiError` line.
The header and chunk lengths are checked first; each track chunk is then tokenized alone
in one linear pass (mido decodes the meta events and encodes those we write), and sizes
are bounded (:data:`MAX_BYTES`, :data:`MAX_NOTES`), so garbage can neither hang the
reader nor surface a library traceback.

Text formats written (and read back) -- see docs/ARCHITECTURE.md, "MIDI in and out":

* section: a Marker with the display name (``"Verse 1"``) and, at the same tick, a Cue Point
  ``"[<label> <n_bars>]"`` (``"[A 8]"``); files written before carry both in the Marker,
  ``"Verse 1 [A 8]"``, and still read;
* chord: a Cue Point (older files: a Text event) ``"Am7/G"``, ``"C"``, ``"F#m7b5"``, spelled in
  the key (``"D#m"`` in F# major, ``"Ebm"`` in Gb major); ``"N.C."`` where a chord ends and no
  other starts.  Text events would become lyrics in MuseScore; Cue Points do not.
"""
from __future__ import annotations

import bisect
import re
import struct
from collections import deque
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError, build_meta_message, meta_charset

from composer.errors import ComposerError, MidiError
from composer.io.atomic import atomic_path, read_regular_file
from composer.pitch import pitch_class_of
from composer.tracks import DRUMS
from composer.spelling import LETTERS, chord_text, key_signature_name, parse_chord_text, spell_pitch_class
from composer.score import (
    CHORD_QUALITIES,
    PITCH_CLASS_NAMES,
    ChordSymbol,
    ControlChange,
    KeySignature,
    Note,
    PitchBend,
    Score,
    Section,
    TempoChange,
    TimeSignature,
    Track,
)

MAX_BYTES = 16 * 1024 * 1024
"""Largest file read, in bytes (the biggest POP909 file is ~60 kB, a Groove file ~30 kB)."""
MAX_NOTES = 2_000_000
"""Most notes read from one file; more is refused rather than filling memory."""
WRITE_RESOLUTION = 480
"""Ticks per quarter note of every file written."""
DRUM_CHANNEL = 9
"""General MIDI percussion channel, 0-based (channel 10 in a DAW)."""
CHORD_TRACK_NAME = "Chords"
"""Name of the meta-only track holding chord-symbol text events."""
NO_CHORD = "N.C."
"""Text event that ends a chord where no other chord starts."""
CHORD_PAD_NAME = "Chord Pad"
"""Name of the optional played chord track (``midi_bytes(..., chord_track=True)``)."""
CHORD_PAD_PROGRAM = 89
"""GM Pad 2 (warm): the chord track sustains under the band without a piano's attack."""
CHORD_PAD_VELOCITY = 48
"""Soft: the chord track supports the song rather than doubling the piano at its level."""
RIGHT_HAND_SUFFIX = " RH"
LEFT_HAND_SUFFIX = " LH"
"""Track-name endings of a two-handed part ("Piano RH", "Piano LH"), see :func:`assign_channels`."""

_MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)

_MARKER_RE = re.compile(r"^(?:(.*) )?\[([^\[\]]+) ([1-9][0-9]*)\]$", re.S)


# ====================================================================== text formats
def _pitch_class(letter: str, accidental: str) -> int:
    return pitch_class_of(letter, accidental)


# Yamaha XF chord events (XF Format Specifications 2.01): sequencer-specific meta events
# 43 7B 01 <root> <type> <bass> <bass type>, which MuseScore 3 imports as chord symbols.
# Root/bass byte: high nibble accidental (3 natural, 2 flat, 4 sharp), low nibble letter
# (1 = C .. 7 = B); 0x7F = none.  Types are XF's table; sus2 is its "1+2+5".
_XF_CHORD_TYPE = {"maj": 0, "maj6": 1, "maj7": 2, "aug": 7, "min": 8, "min6": 9, "min7": 10,
                  "hdim7": 11, "minmaj7": 15, "dim": 17, "dim7": 18, "7": 19, "sus4(b7)": 20,
                  "sus4": 32, "sus2": 33}
assert set(_XF_CHORD_TYPE) == set(CHORD_QUALITIES)


def _xf_note(pc: int, key: KeySignature | None) -> int:
    letter, accidental = spell_pitch_class(pc, key)
    return ((accidental + 3) << 4) | (LETTERS.index(letter) + 1)


def xf_chord_data(chord: ChordSymbol, key: KeySignature | None = None) -> tuple[int, ...]:
    """Data bytes of the XF chord event of ``chord`` spelled in ``key``."""
    bass = _xf_note(chord.bass, key) if chord.bass != chord.root else 0x7F
    return (0x43, 0x7B, 0x01, _xf_note(chord.root, key), _XF_CHORD_TYPE[chord.quality],
            bass, 0x7F)


XF_SNAP_TICKS = WRITE_RESOLUTION // 32
"""How far (a 128th note) an XF chord event moves onto a note's onset: more than
:func:`composer.arrange.humanize` moves a note (14 ticks at 480 PPQ), less than a 64th."""


def xf_chord_tick(tick: int, onsets: list[list[int]]) -> int:
    """Where the XF chord event of a chord starting at ``tick`` goes: the onset nearest
    ``tick`` within :data:`XF_SNAP_TICKS` in the first track (of ``onsets``, each a sorted
    list of note-start ticks, pitched tracks in file order) that has one there, else ``tick``.

    MuseScore shows an XF chord only above a note that starts on the event's very tick (its
    unquantized tick) and puts it on the first such track: a humanized melody, each note a
    few ticks off the beat, showed 22 of 124 chord symbols.  The Cue Point that we read
    back stays on the chord's own tick, so the Score is unchanged; a song on the grid gets
    the same bytes as before."""
    for starts in onsets:
        near = starts[bisect.bisect_left(starts, tick - XF_SNAP_TICKS):
                      bisect.bisect_right(starts, tick + XF_SNAP_TICKS)]
        if near:
            return min(near, key=lambda t: (abs(t - tick), t))
    return tick


def section_marker_text(section: Section) -> str:
    """Marker text of ``section``: its display name, ``"Verse 1"`` (may be empty)."""
    return section.name


def section_tag_text(section: Section) -> str:
    """Cue Point text beside the marker: label and bars, ``"[A 8]"``."""
    return f"[{section.label} {section.n_bars}]"


def parse_section_tag(text: str) -> tuple[str, int] | None:
    """``(label, n_bars)`` of a Cue Point written by :func:`section_tag_text`, else None."""
    parsed = parse_section_marker(text)
    if parsed is None or parsed[0]:
        return None
    return parsed[1], parsed[2]


def parse_section_marker(text: str) -> tuple[str, str, int] | None:
    """``(name, label, n_bars)`` of a marker in the older one-event form
    ``"Verse 1 [A 8]"`` (or a bare ``"[i 4]"``), else None."""
    match = _MARKER_RE.match(text)
    if not match:
        return None
    return match.group(1) or "", match.group(2), int(match.group(3))


def _parse_key_name(name: str) -> tuple[int, str]:
    mode = "minor" if name.endswith("m") else "major"
    root = name[:-1] if mode == "minor" else name
    return _pitch_class(root[0], root[1:]), mode


def _to_meta(text: str) -> str:
    """Text for a mido meta message: UTF-8 bytes carried through mido's latin-1 codec."""
    return text.encode("utf-8").decode("latin-1")


def _from_meta(text: str) -> str:
    """Inverse of :func:`_to_meta`; text that is not UTF-8 stays as latin-1."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# ====================================================================== reading
def read_midi(path: str | Path) -> Score:
    """Read a Standard MIDI File into a Score at the file's own resolution.

    Raises :class:`MidiError` (one line naming the file and the problem) for a missing,
    unreadable, oversized, truncated, corrupt, type 2 or non-MIDI file."""
    path = Path(path)
    # Only a regular file, read through a bounded read: st_size is 0 for /dev/zero, and a
    # FIFO would block an ordinary open() forever.
    data = read_regular_file(path, MAX_BYTES, MidiError, "a MIDI file")
    return read_midi_bytes(data, name=str(path))


def read_midi_bytes(data: bytes, name: str = "<bytes>") -> Score:
    """Read the bytes of a Standard MIDI File; ``name`` is used in error messages."""
    if len(data) > MAX_BYTES:
        raise MidiError(f"{name}: {len(data)} bytes is over the {MAX_BYTES // 2**20} MB limit "
                        "for a MIDI file")
    file_type, resolution, chunks = _split_chunks(bytes(data), name)
    with meta_charset("latin1"):
        tracks = [_parse_track(chunk, i, name) for i, chunk in enumerate(chunks)]
    return _build_score(file_type, resolution, tracks, name)


def _split_chunks(data: bytes, name: str) -> tuple[int, int, list[bytes]]:
    """Check the header and chunk lengths; return (type, ticks per quarter, MTrk bodies)."""
    if not data:
        raise MidiError(f"{name}: empty file (0 bytes), not a MIDI file")
    if not data.startswith(b"MThd"):
        raise MidiError(f"{name}: not a MIDI file (starts with {data[:8]!r}, not b'MThd')")
    if len(data) < 14:
        raise MidiError(f"{name}: truncated MIDI header ({len(data)} bytes; a header needs 14)")
    (header_len,) = struct.unpack(">L", data[4:8])
    file_type, n_tracks, division = struct.unpack(">HHH", data[8:14])
    if header_len < 6 or 8 + header_len > len(data):
        raise MidiError(f"{name}: corrupt MIDI header (declares {header_len} bytes)")
    if file_type == 2:
        raise MidiError(f"{name}: MIDI type 2 (independent patterns) is not supported; "
                        "export it as type 1 or 0")
    if file_type > 2:
        raise MidiError(f"{name}: unknown MIDI file type {file_type} (expected 0 or 1)")
    if division & 0x8000:
        raise MidiError(f"{name}: SMPTE time division is not supported; "
                        "export with ticks per quarter note")
    if division == 0:
        raise MidiError(f"{name}: corrupt MIDI header (0 ticks per quarter note)")
    chunks: list[bytes] = []
    pos = 8 + header_len
    while len(chunks) < n_tracks:
        if pos + 8 > len(data):
            raise MidiError(f"{name}: truncated: the header declares {n_tracks} tracks but the "
                            f"file ends after {len(chunks)}")
        chunk_id = data[pos:pos + 4]
        (length,) = struct.unpack(">L", data[pos + 4:pos + 8])
        if chunk_id == b"MTrk" and pos + 8 + length > len(data):
            raise MidiError(f"{name}: truncated: track {len(chunks) + 1} declares {length} bytes "
                            f"but only {len(data) - pos - 8} remain")
        if chunk_id == b"MTrk":
            chunks.append(data[pos + 8:pos + 8 + length])
        elif not all(65 <= b <= 90 or 97 <= b <= 122 or 48 <= b <= 57 for b in chunk_id):
            raise MidiError(f"{name}: corrupt: expected a track chunk at byte {pos}, "
                            f"found {chunk_id!r}")
        # Other well-formed chunks (alien chunks, allowed by the SMF spec) are skipped.
        pos += 8 + length
    return file_type, division, chunks


# Meta events the reader uses, by type byte; mido decodes them, the rest are skipped.
_META_KEPT = {0x01: "text", 0x03: "track_name", 0x06: "marker", 0x07: "cue_marker",
              0x51: "set_tempo", 0x58: "time_signature", 0x59: "key_signature"}
# Data bytes after a status byte: channel messages by high nibble, system common by status.
_CHANNEL_LENGTH = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSTEM_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0,
                  0xFE: 0}


class _ParsedTrack:
    """One MTrk chunk: channel events ``(tick, status, data1, data2)`` in file order,
    kept meta events ``(tick, mido.MetaMessage)`` and the tick where the chunk ends."""

    __slots__ = ("events", "metas", "end")

    def __init__(self, events: list[tuple[int, int, int, int]],
                 metas: list[tuple[int, object]], end: int) -> None:
        self.events, self.metas, self.end = events, metas, end


def _parse_track(body: bytes, index: int, name: str) -> _ParsedTrack:
    """Tokenize one MTrk body, never reading past it.

    The event stream (delta times, running status, lengths) is walked here in one pass
    over the bytes, which is ~10x faster than mido's per-byte reader; the meta events we
    use are decoded by mido.  A structural fault raises :class:`MidiError`; a meta event
    mido cannot decode (a key signature of 9 sharps, a 2-byte tempo) is skipped."""
    where = f"{name}: corrupt track {index + 1}"
    events: list[tuple[int, int, int, int]] = []
    metas: list[tuple[int, object]] = []
    size = len(body)
    pos = tick = 0
    running = 0
    while pos < size:
        # Delta time: a variable-length quantity of at most 4 bytes.
        delta = 0
        for _ in range(4):
            if pos >= size:
                raise MidiError(f"{where}: a delta time runs past the end of the chunk")
            byte = body[pos]
            pos += 1
            delta = (delta << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        else:
            raise MidiError(f"{where}: delta time longer than 4 bytes at byte {pos}")
        tick += delta
        if pos >= size:
            raise MidiError(f"{where}: an event runs past the end of the chunk")
        status = body[pos]
        if status < 0x80:
            if not running:
                raise MidiError(f"{where}: data byte 0x{status:02x} at byte {pos} with no status "
                                "before it (running status)")
            status = running
        else:
            pos += 1
        if status < 0xF0:
            running = status
            length = _CHANNEL_LENGTH[status & 0xF0]
            if pos + length > size:
                raise MidiError(f"{where}: a message runs past the end of the chunk")
            d1 = body[pos]
            d2 = body[pos + 1] if length == 2 else 0
            if d1 > 127 or d2 > 127:
                raise MidiError(f"{where}: data byte above 127 at byte {pos}")
            events.append((tick, status, d1, d2))
            pos += length
        elif status == 0xFF or status in (0xF0, 0xF7):
            if status == 0xFF:
                if pos >= size:
                    raise MidiError(f"{where}: a meta event runs past the end of the chunk")
                meta_type = body[pos]
                pos += 1
            else:
                running = 0  # sysex cancels running status (SMF spec)
            length = 0
            for _ in range(4):
                if pos >= size:
                    raise MidiError(f"{where}: an event length runs past the end of the chunk")
                byte = body[pos]
                pos += 1
                length = (length << 7) | (byte & 0x7F)
                if byte < 0x80:
                    break
            else:
                raise MidiError(f"{where}: event length longer than 4 bytes at byte {pos}")
            if pos + length > size:
                raise MidiError(f"{where}: a {'meta' if status == 0xFF else 'sysex'} event of "
                                f"{length} bytes runs past the end of the chunk")
            if status == 0xFF and meta_type in _META_KEPT:
                try:
                    metas.append((tick, build_meta_message(meta_type, list(body[pos:pos + length]))))
                except (KeySignatureError, ValueError, TypeError, KeyError, IndexError):
                    pass
            pos += length
        elif status in _SYSTEM_LENGTH:
            # System common/real-time bytes do not belong in a file; mido tolerates them.
            running = 0
            pos += _SYSTEM_LENGTH[status]
            if pos > size:
                raise MidiError(f"{where}: a message runs past the end of the chunk")
        else:
            raise MidiError(f"{where}: undefined status byte 0x{status:02x} at byte {pos - 1}")
    return _ParsedTrack(events, metas, tick)


class _Group:
    """Channel events of one (track chunk, channel) while reading."""

    __slots__ = ("notes", "controls", "bends", "programs", "open")

    def __init__(self) -> None:
        self.notes: list[tuple[int, Note]] = []          # (program at onset, note)
        self.controls: list[ControlChange] = []
        self.bends: list[PitchBend] = []
        self.programs: list[tuple[int, int]] = []         # (tick, program) in file order
        self.open: dict[int, deque] = {}                  # pitch -> FIFO of (start, velocity, program)


def _build_score(file_type: int, resolution: int, tracks: list[_ParsedTrack], name: str) -> Score:
    tempos: list[TempoChange] = []
    meters: list[TimeSignature] = []
    keys: list[KeySignature] = []
    conductor_keys: set[KeySignature] = set()
    markers: list[tuple[int, str]] = []
    cues: list[tuple[int, str]] = []
    track_names: list[str | None] = []
    chord_texts: list[tuple[int, str]] | None = None
    chord_track_end = 0
    groups_per_track: list[dict[int, _Group]] = []
    n_notes = 0

    for index, parsed in enumerate(tracks):
        track_name = None
        groups: dict[int, _Group] = {}
        texts: list[tuple[int, str]] = []
        end = parsed.end
        for tick, status, d1, d2 in parsed.events:
            kind = status & 0xF0
            channel = status & 0x0F
            group = groups.get(channel)
            if group is None:
                group = groups[channel] = _Group()
            if kind == 0x90 and d2 > 0:
                program = group.programs[-1][1] if group.programs else None
                queue = group.open.get(d1)
                if queue is None:
                    queue = group.open[d1] = deque()
                queue.append((tick, d2, program))
                n_notes += 1
                if n_notes > MAX_NOTES:
                    raise MidiError(f"{name}: more than {MAX_NOTES:,} notes; refusing to read it")
            elif kind == 0x80 or kind == 0x90:
                queue = group.open.get(d1)
                if queue:
                    # FIFO: a note-off ends the earliest sounding note of that pitch.
                    start, velocity, program = queue.popleft()
                    group.notes.append((program, Note(start, tick - start, d1, velocity)))
            elif kind == 0xB0:
                group.controls.append(ControlChange(tick, d1, d2))
            elif kind == 0xE0:
                group.bends.append(PitchBend(tick, (d1 | (d2 << 7)) - 8192))
            elif kind == 0xC0:
                group.programs.append((tick, d1))
            # Aftertouch (0xA0, 0xD0) is not kept; it still marks the channel as used.
        for tick, msg in parsed.metas:
            kind = msg.type
            if kind == "track_name":
                if track_name is None:
                    track_name = _from_meta(msg.name)
            elif kind == "set_tempo":
                if msg.tempo > 0:
                    tempos.append(TempoChange(tick, msg.tempo))
            elif kind == "time_signature":
                meter = TimeSignature(tick, msg.numerator, msg.denominator)
                # A bar must last at least one tick (1/64 at 1 PPQ would not), or bar
                # arithmetic could never advance.
                if (1 <= meter.numerator <= 255 and meter.denominator in (1, 2, 4, 8, 16, 32, 64)
                        and meter.ticks_per_bar(resolution) >= 1):
                    meters.append(meter)
            elif kind == "key_signature":
                tonic, mode = _parse_key_name(msg.key)
                key = KeySignature(tick, tonic, mode)
                # Our writer (like Cubase or MuseScore) repeats the conductor's keys in every
                # instrument track, where MuseScore reads them: a copy is not a second key.
                if index == 0:
                    conductor_keys.add(key)
                elif key in conductor_keys:
                    continue
                keys.append(key)
            elif kind == "marker":
                markers.append((tick, _from_meta(msg.text)))
            elif kind == "cue_marker":
                text = _from_meta(msg.text)
                cues.append((tick, text))
                texts.append((tick, text))
            elif kind == "text":
                texts.append((tick, _from_meta(msg.text)))
        for group in groups.values():
            # A note still sounding when its track ends is ended there (kept, not dropped).
            for pitch, queue in group.open.items():
                for start, velocity, program in queue:
                    group.notes.append((program, Note(start, end - start, pitch, velocity)))
            group.open = {}
        # The first chunk is the conductor (whose name is the title, even "Chords").
        if index > 0 and not groups and track_name == CHORD_TRACK_NAME and chord_texts is None:
            chord_texts, chord_track_end = texts, end
        track_names.append(track_name)
        groups_per_track.append(groups)

    probe = Score(resolution=resolution, time_signatures=tuple(meters))
    sections = [Section(probe.tick_to_bar(tick), n_bars, label, section_name)
                for tick, section_name, label, n_bars in _read_sections(markers, cues)]

    title = ""
    if file_type == 0 and tracks:
        title = track_names[0] or ""
    elif tracks and not groups_per_track[0]:
        title = track_names[0] or ""

    out_tracks = _make_tracks(file_type, track_names, groups_per_track)
    return Score(
        resolution=resolution,
        tempos=tuple(tempos),
        time_signatures=tuple(meters),
        key_signatures=tuple(keys),
        sections=tuple(sections),
        chords=_read_chords(chord_texts or [], chord_track_end),
        tracks=tuple(out_tracks),
        title=title,
    )


def _read_sections(markers: list[tuple[int, str]],
                   cues: list[tuple[int, str]]) -> list[tuple[int, str, str, int]]:
    """``(tick, name, label, n_bars)`` of each section: a ``"[B 8]"`` Cue Point takes its name
    from the marker at its tick (the k-th tag at a tick from the k-th marker there; none:
    no name); a marker with no tag beside it may be the older ``"Chorus 1 [B 8]"``."""
    tags: dict[int, list[tuple[str, int]]] = {}
    for tick, text in cues:
        parsed = parse_section_tag(text)
        if parsed is not None:
            tags.setdefault(tick, []).append(parsed)
    out = []
    used: dict[int, int] = {}
    for tick, text in markers:
        at_tick = tags.get(tick, [])
        k = used.get(tick, 0)
        if k < len(at_tick):
            used[tick] = k + 1
            out.append((tick, text, *at_tick[k]))
        else:
            parsed = parse_section_marker(text)
            if parsed is not None:
                out.append((tick, *parsed))
    for tick, at_tick in tags.items():
        for label, n_bars in at_tick[used.get(tick, 0):]:
            out.append((tick, "", label, n_bars))
    return out


def _read_chords(texts: list[tuple[int, str]], end: int) -> tuple[ChordSymbol, ...]:
    """Chords from the chord track's text events: each lasts until the next chord or N.C."""
    marks = []
    for tick, text in texts:
        if text.strip() == NO_CHORD:
            marks.append((tick, None))
        else:
            parsed = parse_chord_text(text)
            if parsed is not None:
                marks.append((tick, parsed))
    chords = []
    for i, (tick, parsed) in enumerate(marks):
        if parsed is None:
            continue
        stop = marks[i + 1][0] if i + 1 < len(marks) else end
        if stop > tick:
            root, quality, bass = parsed
            chords.append(ChordSymbol(tick, stop - tick, root, quality, bass))
    return tuple(chords)


def _make_tracks(file_type: int, track_names: list[str | None],
                 groups_per_track: list[dict[int, _Group]]) -> list[Track]:
    """One Track per (track chunk, channel, program) that has notes; a chunk with channel
    events but no notes gives one empty Track per channel (its name and program survive)."""
    out: list[Track] = []
    used: set[str] = set()
    for index, groups in enumerate(groups_per_track):
        if not groups:
            continue
        with_notes = {ch: g for ch, g in groups.items() if g.notes}
        chosen = with_notes or groups
        for channel in sorted(chosen):
            group = chosen[channel]
            first_program = group.programs[0][1] if group.programs else 0
            by_program: dict[int, list[Note]] = {}
            for program, note in group.notes:
                by_program.setdefault(first_program if program is None else program, []).append(note)
            if not by_program:
                by_program[first_program] = []
            for program, notes in by_program.items():
                if file_type == 0:
                    base = DRUMS if channel == DRUM_CHANNEL else f"Channel {channel + 1}"
                else:
                    base = track_names[index]
                    if base is None:
                        base = f"Track {index + 1}"
                    if len(chosen) > 1:
                        base += f" ch{channel + 1}"
                if len(by_program) > 1:
                    base += f" program {program}"
                track_name = base
                copy = 2
                while track_name in used:
                    track_name, copy = f"{base} ({copy})", copy + 1
                used.add(track_name)
                out.append(Track(track_name, program, channel == DRUM_CHANNEL, tuple(notes),
                                 tuple(group.controls), tuple(group.bends)))
    return out


# ====================================================================== writing
def _rescale(score: Score, resolution: int) -> Score:
    """``score`` with every tick moved to ``resolution`` (nearest tick; durations follow
    their rescaled ends so that adjacent notes stay adjacent)."""
    if score.resolution == resolution:
        return score
    old = score.resolution

    def t(tick: int) -> int:
        return (tick * resolution + old // 2) // old

    def span(start: int, duration: int) -> tuple[int, int]:
        s = t(start)
        return s, t(start + duration) - s

    tracks = []
    for track in score.tracks:
        notes = tuple(Note(*span(n.start_tick, n.duration_ticks), n.pitch, n.velocity)
                      for n in track.notes)
        tracks.append(Track(track.name, track.program, track.is_drum, notes,
                            tuple(ControlChange(t(c.tick), c.number, c.value) for c in track.controls),
                            tuple(PitchBend(t(b.tick), b.value) for b in track.pitch_bends)))
    return Score(
        resolution=resolution,
        tempos=tuple(TempoChange(t(x.tick), x.us_per_quarter) for x in score.tempos),
        time_signatures=tuple(TimeSignature(t(x.tick), x.numerator, x.denominator)
                              for x in score.time_signatures),
        key_signatures=tuple(KeySignature(t(x.tick), x.tonic, x.mode) for x in score.key_signatures),
        sections=score.sections,
        chords=tuple(ChordSymbol(*span(c.start_tick, c.duration_ticks), c.root, c.quality, c.bass)
                     for c in score.chords),
        tracks=tuple(tracks),
        title=score.title,
    )


def is_left_hand_of(track: Track, previous: Track | None) -> bool:
    """True when ``track`` is the left hand of a two-handed part: named ``"<X> LH"`` right
    after ``"<X> RH"``, same program, neither drums (e.g. "Piano RH", "Piano LH")."""
    return (previous is not None and not track.is_drum and not previous.is_drum
            and track.program == previous.program and track.name.endswith(LEFT_HAND_SUFFIX)
            and previous.name == track.name[:-len(LEFT_HAND_SUFFIX)] + RIGHT_HAND_SUFFIX)


def assign_channels(tracks: tuple[Track, ...]) -> tuple[int, ...]:
    """0-based MIDI channel of each track: drums on 9; a left hand
    (:func:`is_left_hand_of`) on its right hand's channel, so that MuseScore joins the two
    tracks on one grand staff (it does so for consecutive piano tracks on one channel) and
    a DAW plays them as one instrument with one sustain pedal; the first 15 other melodic
    tracks each on their own channel (0..8, 10..15); a further melodic track shares the
    channel of the first earlier track with the same program, else the channels in turn
    from 0."""
    channels: list[int] = []
    by_program: dict[int, int] = {}
    n_melodic = n_spilled = 0
    for i, track in enumerate(tracks):
        if track.is_drum:
            channels.append(DRUM_CHANNEL)
            continue
        if i and is_left_hand_of(track, tracks[i - 1]):
            channels.append(channels[-1])
            continue
        if n_melodic < len(_MELODIC_CHANNELS):
            channel = _MELODIC_CHANNELS[n_melodic]
        elif track.program in by_program:
            channel = by_program[track.program]
        else:
            channel = _MELODIC_CHANNELS[n_spilled % len(_MELODIC_CHANNELS)]
            n_spilled += 1
        by_program.setdefault(track.program, channel)
        n_melodic += 1
        channels.append(channel)
    return tuple(channels)


def clocks_per_click(meter: TimeSignature) -> int:
    """MIDI clocks (24 a quarter note) per metronome click of ``meter``: the beat a player
    counts.  A compound meter (6/8, 9/8, 12/8, 12/16: numerator a multiple of 3 above 3,
    denominator 8 or more) clicks on the dotted beat, 36 in 6/8; every other meter keeps
    the 24 (a quarter) that mido writes by default."""
    if meter.numerator % 3 == 0 and meter.numerator > 3 and meter.denominator >= 8:
        return 24 * 12 // meter.denominator
    return 24


def key_carrier(tracks: tuple[Track, ...]) -> int | None:
    """Index of the one instrument track that repeats the conductor's key signatures: the
    first pitched track with notes (None: there is none).

    MuseScore's MIDI import drops every track without notes, the conductor too, and gives
    the key signatures of the tracks that have them to every pitched staff without one;
    so one copy is enough for every staff to get every key change.  One copy, not one per
    track: pretty_midi, miditoolkit and muspy list every copy as a key change of its own
    (five of each in a generated song), and a drum track has no key.

    No layout pleases every reader (docs/ARCHITECTURE.md, "Where the key signatures go"):
    pretty_midi reads keys from track 0 only and warns about one elsewhere, MuseScore reads
    them only from a track with notes, and music21 gives every part the meters, keys and
    tempi of the tracks without notes.  Keys in the conductor alone lose MuseScore's key
    changes; the conductor merged into the melody's track gave music21's other parts
    no key, no tempo and 4/4.  The copy costs pretty_midi's warning and a second
    listing in miditoolkit, muspy and music21's melody part."""
    return next((i for i, t in enumerate(tracks) if not t.is_drum and t.notes), None)


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity of ``value`` >= 0."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: str, **fields) -> bytes:
    """Encoded bytes of a meta event (mido does the encoding, text carried as UTF-8)."""
    return bytes(mido.MetaMessage(kind, **fields).bytes())


def _chunk(events: list[tuple[tuple, bytes]], end_tick: int = 0) -> bytes:
    """An MTrk chunk of (key, event bytes) pairs sorted by key (tick first), with
    delta times and a closing end-of-track at ``end_tick`` (or the last event, if later).
    No running status: plainest for every reader."""
    events.sort(key=lambda e: e[0])
    body = bytearray()
    last = 0
    for key, data in events:
        body += _vlq(key[0] - last)
        body += data
        last = key[0]
    body += _vlq(max(0, end_tick - last)) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">L", len(body)) + bytes(body)


def chord_voicing(chord: ChordSymbol) -> tuple[int, ...]:
    """The MIDI pitches a chord track plays for ``chord``: its tones in close position from
    the root between G3 and F#4 upward, the slash bass (when it differs from the root) the
    nearest pitch under them."""
    root = 55 + (chord.root - 55) % 12
    tones = [root + interval for interval in sorted(CHORD_QUALITIES[chord.quality])]
    if chord.bass != chord.root:
        tones.insert(0, tones[0] - 1 - (tones[0] - 1 - chord.bass) % 12)
    return tuple(tones)


def chord_pad_track(score: Score) -> Track:
    """The chord track that ``chord_track=True`` adds: each chord of ``score`` held for its
    length (:func:`chord_voicing`), on :data:`CHORD_PAD_PROGRAM`, soft."""
    notes = tuple(Note(c.start_tick, c.duration_ticks, p, CHORD_PAD_VELOCITY)
                  for c in score.chords if c.duration_ticks > 0 for p in chord_voicing(c))
    return Track(CHORD_PAD_NAME, CHORD_PAD_PROGRAM, notes=notes)


def midi_bytes(score: Score, chord_track: bool = False) -> bytes:
    """The DAW-ready SMF type 1 bytes of ``score`` at 480 PPQ; equal Scores give equal bytes.

    chord_track: also a played chord track after the instruments (:func:`chord_pad_track`,
    on its own channel).  The chord names are Cue Points and XF events, which no Python
    library reads; these notes every reader reads (pretty_midi, miditoolkit, muspy, music21:
    each chord's pitches held for its length) and a DAW plays.  The names are not added as
    Lyric or Text events, though pretty_midi, miditoolkit and muspy would read those (music21
    only a lyric on a note of its own track): MuseScore 3 turns them into lyrics under the
    staff its best-match rule picks (seed 3: 475 lyrics under the piano for 103 chords from
    the Chords track, 578 from the pad's notes).
    Reading the file back gives the Score with this track added.

    Raises :class:`~composer.errors.ScoreError` for an invalid Score and
    :class:`MidiError` for a section label that cannot be written as a marker."""
    score.validate()
    score = _rescale(score, WRITE_RESOLUTION)
    # Every track ends where the song does (its last note, chord or section), so that a DAW
    # or MuseScore shows the conductor's markers and meter to the end.
    end = score.end_tick
    chunks = []
    with meta_charset("latin1"):
        conductor: list[tuple[tuple, bytes]] = []
        if score.title:
            conductor.append(((0, 0, 0), _meta("track_name", name=_to_meta(score.title))))
        for i, ts in enumerate(score.time_signatures):
            conductor.append(((ts.tick, 1, i), _meta("time_signature", numerator=ts.numerator,
                                                     denominator=ts.denominator,
                                                     clocks_per_click=clocks_per_click(ts))))
        for i, k in enumerate(score.key_signatures):
            conductor.append(((k.tick, 2, i), _meta("key_signature",
                                                    key=key_signature_name(k.tonic, k.mode))))
        for i, tempo in enumerate(score.tempos):
            conductor.append(((tempo.tick, 3, i), _meta("set_tempo", tempo=tempo.us_per_quarter)))
        for i, section in enumerate(score.sections):
            if "[" in section.label or "]" in section.label:
                raise MidiError(f"section label {section.label!r} at bar {section.start_bar} "
                                "contains a bracket; use a letter such as 'A'")
            tick = score.bar_to_tick(section.start_bar)
            # The marker is for people (a DAW's marker lane, miditoolkit); the cue point
            # beside it keeps label and length for us.  Neither becomes a lyric in MuseScore.
            conductor.append(((tick, 4, i, 0),
                              _meta("marker", text=_to_meta(section_marker_text(section)))))
            conductor.append(((tick, 4, i, 1),
                              _meta("cue_marker", text=_to_meta(section_tag_text(section)))))
        chunks.append(_chunk(conductor, end))

        if score.chords:
            events: list[tuple[tuple, bytes]] = [((0, 0, 0), _meta("track_name", name=CHORD_TRACK_NAME))]
            starts = {c.start_tick for c in score.chords}
            onsets = [sorted({n.start_tick for n in t.notes}) for t in score.tracks if not t.is_drum]
            for i, chord in enumerate(score.chords):
                key = score.key_at(chord.start_tick)
                events.append(((chord.start_tick, 2, i, 0),
                               _meta("cue_marker", text=chord_text(chord, key))))
                events.append(((xf_chord_tick(chord.start_tick, onsets), 2, i, 1),
                               _meta("sequencer_specific", data=xf_chord_data(chord, key))))
                if chord.end_tick not in starts:
                    events.append(((chord.end_tick, 1, i), _meta("cue_marker", text=NO_CHORD)))
                    starts.add(chord.end_tick)
            chunks.append(_chunk(events, end))

        keys = [_meta("key_signature", key=key_signature_name(k.tonic, k.mode))
                for k in score.key_signatures]
        carrier = key_carrier(score.tracks)
        tracks = score.tracks
        if chord_track and score.chords:
            # Last, so the melody keeps MuseScore's chord symbols (it gives each to the first
            # track with a note at its tick) and the key copy stays where it was.
            tracks = (*tracks, chord_pad_track(score))
        for index, (track, channel) in enumerate(zip(tracks, assign_channels(tracks))):
            # The program change comes before the track name: music21 takes the first
            # instrument it meets, and from the name "Bass" it guesses a choir bass (GM 53).
            events = [((0, 0, 0), bytes((0xC0 | channel, track.program))),
                      ((0, 0, 1), _meta("track_name", name=_to_meta(track.name)))]
            if index == carrier:
                for i, (k, data) in enumerate(zip(score.key_signatures, keys)):
                    events.append(((k.tick, 1, 1, i), data))
            for i, c in enumerate(track.controls):
                events.append(((c.tick, 2, i), bytes((0xB0 | channel, c.number, c.value))))
            for i, b in enumerate(track.pitch_bends):
                value = b.value + 8192
                events.append(((b.tick, 3, i), bytes((0xE0 | channel, value & 0x7F, value >> 7))))
            # At one tick: note-offs, then zero-length notes (on, off), then note-ons.  With
            # notes sorted by (start, duration), FIFO pairing on reading restores every note.
            on_status, off_status = 0x90 | channel, 0x80 | channel
            for i, n in enumerate(track.notes):
                on = bytes((on_status, n.pitch, n.velocity))
                off = bytes((off_status, n.pitch, 0))
                if n.duration_ticks == 0:
                    events.append(((n.start_tick, 5, i, 0), on))
                    events.append(((n.start_tick, 5, i, 1), off))
                else:
                    events.append(((n.start_tick, 6, i), on))
                    events.append(((n.end_tick, 4, i), off))
            chunks.append(_chunk(events, end))
    if len(chunks) > 0xFFFF:
        # The header counts the track chunks in 16 bits.
        raise MidiError(f"the song needs {len(chunks):,} MIDI tracks (its own, the conductor and "
                        f"the chords); a MIDI file holds at most {0xFFFF:,}")
    header = b"MThd" + struct.pack(">LHHH", 6, 1, len(chunks), WRITE_RESOLUTION)
    return header + b"".join(chunks)


def write_midi(score: Score, path: str | Path, chord_track: bool = False) -> None:
    """Write ``score`` as a DAW-ready MIDI file at ``path``, atomically (temp file + rename);
    ``chord_track`` as in :func:`midi_bytes`."""
    data = midi_bytes(score, chord_track)
    path = Path(path)
    try:
        with atomic_path(path, suffix=".mid", error=MidiError) as tmp:
            tmp.write_bytes(data)
    except ComposerError:
        raise
    except OSError as err:
        raise MidiError(f"cannot write {path}: {err.strerror or err}") from None
