"""Fake executables for detection tests: small shell scripts on a temporary PATH.

The scripts use only shell built-ins and programs named by absolute path
(:data:`CHMOD`, :data:`ENV`), so a test can set PATH to nothing but its own
folders and still run them; that keeps the real tools of the machine out of
what a recipe can find.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

import pytest

__all__ = ["CHMOD", "ENV", "fake_exe", "only_path", "printing"]

CHMOD = shutil.which("chmod") or "/bin/chmod"
ENV = shutil.which("env") or "/usr/bin/env"


def fake_exe(folder: Path, name: str, body: str) -> Path:
    """Write ``folder/name``: an executable ``/bin/sh`` script running ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body.rstrip("\n") + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def printing(text: str, *, status: int = 0) -> str:
    """A script body that prints ``text`` (whatever its arguments) and exits with ``status``."""
    lines = " ".join(shlex.quote(line) for line in text.splitlines())
    return f"printf '%s\\n' {lines}\nexit {status}"


def only_path(monkeypatch: pytest.MonkeyPatch, folders: Iterable[Path]) -> None:
    """Make PATH exactly ``folders`` for this test (each made if missing)."""
    dirs = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        dirs.append(str(folder))
    monkeypatch.setenv("PATH", os.pathsep.join(dirs))
