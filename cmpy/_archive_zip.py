"""Zip archives: planned whole against the tree model, then written member by member.

Backslashes count as separators (as unzip reads zips made on Windows); a
Unix mode in the external attributes makes a member a folder, a symlink
(whose target is read and judged like any link) or an executable file; any
other special file is refused. Files are opened with ``O_EXCL`` and
``O_NOFOLLOW`` in a parent the disk confirms is inside the target.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ._archive_limits import _Budget, _copy, _empty
from ._archive_tree import _check_member_name, _strip, _Tree, _Unsafe
from ._record import Record

__all__ = ["_extract_zip"]

_MAX_ZIP_SYMLINK = 4096


class _ZipItem(Record):
    info: Any
    kind: str  # "dir", "file" or "symlink"
    where: tuple[str, ...]
    link: str = ""
    executable: bool = False


def _extract_zip(name: str, tmp: str, strip: int, budget: _Budget) -> None:
    import zipfile

    with zipfile.ZipFile(name) as zf:
        listed = len(zf.infolist())
        items = _plan_zip(zf, strip, budget)
        if not items and not budget.limits.allow_empty:
            raise _empty(strip, listed)
        root = Path(tmp)
        real_root = os.path.realpath(tmp)
        for item in items:
            path = root.joinpath(*item.where)
            if item.kind == "dir":
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            # the model says the parent is a real folder inside; check the disk agrees
            real_parent = os.path.realpath(path.parent)
            if os.path.commonpath([real_parent, real_root]) != real_root:
                raise _Unsafe(f"{item.info.filename!r} would be written outside the target")
            if os.path.lexists(path) and not path.is_dir():
                path.unlink()
            if item.kind == "symlink":
                os.symlink(item.link, path)
                continue
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            mode = 0o755 if item.executable else 0o644
            with (
                zf.open(item.info) as src,
                os.fdopen(os.open(path, flags, mode), "wb") as out,
            ):
                _copy(src, out, budget, item.info.filename, item.info.compress_size)


def _plan_zip(zf: Any, strip: int, budget: _Budget) -> list[_ZipItem]:
    tree = _Tree()
    items: list[_ZipItem] = []
    for info in zf.infolist():
        budget.member()
        # zips made on Windows may use backslashes; unzip treats them as separators
        raw = info.filename.replace("\\", "/")
        _check_member_name(raw)
        new_name = _strip(raw, strip)
        if new_name is None:
            continue
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            if info.file_size > _MAX_ZIP_SYMLINK:
                raise _Unsafe(f"symlink {raw!r} has a {info.file_size}-byte target")
            link = zf.read(info).decode("utf-8", "surrogateescape")
            items.append(_ZipItem(info, "symlink", tree.add_symlink(new_name, link), link))
        elif kind == stat.S_IFDIR or (kind == 0 and raw.endswith("/")):
            items.append(_ZipItem(info, "dir", tree.add_dir(new_name)))
        elif kind in (0, stat.S_IFREG):
            where = tree.add_file(new_name)
            budget.declare(new_name, info.file_size, info.compress_size)
            items.append(_ZipItem(info, "file", where, executable=bool(mode & 0o111)))
        else:
            raise _Unsafe(f"{raw!r} is a special file (mode {mode:o}), not a file, folder or link")
    tree.recheck_links()
    return items
