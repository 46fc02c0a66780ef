"""Crafted inputs of the reliability tests (issue 12): built in the test, never committed."""
from __future__ import annotations

import struct
from pathlib import Path

import torch

from composer.io.checkpoint import save_checkpoint
from composer.nets.chords import ChordDenoiser
from composer.nets.form import FormDenoiser
from composer.nets.notes import NoteUNet

TINY_FORM = dict(width=16, n_attn=1, heads=2)
TINY_CHORDS = dict(width=16, beat_width=8, n_attn=1, heads=2)
TINY_NOTES = dict(channels=[8, 8, 8, 8], blocks=[1, 1, 1, 1], mid_dilations=[1], emb_dim=16)


def save_tiny_models(root: Path) -> Path:
    """Untrained tiny form/chords/notes models in ``root``: composing with them takes a
    moment, so a check that is missing shows as a song written, not as a long wait."""
    torch.manual_seed(0)
    save_checkpoint(root / "form", FormDenoiser(**TINY_FORM), "form", TINY_FORM, {"form_length": 64})
    save_checkpoint(root / "chords", ChordDenoiser(**TINY_CHORDS), "chords", TINY_CHORDS)
    save_checkpoint(root / "notes", NoteUNet(**TINY_NOTES), "notes", TINY_NOTES)
    return root


def vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def smf(*tracks: bytes, file_type: int = 0, division: int = 1) -> bytes:
    """A Standard MIDI File from raw track event bytes (each gets its end-of-track)."""
    head = b"MThd" + struct.pack(">LHHH", 6, file_type, len(tracks), division)
    body = b""
    for events in tracks:
        events += b"\x00\xff\x2f\x00"
        body += b"MTrk" + struct.pack(">L", len(events)) + events
    return head + body


def huge_note_midi() -> bytes:
    """One note of 2**28 - 1 ticks at 1 tick per quarter: four years at 120 bpm, in 37 bytes
    (the issue's 54-byte file had a tempo and a name as well)."""
    return smf(b"\x00\x90\x3c\x64" + vlq(2**28 - 1) + b"\x80\x3c\x40")


def drums_midi() -> bytes:
    """Two bars of kick and hi-hat on channel 10 at 480 PPQ."""
    events = b"\x00\xc9\x00"
    for i in range(16):
        pitch = 36 if i % 2 == 0 else 42
        events += (b"\x00" if i == 0 else vlq(120)) + bytes([0x99, pitch, 100])
        events += vlq(120) + bytes([0x89, pitch, 0])
    return smf(events, division=480)
