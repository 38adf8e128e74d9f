"""Finding tools on this machine, Spack style: executables, their versions, the best fit.

:func:`find_executables` lists candidates (``python3``, ``python3.11``,
``gcc-12`` ...) in PATH order, :func:`detect_version` asks one of them for its
version, :func:`choose` picks the newest that fits a PEP 440 specifier, and
:func:`detect` does all three.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._errors import ToolNotFound, UsageError, VersionConflict
from ._record import Record

__all__ = [
    "Candidate",
    "choose",
    "detect",
    "detect_version",
    "find_executables",
    "natural_key",
    "search_dirs",
]

_MAX_PROBES = 8


class Candidate(Record):
    """One executable found, with the version it reported (``None`` if it said none)."""

    path: Path
    version: str | None

    def __str__(self) -> str:
        return f"{self.path} ({self.version or 'version unknown'})"


def find_executables(
    names: Sequence[str],
    *,
    path: str | None = None,
    extra_dirs: Sequence[str | os.PathLike[str]] = (),
    patterns: bool = True,
) -> list[Path]:
    """Find executables called ``names`` (and their versioned variants) in PATH order.

    :param names: base names such as ``["python3", "python"]``.
    :param path: a PATH-style list of folders; ``None`` means ``$PATH``.
    :param extra_dirs: folders searched after those of ``path``.
    :param patterns: also accept a name followed by a version, with or without
        a ``.`` or ``-`` between: ``python3.11``, ``gcc-12``, ``clang17``.
    :returns: executable files, each file once (the first path that reaches it),
        ordered by folder, then by the order of ``names``, the exact name
        before its versioned variants, and those in version order.
    """
    matchers = [_name_matcher(name, patterns) for name in names]
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder in search_dirs(path, extra_dirs):
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue  # a PATH entry that is missing or unreadable is not an error
        for matcher in matchers:
            hits = [e for e in entries if matcher.fullmatch(_stem(e.name))]
            hits.sort(key=lambda e: natural_key(e.name))
            for entry in hits:
                try:
                    st = entry.stat()  # follows symlinks: the file that would run
                except OSError:
                    continue  # a dangling link
                if not entry.is_file() or not os.access(entry.path, os.X_OK):
                    continue
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                found.append(Path(entry.path))
    return found


def search_dirs(
    path: str | None = None, extra_dirs: Sequence[str | os.PathLike[str]] = ()
) -> list[str]:
    """The folders :func:`find_executables` looks in, in order, each once.

    :param path: a PATH-style list of folders; ``None`` means ``$PATH``.
        Empty entries (which a shell reads as the current folder) are skipped.
    :param extra_dirs: folders appended after those of ``path``.
    """
    raw = os.environ.get("PATH", "") if path is None else path
    # a tool found in the current folder by accident is not one this machine has
    folders = [d for d in raw.split(os.pathsep) if d]
    folders += [os.fspath(d) for d in extra_dirs]
    return list(dict.fromkeys(folders))


def detect_version(
    exe: str | os.PathLike[str],
    *,
    args: Sequence[str] = ("--version",),
    regex: str | re.Pattern[str],
    timeout: float = 10.0,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """Run ``exe args`` (no shell) and read its version from its output.

    :param exe: the executable.
    :param args: arguments that make it print its version.
    :param regex: searched in stdout and stderr together (a string is compiled
        multi-line); the version is the group named ``version``, else group 1,
        else the whole match.
    :param timeout: seconds before the probe is killed and ``None`` returned.
    :param env: its environment; ``None`` means this process's with
        ``LC_ALL=C``, so that the text is not translated.
    :returns: the version string, or ``None`` when it cannot be run, times out
        or prints nothing that matches (whatever its exit status: some tools
        print their version and exit 1).
    :raises UsageError: when ``regex`` is not a valid regular expression.
    """
    # imported here: subprocess costs ~3 ms of start-up on the CLI path
    import subprocess

    from ._children import forget, kill_group, spawn

    pattern = _compile(regex)
    run_env = {**os.environ, "LC_ALL": "C"} if env is None else dict(env)
    try:
        # its own process group, so a wrapper script's children die with it (and with cmpy)
        proc = spawn(
            [os.fspath(exe), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=run_env,
        )
    except OSError:
        return None
    with proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # the whole group: a child left alive would hold the pipe open
            # and the communicate() below would wait for it forever
            kill_group(proc, grace=0)
            proc.communicate()
            return None
        finally:
            forget(proc)
    match = pattern.search(output.decode("utf-8", "replace"))
    if match is None:
        return None
    if "version" in pattern.groupindex:
        version = match.group("version")
    else:
        version = match.group(1) if pattern.groups else match.group(0)
    # an optional group that took no part in the match gives None
    return (version or "").strip() or None


def choose(
    candidates: Sequence[Candidate],
    spec: str | None,
    *,
    what: str = "tool",
    searched: Sequence[str] = (),
) -> Candidate:
    """Pick the newest candidate whose version fits ``spec``.

    Versions that are not PEP 440 take no part in the choice but are listed in
    errors. Final releases are preferred; a pre-release is chosen only when
    no final release fits. Among equal versions the first candidate wins.

    :param candidates: what was found, in search order.
    :param spec: a PEP 440 specifier such as ``">=3.8,<3.13"``; ``None`` or
        ``""`` admits any version (the newest is chosen; with no readable
        version at all, the first candidate).
    :param what: the tool's name, for messages.
    :param searched: where it was looked for, for messages.
    :raises ToolNotFound: when there are no candidates at all.
    :raises VersionConflict: when none of them fits ``spec``.
    :raises UsageError: when ``spec`` is not a PEP 440 specifier.
    """
    if not candidates:
        raise ToolNotFound(
            what,
            searched=searched,
            hint=f"install {what}, or add the folder that holds it to PATH",
        )
    # imported here: packaging costs ~15 ms of start-up (docs/PITFALLS.md)
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        wanted = SpecifierSet(spec or "")
    except InvalidSpecifier:
        raise UsageError(
            f"{what}: {spec!r} is not a version specifier",
            hint="write a PEP 440 specifier such as '>=3.8', '==3.11.*' or '>=12,<14'",
        ) from None
    parsed: dict[Version, Candidate] = {}
    for candidate in candidates:
        if candidate.version is None:
            continue
        try:
            version = Version(candidate.version)
        except InvalidVersion:
            continue
        parsed.setdefault(version, candidate)  # the first path for a version wins
    fitting = list(wanted.filter(parsed))
    if fitting:
        return parsed[max(fitting)]
    if not spec and not parsed:
        return candidates[0]
    raise VersionConflict(
        what,
        None,
        spec or "",
        candidates=[str(c) for c in candidates],
    )


def detect(
    names: Sequence[str],
    regex: str | re.Pattern[str],
    *,
    spec: str | None = None,
    args: Sequence[str] = ("--version",),
    path: str | None = None,
    extra_dirs: Sequence[str | os.PathLike[str]] = (),
    timeout: float = 10.0,
) -> Candidate:
    """Find ``names`` on this machine, ask each its version and pick the best fit.

    :param names: base names of the executable (see :func:`find_executables`).
    :param regex: how to read the version (see :func:`detect_version`).
    :param spec: a PEP 440 specifier the version must fit (see :func:`choose`).
    :param args: arguments that make it print its version.
    :param path: a PATH-style list of folders; ``None`` means ``$PATH``.
    :param extra_dirs: folders searched after those of ``path``.
    :param timeout: seconds each version probe may take.
    :raises ToolNotFound: nothing called ``names`` is there.
    :raises VersionConflict: something is there, but no version fits ``spec``.
    :raises UsageError: ``regex`` or ``spec`` is malformed.
    """
    pattern = _compile(regex)  # a bad regex is the caller's error, not "version unknown"
    what = " or ".join(names)
    exes = find_executables(names, path=path, extra_dirs=extra_dirs)

    def probe(exe: Path) -> Candidate:
        version = detect_version(exe, args=args, regex=pattern, timeout=timeout)
        return Candidate(exe, version)

    if len(exes) > 1:
        from concurrent.futures import ThreadPoolExecutor

        # the probes are mostly waiting for child processes: overlap them
        with ThreadPoolExecutor(max_workers=min(_MAX_PROBES, len(exes))) as pool:
            candidates = list(pool.map(probe, exes))
    else:
        candidates = [probe(exe) for exe in exes]
    return choose(candidates, spec, what=what, searched=search_dirs(path, extra_dirs))


def _compile(regex: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(regex, re.Pattern):
        return regex
    try:
        return re.compile(regex, re.MULTILINE)
    except re.error as e:
        raise UsageError(
            f"invalid version regex {regex!r}: {e}",
            hint=r"capture the version in a group, e.g. r'Python (\d+\.\d+\.\d+)'",
        ) from None


def _name_matcher(name: str, patterns: bool) -> re.Pattern[str]:
    if not patterns:
        return re.compile(re.escape(name))
    # python3 -> python3.11, gcc -> gcc-12, clang -> clang17; not python3-config
    return re.compile(re.escape(name) + r"(?:[.-]?\d+(?:\.\d+)*)?")


def _stem(filename: str) -> str:
    if os.name != "nt":
        return filename
    # on Windows the name to match is the one without its PATHEXT suffix
    root, ext = os.path.splitext(filename)
    suffixes = os.environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD").lower().split(";")
    return root if ext.lower() in suffixes else filename


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts numbers in number order: python3.9 before python3.11,
    versions/3.9.18 before versions/3.10.13 (the name without digits added first)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)
    )
