"""The tree an archive would create, judged before anything is written, and checked after.

:class:`_Tree` models the extracted folder without the disk: links are
followed the way the kernel would follow them once the real tree is written,
so a member written through a symlink an earlier member made is caught.
Member names and link texts are checked on their own (absolute, ``..``, NUL,
more than :data:`MAX_MEMBER_DEPTH` components); :func:`_verify_tree` looks
again at what landed on disk. Anything unsafe raises :class:`_Unsafe`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import PurePosixPath, PureWindowsPath

__all__ = [
    "MAX_MEMBER_DEPTH",
    "_Tree",
    "_Unsafe",
    "_check_member_name",
    "_shown",
    "_strip",
    "_verify_tree",
]

_MAX_LINKS = 40  # the same limit on symlink hops as Linux's ELOOP
#: The most path components a member name may have (deeper ones are refused).
MAX_MEMBER_DEPTH = 256


class _Unsafe(Exception):
    """A member that would write or point outside the target, or is not plain data."""

    def __init__(self, message: str, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class _Tree:
    """What an archive creates in an empty folder, modelled without the disk.

    Paths are tuples of components relative to the target. Links are followed
    the way the kernel would follow them when the real tree is written, so a
    member's real destination is known before anything is extracted.
    """

    def __init__(self) -> None:
        self.links: dict[tuple[str, ...], str] = {}
        self.files: set[tuple[str, ...]] = set()

    def resolve(self, base: tuple[str, ...], rel: str, *, follow_last: bool) -> tuple[str, ...]:
        """Where ``rel``, taken from folder ``base``, really lands; raise _Unsafe outside."""
        pending = list(reversed(rel.split("/")))
        out = list(base)
        hops = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not out:
                    raise _Unsafe(f"{rel!r} leads outside the target folder", "leads outside")
                out.pop()
                continue
            out.append(part)
            link = self.links.get(tuple(out))
            # a trailing "/" (an empty part still pending) makes the kernel follow too
            if link is not None and (pending or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise _Unsafe(f"{rel!r} goes through too many links", "loops")
                out.pop()
                pending.extend(reversed(link.split("/")))
        return tuple(out)

    def add_dir(self, name: str) -> tuple[str, ...]:
        return self.resolve((), name, follow_last=True)

    def add_file(self, name: str) -> tuple[str, ...]:
        # a regular file is opened for writing, which follows an existing link
        where = self.resolve((), name, follow_last=True)
        if not where:
            raise _Unsafe(f"{name!r} would overwrite the target folder itself")
        self.files.add(where)
        return where

    def add_symlink(self, name: str, link: str) -> tuple[str, ...]:
        _check_link_text(name, link)
        where = self._place(name)
        self.links[where] = link
        self.files.discard(where)
        self._check_link(where, link)
        return where

    def add_hardlink(self, name: str, link: str) -> tuple[str, ...]:
        _check_member_name(link)
        # os.link follows a symlink given as its source: judge what it reaches
        source = self.resolve((), link, follow_last=True)
        if source not in self.files:
            raise _Unsafe(
                f"hard link {name!r} -> {link!r} does not point to a file extracted before it"
            )
        where = self._place(name)
        self.files.add(where)
        return where

    def recheck_links(self) -> None:
        """Judge every symlink against the final tree: a later member can change what it reaches."""
        for where, link in self.links.items():
            self._check_link(where, link)

    def _check_link(self, where: tuple[str, ...], link: str) -> None:
        try:
            self.resolve(where[:-1], link, follow_last=True)
        except _Unsafe as e:
            shown = "/".join(where)
            raise _Unsafe(
                f"symlink {shown!r} -> {link!r} {e.why} the target folder"
                if e.why == "leads outside"
                else f"symlink {shown!r} -> {link!r}: {e}"
            ) from None

    def _place(self, name: str) -> tuple[str, ...]:
        # a link replaces what is at its own name; only its parent folders are followed
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if not parts:
            raise _Unsafe(f"{name!r} names the target folder itself")
        return (*self.resolve((), "/".join(parts[:-1]), follow_last=True), parts[-1])


def _check_member_name(name: str) -> None:
    if not name:
        raise _Unsafe("a member has an empty name")
    if "\x00" in name:
        raise _Unsafe(f"{_shown(name)!r} contains a NUL byte")
    depth = sum(1 for part in name.replace("\\", "/").split("/") if part not in ("", "."))
    if depth > MAX_MEMBER_DEPTH:
        raise _Unsafe(
            f"{_shown(name)!r} is {depth} path components deep; cmpy extracts members "
            f"at most {MAX_MEMBER_DEPTH} deep (MAX_MEMBER_DEPTH)"
        )
    if name.startswith("/") or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise _Unsafe(f"{name!r} is an absolute path")
    if ".." in PurePosixPath(name).parts:
        raise _Unsafe(f"{name!r} contains '..' (path traversal)")


def _check_link_text(name: str, link: str) -> None:
    if not link or "\x00" in link:
        raise _Unsafe(f"symlink {name!r} has an empty or invalid target")
    if link.startswith("/") or PureWindowsPath(link).is_absolute() or PureWindowsPath(link).drive:
        raise _Unsafe(f"symlink {name!r} -> {link!r} points to an absolute path")


def _strip(name: str, count: int) -> str | None:
    # like GNU tar, a leading "." counts: "./pkg/f" less one component is "pkg/f"
    parts = [p for p in name.split("/") if p]
    if len(parts) <= count:
        return None
    return "/".join(parts[count:])


def _verify_tree(tmp: str) -> None:
    """Check what landed on disk: plain data only, every symlink resolving inside."""
    real_root = os.path.realpath(tmp)
    for entry in _walk(tmp):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            real = os.path.realpath(entry.path)
            if os.path.commonpath([real, real_root]) != real_root:
                raise _Unsafe(f"symlink {entry.path[len(tmp) + 1 :]!r} leads outside the target")
        elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise _Unsafe(f"{entry.path[len(tmp) + 1 :]!r} is not a regular file or folder")


def _walk(top: str) -> Iterable[os.DirEntry[str]]:
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                yield entry
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)


def _shown(name: str) -> str:
    """A member name short enough to read in a message."""
    return name if len(name) <= 120 else f"{name[:60]}...{name[-40:]}"
