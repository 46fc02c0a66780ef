"""composer: whole-song hierarchical composition, DAW-ready MIDI, and audio rendering."""

__version__ = "0.1.0"
