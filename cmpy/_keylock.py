"""Inter-process locks: ``flock`` on a file, which the OS drops when a process dies.

A killed run never blocks later ones: its locks went with it. The lock file
itself stays (deleting one while another process opens it would let two
processes hold "the" lock on two different files).
"""

from __future__ import annotations

import os
import sys
import time

from ._home import not_writable

__all__ = ["KeyLock"]


class KeyLock:
    """An inter-process lock for one cache key (``flock``; dropped when a process dies)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise not_writable(self.path, exc) from None
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(self) -> None:
        delay = 0.005
        while not self.try_acquire():
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def acquire_async(self) -> None:
        import anyio

        delay = 0.005
        while not self.try_acquire():
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds this lock right now."""
        if not os.path.exists(self.path):
            return False
        if self.try_acquire():
            self.release()
            return False
        return True


if sys.platform != "win32":
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

else:  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
