"""What a recipe body is handed: its env, inputs, folder, and ways to act."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager

from ._shell import Completed, ProcessSet, run_command, stderr_echo

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from ._cache import KeyLock
    from ._download import DownloadResult
    from ._result import Result

__all__ = ["Ctx"]

Command = str | Sequence[str | os.PathLike[str]]


class Ctx:
    """The context of one recipe run, handed to its body.

    Attributes:
        env: the env the recipe reads (its defaults, variations, what came from
            above) plus every dep's exported env, merged in declaration order.
        state: the deps' structured state, merged; what the body adds is handed back.
        inputs: the recipe's inputs by input name (the values of their env keys).
        variations: the resolved variations, canonical and sorted.
        version_spec: the PEP 440 specifier asked of this recipe ("" for none).
        deps: results of the deps that have a name, by name.
        recipe: the alias of the recipe running.
        quiet: whether output should stay off the terminal.
        live: whether a live display (a progress bar redrawn in place) is
            welcome: stderr is a terminal, the run is not quiet and no JSON
            document is being written.
        dry_run: the body runs under ``--dry-run`` (only recipes declared
            ``dry_run_safe``): it must change nothing, and say what it would do.
        said: what the body said through :meth:`log`, in order.
    """

    __slots__ = (
        "_log_name",
        "_make_lock",
        "_make_path",
        "_path",
        "_procs",
        "_request",
        "_request_sync",
        "deps",
        "dry_run",
        "env",
        "inputs",
        "live",
        "quiet",
        "recipe",
        "said",
        "state",
        "variations",
        "version_spec",
    )

    def __init__(
        self,
        *,
        recipe: str,
        env: dict[str, str],
        state: dict[str, Any],
        inputs: dict[str, str],
        variations: tuple[str, ...],
        version_spec: str,
        deps: dict[str, Result],
        quiet: bool,
        path: str | None,
        live: bool = False,
        dry_run: bool = False,
        make_path: Callable[[], str],
        request: Callable[..., Awaitable[Result]],
        request_sync: Callable[..., Result],
        make_lock: Callable[[str], KeyLock],
    ) -> None:
        self.recipe = recipe
        self.env = env
        self.state = state
        self.inputs = inputs
        self.variations = variations
        self.version_spec = version_spec
        self.deps = deps
        self.quiet = quiet
        self.live = live
        self.dry_run = dry_run
        self.said: list[str] = []
        self._path = path
        self._make_path = make_path
        self._procs = ProcessSet()
        self._request = request
        self._request_sync = request_sync
        self._make_lock = make_lock
        self._log_name = "cmpy-run.log"

    @property
    def path(self) -> Path:
        """The result's own folder: the cache entry's for cached recipes, a run folder otherwise."""
        from pathlib import Path

        return Path(self.folder)

    @property
    def folder(self) -> str:
        """:attr:`path` as a string (made on first use for uncached recipes)."""
        if self._path is None:
            self._path = self._make_path()
        return self._path

    def log(self, message: str) -> None:
        """Say something about the run on stderr (unless quiet) and in the run log."""
        self.said.append(message)
        if not self.quiet:
            sys.stderr.write(f"  [{self.recipe}] {message}\n")
            sys.stderr.flush()
        if self._path is not None:
            with open(os.path.join(self._path, self._log_name), "a", encoding="utf-8") as fh:
                fh.write(message + "\n")

    def _sh_args(self, env: Mapping[str, Any] | None, quiet: bool | None) -> dict[str, Any]:
        merged = dict(self.env)
        if env:
            merged.update({k: str(v) for k, v in env.items()})
        silent = self.quiet if quiet is None else quiet
        return {
            "env": merged,
            "log": lambda: os.path.join(self.folder, self._log_name),
            "echo": None if silent else stderr_echo(f"  [{self.recipe}] "),
            "procs": self._procs,
        }

    def sh_sync(
        self,
        cmd: Command,
        *,
        env: Mapping[str, Any] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        check: bool = True,
        quiet: bool | None = None,
        timeout: float | None = None,
        input: str | bytes | None = None,
    ) -> Completed:
        """Run a command and wait (for plain ``def`` bodies); see :meth:`sh`."""
        return run_command(
            cmd,
            cwd=cwd,
            check=check,
            timeout=timeout,
            input=input,
            **self._sh_args(env, quiet),
        )

    async def sh(
        self,
        cmd: Command,
        *,
        env: Mapping[str, Any] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        check: bool = True,
        quiet: bool | None = None,
        timeout: float | None = None,
        input: str | bytes | None = None,
    ) -> Completed:
        """Run a command: a list runs without a shell, a string under bash.

        ``ctx.env`` (plus ``env``) is passed as the environment, never spliced
        into the command text. Output goes to a log file in ``ctx.path`` and,
        unless quiet, to stderr.

        Raises:
            CommandFailed: a non-zero exit status (when ``check``), with the
                command, the exit code and the output tail.
        """
        import anyio

        args = self._sh_args(env, quiet)
        try:
            return await anyio.to_thread.run_sync(
                lambda: run_command(
                    cmd, cwd=cwd, check=check, timeout=timeout, input=input, **args
                ),
                abandon_on_cancel=True,
            )
        except anyio.get_cancelled_exc_class():
            self._procs.kill_all()
            raise

    async def run(self, query: str, /, **kwargs: Any) -> Result:
        """Run a dependency only the body can decide; takes the arguments of :func:`cmpy.run`.

        The dep inherits this recipe's env (``ctx.env`` as it is now) and is
        recorded like a static dep: a cached result of this recipe is checked
        against it.
        """
        return await self._request(query, dict(self.env), kwargs)

    def run_sync(self, query: str, /, **kwargs: Any) -> Result:
        """:meth:`run` for plain ``def`` bodies."""
        return self._request_sync(query, dict(self.env), kwargs)

    def _download_args(self, url: str, filename: str | None, mirrors: Sequence[str]) -> dict[str, Any]:
        from ._download import apply_url_overrides
        from ._errors import UsageError
        from ._home import home

        if filename is not None and (
            filename in ("", ".", "..") or "/" in filename or os.sep in filename or "\0" in filename
        ):
            raise UsageError(
                f"filename={filename!r} is not a plain file name",
                hint="give filename as a name without folders, such as 'model.onnx'",
            )
        # a site's mirror settings come from the process env or the run's env
        env = dict(os.environ)
        env.update(self.env)
        overrides = [u for u in apply_url_overrides(url, env) if u != url]
        return {
            "dest": os.path.join(self.folder, filename) if filename else self.folder,
            "mirrors": [*overrides, *mirrors],
            "progress": self.live,
            "log": self.log,
            "cancelled": lambda: self._procs.cancelled,
            # outside the result's folder, which a failed run loses: the next run resumes it
            "partial_dir": os.path.join(home(), "partial-downloads"),
        }

    def download_sync(
        self,
        url: str,
        *,
        filename: str | None = None,
        sha256: str | None = None,
        md5: str | None = None,
        size: int | None = None,
        mirrors: Sequence[str] = (),
        timeout: float = 30.0,
        total_timeout: float | None = None,
        retries: int = 4,
        headers: Mapping[str, str] | None = None,
    ) -> DownloadResult:
        """Download a file into ``ctx.path`` (for plain ``def`` bodies); see :meth:`download`."""
        from ._download import download

        return download(
            url,
            sha256=sha256,
            md5=md5,
            size=size,
            timeout=timeout,
            total_timeout=total_timeout,
            retries=retries,
            headers=headers,
            **self._download_args(url, filename, mirrors),
        )

    async def download(
        self,
        url: str,
        *,
        filename: str | None = None,
        sha256: str | None = None,
        md5: str | None = None,
        size: int | None = None,
        mirrors: Sequence[str] = (),
        timeout: float = 30.0,
        total_timeout: float | None = None,
        retries: int = 4,
        headers: Mapping[str, str] | None = None,
    ) -> DownloadResult:
        """Download a file into ``ctx.path``: resumed, retried, verified, renamed when whole.

        The keywords are those of :func:`cmpy.tools.download`: ``size`` (the
        expected bytes; more is an error), ``timeout`` (seconds of inactivity:
        no byte, or less than 1 KiB), ``total_timeout`` (seconds for the whole
        download; default none), ``headers`` (dropped on a redirect to another
        origin). A cut download's partial file is kept in the cmpy home's
        ``partial-downloads`` folder, named after the checksum (or the URL), so
        the next run resumes it even though this run's folder is removed.
        ``CMPY_DOWNLOAD_MIRROR`` and ``CMPY_DOWNLOAD_URL_MAP`` (in the process
        env or the run's env) point it at a site's own copy first.

        Raises:
            DownloadError: the file could not be fetched (ChecksumMismatch when
                it arrived but its checksum is wrong; it is deleted).
            UsageError: ``filename`` is not a plain name, or the URL's file
                name is ``.`` or ``..`` and no ``filename`` is given.
        """
        import anyio

        return await anyio.to_thread.run_sync(
            lambda: self.download_sync(
                url,
                filename=filename,
                sha256=sha256,
                md5=md5,
                size=size,
                mirrors=mirrors,
                timeout=timeout,
                total_timeout=total_timeout,
                retries=retries,
                headers=headers,
            ),
            abandon_on_cancel=True,
        )

    def extract_sync(
        self,
        archive: str | os.PathLike[str],
        target: str | os.PathLike[str] | None = None,
        *,
        strip_components: int = 0,
        **limits: Any,
    ) -> Path:
        """Extract an archive (for plain ``def`` bodies); see :meth:`extract`."""
        from ._archive import extract

        where = os.path.join(self.folder, "extracted") if target is None else target
        return extract(archive, where, strip_components=strip_components, log=self.log, **limits)

    async def extract(
        self,
        archive: str | os.PathLike[str],
        target: str | os.PathLike[str] | None = None,
        *,
        strip_components: int = 0,
        **limits: Any,
    ) -> Path:
        """Extract a tar or zip archive (default target: ``ctx.path / "extracted"``).

        ``limits`` are the keywords of :func:`cmpy.tools.extract`:
        ``allow_empty`` (default False: an archive that yields no member is an
        error), ``max_total_size`` (50 GiB), ``max_members`` (1,000,000),
        ``max_ratio`` (200, checked past ``ratio_min_size``, 100 MiB); None
        lifts a limit.

        Raises:
            ArchiveError: corrupt, unsafe (a member that would land outside
                the target), past a limit, or empty; nothing is left behind.
        """
        import anyio

        return await anyio.to_thread.run_sync(
            lambda: self.extract_sync(archive, target, strip_components=strip_components, **limits),
            abandon_on_cancel=True,
        )

    @contextmanager
    def lock_sync(self, name: str) -> Iterator[None]:
        """Hold an inter-process lock on a named resource (for plain ``def`` bodies).

        Recipes that must not touch one thing at the same time (two ``pip
        install`` runs into one interpreter) take the same name. The OS drops
        the lock when a process dies.
        """
        lock = self._make_lock(name)
        if not lock.try_acquire():
            self.log(f"waiting for {name}")
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """:meth:`lock_sync` for ``async def`` bodies (waits without blocking the loop)."""
        lock = self._make_lock(name)
        if not lock.try_acquire():
            self.log(f"waiting for {name}")
            await lock.acquire_async()
        try:
            yield
        finally:
            lock.release()

    @property
    def cancelled(self) -> bool:
        """Whether this run is being cancelled (Ctrl-C, a signal, or another recipe failed).

        Commands it started are killed and new ones refused; a body that
        works for long without commands (a training loop, a benchmark)
        polls this and stops early, raising :class:`cmpy.Interrupted`.
        """
        return self._procs.cancelled

    def kill(self) -> None:
        """Kill every command this run started (used when the run is cancelled)."""
        self._procs.kill_all()
