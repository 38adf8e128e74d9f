"""Downloads that resume, retry, verify, and never leave half a file under the final name.

A file is fetched into a partial file and renamed to its destination only
once its size and checksum are verified. A partial file left by a cut
connection or a killed run is continued with an HTTP ``Range`` request.
Transient failures (connection refused or reset, time-outs, short bodies,
HTTP 5xx, 408, 429) are retried with exponential backoff, each retry resuming
from what was received.

Where the partial file lives
----------------------------
By default it is ``DEST.part``, beside the destination. With ``partial_dir``
(what ``ctx.download`` and the ``download file`` recipe use: the folder
``partial-downloads`` of the cmpy home) it is kept in that shared folder
instead, named after the expected checksum (``sha256-<hex>.part``; without a
checksum, after a hash of the URL it is fetched from), so that it outlives a
failed run whose folder is deleted and the next run resumes it. A lock file
beside it (``flock``) makes two processes that download the same file take
turns; the partial file is removed once the file is complete or when its
checksum is wrong.

Limits
------
A download never grows past the size it is known to have: ``size=`` when the
caller knows it, else the server's ``Content-Length``; more bytes than that is
an error, not a longer file. ``timeout`` is for inactivity (no byte, or less
than 1 KiB, for that many seconds: a server that trickles a byte now and then
is stalled too); ``total_timeout`` bounds the whole call (all attempts and
sources), and has no default (a large file over a slow link can take hours).
A local source must be a regular file (not a device, a fifo or a folder); its
copy keeps the source's permission bits (it is never readable by more people
than the source).

Credentials
-----------
``https://user:password@host/f`` is fetched with HTTP basic authentication
and shown as ``https://user:***@host/f`` in every error, log line, progress
line and result. ``Authorization``, ``Cookie`` and ``Proxy-Authorization``
headers are not sent on after a redirect to another origin (scheme, host and
port), as ``requests`` does; a redirect to anything but http(s) is refused.

Site mirrors
------------
A site without internet access (or with a faster local copy) points cmpy at
its own copies with two environment variables, read by
:func:`apply_url_overrides`:

``CMPY_DOWNLOAD_MIRROR``
    One or more base URLs or local folders, separated by ``;``. The file name
    of the original URL is appended to each: with
    ``CMPY_DOWNLOAD_MIRROR=/data/mirror``, ``https://host/a/resnet50.onnx``
    is first looked for as ``/data/mirror/resnet50.onnx``.
``CMPY_DOWNLOAD_URL_MAP``
    ``orig_prefix=new_prefix`` pairs separated by ``;``. A URL that starts
    with ``orig_prefix`` is first tried with that prefix replaced, e.g.
    ``https://zenodo.org/record/=http://cache.lan/zenodo/``. The longest
    matching prefix is tried first.

The rewritten URLs come first, then the mirrors, then the original URL, so a
recipe writes ``download(url, dest, mirrors=apply_url_overrides(url, os.environ))``.

The parts
---------
This module is the entry: the arguments, each source in turn, a file
verified and moved into place. :mod:`cmpy._download_sources` says where a
file comes from and what it is called (mirrors, URL maps, schemes);
:mod:`cmpy._download_http` fetches over HTTP, :mod:`cmpy._download_local`
copies a local file; both copy through :mod:`cmpy._download_pump` (time
limits, progress line) into a partial file that :mod:`cmpy._download_partial`
names and locks when it is shared; :mod:`cmpy._download_job` holds what one
call was asked for and the errors it ends with.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._download_http import _fetch_http
from ._download_job import (
    _CANCELLED,
    _OUT_OF_TIME,
    Log,
    _error,
    _hash_file,
    _Job,
    _new_hashes,
)
from ._download_local import _copy_local, _local_path
from ._download_partial import _discard_partial, _hold_partial, _lock_for, _partial_path
from ._download_pump import _stderr_is_tty
from ._download_sources import (
    MIRROR_ENV,
    URL_MAP_ENV,
    _dest_path,
    _sources,
    apply_url_overrides,
)
from ._errors import ChecksumMismatch, DownloadError, UsageError
from ._record import Record
from ._redact import redact

__all__ = [
    "MIRROR_ENV",
    "URL_MAP_ENV",
    "DownloadResult",
    "apply_url_overrides",
    "download",
]

_HEX = {"sha256": 64, "md5": 32}


class DownloadResult(Record):
    """What :func:`download` produced.

    ``url`` is the source that served the file (a mirror or the original),
    with any password shown as ``***``; ``resumed`` says whether a partial
    file was continued, ``attempts`` counts requests made (0 when ``reused``:
    an existing ``dest`` matched the checksum and the network was not used).
    """

    path: Path
    url: str
    size: int
    sha256: str
    md5: str | None
    resumed: bool
    attempts: int
    reused: bool = False


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    mirrors: Sequence[str] = (),
    timeout: float = 30.0,
    total_timeout: float | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    progress: bool | None = None,
    log: Log | None = None,
    cancelled: Callable[[], bool] | None = None,
    headers: Mapping[str, str] | None = None,
    partial_dir: str | os.PathLike[str] | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying and verifying it.

    :param url: an ``http(s)://`` or ``file://`` URL, or a local path (which
        must be a regular file). ``https://user:password@host/...`` is sent
        with basic authentication and shown with the password as ``***``.
    :param dest: the file to create (its folder is created); an existing
        folder means a file named after the URL inside it. When a checksum is
        given and an existing ``dest`` matches it, nothing is downloaded.
    :param sha256: the expected SHA-256, in hex.
    :param md5: the expected MD5, in hex.
    :param size: the expected size in bytes. The download stops there: a
        server that sends more, or announces another size, fails it. Without
        it the server's ``Content-Length`` is the limit, when it sends one.
    :param mirrors: sources tried in order before ``url``: a full URL, or a
        base (ending in ``/``, or an existing local folder) to which the file
        name of ``url`` is appended. See :func:`apply_url_overrides`.
    :param timeout: seconds of inactivity allowed: to connect, or without
        progress (no byte, or less than 1 KiB, in that many seconds, so a
        server that trickles bytes to keep the connection open is stalled
        too). A stall counts as a transient failure and is retried.
    :param total_timeout: seconds for the whole call (every attempt, source
        and backoff); ``None`` (the default): no limit, since a large file over
        a slow link may take hours. Checked between reads, so it may be passed
        by up to ``timeout``. It is not retried; the partial file is kept.
    :param retries: retries per source after transient failures.
    :param backoff: the first delay between retries, doubled each time
        (capped at 30 s; a server's ``Retry-After`` is honoured up to 60 s).
    :param progress: show a progress line on stderr; ``None``: only when
        stderr is a terminal.
    :param log: called with a line for each notable event (retries, resumes).
    :param cancelled: polled between chunks; when it returns True the
        download stops and the partial file is kept for a later resume.
    :param headers: extra HTTP request headers (e.g. an authorisation token);
        ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped
        when a redirect leads to another origin.
    :param partial_dir: keep the partial file in this folder (created, mode
        0700), named after the expected checksum (or a hash of the source URL
        without one), instead of ``DEST.part``: a later call with another
        ``dest`` resumes it, and a lock file beside it makes concurrent
        downloads of the same file take turns.
    :raises DownloadError: every source failed (HTTP 4xx, too many transient
        failures, a time-out, a missing or non-regular local file, more bytes
        than expected) or it was cancelled.
    :raises ChecksumMismatch: the file was fetched but its checksum differs
        (the file is deleted).
    :raises UsageError: a malformed checksum, an unsupported URL scheme, a URL
        whose file name is ``.`` or ``..`` (give ``dest`` as a file path), or
        a negative ``timeout``/``total_timeout``/``retries``/``backoff``/``size``.
    """
    expected = _expected_sums(sha256, md5)
    _check_numbers(url, timeout, total_timeout, retries, backoff, size)
    sources = _sources(url, mirrors)
    target = _dest_path(Path(dest), url)
    say = _redacting(log or _quiet)
    job = _Job(
        target=target,
        part=target.with_name(target.name + ".part"),
        partial_dir=None if partial_dir is None else Path(partial_dir),
        expected=expected,
        size=size,
        algorithms=("sha256", "md5") if md5 is not None else ("sha256",),
        timeout=timeout,
        total_timeout=total_timeout,
        deadline=None if total_timeout is None else time.monotonic() + total_timeout,
        retries=retries,
        backoff=backoff,
        show_progress=_stderr_is_tty() if progress is None else progress,
        say=say,
        cancelled=cancelled or _never,
        headers=dict(headers or {}),
    )
    # two threads of one process fetching the same file would share one .part
    with _lock_for(target):
        reused = _reuse_existing(job, url)
        if reused is not None:
            return reused
        target.parent.mkdir(parents=True, exist_ok=True)
        failures: list[DownloadError] = []
        for i, source in enumerate(sources):
            if i and not expected and job.partial_dir is None:
                # without a checksum, bytes from another source cannot be trusted to fit
                job.part.unlink(missing_ok=True)
            try:
                got = _fetch(job, source)
            except DownloadError as e:
                if e.problem == _CANCELLED or e.problem.startswith(_OUT_OF_TIME):
                    raise
                failures.append(e)
                if i + 1 < len(sources):
                    say(f"{source}: {e.problem}; trying the next source")
                continue
            if job.partial_dir is not None and not expected:
                # what other sources left is now of no use
                for other in sources:
                    if other != source:
                        _discard_partial(_partial_path(job, other))
            return got
    if len(failures) == 1:
        raise failures[0]
    lines = "\n".join(f"    {f.url}: {f.problem}" for f in failures)
    raise DownloadError(
        redact(url),
        f"all {len(failures)} sources failed:\n{lines}",
        hint=f"check the URLs, or point {MIRROR_ENV} at a folder holding the file",
    ) from failures[-1]


def _fetch(job: _Job, source: str) -> DownloadResult:
    """Fetch one source to its partial file, verify it and move it into place."""
    local = _local_path(source)
    job.resumable = local is None
    if job.partial_dir is not None:
        job.part = _partial_path(job, source)
    with _hold_partial(job, source):
        attempts = 0
        for round_ in (1, 2):
            got = _fetch_http(job, source) if local is None else _copy_local(job, source, local)
            attempts += got.attempts
            sums = {name: h.hexdigest() for name, h in got.hashes.items()}
            bad = next((n for n, want in job.expected.items() if sums[n] != want), None)
            if bad is None:
                break
            job.part.unlink(missing_ok=True)
            if got.resumed and round_ == 1:
                # the partial file may be left from another version of the file
                job.say(f"{source}: {bad} mismatch after resuming; downloading again from zero")
                continue
            raise ChecksumMismatch(redact(source), bad, job.expected[bad], sums[bad])
        if job.size is not None and got.size != job.size:
            job.part.unlink(missing_ok=True)
            raise _error(source, f"got {got.size} bytes, but size={job.size} was expected")
        _move_into_place(job, source)
    return DownloadResult(
        path=job.target,
        url=redact(source),
        size=got.size,
        sha256=sums["sha256"],
        md5=sums.get("md5"),
        resumed=got.resumed,
        attempts=attempts,
    )


def _reuse_existing(job: _Job, url: str) -> DownloadResult | None:
    if not job.expected or not job.target.is_file():
        return None
    hashes = _new_hashes(job.algorithms)
    size = _hash_file(job.target, hashes)
    sums = {name: h.hexdigest() for name, h in hashes.items()}
    if any(sums[name] != want for name, want in job.expected.items()) or (
        job.size is not None and size != job.size
    ):
        job.say(f"{job.target} exists but does not match the checksum; downloading again")
        return None
    job.say(f"{job.target} already present and verified")
    return DownloadResult(
        path=job.target,
        url=redact(url),
        size=size,
        sha256=sums["sha256"],
        md5=sums.get("md5"),
        resumed=False,
        attempts=0,
        reused=True,
    )


def _move_into_place(job: _Job, source: str) -> None:
    """Rename the verified partial file to the target (copying across file systems)."""
    try:
        os.replace(job.part, job.target)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise _error(
                source, f"cannot move the file to {job.target}: {e.strerror or e}"
            ) from None
    import shutil

    # the partial folder is on another file system: copy beside the target, then rename
    tmp = job.target.with_name(f".{job.target.name}.{os.urandom(4).hex()}.tmp")
    try:
        shutil.copyfile(job.part, tmp)
        shutil.copymode(job.part, tmp)
        os.replace(tmp, job.target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _error(source, f"cannot write {job.target}: {e.strerror or e}") from None
    job.part.unlink(missing_ok=True)


def _redacting(log: Log) -> Log:
    return lambda line: log(redact(line))


def _expected_sums(sha256: str | None, md5: str | None) -> dict[str, str]:
    expected: dict[str, str] = {}
    for name, value in (("sha256", sha256), ("md5", md5)):
        if value is None:
            continue
        text = value.strip().lower()
        if len(text) != _HEX[name] or any(c not in "0123456789abcdef" for c in text):
            raise UsageError(
                f"{name}={value!r} is not a {name} checksum",
                hint=f"give the {_HEX[name]} hex digits, as `{name}sum FILE` prints them",
            )
        expected[name] = text
    return expected


def _check_numbers(
    url: str,
    timeout: float,
    total_timeout: float | None,
    retries: int,
    backoff: float,
    size: int | None,
) -> None:
    # written so that nan, which compares false to everything, is refused too
    good = (
        0 < timeout < float("inf")
        and (total_timeout is None or 0 < total_timeout < float("inf"))
        and retries >= 0
        and 0 <= backoff < float("inf")
        and (size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 0))
    )
    if not good:
        raise UsageError(
            f"download of {redact(url)}: timeout and total_timeout must be > 0, retries, "
            f"backoff and size >= 0 (got timeout={timeout}, total_timeout={total_timeout}, "
            f"retries={retries}, backoff={backoff}, size={size})",
        )


def _quiet(_line: str) -> None:
    pass


def _never() -> bool:
    return False
