"""The time grid every symbolic level shares: a 16th-note step."""
from __future__ import annotations

STEPS_PER_BEAT = 4
"""Grid steps per quarter-note beat (a step is a 16th note)."""

__all__ = ["STEPS_PER_BEAT"]
