"""``src/`` (``code/`` before v6.0) of an MLPerf submission: what a reviewer needs to rerun it.

This module defines no recipe. ``app mlperf inference _submission`` records
what ran (:func:`provenance_of`: every recipe in its result tree with its
version, and the Python packages its bodies imported) in
``OUTPUT_DIR/provenance.json``; ``generate mlperf-inference submission``
writes, per benchmark and system (:func:`write_sources`)::

    src/README.md                              an index
    src/<benchmark>/<system>/README.md         the cmpy command to rerun it
    src/<benchmark>/<system>/versions.json     cmpy's version, the command, every
                                               recipe that ran (variations, version),
                                               the packages, the recipe modules
    src/<benchmark>/<system>/recipes/*.py      the folder of recipe modules they came
                                               from, whole (a module imports its
                                               neighbours)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from cmpy import CmpyError, Result


def write_sources(
    folder: Path,
    context: dict[str, Any],
    scenarios: list[str],
    provenance: dict[str, Any],
    also_ran: list[dict[str, Any]],
) -> list[str]:
    """Write ``folder/<benchmark>/<system>/`` and the index; the files written.

    ``provenance`` is what :func:`provenance_of` recorded (may be empty: the
    tree is then made from a results folder alone); ``also_ran`` adds the
    recipes of the generation itself.
    """
    from cmpy import __version__, show

    here = folder / context["benchmark"] / context["system"]
    if here.exists():
        shutil.rmtree(here)
    (here / "recipes").mkdir(parents=True)
    ran = [*provenance.get("recipes", []), *also_ran]
    ran = list({(e["recipe"], tuple(e["variations"])): e for e in ran}.values())
    modules: dict[str, list[str]] = {}
    for entry in ran:
        try:
            where = str(show(entry["recipe"]).get("where", ""))
        except CmpyError:  # a recipe gone since it ran: its version is still recorded
            continue
        path = where.rsplit(":", 1)[0]
        if path.endswith(".py") and os.path.isfile(path):
            modules.setdefault(path, []).append(entry["recipe"])
    copied = []
    folders = sorted({os.path.dirname(p) for p in modules})
    for path in folders:
        # the whole folder: a recipe module imports its neighbours (from . import ...)
        target = here / "recipes" / (os.path.basename(path) if len(folders) > 1 else "")
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(path)):
            if name.endswith(".py"):
                shutil.copy2(os.path.join(path, name), target / name)
                copied.append(str(target / name))
    versions = {
        "cmpy": __version__,
        "command": context["command"],
        "round": context["round"],
        "loadgen": context["loadgen"],
        "packages": provenance.get("packages", {}),
        "python": provenance.get("python", ""),
        "recipes": sorted(ran, key=lambda e: (e["recipe"], e["variations"])),
        "recipe_modules": {
            os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p): sorted(set(names))
            for p, names in sorted(modules.items())
        },
    }
    (here / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    (here / "README.md").write_text(
        "\n".join(
            [
                f"# {context['model']} on {context['system']}, with cmpy {__version__}",
                "",
                f"The runs ({' '.join(scenarios)}) were made with:",
                "",
                "    pip install 'cmpy-automation[mlperf]'",
                f"    {context['command']} --scenario=<Scenario> --mode=both",
                "",
                "with each scenario's user.conf (beside its results) as --user_conf.",
                "versions.json lists every recipe that ran with its variations and version,",
                "and the Python packages; recipes/ holds the recipe modules they came from.",
                "",
            ]
        ),
        encoding="utf-8",
    )
    index = sorted(
        f"- {p.parent.parent.name}/{p.parent.name}/" for p in folder.glob("*/*/versions.json")
    )
    (folder / "README.md").write_text(
        "# How these results were made\n\n"
        "Each folder holds how to rerun one benchmark on one system with cmpy\n"
        "(MLCommons' Collective Mind automation, in Python: pip install\n"
        "cmpy-automation), the versions of what ran and the recipe sources:\n\n"
        + "\n".join(index)
        + "\n",
        encoding="utf-8",
    )
    return [str(here / "README.md"), str(here / "versions.json"), *copied]


def entry(result: Result) -> dict[str, Any]:
    """A recipe that ran, as ``versions.json`` lists it."""
    return {
        "recipe": result.recipe,
        "variations": list(result.variations),
        "version": result.version,
    }


def provenance_of(
    deps: list[Result], *, app: tuple[str, tuple[str, ...]], packages: dict[str, str]
) -> dict[str, Any]:
    """What ran below ``app``: every recipe in ``deps``' trees with its version, and packages."""
    import sys

    seen: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def walk(result: Result) -> None:
        key = (result.recipe, tuple(result.variations))
        if key not in seen:
            seen[key] = {**entry(result), "cached": result.cached}
            for below in result.deps:
                walk(below)

    for dep in deps:
        walk(dep)
    seen[(app[0], app[1])] = {"recipe": app[0], "variations": list(app[1]), "version": None}
    return {
        "recipes": sorted(seen.values(), key=lambda e: (e["recipe"], e["variations"])),
        "packages": dict(sorted(packages.items())),
        "python": sys.version.split()[0],
    }
