"""Long work that stops when asked: Ctrl-C, SIGTERM or SIGHUP, or a cancelled run.

A signal's Python handler runs in the main thread, between two bytecodes of
whatever Python code runs there. Under LoadGen that is one of its callbacks
(LoadGen calls IssueQuery, FlushQueries and the QSL's load/unload from the
thread that started the test), so the default handler's KeyboardInterrupt
is raised inside a callback, unwinds through LoadGen's C++ frames and
leaves its logging thread running: the interpreter then dies at exit with
"terminate called without an active exception" (SIGABRT) or a segfault.
scikit-learn, for its part, swallows a KeyboardInterrupt raised inside
``fit`` and returns a half-trained model.

:class:`Interruptible` replaces that handler for the length of a block: in
the main thread the three signals only record themselves, and the work asks
:attr:`Interruptible.requested` at points where stopping is safe; in a worker
thread (where no handler can be installed, and where the executor's
cancellation lands instead) it polls ``cancelled()``. The previous handlers
are put back when the block ends.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType

from cmpy._errors import Interrupted

__all__ = ["Interruptible"]

# the signals a user stops a run with; SIGHUP is a closed terminal
_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
# how often a wait looks at ``cancelled()``: well inside the 2 s a stop may take
POLL_S = 0.05


class Interruptible:
    """A block of work that stops at safe points when asked.

    In the main thread, SIGINT, SIGTERM and SIGHUP only record themselves
    while the block runs (a signal that was ignored stays ignored), and a
    pipe handed to :func:`signal.set_wakeup_fd` lets another thread notice
    them even while the main thread sits in C code. Anywhere, ``cancelled``
    is polled too. ::

        with Interruptible(lambda: ctx.cancelled) as stop:
            for epoch in range(epochs):
                stop.check("training the model", note="nothing was kept")
                train_one_epoch()

    :param cancelled: returns True once the caller's run is being cancelled
        (``lambda: ctx.cancelled`` in a recipe body).
    """

    def __init__(self, cancelled: Callable[[], bool] | None = None) -> None:
        self._cancelled = cancelled
        self._previous: dict[int, signal.Handlers | Callable[..., object] | int | None] = {}
        self._wakeup: tuple[int, int] | None = None
        self._old_wakeup = -1
        self.signal_name: str | None = None

    def __enter__(self) -> Interruptible:
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in _SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            previous = signal.getsignal(number)
            if previous is signal.SIG_IGN or previous is None:
                continue  # ignored on purpose (nohup), or not Python's to change
            self._previous[number] = previous
            signal.signal(number, self._record)
        if os.name == "posix":
            self._watch_wakeup()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._wakeup is not None:
            self._drain()
            signal.set_wakeup_fd(self._old_wakeup)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        """Whether a signal came or the run is being cancelled (cheap: poll it)."""
        if self.signal_name is None and self._wakeup is not None:
            self._drain()
        if self.signal_name is not None:
            return True
        return self._cancelled is not None and bool(self._cancelled())

    def fileno(self) -> int | None:
        """A file descriptor that turns readable when a signal comes (None: poll instead)."""
        return self._wakeup[0] if self._wakeup is not None else None

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on a stop request; :attr:`requested`."""
        deadline = time.monotonic() + timeout
        while not self.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # short steps: ``cancelled`` has no file descriptor to wait on
            step = min(left, POLL_S)
            if self._wakeup is not None:
                try:
                    select.select([self._wakeup[0]], [], [], step)
                except (OSError, ValueError):  # closed as the block ended
                    time.sleep(step)
            else:
                time.sleep(step)
        return True

    def interrupted(self, what: str, *, note: str = "") -> Interrupted:
        """The :class:`cmpy.Interrupted` to raise for stopping ``what``."""
        return Interrupted(what, note=note, signal_name=self.signal_name or "SIGINT")

    def check(self, what: str, *, note: str = "") -> None:
        """Raise :meth:`interrupted` if a stop was asked for.

        :raises cmpy.Interrupted: a signal came or the run is being cancelled.
        """
        if self.requested:
            raise self.interrupted(what, note=note)

    def _record(self, number: int, frame: FrameType | None) -> None:
        # Only an assignment: a handler may run between any two bytecodes,
        # even inside a lock this thread holds.
        if self.signal_name is None:
            self.signal_name = signal.Signals(number).name

    def _watch_wakeup(self) -> None:
        # Python's C-level handler writes the signal's number here at once,
        # whatever the main thread is doing; its Python handler waits for
        # the main thread to run bytecode, which LoadGen's Offline wait never does.
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        try:
            old = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except (ValueError, OSError):
            os.close(read)
            os.close(write)
            return
        if old != -1:  # someone else's (an event loop's): leave it theirs
            signal.set_wakeup_fd(old)
            os.close(read)
            os.close(write)
            return
        self._old_wakeup = old
        self._wakeup = (read, write)

    def _drain(self) -> None:
        assert self._wakeup is not None
        try:
            data = os.read(self._wakeup[0], 512)
        except (BlockingIOError, OSError):
            return
        watched = {getattr(signal, n, None) for n in _SIGNALS} & set(self._previous)
        for number in data:
            if number in watched and self.signal_name is None:
                self.signal_name = signal.Signals(number).name
