"""Telling an archive's format from its content, never from its name.

A zip by its magic (or its directory at the end, for a self-extracting one),
gz, bz2 and xz by theirs, and a tar inside them or alone by a header with a
valid checksum or the ``ustar`` magic. A first block of zeros is an empty tar
only when the whole stream is end-of-archive blocks. zstd, 7-Zip and RAR are
recognised only to say how to unpack them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import IO

from ._archive_compressed import _open_compressed
from ._errors import ArchiveError

__all__ = ["KNOWN_FORMATS", "_require_format", "archive_format"]

#: What :func:`archive_format` can return and :func:`extract` can unpack.
KNOWN_FORMATS: tuple[str, ...] = (
    "tar",
    "tar.gz",
    "tar.bz2",
    "tar.xz",
    "zip",
    "gz",
    "bz2",
    "xz",
)
_COMPRESSIONS: dict[str, bytes] = {
    "gz": b"\x1f\x8b",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
}
# Formats recognised only to say why they cannot be unpacked.
_UNSUPPORTED: dict[bytes, str] = {
    b"\x28\xb5\x2f\xfd": "zstd-compressed data (decompress it with `zstd -d` first)",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive (unpack it with `7z x`)",
    b"Rar!\x1a\x07": "a RAR archive (unpack it with `unrar x`)",
}
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# an all-zero stream longer than this is not taken for an empty tar
_MAX_EMPTY_TAR = 1 << 20


def archive_format(path: str | os.PathLike[str]) -> str | None:
    """Tell the format of an archive from its content (the name is not trusted).

    :param path: the file to look at.
    :returns: one of :data:`KNOWN_FORMATS`, or ``None`` when it is none of them.
    :raises ArchiveError: when the file cannot be read.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise ArchiveError(os.fspath(path), f"cannot read it: {e.strerror or e}") from e
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    for name, magic in _COMPRESSIONS.items():
        if head.startswith(magic):
            return f"tar.{name}" if _tar_inside(path, name) else name
    if _looks_like_tar(head, lambda: _only_zero_blocks_file(path)):
        return "tar"
    import zipfile

    # a zip with something in front of it (a self-extracting archive) has its
    # directory at the end, which is where is_zipfile looks
    return "zip" if zipfile.is_zipfile(path) else None


def _require_format(name: str) -> str:
    fmt = archive_format(name)
    if fmt is not None:
        return fmt
    with open(name, "rb") as f:
        head = f.read(8)
    what = next((text for magic, text in _UNSUPPORTED.items() if head.startswith(magic)), None)
    if what is None:
        what = "an unknown format" if head else "an empty file"
    raise ArchiveError(
        name,
        f"it is {what}; known formats: {', '.join(KNOWN_FORMATS)} (told by content)",
    )


def _tar_inside(path: str | os.PathLike[str], fmt: str) -> bool:
    """Whether a compressed file holds a tar (a real header, or only end-of-archive blocks)."""
    import lzma
    import zlib

    try:
        with _open_compressed(os.fspath(path), fmt) as f:
            head = f.read(512)
            return _looks_like_tar(head, lambda: _only_zero_blocks(head, f))
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        # too damaged to peek into: extraction will report the real problem
        return False


def _looks_like_tar(block: bytes, only_zero_blocks: Callable[[], bool]) -> bool:
    """Whether ``block`` starts a tar: a header with a valid checksum or the ustar magic.

    A first block of zeros is an empty tar only when the whole stream is
    end-of-archive blocks (``only_zero_blocks``): a disk image or a file of
    zeros is not an empty tar.
    """
    import tarfile

    if len(block) < tarfile.BLOCKSIZE:
        return False
    header = block[: tarfile.BLOCKSIZE]
    if not header.strip(b"\0"):
        return only_zero_blocks()
    if header[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _only_zero_blocks(first: bytes, rest: IO[bytes] | io.BufferedIOBase) -> bool:
    """Whether ``first`` and what ``rest`` still holds are two or more zero blocks, and no more."""
    total = len(first)
    while total <= _MAX_EMPTY_TAR:
        chunk = rest.read(1 << 16)
        if not chunk:
            return total % 512 == 0 and total >= 1024
        if chunk.strip(b"\0"):
            return False
        total += len(chunk)
    return False


def _only_zero_blocks_file(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as f:
        return _only_zero_blocks(b"", f)
