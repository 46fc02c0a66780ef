"""The General MIDI programs of each learned timbre's instrument, without loading torch.

A timbre named for an instrument is compared with the SoundFont playing these programs
(``evaluate.py``, ``protocol.py``), and the app starts a Melody of one of these programs on
that learned timbre.
"""

GM_PROGRAMS = {
    # 0-based General MIDI programs of "the instrument of that name" in the default SoundFont;
    # for the saxophone both alto and tenor are tried and the closer one is the baseline.
    "flute": (73,), "flute_rv": (73,), "clarinet": (71,), "saxophone": (65, 66), "cello": (42,),
}
