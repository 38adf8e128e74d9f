"""A live progress line on the terminal while LoadGen runs."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["ProgressLine", "format_rate"]


def format_rate(per_second: float) -> str:
    """``1234567`` -> ``"1.23 M"``: a rate short enough for one line."""
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if per_second >= factor:
            return f"{per_second / factor:.2f}{suffix}"
    return f"{per_second:.1f}"


class ProgressLine:
    """Rewrites one stderr line a few times a second from a background thread.

    It only reads ``counter()`` (the SUT's completed-sample count), so the
    run's hot path pays nothing for it. It draws only when ``enabled`` and
    the stream is a terminal; otherwise it starts no thread at all.

    :param counter: returns the samples completed so far.
    :param label: what runs, e.g. ``"Offline performance"``.
    :param min_duration_s: LoadGen's minimum duration, shown as the goal.
    :param enabled: ``False`` when the caller asked for quiet.
    :param stream: where to draw (default ``sys.stderr``).
    :param interval_s: seconds between redraws.
    """

    def __init__(
        self,
        counter: Callable[[], int],
        *,
        label: str,
        min_duration_s: float,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval_s: float = 0.25,
    ) -> None:
        self._counter = counter
        self._label = label
        self._min_duration_s = min_duration_s
        self._stream = stream if stream is not None else sys.stderr
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        isatty = getattr(self._stream, "isatty", None)
        self.active = bool(enabled and callable(isatty) and isatty())

    def __enter__(self) -> ProgressLine:
        if self.active:
            self._thread = threading.Thread(
                target=self._run, name="cmpy-loadgen-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._drawn:
            # Leave the terminal as it was: erase the line rather than end it.
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def render(self, done: int, elapsed_s: float, rate: float) -> str:
        """The text of one redraw."""
        return (
            f"{self._label}: {done:,} samples | {elapsed_s:.1f}/{self._min_duration_s:.1f} s "
            f"min | {format_rate(rate)} samples/s"
        )

    def _run(self) -> None:
        began = last_time = time.perf_counter()
        last_done = self._counter()
        while not self._stop.wait(self._interval_s):
            now, done = time.perf_counter(), self._counter()
            rate = (done - last_done) / max(now - last_time, 1e-9)
            last_time, last_done = now, done
            try:
                self._stream.write("\r" + self.render(done, now - began, rate) + "\x1b[K")
                self._stream.flush()
            except (OSError, ValueError):  # the terminal went away: stop drawing
                return
            self._drawn = True
