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

The parts
---------
This module is the entry: the arguments, the temporary folder, the errors a
caller sees. :mod:`cmpy._archive_format` tells a format from its content;
:mod:`cmpy._archive_tar`, :mod:`cmpy._archive_zip` and
:mod:`cmpy._archive_compressed` list and write each kind, judging every
member against :mod:`cmpy._archive_tree` (the model of the extracted tree)
and counting it against :mod:`cmpy._archive_limits`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ._archive_compressed import _extract_single, _single_file_name
from ._archive_format import KNOWN_FORMATS, _require_format, archive_format
from ._archive_limits import (
    _DEFAULT_MAX_MEMBERS,
    _DEFAULT_MAX_RATIO,
    _DEFAULT_MAX_TOTAL_SIZE,
    _DEFAULT_RATIO_MIN_SIZE,
    ExtractLimits,
    _Budget,
    _limit,
    _Limits,
    _Refused,
)
from ._archive_tar import _extract_tar, _tar_mode
from ._archive_tree import MAX_MEMBER_DEPTH, _Unsafe, _verify_tree
from ._archive_zip import _extract_zip
from ._errors import ArchiveError, UsageError, _describe

__all__ = [
    "KNOWN_FORMATS",
    "MAX_MEMBER_DEPTH",
    "ExtractLimits",
    "archive_format",
    "extract",
    "list_members",
]


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
