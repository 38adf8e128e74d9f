"""Single gz, bz2 and xz files: an archive of one member, named after the file less its suffix.

:func:`_open_compressed` is also the decompressing reader under a compressed
tar, and what format detection peeks through.
"""

from __future__ import annotations

import io
import os
from typing import Any

from ._archive_limits import _Budget, _copy

__all__ = ["_extract_single", "_open_compressed", "_single_file_name"]

_SINGLE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gz": (".gz", ".gzip"),
    "bz2": (".bz2", ".bzip2"),
    "xz": (".xz",),
}


def _extract_single(name: str, fmt: str, tmp: str, budget: _Budget) -> None:
    member = _single_file_name(name, fmt)
    budget.member()
    out_path = os.path.join(tmp, member)
    with _open_compressed(name, fmt) as src, open(out_path, "wb") as out:
        _copy(src, out, budget, member, budget.archive_size)


def _single_file_name(name: str, fmt: str) -> str:
    base = os.path.basename(name)
    for suffix in _SINGLE_SUFFIXES[fmt]:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base + ".out"


def _open_compressed(name: str | Any, fmt: str) -> io.BufferedIOBase:
    """A decompressing reader of a file, given by name or as an open file."""
    if fmt == "gz":
        import gzip

        return gzip.open(name, "rb")
    if fmt == "bz2":
        import bz2

        return bz2.open(name, "rb")
    import lzma

    return lzma.open(name, "rb")
