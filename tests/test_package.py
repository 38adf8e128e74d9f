"""Rules about the package itself: explicit public names, no heavy imports."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import cmpy
import recipes


def _public_modules(package: object) -> list[str]:
    names = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):  # type: ignore[attr-defined]
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_public_modules_declare_all() -> None:
    """Every public module of cmpy says what it exports."""
    for name in [cmpy.__name__, *_public_modules(cmpy)]:
        module = importlib.import_module(name)
        assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"
        for item in module.__all__:
            assert hasattr(module, item), f"{name}.__all__ names {item!r}, which it lacks"


def test_importing_cmpy_is_light() -> None:
    """Importing cmpy pulls in no event loop, no diskcache, no packaging, no json."""
    code = (
        "import sys, cmpy, cmpy._cli;"
        "heavy = {'asyncio', 'anyio', 'diskcache', 'packaging', 'json', 'numpy', 'platformdirs'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_recipe_modules_import_nothing_heavy() -> None:
    """Built-in recipe modules keep heavy imports inside their bodies."""
    names = [info.name for info in pkgutil.iter_modules(recipes.__path__, "recipes.")]
    code = (
        "import sys, importlib;"
        f"[importlib.import_module(n) for n in {names!r}];"
        "heavy = {'numpy', 'onnxruntime', 'mlperf_loadgen', 'sklearn', 'asyncio', 'packaging'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
