"""What a run says on stderr while it goes: each recipe as it starts and ends."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from contextvars import ContextVar

__all__ = ["LIVE", "Reporter", "live_display"]

# whether live displays (progress bars) are welcome: the CLI turns them off
# for --json, whose reader wants the terminal left alone
LIVE: ContextVar[bool] = ContextVar("cmpy_live", default=True)


def live_display(quiet: bool) -> bool:
    """Whether a body may draw a live display: on a terminal, not quiet, not --json."""
    if quiet or not LIVE.get():
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(callable(isatty) and isatty())


def _fmt_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


class Reporter:
    """Progress lines on stderr; silent when quiet."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self._lock:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def start(self, label: str) -> None:
        if not self.quiet:
            self._write(f"cmpy: run    {label} ...")

    def cached(self, label: str, env: Mapping[str, str]) -> None:
        if not self.quiet:
            self._write(f"cmpy: cached {label}")
            self._env(env)

    def done(self, label: str, seconds: float, env: Mapping[str, str]) -> None:
        if not self.quiet:
            self._write(f"cmpy: done   {label} ({_fmt_duration(seconds)})")
            self._env(env)

    def failed(self, label: str, seconds: float) -> None:
        if not self.quiet:
            self._write(f"cmpy: FAILED {label} ({_fmt_duration(seconds)})")

    def waiting(self, label: str) -> None:
        if not self.quiet:
            self._write(f"cmpy: wait   {label}: another process is making it")

    def skipped(self, label: str, why: str) -> None:
        if not self.quiet:
            self._write(f"cmpy: skip   {label}: {why}")

    def _env(self, env: Mapping[str, str]) -> None:
        if self.verbose:
            for key in sorted(env):
                self._write(f"         {key}={env[key]}")
