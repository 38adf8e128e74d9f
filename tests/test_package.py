"""Rules about the package itself: explicit public names, no heavy imports."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import cmpy
import cmpy.recipes


def _public_modules(package: object) -> list[str]:
    names = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):  # type: ignore[attr-defined]
        # cmpy.recipes (installed there from recipes/) is the recipe library, found
        # through its entry point, not an API
        if info.name.startswith("cmpy.recipes"):
            continue
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
    names = [
        info.name for info in pkgutil.iter_modules(cmpy.recipes.__path__, "cmpy.recipes.")
    ]
    code = (
        "import sys, importlib;"
        f"[importlib.import_module(n) for n in {names!r}];"
        "heavy = {'numpy', 'onnxruntime', 'mlperf_loadgen', 'sklearn', 'asyncio', 'packaging'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_top_level_recipes_package() -> None:
    """The wheel installs recipes/ as cmpy/recipes: a top-level `recipes` would clash with
    PyPI's package of that name and with any project's own `recipes` module. (An editable
    install puts the checkout itself on sys.path; .ci/run builds the wheel and looks.)"""
    import tomllib

    config = tomllib.loads((Path(cmpy.__file__).parent.parent / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["sources"] == {"recipes": "cmpy/recipes"}
    from importlib.metadata import entry_points

    values = {ep.value for ep in entry_points(group="cmpy.recipes")}
    assert "cmpy.recipes" in values
    assert "recipes" not in values
    assert cmpy.recipes.__name__ == "cmpy.recipes"
    assert Path(cmpy.recipes.__path__[0]).name == "recipes"


def test_a_project_module_named_recipes_does_not_hide_the_built_ins(tmp_path: Path) -> None:
    """A user's own `recipes` module on sys.path leaves cmpy's recipes where they are."""
    (tmp_path / "recipes.py").write_text("raise SystemExit('the user module was imported')\n")
    env = {**os.environ, "CMPY_HOME": str(tmp_path / "home"), "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "cmpy", "find", "detect os"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "detect-os" in out.stdout


def test_modules_stay_small_or_say_why() -> None:
    """One concept per module, most of them 100-400 lines: a longer one says why it is."""
    root = Path(cmpy.__file__).parent
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= 420:
            continue
        doc = text.split('"""')[1] if text.startswith('"""') else ""
        assert "longer than" in doc, f"{path.relative_to(root)} has {text.count(chr(10))} lines"
