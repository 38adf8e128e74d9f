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
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any, Literal

from ._errors import ArchiveError, UsageError
from ._record import Record

__all__ = ["KNOWN_FORMATS", "archive_format", "extract", "list_members"]

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


class _Unsafe(Exception):
    """A member that would write or point outside the target, or is not plain data."""

    def __init__(self, message: str, why: str = "") -> None:
        super().__init__(message)
        self.why = why


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
            return f"tar.{name}" if _looks_like_tar(_peek_decompressed(path, name)) else name
    if _looks_like_tar(head):
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
    log: Callable[[str], None] | None = None,
) -> Path:
    """Extract an archive into a new folder, safely and all or nothing.

    Tar (plain, gz, bz2, xz) and zip archives are recognised by their content;
    a single gz, bz2 or xz compressed file is decompressed into the folder
    under its name without the suffix.

    :param archive: the archive file.
    :param target: the folder to create; an existing empty folder is replaced.
    :param strip_components: drop this many leading path components from each
        member (as ``tar --strip-components``); members with no more are skipped.
    :param log: called with one line saying what is extracted where.
    :returns: the target folder.
    :raises ArchiveError: the format is unknown, the archive is corrupt or
        truncated, or a member is unsafe (absolute path, ``..``, a link leading
        outside the target, a device or fifo); the target is then not created.
    :raises UsageError: ``strip_components`` is negative, or the target exists
        and is not an empty folder.
    """
    name = os.fspath(archive)
    dest = Path(target)
    if strip_components < 0:
        raise UsageError(
            f"strip_components must be 0 or more, not {strip_components}",
            hint="pass the number of leading folders to drop from each member",
        )
    _check_target_free(dest)
    fmt = _require_format(name)
    if log is not None:
        log(f"extracting {name} ({fmt}) into {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)

    import shutil

    tmp = _make_temp_dir(dest)
    try:
        try:
            if fmt == "zip":
                _extract_zip(name, tmp, strip_components)
            elif fmt.startswith("tar"):
                _extract_tar(name, fmt, tmp, strip_components)
            else:
                _extract_single(name, fmt, tmp)
            _verify_tree(tmp)
        except _Unsafe as e:
            raise ArchiveError(name, f"refused, unsafe member: {e}") from None
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
        raise _Unsafe(f"{name!r} contains a NUL byte")
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


def _extract_tar(name: str, fmt: str, tmp: str, strip: int) -> None:
    import tarfile

    # errorlevel 2: an error tarfile would only log (a link it cannot make,
    # attributes it cannot set) also stops the extraction, so what lands on
    # disk is the whole archive or nothing
    with tarfile.open(name, _tar_mode(fmt), errorlevel=2) as tf:
        members = tf.getmembers()
        _check_tar_end(tf)
        tree = _Tree()
        keep: list[tarfile.TarInfo] = []
        for member in members:
            _check_member_name(member.name)
            new_name = _strip(member.name, strip)
            if new_name is None:
                continue
            changes: dict[str, Any] = {"name": new_name}
            if member.isreg():
                tree.add_file(new_name)
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
        tree.recheck_links()
        # the data filter is a second opinion; any FilterError it raises
        # propagates (errorlevel >= 1) and refuses the whole archive
        tf.extractall(tmp, members=keep, filter="data")


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


def _extract_zip(name: str, tmp: str, strip: int) -> None:
    import zipfile

    with zipfile.ZipFile(name) as zf:
        items = _plan_zip(zf, strip)
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
                _copy(src, out)


def _plan_zip(zf: Any, strip: int) -> list[_ZipItem]:
    tree = _Tree()
    items: list[_ZipItem] = []
    for info in zf.infolist():
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
            items.append(_ZipItem(info, "file", where, executable=bool(mode & 0o111)))
        else:
            raise _Unsafe(f"{raw!r} is a special file (mode {mode:o}), not a file, folder or link")
    tree.recheck_links()
    return items


# --------------------------------------------------------------------------
# single compressed files


def _extract_single(name: str, fmt: str, tmp: str) -> None:
    out_path = os.path.join(tmp, _single_file_name(name, fmt))
    with _open_compressed(name, fmt) as src, open(out_path, "wb") as out:
        _copy(src, out)


def _single_file_name(name: str, fmt: str) -> str:
    base = os.path.basename(name)
    for suffix in _SINGLE_SUFFIXES[fmt]:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base + ".out"


def _open_compressed(name: str, fmt: str) -> io.BufferedIOBase:
    if fmt == "gz":
        import gzip

        return gzip.open(name, "rb")
    if fmt == "bz2":
        import bz2

        return bz2.open(name, "rb")
    import lzma

    return lzma.open(name, "rb")


def _peek_decompressed(path: str | os.PathLike[str], fmt: str) -> bytes:
    import lzma
    import zlib

    try:
        with _open_compressed(os.fspath(path), fmt) as f:
            return f.read(512)
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        # too damaged to peek into: extraction will report the real problem
        return b""


def _looks_like_tar(block: bytes) -> bool:
    import tarfile

    if len(block) < tarfile.BLOCKSIZE:
        return False
    if block.count(0) == tarfile.BLOCKSIZE:
        return True  # an empty tar is nothing but end-of-archive blocks
    try:
        tarfile.TarInfo.frombuf(block[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


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


def _copy(src: io.BufferedIOBase | IO[bytes], out: IO[bytes]) -> None:
    while chunk := src.read(_CHUNK):
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
