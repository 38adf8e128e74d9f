"""Safe extraction of tar (plain, gz, bz2, xz) and zip archives.

An archive is judged as a whole before anything is written: every member is
checked against a model of the tree the archive would create in an empty
folder (so a symlink followed by a file written through it is caught, whatever
``os.path.realpath`` would say about it), and only regular files, folders and
links that stay inside the target are accepted. Tar members then go through
``tarfile``'s ``data`` filter as a second line of defence, with an
``errorlevel`` that turns every filter or extraction error into a refusal of
the whole archive (see docs/PITFALLS.md: CVE-2025-4435 on Python 3.11.7).
Everything is extracted into a temporary folder beside the target, renamed to
the target only when the archive was extracted completely.

Limits
------
An archive is refused, with nothing left behind, when it would expand past
what any honest archive does (each limit a keyword of :func:`extract`, named
in the message): more than ``max_members`` members (default a million), more
than ``max_total_size`` bytes in all (default 50 GiB), or a member or the whole
archive that expands past ``ratio_min_size`` (default 100 MiB) to more than
``max_ratio`` times its compressed size (default 200: a decompression bomb).
Sizes declared in headers refuse an archive early; the bytes are counted
again as they are decompressed and written, so a header that lies does not
help. A member more than :data:`MAX_MEMBER_DEPTH` path components deep is
refused too. An archive that yields no member is an error unless
``allow_empty`` (a stream of zeros is not silently taken for an empty tar).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any, Literal, TypedDict

from ._errors import ArchiveError, UsageError
from ._record import Record

__all__ = [
    "KNOWN_FORMATS",
    "MAX_MEMBER_DEPTH",
    "ExtractLimits",
    "archive_format",
    "extract",
    "list_members",
]

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
_SINGLE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gz": (".gz", ".gzip"),
    "bz2": (".bz2", ".bzip2"),
    "xz": (".xz",),
}
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_MAX_LINKS = 40  # the same limit on symlink hops as Linux's ELOOP
_MAX_ZIP_SYMLINK = 4096
_CHUNK = 1 << 20
#: The most path components a member name may have (deeper ones are refused).
MAX_MEMBER_DEPTH = 256
_DEFAULT_MAX_TOTAL_SIZE = 50 << 30
_DEFAULT_MAX_MEMBERS = 1_000_000
_DEFAULT_MAX_RATIO = 200.0
_DEFAULT_RATIO_MIN_SIZE = 100 << 20
# an all-zero stream longer than this is not taken for an empty tar
_MAX_EMPTY_TAR = 1 << 20
# a long name or pax header longer than this is not read into memory
_MAX_HEADER_READ = 16 << 20
# compressed bytes are read this much at a time, so a member's share is known
_RAW_CHUNK = 1 << 14


class ExtractLimits(TypedDict, total=False):
    """The keywords of :func:`extract` that bound what an archive may expand to."""

    allow_empty: bool
    max_total_size: int | None
    max_members: int | None
    max_ratio: float | None
    ratio_min_size: int


class _Unsafe(Exception):
    """A member that would write or point outside the target, or is not plain data."""

    def __init__(self, message: str, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class _Refused(Exception):
    """An archive past a limit, or empty: the message and what to try."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class _Limits(Record):
    allow_empty: bool
    max_total_size: int | None
    max_members: int | None
    max_ratio: float | None
    ratio_min_size: int


class _Budget:
    """What an archive has expanded to so far; raises _Refused at the first limit passed.

    ``declared`` counts what headers announce (to refuse early), ``written``
    what is really decompressed and written; each is held to the limits.
    """

    def __init__(self, limits: _Limits, archive_size: int) -> None:
        self.limits = limits
        self.archive_size = archive_size
        self.members = 0
        self.declared = 0
        self.written = 0
        self.expanded = 0

    def member(self) -> None:
        """Count one member of the archive."""
        self.members += 1
        most = self.limits.max_members
        if most is not None and self.members > most:
            raise _Refused(
                f"it has more than {most:,} members (max_members={most})",
                _limit_hint("max_members"),
            )

    def declare(self, name: str, size: int, compressed: int | None = None) -> None:
        """Count a member's declared size: refuse before writing what would pass a limit."""
        self.declared += size
        self._check_total(self.declared, "its members declare")
        if compressed is not None:
            self._check_member_ratio(name, size, f"its {_human(compressed)} compressed", compressed)
        self._check_ratio(self.declared, "its members declare")

    def stream_at(self, position: int, *, declared: bool) -> None:
        """The decompressed stream has reached (or is asked to seek to) ``position``."""
        if position > self.expanded:
            self.expanded = position
            self._check_ratio(position, "its members declare" if declared else "it expands to")

    def wrote(self, count: int) -> None:
        """Count bytes decompressed and written."""
        self.written += count
        self._check_total(self.written, "it expands to")
        self._check_ratio(self.written, "it expands to")

    def member_expanded(self, name: str, size: int, compressed: int, *, exact: bool) -> None:
        """A member has expanded to ``size`` from ``compressed`` bytes (or about that many)."""
        if exact:
            self._check_member_ratio(name, size, f"its {_human(compressed)} compressed", compressed)
        else:
            # a member's share of a compressed stream is only known to a read's size
            compressed = max(compressed, _RAW_CHUNK)
            self._check_member_ratio(
                name,
                size,
                f"the roughly {_human(compressed)} of compressed stream it came from",
                compressed,
            )

    def _check_total(self, total: int, verb: str) -> None:
        most = self.limits.max_total_size
        if most is not None and total > most:
            raise _Refused(
                f"{verb} more than {_human(most)} in all (max_total_size={most})",
                _limit_hint("max_total_size"),
            )

    def _check_ratio(self, total: int, verb: str) -> None:
        ratio = self.limits.max_ratio
        if ratio is None or total <= self.limits.ratio_min_size:
            return
        if total > ratio * max(self.archive_size, 1):
            raise _Refused(
                f"{verb} more than {ratio:g} times the archive's {_human(self.archive_size)} "
                f"(max_ratio={ratio:g}, checked past ratio_min_size={self.limits.ratio_min_size}"
                "): a decompression bomb?",
                _limit_hint("max_ratio"),
            )

    def _check_member_ratio(self, name: str, size: int, source: str, compressed: int) -> None:
        ratio = self.limits.max_ratio
        if ratio is None or size <= self.limits.ratio_min_size:
            return
        if size > ratio * max(compressed, 1):
            raise _Refused(
                f"member {_shown(name)!r} expands to {_human(size)}, more than {ratio:g} times "
                f"{source} (max_ratio={ratio:g}, checked past "
                f"ratio_min_size={self.limits.ratio_min_size}): a decompression bomb?",
                _limit_hint("max_ratio"),
            )


def _limit_hint(option: str) -> str:
    also = " (or ratio_min_size=)" if option == "max_ratio" else ""
    return (
        f"nothing was extracted; if you trust the archive, raise {option}={also}, a keyword "
        "of cmpy.tools.extract and ctx.extract and an input of extract file and "
        f"download-and-extract; {option}=None (--{option}=none) lifts the limit"
    )


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


def list_members(archive: str | os.PathLike[str]) -> list[str]:
    """List the member names of an archive, in archive order, without extracting.

    :param archive: a tar, compressed tar, zip, or single compressed file.
    :raises ArchiveError: when the format is unknown or the archive is corrupt.
    """
    name = os.fspath(archive)
    fmt = _require_format(name)
    try:
        if fmt == "zip":
            import zipfile

            with zipfile.ZipFile(name) as zf:
                return list(zf.namelist())
        if fmt.startswith("tar"):
            import tarfile

            with tarfile.open(name, _tar_mode(fmt)) as tf:
                return tf.getnames()
        return [_single_file_name(name, fmt)]
    except Exception as e:
        problem = _problem(e, fmt)
        if problem is None:
            raise
        raise ArchiveError(name, problem) from e


def extract(
    archive: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    strip_components: int = 0,
    allow_empty: bool = False,
    max_total_size: int | None = _DEFAULT_MAX_TOTAL_SIZE,
    max_members: int | None = _DEFAULT_MAX_MEMBERS,
    max_ratio: float | None = _DEFAULT_MAX_RATIO,
    ratio_min_size: int = _DEFAULT_RATIO_MIN_SIZE,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Extract an archive into a new folder, safely and all or nothing.

    Tar (plain, gz, bz2, xz) and zip archives are recognised by their content;
    a single gz, bz2 or xz compressed file is decompressed into the folder
    under its name without the suffix (it is an archive of one member, held
    to the same limits).

    :param archive: the archive file.
    :param target: the folder to create; an existing empty folder is replaced.
    :param strip_components: drop this many leading path components from each
        member (as ``tar --strip-components``); members with no more are skipped.
    :param allow_empty: accept an archive that yields no member (an empty
        folder); by default that is an error, since it is more often a
        damaged download or a wrong ``strip_components`` than what was meant.
    :param max_total_size: the most bytes the members may hold in all
        (default 50 GiB); ``None``: no limit.
    :param max_members: the most members the archive may have (default
        1,000,000); ``None``: no limit.
    :param max_ratio: the most a member, or the whole archive, may expand
        relative to its compressed size once it is past ``ratio_min_size``
        (default 200); ``None``: no limit.
    :param ratio_min_size: the size past which ``max_ratio`` is checked
        (default 100 MiB), so that small, very compressible files pass.
    :param log: called with one line saying what is extracted where.
    :returns: the target folder.
    :raises ArchiveError: the format is unknown, the archive is corrupt or
        truncated, a member is unsafe (absolute path, ``..``, a link leading
        outside the target, a device or fifo, more than
        :data:`MAX_MEMBER_DEPTH` components deep), a limit is passed (the
        message names it), or it yields no member and ``allow_empty`` is
        false; the target is then not created and nothing is left behind.
    :raises UsageError: ``strip_components`` or a limit is negative, or the
        target exists and is not an empty folder.
    """
    name = os.fspath(archive)
    dest = Path(target)
    if strip_components < 0:
        raise UsageError(
            f"strip_components must be 0 or more, not {strip_components}",
            hint="pass the number of leading folders to drop from each member",
        )
    limits = _Limits(
        allow_empty=bool(allow_empty),
        max_total_size=_limit("max_total_size", max_total_size, whole=True),
        max_members=_limit("max_members", max_members, whole=True),
        max_ratio=_limit("max_ratio", max_ratio, whole=False),
        ratio_min_size=_limit("ratio_min_size", ratio_min_size, whole=True, none=False) or 0,
    )
    _check_target_free(dest)
    fmt = _require_format(name)
    if log is not None:
        log(f"extracting {name} ({fmt}) into {dest}")
    budget = _Budget(limits, os.path.getsize(name))
    dest.parent.mkdir(parents=True, exist_ok=True)

    import shutil

    tmp = _make_temp_dir(dest)
    try:
        try:
            if fmt == "zip":
                _extract_zip(name, tmp, strip_components, budget)
            elif fmt.startswith("tar"):
                _extract_tar(name, fmt, tmp, strip_components, budget)
            else:
                _extract_single(name, fmt, tmp, budget)
            _verify_tree(tmp)
        except _Unsafe as e:
            raise ArchiveError(name, f"refused, unsafe member: {e}") from None
        except _Refused as e:
            error = ArchiveError(name, str(e))
            error.hint = e.hint
            raise error from None
        except RecursionError:
            # a deep path that slipped past the depth check: never an internal error
            raise ArchiveError(
                name, f"refused: a member is nested too deep (at most {MAX_MEMBER_DEPTH} folders)"
            ) from None
        except Exception as e:
            problem = _problem(e, fmt)
            if problem is None:
                raise
            raise ArchiveError(name, problem) from e
        _move_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _limit(what: str, value: Any, *, whole: bool, none: bool = True) -> Any:
    """A limit as given: a number >= 0 (a whole one for counts and sizes), or None."""
    if value is None and none:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    # written so that nan, which compares false to everything, is refused too
    if not number or not 0 <= value < float("inf") or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise UsageError(
            f"{what}={value!r} is not a limit",
            hint=f"give {what} as {kind} >= 0" + (", or None for no limit" if none else ""),
        )
    return int(value) if whole else float(value)


def _empty(strip: int, listed: int) -> _Refused:
    hint = (
        "if an empty result is what you expect, pass allow_empty=True (extract file --allow_empty)"
    )
    if listed:
        return _Refused(
            f"strip_components={strip} leaves none of its {listed} members",
            "give a smaller strip_components, or " + hint,
        )
    return _Refused("it holds no member (an empty archive)", hint)


# --------------------------------------------------------------------------
# the model of the extracted tree


class _Tree:
    """What an archive creates in an empty folder, modelled without the disk.

    Paths are tuples of components relative to the target. Links are followed
    the way the kernel would follow them when the real tree is written, so a
    member's real destination is known before anything is extracted.
    """

    def __init__(self) -> None:
        self.links: dict[tuple[str, ...], str] = {}
        self.files: set[tuple[str, ...]] = set()

    def resolve(self, base: tuple[str, ...], rel: str, *, follow_last: bool) -> tuple[str, ...]:
        """Where ``rel``, taken from folder ``base``, really lands; raise _Unsafe outside."""
        pending = list(reversed(rel.split("/")))
        out = list(base)
        hops = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not out:
                    raise _Unsafe(f"{rel!r} leads outside the target folder", "leads outside")
                out.pop()
                continue
            out.append(part)
            link = self.links.get(tuple(out))
            # a trailing "/" (an empty part still pending) makes the kernel follow too
            if link is not None and (pending or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise _Unsafe(f"{rel!r} goes through too many links", "loops")
                out.pop()
                pending.extend(reversed(link.split("/")))
        return tuple(out)

    def add_dir(self, name: str) -> tuple[str, ...]:
        return self.resolve((), name, follow_last=True)

    def add_file(self, name: str) -> tuple[str, ...]:
        # a regular file is opened for writing, which follows an existing link
        where = self.resolve((), name, follow_last=True)
        if not where:
            raise _Unsafe(f"{name!r} would overwrite the target folder itself")
        self.files.add(where)
        return where

    def add_symlink(self, name: str, link: str) -> tuple[str, ...]:
        _check_link_text(name, link)
        where = self._place(name)
        self.links[where] = link
        self.files.discard(where)
        self._check_link(where, link)
        return where

    def add_hardlink(self, name: str, link: str) -> tuple[str, ...]:
        _check_member_name(link)
        # os.link follows a symlink given as its source: judge what it reaches
        source = self.resolve((), link, follow_last=True)
        if source not in self.files:
            raise _Unsafe(
                f"hard link {name!r} -> {link!r} does not point to a file extracted before it"
            )
        where = self._place(name)
        self.files.add(where)
        return where

    def recheck_links(self) -> None:
        """Judge every symlink against the final tree: a later member can change what it reaches."""
        for where, link in self.links.items():
            self._check_link(where, link)

    def _check_link(self, where: tuple[str, ...], link: str) -> None:
        try:
            self.resolve(where[:-1], link, follow_last=True)
        except _Unsafe as e:
            shown = "/".join(where)
            raise _Unsafe(
                f"symlink {shown!r} -> {link!r} {e.why} the target folder"
                if e.why == "leads outside"
                else f"symlink {shown!r} -> {link!r}: {e}"
            ) from None

    def _place(self, name: str) -> tuple[str, ...]:
        # a link replaces what is at its own name; only its parent folders are followed
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if not parts:
            raise _Unsafe(f"{name!r} names the target folder itself")
        return (*self.resolve((), "/".join(parts[:-1]), follow_last=True), parts[-1])


def _check_member_name(name: str) -> None:
    if not name:
        raise _Unsafe("a member has an empty name")
    if "\x00" in name:
        raise _Unsafe(f"{_shown(name)!r} contains a NUL byte")
    depth = sum(1 for part in name.replace("\\", "/").split("/") if part not in ("", "."))
    if depth > MAX_MEMBER_DEPTH:
        raise _Unsafe(
            f"{_shown(name)!r} is {depth} path components deep; cmpy extracts members "
            f"at most {MAX_MEMBER_DEPTH} deep (MAX_MEMBER_DEPTH)"
        )
    if name.startswith("/") or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise _Unsafe(f"{name!r} is an absolute path")
    if ".." in PurePosixPath(name).parts:
        raise _Unsafe(f"{name!r} contains '..' (path traversal)")


def _check_link_text(name: str, link: str) -> None:
    if not link or "\x00" in link:
        raise _Unsafe(f"symlink {name!r} has an empty or invalid target")
    if link.startswith("/") or PureWindowsPath(link).is_absolute() or PureWindowsPath(link).drive:
        raise _Unsafe(f"symlink {name!r} -> {link!r} points to an absolute path")


def _strip(name: str, count: int) -> str | None:
    # like GNU tar, a leading "." counts: "./pkg/f" less one component is "pkg/f"
    parts = [p for p in name.split("/") if p]
    if len(parts) <= count:
        return None
    return "/".join(parts[count:])


# --------------------------------------------------------------------------
# tar


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


# --------------------------------------------------------------------------
# zip


class _ZipItem(Record):
    info: Any
    kind: str  # "dir", "file" or "symlink"
    where: tuple[str, ...]
    link: str = ""
    executable: bool = False


def _extract_zip(name: str, tmp: str, strip: int, budget: _Budget) -> None:
    import zipfile

    with zipfile.ZipFile(name) as zf:
        listed = len(zf.infolist())
        items = _plan_zip(zf, strip, budget)
        if not items and not budget.limits.allow_empty:
            raise _empty(strip, listed)
        root = Path(tmp)
        real_root = os.path.realpath(tmp)
        for item in items:
            path = root.joinpath(*item.where)
            if item.kind == "dir":
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            # the model says the parent is a real folder inside; check the disk agrees
            real_parent = os.path.realpath(path.parent)
            if os.path.commonpath([real_parent, real_root]) != real_root:
                raise _Unsafe(f"{item.info.filename!r} would be written outside the target")
            if os.path.lexists(path) and not path.is_dir():
                path.unlink()
            if item.kind == "symlink":
                os.symlink(item.link, path)
                continue
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            mode = 0o755 if item.executable else 0o644
            with (
                zf.open(item.info) as src,
                os.fdopen(os.open(path, flags, mode), "wb") as out,
            ):
                _copy(src, out, budget, item.info.filename, item.info.compress_size)


def _plan_zip(zf: Any, strip: int, budget: _Budget) -> list[_ZipItem]:
    tree = _Tree()
    items: list[_ZipItem] = []
    for info in zf.infolist():
        budget.member()
        # zips made on Windows may use backslashes; unzip treats them as separators
        raw = info.filename.replace("\\", "/")
        _check_member_name(raw)
        new_name = _strip(raw, strip)
        if new_name is None:
            continue
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            if info.file_size > _MAX_ZIP_SYMLINK:
                raise _Unsafe(f"symlink {raw!r} has a {info.file_size}-byte target")
            link = zf.read(info).decode("utf-8", "surrogateescape")
            items.append(_ZipItem(info, "symlink", tree.add_symlink(new_name, link), link))
        elif kind == stat.S_IFDIR or (kind == 0 and raw.endswith("/")):
            items.append(_ZipItem(info, "dir", tree.add_dir(new_name)))
        elif kind in (0, stat.S_IFREG):
            where = tree.add_file(new_name)
            budget.declare(new_name, info.file_size, info.compress_size)
            items.append(_ZipItem(info, "file", where, executable=bool(mode & 0o111)))
        else:
            raise _Unsafe(f"{raw!r} is a special file (mode {mode:o}), not a file, folder or link")
    tree.recheck_links()
    return items


# --------------------------------------------------------------------------
# single compressed files


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


# --------------------------------------------------------------------------
# shared steps


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


def _check_target_free(dest: Path) -> None:
    if not os.path.lexists(dest):
        return
    if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
        return
    raise UsageError(
        f"cannot extract into {dest}: it exists and is not an empty folder",
        hint="extract into a new folder, or remove the old one first",
    )


def _make_temp_dir(dest: Path) -> str:
    """A new folder beside ``dest``, on its file system so the final rename is atomic."""
    while True:
        path = dest.with_name(f".{dest.name}.{os.urandom(4).hex()}.part")
        try:
            # not tempfile.mkdtemp: its 0o700 would become the target's mode;
            # os.mkdir gives the usual 0o777 less the umask
            os.mkdir(path)
        except FileExistsError:
            continue
        return os.fspath(path)


def _move_into_place(tmp: str, dest: Path) -> None:
    try:
        # rename over an empty folder is atomic on POSIX; anything else refuses
        os.replace(tmp, dest)
    except OSError as e:
        raise UsageError(
            f"cannot move the extracted files to {dest}: {e.strerror or e}",
            hint="another process may have created it meanwhile; use a new folder",
        ) from e


def _verify_tree(tmp: str) -> None:
    """Check what landed on disk: plain data only, every symlink resolving inside."""
    real_root = os.path.realpath(tmp)
    for entry in _walk(tmp):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            real = os.path.realpath(entry.path)
            if os.path.commonpath([real, real_root]) != real_root:
                raise _Unsafe(f"symlink {entry.path[len(tmp) + 1 :]!r} leads outside the target")
        elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise _Unsafe(f"{entry.path[len(tmp) + 1 :]!r} is not a regular file or folder")


def _walk(top: str) -> Iterable[os.DirEntry[str]]:
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                yield entry
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)


def _copy(
    src: io.BufferedIOBase | IO[bytes],
    out: IO[bytes],
    budget: _Budget,
    member: str,
    compressed: int,
) -> None:
    """Copy one member, counting what is decompressed against the budget before writing it."""
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        budget.wrote(len(chunk))
        budget.member_expanded(member, written, compressed, exact=True)
        out.write(chunk)


def _problem(exc: BaseException, fmt: str) -> str | None:
    """Say what an exception means for the archive, or None when it is not about it."""
    import lzma
    import tarfile
    import zipfile
    import zlib

    if isinstance(exc, tarfile.FilterError):
        return f"refused by tarfile's data filter: {exc}"
    if isinstance(exc, OSError) and exc.errno is not None:
        # a real system error (disk full, permissions) rather than bad bytes
        where = f" ({exc.filename})" if exc.filename else ""
        return f"writing the extracted files failed: {exc.strerror}{where}"
    corrupt: tuple[type[BaseException], ...] = (
        tarfile.TarError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        OSError,  # gzip.BadGzipFile and bz2's "Invalid data stream" carry no errno
        NotImplementedError,  # a zip compression method zipfile lacks
        UnicodeDecodeError,
    )
    if isinstance(exc, corrupt):
        return f"the {fmt} archive is corrupt or truncated: {_describe(exc)}"
    if fmt == "zip" and isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return "a member is encrypted and no password can be given"
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _human(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def _shown(name: str) -> str:
    """A member name short enough to read in a message."""
    return name if len(name) <= 120 else f"{name[:60]}...{name[-40:]}"
