"""One measurement at a time on a machine: the benchmark lock.

Two LoadGen performance runs at once share the CPUs and each measures a
fraction of what the machine does alone, with nothing in either result to
say so. So every performance run (and every calibration, which measures
too) takes one lock first: a file locked with ``flock``, in the system's
shared temporary folder rather than under ``CMPY_HOME``, so that every cmpy
home and every user of the machine meets the same lock. The operating
system drops the lock when its holder dies, so a killed run never leaves
it stuck. ``CMPY_BENCHMARK_LOCK`` names another file (tests use one each;
two benchmarks that are meant to run side by side can use one each too).

The holder writes its pid and what it runs into the file, so that a run
that waits can say whom it waits for.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from cmpy._errors import CmpyError

if TYPE_CHECKING:
    from cmpy.loadgen._stop import Interruptible

__all__ = ["LOCK_ENV", "BenchmarkBusy", "BenchmarkLock", "benchmark_lock_path"]

LOCK_ENV = "CMPY_BENCHMARK_LOCK"
LOCK_NAME = "cmpy-benchmark.lock"
# how often a waiting run tries the lock again
RETRY_S = 0.1


def benchmark_lock_path() -> str:
    """The lock file: ``$CMPY_BENCHMARK_LOCK``, else ``cmpy-benchmark.lock`` in /tmp."""
    override = os.environ.get(LOCK_ENV, "").strip()
    if override:
        return os.path.abspath(os.path.expanduser(override))
    # Not tempfile.gettempdir(): TMPDIR is often a folder of one user's,
    # and this lock is for everyone on the machine.
    if os.name == "posix" and os.path.isdir("/tmp"):
        return os.path.join("/tmp", LOCK_NAME)
    import tempfile

    return os.path.join(tempfile.gettempdir(), LOCK_NAME)


class BenchmarkBusy(CmpyError):
    """Another benchmark holds the benchmark lock, and the run was asked not to wait."""

    def __init__(self, what: str, path: str, holder: str) -> None:
        self.what = what
        self.path = path
        self.holder = holder
        super().__init__(
            f"not starting {what}: another benchmark is running "
            f"(the benchmark lock {path} is held by {holder})",
            hint="run again once it has finished, or without --no_wait to wait for it; "
            "two benchmarks at once measure each other, not the machine",
        )


class BenchmarkLock:
    """The machine-wide benchmark lock, held for one measurement.

    :param what: what the holder runs, shown to whoever waits
        (``"an MLPerf Offline performance run"``).
    :param path: the lock file (default: :func:`benchmark_lock_path`).
    """

    def __init__(self, what: str, *, path: str | None = None) -> None:
        self.what = what
        self.path = path or benchmark_lock_path()
        self._fd: int | None = None
        self._writable = False

    def acquire(
        self,
        *,
        wait: bool = True,
        stop: Interruptible | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        """Take the lock; wait for it unless ``wait`` is False.

        A run that has to wait says so once through ``notify`` (default:
        stderr). Where the platform has no ``flock``, there is no lock.

        :raises BenchmarkBusy: the lock is held and ``wait`` is False.
        :raises cmpy.Interrupted: ``stop`` was asked while waiting.
        :raises CmpyError: the lock file cannot be opened.
        """
        try:
            import fcntl  # noqa: F401
        except ImportError:  # no flock here (Windows): nothing to coordinate with
            return
        fd, self._writable = _open(self.path)
        try:
            if not _try_lock(fd):
                holder = _holder(fd)
                if not wait:
                    raise BenchmarkBusy(self.what, self.path, holder)
                say = notify or _to_stderr
                say(
                    f"waiting for the benchmark lock held by {holder}, so as not to "
                    f"measure beside it (lock file {self.path}) ..."
                )
                while not _try_lock(fd):
                    if stop is not None:
                        if stop.wait(RETRY_S):
                            raise stop.interrupted(
                                f"waiting for the benchmark lock to start {self.what}",
                                note="nothing was measured",
                            )
                    else:
                        time.sleep(RETRY_S)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if self._writable:
            record = f"{os.getpid()}\n{self.what}\n".encode()
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, record, 0)
            except OSError:
                pass  # who holds it is a courtesy to waiters

    def release(self) -> None:
        """Let the next run measure (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        import fcntl

        try:
            if self._writable:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def __enter__(self) -> BenchmarkLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _open(path: str) -> tuple[int, bool]:
    """The lock file opened for locking (created, open to every user, if missing)."""
    cloexec = getattr(os, "O_CLOEXEC", 0)  # commands the run starts must not inherit it
    for _attempt in range(3):
        try:
            return os.open(path, os.O_RDWR | cloexec), True
        except FileNotFoundError:
            pass
        except PermissionError:
            # another user's file without write access for us: flock needs none
            try:
                return os.open(path, os.O_RDONLY | cloexec), False
            except OSError as exc:
                raise _unusable(path, exc) from None
        except OSError as exc:
            raise _unusable(path, exc) from None
        try:
            # O_EXCL: in a sticky /tmp, opening with O_CREAT a file that
            # another user owns is refused (fs.protected_regular)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | cloexec, 0o666)
        except FileExistsError:
            continue  # another run made it just now: open theirs
        except OSError as exc:
            raise _unusable(path, exc) from None
        try:
            os.fchmod(fd, 0o666)  # the umask must not keep the next user out
        except OSError:
            pass
        return fd, True
    raise _unusable(path, OSError("it keeps appearing and vanishing"))


def _unusable(path: str, exc: OSError) -> CmpyError:
    return CmpyError(
        f"cannot open the benchmark lock {path}: {exc.strerror or exc}",
        hint=f"set {LOCK_ENV} to a file in a folder you can write",
    )


def _try_lock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        text = ""
    pid, _, rest = text.partition("\n")
    what = rest.strip().splitlines()[0] if rest.strip() else ""
    if not pid.strip().isdigit():
        return "another process"
    return f"pid {pid.strip()}" + (f" ({what})" if what else "")


def _to_stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
