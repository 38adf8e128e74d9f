"""Shared fixtures: every test gets its own CMPY_HOME and a clean set of recipes."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import cmpy.testing


@pytest.fixture(autouse=True)
def cmpy_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh CMPY_HOME per test, and no recipe defined by another test."""
    home = tmp_path_factory.mktemp("cmpy-home")
    monkeypatch.setenv("CMPY_HOME", str(home))
    # the machine-wide benchmark lock, made per test: a real benchmark running on the
    # machine (or another test) must not make a test wait
    monkeypatch.setenv("CMPY_BENCHMARK_LOCK", str(home / "benchmark.lock"))
    monkeypatch.delenv("CMPY_RECIPES_PATH", raising=False)
    with cmpy.testing.isolated(home):
        yield home


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test under both anyio backends, as anyio's own suite does."""
    backend: str = request.param
    return backend


@pytest.fixture
def recipe_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """Write recipe modules into a folder on CMPY_RECIPES_PATH: ``write(name, source)``."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    monkeypatch.setenv("CMPY_RECIPES_PATH", str(folder))

    def write(name: str, source: str) -> Path:
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        # a rewrite within the same clock tick must still look changed
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return path

    return write
