"""Partial files: the shared folder's names and locks, and cleaning up after other sources.

With ``partial_dir`` a partial file is named after the expected checksum
(without one, after a hash of the URL it comes from), so a later run resumes
it whatever its ``dest``; an ``flock`` on a lock file beside it makes two
processes take turns (:func:`_hold_partial`). Within one process a thread
lock per destination (:func:`_lock_for`) keeps two threads off one file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ._download_job import _cancelled, _error, _Job, _out_of_time

__all__ = ["_discard_partial", "_hold_partial", "_lock_for", "_partial_path"]


def _partial_path(job: _Job, source: str) -> Path:
    """The partial file in ``partial_dir``: named after the checksum, else the source's hash."""
    assert job.partial_dir is not None
    if "sha256" in job.expected:
        key = "sha256-" + job.expected["sha256"]
    elif "md5" in job.expected:
        key = "md5-" + job.expected["md5"]
    else:
        import hashlib

        # without a checksum, only bytes from this very URL can be continued
        key = "url-" + hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return job.partial_dir / f"{key}.part"


def _lock_path(part: Path) -> Path:
    return part.with_name(part.name.removesuffix(".part") + ".lock")


@contextmanager
def _hold_partial(job: _Job, source: str) -> Iterator[None]:
    """Hold the lock beside a shared partial file while it is written (no-op for DEST.part)."""
    if job.partial_dir is None:
        yield
        return
    try:
        job.partial_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise _error(
            source,
            f"cannot create the folder for partial downloads {job.partial_dir}: {e.strerror or e}",
        ) from None
    lock = _lock_path(job.part)
    waited = False
    while True:
        fd = _try_lock(lock)
        if fd is not None:
            break
        if not waited:
            job.say(f"waiting for another download of the same file (it holds {lock})")
            waited = True
        if job.cancelled():
            raise _cancelled(job, source)
        if job.deadline is not None and time.monotonic() > job.deadline:
            raise _out_of_time(job, source)
        time.sleep(0.05)
    try:
        yield
    finally:
        # unlinked while held: a waiter that opened it sees it is gone and retries
        try:
            os.unlink(lock)
        except OSError:
            pass
        os.close(fd)


def _try_lock(lock: Path) -> int | None:
    """An fd holding an exclusive flock on ``lock`` (the file at that path now), or None."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the thread lock is all there is
        return os.open(os.devnull, os.O_RDONLY)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(lock))
    except FileNotFoundError:
        same = False
    if not same:
        # the holder before us removed it on its way out: lock the new one
        os.close(fd)
        return _try_lock(lock)
    return fd


def _discard_partial(part: Path) -> None:
    """Remove a shared partial file nobody is writing now (what another source left)."""
    if not part.exists():
        return
    lock = _lock_path(part)
    fd = _try_lock(lock)
    if fd is None:
        return
    try:
        part.unlink(missing_ok=True)
        os.unlink(lock)
    except OSError:
        pass
    finally:
        os.close(fd)


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    key = os.path.abspath(path)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())
