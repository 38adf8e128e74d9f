"""One download call: what it was asked for, what a source yielded, the errors it ends with.

:class:`_Job` carries the call's settings through every source and attempt;
:class:`_Got` is what one source yielded, :class:`_Transient` a failure worth
retrying. The errors made here show no password, and their hints say
truthfully what became of the partial file. The checksums are computed here
too, as bytes pass or over a file already on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from ._errors import DownloadError
from ._record import Record
from ._redact import redact

__all__ = [
    "_CANCELLED",
    "_OUT_OF_TIME",
    "Log",
    "_Got",
    "_Hasher",
    "_Job",
    "_Transient",
    "_cancelled",
    "_error",
    "_hash_file",
    "_kept",
    "_new_hashes",
    "_out_of_time",
]

_CANCELLED = "cancelled"
_OUT_OF_TIME = "not finished within total_timeout"
Log = Callable[[str], None]


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class _Job(Record, frozen=False):
    target: Path
    part: Path  # the partial file of the source being fetched
    partial_dir: Path | None
    expected: dict[str, str]
    size: int | None
    algorithms: tuple[str, ...]
    timeout: float
    total_timeout: float | None
    deadline: float | None
    retries: int
    backoff: float
    show_progress: bool
    say: Log
    cancelled: Callable[[], bool]
    headers: dict[str, str]
    # whether a partial file of the source being fetched is kept for a resume
    # (not for a local copy, which is always made whole)
    resumable: bool = True


class _Got(Record, frozen=False):
    size: int
    hashes: dict[str, _Hasher]
    resumed: bool
    attempts: int


class _Transient(Exception):
    """A failure worth retrying; what was received so far is kept."""

    def __init__(
        self, problem: str, *, retry_after: float | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(problem)
        self.retry_after = retry_after
        self.timed_out = timed_out


def _kept(job: _Job) -> str:
    """The end of a hint that says truthfully what became of the partial file."""
    if not job.resumable:
        return ""
    try:
        kept = job.part.stat().st_size
    except OSError:
        return ""
    if not kept:
        return ""
    if job.partial_dir is None:
        return f"; the partial file {job.part} ({kept} bytes) is kept, and a new call resumes it"
    return (
        f"; the partial file {job.part} ({kept} bytes) is kept, and the next download "
        "of this file resumes it"
    )


def _cancelled(job: _Job, source: str) -> DownloadError:
    kept = _kept(job)
    return _error(source, _CANCELLED, hint=kept[2:] if kept else None)


def _out_of_time(job: _Job, source: str) -> DownloadError:
    return _error(
        source,
        f"{_OUT_OF_TIME}={job.total_timeout:g} s",
        hint="raise total_timeout=, or use a faster mirror" + _kept(job),
    )


def _error(source: str, problem: str, *, hint: str | None = None) -> DownloadError:
    """A DownloadError that shows no password, wherever the URL appears in it."""
    return DownloadError(redact(source), redact(problem), hint=redact(hint) if hint else None)


def _new_hashes(algorithms: Sequence[str]) -> dict[str, _Hasher]:
    # imported here: loading OpenSSL's hashes costs ~3 ms of start-up
    import hashlib

    # md5 is a checksum here, not a security measure
    return {name: hashlib.new(name, usedforsecurity=False) for name in algorithms}


def _hash_file(path: Path, hashes: dict[str, _Hasher]) -> int:
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            for h in hashes.values():
                h.update(chunk)
            size += len(chunk)
    return size
