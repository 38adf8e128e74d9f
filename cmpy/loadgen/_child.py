"""Each LoadGen test in a forked child process, so that a stop request ends it at once.

Why a child
-----------
``mlperf_loadgen`` has no way to end a test early: ``StartTest`` returns
once the minimum duration and query count are met (600 s for an official
Server run), and an exception raised in one of its Python callbacks (where
Ctrl-C's KeyboardInterrupt lands, since LoadGen calls them from the thread
that started the test) unwinds through its C++ frames and leaves its logging
thread running, so the interpreter aborts at exit ("terminate called without
an active exception", SIGABRT, a core dump) or segfaults. Answering every
query at once ends an Offline test, but SingleStream and Server keep issuing
until their minimum duration. A child process, though, can be killed at
any moment, and the operating system takes LoadGen's threads with it.

Why fork
--------
The default run lasts about 2 s, so the child must start in milliseconds:
``fork`` shares the loaded data set, numpy, onnxruntime and LoadGen with the
parent for free (a few ms for a 200 MB process). ``spawn`` or
``forkserver`` would start an interpreter and import them again (about
half a second) and pickle the data set over (an ImageNet array is GBs).
What fork does not carry over is threads, so the parent never loads the
backend: the child loads it, calibrates, runs LoadGen and closes it, and
sends back only what the parent needs (the effective settings, the
calibration, the run's counters) through a pipe. The parent parses the logs.

The child ignores SIGINT and SIGHUP (a terminal sends them to the whole
process group; the parent decides), dies with its parent (Linux's
``PR_SET_PDEATHSIG``), never touches the parent's stdio objects (another
thread may have held their locks at the fork), and ends with ``os._exit``
so that no atexit hook, finaliser or static C++ destructor of the parent's
runs twice. An exception in the child is re-raised in the parent; a crash
becomes an error that says how the process ended.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from cmpy._errors import CmpyError

if TYPE_CHECKING:
    from cmpy.loadgen._stop import Interruptible

__all__ = ["Stopped", "can_fork", "run_in_child"]

T = TypeVar("T")

_HEADER = 8  # bytes of length before each pickled message
# how long a child that has reported (or closed its pipe) may take to exit
# before it is killed: a crash's own signal is then what the error names
EXIT_GRACE_S = 2.0
# exit statuses of the child that say how it ended before it could report
_EXIT_OK, _EXIT_RAISED = 0, 70


class Stopped(Exception):
    """The work was stopped on request; ``phase`` is what it was doing."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


def can_fork() -> bool:
    """Whether LoadGen can run in a forked child here (not on Windows)."""
    return hasattr(os, "fork") and sys.platform != "win32"


def run_in_child(
    work: Callable[[Callable[[str], None]], T],
    *,
    stop: Interruptible,
    what: str,
) -> T:
    """``work(report)`` in a forked child; its result, or its exception, here.

    ``report(phase)`` tells the parent what the child is doing ("calibrating",
    "running"), which a stop names. The parent polls ``stop`` meanwhile and
    kills the child when it is asked.

    :raises Stopped: ``stop`` was asked; the child is dead and reaped.
    :raises CmpyError: the child died without a word (a crash in LoadGen
        or the backend).
    :raises BaseException: whatever ``work`` raised in the child.
    """
    read, write = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()  # or the child inherits the buffer and writes it again
        except (AttributeError, OSError, ValueError):
            pass
    parent = os.getpid()
    # The child's garbage collections then leave the parent's objects alone:
    # a collection that walked them would copy every page they live on.
    gc.freeze()
    try:
        pid = _fork()
    except BaseException as exc:
        gc.unfreeze()
        os.close(read)
        os.close(write)
        if isinstance(exc, OSError):
            raise CmpyError(
                f"cannot start a process for {what}: {exc.strerror or exc}",
                hint="the machine is out of memory or processes; free some and run again",
            ) from None
        raise
    if pid == 0:  # the child: never returns
        os.close(read)
        _child(work, write, parent)
    gc.unfreeze()
    os.close(write)
    try:
        result: T = _collect(pid, read, stop, what)
        return result
    finally:
        os.close(read)
        _reap(pid)


def _fork() -> int:
    if sys.version_info >= (3, 12):
        import warnings

        # 3.12 warns about fork in a threaded process; the child here starts
        # no work that needs another thread's locks (see the module's note)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return os.fork()
    return os.fork()


def _collect(pid: int, read: int, stop: Interruptible, what: str) -> Any:
    phase = "starting"
    buffer = bytearray()
    outcome: tuple[Any, ...] | None = None
    wake = stop.fileno()
    watched = [read] if wake is None else [read, wake]
    while True:
        if stop.requested:
            _kill(pid)
            raise Stopped(phase)
        try:
            ready, _, _ = select.select(watched, [], [], 0.05)
        except InterruptedError:  # pragma: no cover (PEP 475 retries select)
            continue
        if read not in ready:
            continue
        chunk = os.read(read, 1 << 20)
        if not chunk:
            break  # the child closed its end: it is exiting
        buffer += chunk
        while len(buffer) >= _HEADER:
            size = int.from_bytes(buffer[:_HEADER], "big")
            if len(buffer) < _HEADER + size:
                break
            message = pickle.loads(bytes(buffer[_HEADER : _HEADER + size]))
            del buffer[: _HEADER + size]
            if message[0] == "phase":
                phase = message[1]
            else:
                outcome = message
        if outcome is not None:
            # not waiting for the end of the pipe: a child forked meanwhile by
            # another thread of this process may hold a copy of its far end
            break
    status = _reap(pid, grace_s=EXIT_GRACE_S)
    if outcome is None:
        if stop.requested:
            raise Stopped(phase)
        raise CmpyError(
            f"{what} crashed while {phase}: its process {_how(status)}",
            hint="LoadGen or the backend failed in native code; its own output above "
            "may say why (the logs it left are not a result)",
        )
    if outcome[0] == "done":
        return outcome[1]
    raise _rebuild(outcome)


def _reap(pid: int, *, grace_s: float = 0.0) -> int | None:
    """Wait up to ``grace_s`` for the child to end, then kill it; its wait status."""
    deadline = time.monotonic() + grace_s
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            if time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        _kill(pid)
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None  # already reaped


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _how(status: int | None) -> str:
    if status is None:
        return "ended"
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


# -- the child -------------------------------------------------------------------


def _child(work: Callable[[Callable[[str], None]], Any], write: int, parent: int) -> None:
    code = _EXIT_RAISED
    try:
        _settle(parent)
        result = work(lambda phase: _send(write, ("phase", phase)))
        _send(write, ("done", result))
        code = _EXIT_OK
    except BaseException as exc:
        try:
            _send(write, _portable(exc))
        except BaseException:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _settle(parent: int) -> None:
    """Make the fresh child independent of what the parent's threads were doing."""
    signal.set_wakeup_fd(-1)  # the parent's pipe, or its event loop's
    for name, action in (
        ("SIGINT", signal.SIG_IGN),
        ("SIGHUP", signal.SIG_IGN),
        ("SIGTERM", signal.SIG_DFL),
    ):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, action)
    _die_with(parent)
    # New stdio objects on the same descriptors: another thread of the
    # parent may have held the old ones' locks when it forked. (Where stdout
    # was pointed at stderr, as under --json, it stays there.)
    sys.stdout = _reopen(sys.stdout, 1)
    sys.stderr = _reopen(sys.stderr, 2)


def _reopen(stream: Any, default: int) -> Any:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture, a StringIO
        fd = default
    return open(fd, "w", buffering=1, closefd=False, errors="backslashreplace")


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(_EXIT_RAISED)


def _send(fd: int, message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(_HEADER, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def _portable(exc: BaseException) -> tuple[Any, ...]:
    """An exception as a message that unpickles in the parent, whatever its ``__init__``."""
    import traceback

    trace = "".join(traceback.format_exception(exc))
    state = {}
    for key, value in vars(exc).items():
        try:
            pickle.dumps(value)
        except Exception:
            continue
        state[key] = value
    try:
        args = tuple(exc.args)
        pickle.dumps((type(exc), args))
    except Exception:
        return ("failed", None, (), {}, f"{type(exc).__name__}: {exc}", trace)
    return ("failed", type(exc), args, state, f"{type(exc).__name__}: {exc}", trace)


def _rebuild(message: tuple[Any, ...]) -> BaseException:
    _kind, cls, args, state, text, trace = message
    exc: BaseException
    try:
        # __new__ without __init__: the state carries what __init__ computed
        exc = cls.__new__(cls, *args)
        exc.__dict__.update(state)
    except Exception:  # no class, or one that cannot be made this way
        exc = CmpyError(f"the LoadGen process failed: {text}")
    if not isinstance(exc, CmpyError):
        exc.add_note("raised in the LoadGen process:\n" + trace.rstrip())
    return exc
