"""Local sources (a path or a ``file://`` URL): regular files only, copied whole.

A device, a fifo or a folder is refused before a byte is read; a file that
changes size while it is copied is an error. The copy keeps the source's
permission bits (plus the owner's read and write), so it is never readable
by more people than the source.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._download_job import _error, _Got, _Job, _new_hashes
from ._download_pump import _Progress, _pump

__all__ = ["_copy_local", "_local_path"]


def _copy_local(job: _Job, source: str, path: Path) -> _Got:
    import stat

    hashes = _new_hashes(job.algorithms)
    try:
        # O_NONBLOCK: opening a fifo must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise _error(
            source, f"no such file: {path}", hint="check the path, or that the mirror holds it"
        ) from None
    except OSError as e:
        raise _error(source, f"cannot read {path}: {e.strerror or e}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _error(
            source,
            f"{path} is {_file_kind(info.st_mode)}, not a regular file",
            hint="give the path of a file; devices, fifos and folders are not downloaded",
        )
    with open(fd, "rb") as src:
        if job.size is not None and info.st_size != job.size:
            raise _error(
                source, f"{path} has {info.st_size} bytes, but size={job.size} was expected"
            )
        # never readable by more people than the source (the umask applies too);
        # the owner, who made the copy, can always read and replace it
        mode = (stat.S_IMODE(info.st_mode) & 0o777) | 0o600
        try:
            job.part.unlink(missing_ok=True)
            out_fd = os.open(
                job.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode
            )
            with open(out_fd, "wb") as out:
                bar = _Progress(job, source, info.st_size, 0)
                limit = info.st_size
                received = _pump(job, source, src.read, out, hashes, bar, 0, limit, "grew")
        except OSError as e:
            job.part.unlink(missing_ok=True)
            raise _error(source, f"cannot copy {path}: {e.strerror or e}") from None
        except BaseException:
            job.part.unlink(missing_ok=True)
            raise
    if received != info.st_size:
        job.part.unlink(missing_ok=True)
        raise _error(
            source, f"{path} changed while it was copied ({received} of {info.st_size} bytes)"
        )
    return _Got(received, hashes, resumed=False, attempts=1)


def _file_kind(mode: int) -> str:
    import stat

    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a fifo"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "not a plain file")


def _local_path(source: str) -> Path | None:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return Path(f"//{parts.netloc}{unquote(parts.path)}")  # a UNC share
        from urllib.request import url2pathname

        return Path(url2pathname(parts.path))
    if scheme in ("http", "https"):
        return None
    return Path(source)
