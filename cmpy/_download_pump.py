"""Copying a source into the partial file: the pump, its time limits, the progress line.

:func:`_pump` copies and hashes chunks, stops at the size the file is known
to have, and answers ``cancelled``, the ``total_timeout`` deadline and a
stalled transfer; :func:`_sleep` waits between retries answering the same;
:class:`_Progress` draws the one-line display on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

from ._download_job import _cancelled, _error, _Hasher, _Job, _out_of_time, _Transient
from ._download_sources import _file_name
from ._errors import DownloadError
from ._redact import redact
from ._sizes import _human

__all__ = ["_Progress", "_pump", "_sleep", "_stderr_is_tty"]

_CHUNK = 1 << 16
# a transfer that moves less than this in `timeout` seconds is stalled
_MIN_PROGRESS = 1024


def _pump(
    job: _Job,
    source: str,
    read: Callable[[int], bytes],
    out: IO[bytes],
    hashes: dict[str, _Hasher],
    bar: _Progress,
    received: int,
    limit: int | None,
    kind: str,
) -> int:
    """Copy chunks to ``out``, hashing as they pass; return the bytes now in the file.

    ``limit`` is the size the file is known to have: a byte past it stops
    the copy. ``kind`` is ``"network"`` (a stall is a transient failure) or
    ``"grew"`` (a local file, which must not change while it is copied).
    """
    window_start = time.monotonic()
    window_bytes = 0
    try:
        while True:
            if job.cancelled():
                out.flush()  # so that the hint tells what is kept
                raise _cancelled(job, source)
            now = time.monotonic()
            if job.deadline is not None and now > job.deadline:
                out.flush()
                raise _out_of_time(job, source)
            want = _CHUNK if limit is None else max(1, min(_CHUNK, limit - received + 1))
            chunk = read(want)
            if not chunk:
                return received
            if limit is not None and received + len(chunk) > limit:
                job.part.unlink(missing_ok=True)
                raise _too_long(job, source, limit, kind)
            out.write(chunk)
            for h in hashes.values():
                h.update(chunk)
            received += len(chunk)
            bar.update(received)
            if kind == "network":
                window_bytes += len(chunk)
                now = time.monotonic()
                if now - window_start >= job.timeout:
                    if window_bytes < _MIN_PROGRESS:
                        raise _Transient(
                            f"only {window_bytes} bytes in {now - window_start:.1f} s "
                            f"(less than 1 KiB per timeout={job.timeout:g} s: the server trickles)",
                            timed_out=True,
                        )
                    window_start, window_bytes = now, 0
    finally:
        bar.close()


def _too_long(job: _Job, source: str, limit: int, kind: str) -> DownloadError:
    if kind == "grew":
        return _error(source, f"the file grew past its {limit} bytes while it was copied")
    said = f"size={job.size}" if job.size is not None else "its Content-Length"
    return _error(
        source,
        f"the server sent more than the {limit} bytes expected ({said}); nothing was kept",
        hint="check the URL and size=; a server that sends more than it announced is broken",
    )


def _sleep(job: _Job, source: str, delay: float) -> None:
    """Wait before a retry, still answering ``cancelled`` and the deadline."""
    deadline = time.monotonic() + delay
    while True:
        if job.cancelled():
            raise _cancelled(job, source)
        now = time.monotonic()
        if job.deadline is not None and now >= job.deadline:
            raise _out_of_time(job, source)
        left = deadline - now
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def _stderr_is_tty() -> bool:
    # sys.stderr is None under pythonw and in some embedded interpreters
    return sys.stderr is not None and sys.stderr.isatty()


class _Progress:
    """A one-line progress display on stderr: bytes, percent when known, rate."""

    def __init__(self, job: _Job, source: str, total: int | None, start: int) -> None:
        self.enabled = job.show_progress
        self.name = redact(_file_name(source) or source)
        self.total = total
        self.start = start
        self.began = time.monotonic()
        self.shown_at = 0.0
        self.width = 0
        self.received = start

    def update(self, received: int) -> None:
        self.received = received
        now = time.monotonic()
        # ten updates a second are readable and cost nothing
        if self.enabled and now - self.shown_at >= 0.1:
            self.shown_at = now
            self._show(now)

    def close(self) -> None:
        if self.enabled:
            self._show(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _show(self, now: float) -> None:
        elapsed = max(now - self.began, 1e-6)
        rate = (self.received - self.start) / elapsed
        text = f"{self.name}: {_human(self.received, 'B')}"
        if self.total:
            text += f" / {_human(self.total, 'B')} ({100 * self.received / self.total:3.0f}%)"
        text += f"  {_human(rate, 'B')}/s"
        pad = max(0, self.width - len(text))
        self.width = len(text)
        sys.stderr.write("\r" + text + " " * pad)
        sys.stderr.flush()
