"""Tar archives (plain, gz, bz2, xz): listed and judged whole, then extracted by tarfile.

Every member is checked against the tree model and the budget while the
archive is listed; the listing must reach the end-of-archive block (and a
compressed stream its trailer). Only then does ``extractall`` run, with the
``data`` filter as a second opinion and an ``errorlevel`` that turns any
filter or extraction error into a refusal of the whole archive
(CVE-2025-4435 on Python 3.11.7). The stream handed to tarfile is watched,
so that how far it decompresses is held to the limits before the work is done.
"""

from __future__ import annotations

from typing import IO, Any, Literal

from ._archive_compressed import _open_compressed
from ._archive_limits import _CHUNK, _RAW_CHUNK, _Budget, _empty, _Refused
from ._archive_tree import _check_member_name, _strip, _Tree, _Unsafe
from ._sizes import _human

__all__ = ["_extract_tar", "_tar_mode"]

# a long name or pax header longer than this is not read into memory
_MAX_HEADER_READ = 16 << 20


def _extract_tar(name: str, fmt: str, tmp: str, strip: int, budget: _Budget) -> None:
    import tarfile
    from contextlib import ExitStack

    with ExitStack() as stack:
        file = stack.enter_context(open(name, "rb"))
        raw = _RawReader(file)
        compressed = fmt != "tar"
        # a plain tar is read as it is: tarfile wants whole reads, which a raw reader may cut
        inner = stack.enter_context(_open_compressed(raw, fmt[4:])) if compressed else file
        stream = _TarStream(inner, budget, name, compressed=compressed)
        # errorlevel 2: an error tarfile would only log (a link it cannot make,
        # attributes it cannot set) also stops the extraction, so what lands on
        # disk is the whole archive or nothing
        tf = stack.enter_context(tarfile.open(fileobj=stream, mode="r:", errorlevel=2))  # type: ignore[call-overload]
        tree = _Tree()
        keep: list[tarfile.TarInfo] = []
        listed = 0
        previous: tarfile.TarInfo | None = None
        raw_at = raw.tell()
        while True:
            member = tf.next()
            # the previous member's data has now been read past: its compressed share
            if previous is not None and compressed:
                budget.member_expanded(
                    previous.name, previous.size, raw.tell() - raw_at, exact=False
                )
            raw_at = raw.tell()
            if member is None:
                break
            listed += 1
            budget.member()
            previous = member if member.isreg() else None
            _check_member_name(member.name)
            new_name = _strip(member.name, strip)
            if new_name is None:
                continue
            changes: dict[str, Any] = {"name": new_name}
            if member.isreg():
                tree.add_file(new_name)
                budget.declare(new_name, member.size)
            elif member.isdir():
                tree.add_dir(new_name)
            elif member.issym():
                tree.add_symlink(new_name, member.linkname)
            elif member.islnk():
                _check_member_name(member.linkname)
                link = _strip(member.linkname, strip)
                if link is None:
                    raise _Unsafe(
                        f"hard link {member.name!r} -> {member.linkname!r}: its target "
                        f"is removed by strip_components={strip}"
                    )
                tree.add_hardlink(new_name, link)
                changes["linkname"] = link
            else:
                raise _Unsafe(f"{member.name!r} is {_tar_kind(member)}, not a file, folder or link")
            keep.append(member.replace(**changes, deep=False))
        _check_tar_end(tf)
        tree.recheck_links()
        if not keep and not budget.limits.allow_empty:
            raise _empty(strip, listed)
        # from here on, what is read from the stream is written to disk
        stream.writing = True
        # the data filter is a second opinion; any FilterError it raises
        # propagates (errorlevel >= 1) and refuses the whole archive
        tf.extractall(tmp, members=keep, filter="data")


class _RawReader:
    """The archive file, read a little at a time so a member's compressed share is known."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.name = getattr(f, "name", "")

    def read(self, size: int = -1) -> bytes:
        return self.f.read(_RAW_CHUNK if size is None or size < 0 else min(size, _RAW_CHUNK))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def close(self) -> None:
        pass  # the ExitStack closes the file

    @property
    def closed(self) -> bool:
        return self.f.closed


class _TarStream:
    """The (decompressed) tar stream handed to tarfile, watched against the budget.

    While the archive is listed, how far the stream reaches (and where tarfile
    asks to seek, which for a compressed stream means decompressing up to
    there) is held to the ratio limit before the work is done; once
    ``writing`` is set, every byte read is a byte extracted.
    """

    def __init__(self, inner: Any, budget: _Budget, name: str, *, compressed: bool) -> None:
        self.inner = inner
        self.budget = budget
        self.name = name
        self.compressed = compressed
        self.writing = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        if not self.writing and size > _MAX_HEADER_READ:
            # only a long name or pax header is read whole while listing
            raise _Refused(
                f"a member header announces {_human(size)} of extended data "
                f"(cmpy reads at most {_human(_MAX_HEADER_READ)})",
                "nothing was extracted; the archive is damaged or hostile",
            )
        data: bytes = self.inner.read(size)
        if self.compressed:
            self.budget.stream_at(self.inner.tell(), declared=False)
        if self.writing:
            self.budget.wrote(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if self.compressed and whence in (0, 1):
            target = offset if whence == 0 else self.inner.tell() + offset
            self.budget.stream_at(target, declared=True)
        position: int = self.inner.seek(offset, whence)
        return position

    def tell(self) -> int:
        position: int = self.inner.tell()
        return position


def _check_tar_end(tf: Any) -> None:
    """Make sure the archive ends with its end-of-archive block, not mid-stream."""
    import tarfile

    # tarfile stops listing silently at a header it cannot read past the
    # first one, or at the end of a file cut on a block boundary
    fileobj = tf.fileobj
    fileobj.seek(tf.offset)
    block = fileobj.read(tarfile.BLOCKSIZE)
    if len(block) < tarfile.BLOCKSIZE:
        raise tarfile.ReadError("the archive ends before its end-of-archive marker")
    if block.count(0) != tarfile.BLOCKSIZE:
        raise tarfile.ReadError(f"an unreadable member header at byte {tf.offset}")
    # reading a compressed stream to its end checks its trailer (CRC, size)
    while fileobj.read(_CHUNK):
        pass


def _tar_kind(member: Any) -> str:
    if member.ischr():
        return "a character device"
    if member.isblk():
        return "a block device"
    if member.isfifo():
        return "a fifo"
    return f"of tar type {member.type!r}"


def _tar_mode(fmt: str) -> Literal["r:", "r:gz", "r:bz2", "r:xz"]:
    modes: dict[str, Literal["r:", "r:gz", "r:bz2", "r:xz"]] = {
        "tar": "r:",
        "tar.gz": "r:gz",
        "tar.bz2": "r:bz2",
        "tar.xz": "r:xz",
    }
    return modes[fmt]
