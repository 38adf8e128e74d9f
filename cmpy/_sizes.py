"""Byte counts as people read them ("3.5 MiB"), for messages and the progress line.

Downloads and archives both say sizes; one function keeps them saying them
alike. Powers of 1024, one decimal past bytes.
"""

from __future__ import annotations

__all__ = ["_human"]


def _human(count: float, byte_unit: str = "bytes") -> str:
    """``count`` bytes in the largest unit that keeps it under 1024.

    :param byte_unit: the word for a count under 1 KiB (``"B"`` on the
        progress line, where space is short).
    """
    for unit in (byte_unit, "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == byte_unit else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
