"""Python recipes: ``get python3``, ``install python-venv`` and ``get generic-python-lib``.

``get python3`` finds an interpreter (or makes a virtual environment with
``_venv.NAME``) and exports its path and version; every recipe that needs
Python depends on it under the name ``python``, so ``--adr.python....``
points them all at another interpreter. ``get generic-python-lib`` makes sure
a package is installed in that interpreter, asking pip only when it is
missing or does not fit the version asked for.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

from cmpy import (
    CmpyError,
    Ctx,
    Dep,
    Result,
    ToolNotFound,
    UsageError,
    Variation,
    VersionConflict,
    script,
)
from cmpy.tools import (
    Candidate,
    choose,
    detect_version,
    find_executables,
    natural_key,
    requirement,
    search_dirs,
    url_or_path,
)

# -- get python3 ------------------------------------------------------------

_NAMES = ("python3", "python")
_VERSION_REGEX = r"Python (?P<version>\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc)\d+)?)"
# searched after PATH unless CMPY_PYTHON_SEARCH_DIRS says otherwise
_COMMON_DIRS = (
    "/usr/local/bin",
    "/usr/bin",
    "/opt/homebrew/bin",
    "/opt/local/bin",
    "~/.pyenv/versions/*/bin",
    "~/.local/share/uv/python/*/bin",
    "~/.asdf/installs/python/*/bin",
    "/opt/python/*/bin",
)
_SHIM_PROBE = ("-c", "import sys; print('cmpy-python:' + sys.executable)")
_MAX_PROBES = 8


def _python3(version: str | None) -> bool:
    return version is not None and version.split(".", 1)[0] == "3"


def _same_binary(exe: str | os.PathLike[str]) -> bool:
    """Whether ``exe`` is the binary running cmpy (a venv's link to it counts: same version)."""
    return bool(sys.executable) and os.path.realpath(exe) == os.path.realpath(sys.executable)


def python_version(exe: str | os.PathLike[str]) -> str | None:
    """The version ``exe --version`` reports (without a process for the running binary)."""
    if _same_binary(exe):
        return sys.version.split()[0]
    return detect_version(exe, regex=_VERSION_REGEX)


def _is_shim_dir(folder: str) -> bool:
    # pyenv's and asdf's shims pick an interpreter by the working folder and
    # their own env, so what one runs is not a stable fact to cache
    return os.path.basename(os.path.normpath(folder)) == "shims"


def _is_shim(exe: str | os.PathLike[str]) -> bool:
    return _is_shim_dir(os.path.dirname(os.fspath(exe)))


def _resolve_shim(exe: str | os.PathLike[str]) -> str | None:
    """The interpreter a shim runs from here, or None when it runs none."""
    real = detect_version(exe, args=_SHIM_PROBE, regex=r"cmpy-python:(.+)")
    return real if real and os.path.isfile(real) else None


def extra_search_dirs(setting: str | None) -> list[str]:
    """The folders searched after PATH: ``setting`` (a PATH-style list, globs allowed) or the defaults.

    An empty ``setting`` means none; ``None`` means the common locations of
    system, Homebrew, pyenv, uv and asdf interpreters.
    """
    import glob

    patterns = _COMMON_DIRS if setting is None else tuple(setting.split(os.pathsep))
    out: list[str] = []
    for pattern in patterns:
        if not pattern:
            continue
        expanded = os.path.expanduser(pattern)
        if any(c in expanded for c in "*?["):
            out += sorted(glob.glob(expanded), key=natural_key)
        elif os.path.isdir(expanded):
            out.append(expanded)
    return [d for d in out if not _is_shim_dir(d)]


def _probe_all(exes: Sequence[str | os.PathLike[str]]) -> list[Candidate]:
    from pathlib import Path

    def probe(exe: str | os.PathLike[str]) -> Candidate:
        return Candidate(Path(exe), python_version(exe))

    if len(exes) <= 1:
        return [probe(e) for e in exes]
    from concurrent.futures import ThreadPoolExecutor

    # the probes mostly wait for child processes: overlap them
    with ThreadPoolExecutor(max_workers=min(_MAX_PROBES, len(exes))) as pool:
        return list(pool.map(probe, exes))


def _not_found(searched: Sequence[str], seen: Sequence[Candidate]) -> ToolNotFound:
    found = f"found only {', '.join(map(str, seen))}; " if seen else ""
    return ToolNotFound(
        "python3",
        searched=searched,
        hint=found + "install Python 3 or add its folder to PATH, list folders to search in "
        "CMPY_PYTHON_SEARCH_DIRS, or name the interpreter: "
        "--env.CMPY_PYTHON_BIN_WITH_PATH=/path/to/python3",
    )


def find_python3(spec: str, search: str | None, *, recipe: str = "get-python3") -> Candidate:
    """Find the Python 3 interpreter to use.

    Without a constraint: the first ``python3`` (or ``python``) on PATH, as a
    shell would run it (a pyenv or asdf shim stands for the interpreter it
    runs); when PATH has none, the newest found in the other folders. With a
    constraint: the newest interpreter that fits it, wherever it was found.

    :param spec: a PEP 440 specifier ("" for none).
    :param search: folders searched after PATH (see :func:`extra_search_dirs`).
    :param recipe: the recipe's name, for errors.
    :raises ToolNotFound: no Python 3 interpreter at all (lists where it looked).
    :raises VersionConflict: interpreters, but none that fits ``spec`` (lists them).
    """
    from pathlib import Path

    extra = extra_search_dirs(search)
    searched = search_dirs(None, extra)
    exes = find_executables(_NAMES, extra_dirs=extra)
    on_path = {os.path.normpath(d) for d in search_dirs(None)}
    if not spec:
        seen: list[Candidate] = []
        for exe in (e for e in exes if str(e.parent) in on_path):
            real = _resolve_shim(exe) if _is_shim(exe) else exe
            candidate = Candidate(Path(real or exe), python_version(real) if real else None)
            if _python3(candidate.version):
                return candidate
            seen.append(candidate)
        rest = _probe_all([e for e in exes if str(e.parent) not in on_path and not _is_shim(e)])
        pool = [c for c in rest if _python3(c.version)]
        if pool:
            return choose(pool, "", what="python3")
        raise _not_found(searched, seen + rest)
    candidates = _probe_all([e for e in exes if not _is_shim(e)])
    pool = [c for c in candidates if _python3(c.version)]
    if not candidates:
        raise _not_found(searched, [])
    try:
        return choose(pool, spec, what="python3", searched=searched)
    except (ToolNotFound, VersionConflict):
        # list every interpreter seen, not only the Python 3 ones choose() was given
        raise VersionConflict(recipe, None, spec, candidates=[str(c) for c in candidates]) from None


def _given_python(text: str, spec: str, recipe: str) -> Candidate:
    """The interpreter named by CMPY_PYTHON_BIN_WITH_PATH, with its version."""
    import shutil
    from pathlib import Path

    path = os.path.abspath(text) if os.sep in text else shutil.which(text)
    hint = "name an existing interpreter in CMPY_PYTHON_BIN_WITH_PATH, or unset it to search"
    if path is None or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise ToolNotFound(
            f"the interpreter {text!r} given in CMPY_PYTHON_BIN_WITH_PATH", hint=hint
        )
    candidate = Candidate(Path(path), python_version(path))
    if not _python3(candidate.version):
        raise ToolNotFound(
            f"Python 3 at {path} (it reports {candidate.version or 'no Python version'})",
            hint=hint,
        )
    if spec:
        choose([candidate], spec, what=recipe)  # raises VersionConflict naming it
    return candidate


def _python_env(exe: str | os.PathLike[str], version: str) -> dict[str, str]:
    path = os.path.abspath(exe)  # not realpath: a venv's interpreter is a link to its base
    return {
        "CMPY_PYTHON_BIN_WITH_PATH": path,
        "CMPY_PYTHON_BIN": os.path.basename(path),
        "CMPY_PYTHON_BIN_PATH": os.path.dirname(path),
        "CMPY_PYTHON_VERSION": version,
    }


@script(
    tags="get python3 python",
    alias="get-python3",
    uid="41950508b44855e3",
    cache=True,
    variations={
        "venv.#": Variation(
            help="use the virtual environment named # (made with install python-venv if missing)"
        ),
        "current": Variation(
            help="the interpreter running cmpy, for recipes that import what they install"
        ),
    },
    # the running interpreter keys the result (two venvs sharing a cache do not
    # share it); PATH decides which python3 comes first, but a new PATH that
    # finds the same one must not invalidate everything built on it
    reads=["CMPY_PYTHON_BIN_WITH_PATH", "CMPY_PYTHON_SEARCH_DIRS", "CMPY_HOST_PYTHON"],
    # the active virtual environment comes first: activating another one is a new answer
    process_env=["PATH", "VIRTUAL_ENV"],
    exports=[
        "CMPY_PYTHON_BIN",
        "CMPY_PYTHON_BIN_PATH",
        "CMPY_PYTHON_BIN_WITH_PATH",
        "CMPY_PYTHON_VERSION",
        "CMPY_PYTHON_VENV_*",
    ],
)
def get_python3(ctx: Ctx) -> Result:
    """Find a Python 3 interpreter (the newest that fits a version constraint) or use a venv's.

    The choice, in this order, of interpreters that fit the version asked for:

    1. the one named by ``CMPY_PYTHON_BIN_WITH_PATH`` (from above or --env.), used as is;
    2. the active virtual environment's (``$VIRTUAL_ENV/bin/python``);
    3. the interpreter running cmpy (``CMPY_HOST_PYTHON``; set it empty to leave it out);
    4. without a constraint, the first python3 on PATH (as a shell would run it);
       with one, the newest that fits, on PATH or in the common folders
       (``CMPY_PYTHON_SEARCH_DIRS``: PATH-style, globs allowed, empty for none).

    ``_current`` takes the running interpreter and ``_venv.NAME`` a virtual
    environment made by ``install python-venv``, whatever the rest says.
    """
    venv = next((v.partition(".")[2] for v in ctx.variations if v.startswith("venv.")), None)
    if venv is not None:
        # The venv's own python dep must not receive the caller's `_venv`
        # override again (it would ask for this very recipe, forever): this
        # replaces the caller's adr for "python" below, keeping the version asked.
        spec = ctx.version_spec
        made = ctx.run_sync(
            "install python-venv", name=venv, adr={"python": {"version": spec} if spec else {}}
        )
        env = _python_env(made.env["CMPY_VENV_PYTHON"], made.version or "")
        env["CMPY_PYTHON_VENV_NAME"] = venv
        env["CMPY_PYTHON_VENV_PATH"] = made.env["CMPY_VENV_PATH"]
        return Result(env=env, version=made.version)
    if "current" in ctx.variations:
        given = ctx.env.get("CMPY_HOST_PYTHON") or sys.executable
    else:
        given = ctx.env.get("CMPY_PYTHON_BIN_WITH_PATH", "")
    if given:
        chosen = _given_python(given, ctx.version_spec, ctx.recipe)
    else:
        chosen = _preferred(ctx, ctx.version_spec) or find_python3(
            ctx.version_spec, ctx.env.get("CMPY_PYTHON_SEARCH_DIRS"), recipe=ctx.recipe
        )
    version = chosen.version or ""
    ctx.log(f"using {chosen.path} (Python {version})")
    return Result(env=_python_env(chosen.path, version), version=version)


def _preferred(ctx: Ctx, spec: str) -> Candidate | None:
    """The active virtual environment's interpreter, else the running one, if it fits."""
    from pathlib import Path

    seen: set[str] = set()
    active = os.environ.get("VIRTUAL_ENV", "")
    for exe in (venv_python(active) if active else "", ctx.env.get("CMPY_HOST_PYTHON", "")):
        if not exe or os.path.abspath(exe) in seen or not os.path.isfile(exe):
            continue
        seen.add(os.path.abspath(exe))
        version = python_version(exe)
        if _python3(version) and _fits(version or "", spec):
            return Candidate(Path(exe), version)
    return None


# -- install python-venv ------------------------------------------------------


def venv_python(root: str | os.PathLike[str]) -> str:
    """The interpreter of the virtual environment at ``root``."""
    if os.name == "nt":
        return os.path.join(root, "Scripts", "python.exe")
    return os.path.join(root, "bin", "python")


@script(
    tags="install python-venv venv",
    alias="install-python-venv",
    uid="ed8a91c308353582",
    cache=True,
    deps=[Dep("get python3", name="python")],
    inputs={"name": ("CMPY_VENV_NAME", "the virtual environment's name (default: default)")},
    env={"CMPY_VENV_NAME": "default"},
    exports=[
        "CMPY_VENV_*",
        "CMPY_PYTHON_BIN",
        "CMPY_PYTHON_BIN_PATH",
        "CMPY_PYTHON_BIN_WITH_PATH",
        "CMPY_PYTHON_VERSION",
    ],
)
def install_python_venv(ctx: Ctx) -> Result:
    """Make a virtual environment with the chosen Python, in the cache entry's folder."""
    name = ctx.env.get("CMPY_VENV_NAME") or "default"
    if name in (".", "..") or any(sep and sep in name for sep in (os.sep, os.altsep)):
        raise UsageError(
            f"install python-venv: {name!r} is not a name for a virtual environment",
            hint="give a plain name without slashes: --name=mlperf",
        )
    base = ctx.env["CMPY_PYTHON_BIN_WITH_PATH"]
    # the entry's folder is never renamed, so the absolute paths venv writes stay valid
    root = os.path.join(ctx.folder, name)
    ctx.sh_sync([base, "-m", "venv", root])
    python = venv_python(root)
    if not os.path.isfile(python):
        raise CmpyError(
            f"{base} -m venv {root} made no interpreter at {python}",
            hint="check that this Python has the venv module (Debian: apt-get install python3-venv)",
        )
    version = ctx.env.get("CMPY_PYTHON_VERSION", "")
    env = _python_env(python, version)
    env.update(CMPY_VENV_NAME=name, CMPY_VENV_PATH=root, CMPY_VENV_PYTHON=python)
    return Result(env=env, version=version or None)


# -- get generic-python-lib ------------------------------------------------------

# shortcut variation -> the distribution's name on PyPI
_SHORTCUTS = {
    "onnxruntime": "onnxruntime",
    "numpy": "numpy",
    "scikit-learn": "scikit-learn",
    "skl2onnx": "skl2onnx",
    "onnx": "onnx",
    "pyyaml": "pyyaml",
    "pillow": "pillow",
    "mlcommons-loadgen": "mlcommons-loadgen",
    "torch": "torch",
    "pytest": "pytest",
    "packaging": "packaging",
}
# where the module a distribution installs is not named after it
_IMPORT_NAMES = {
    "scikit-learn": "sklearn",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "mlcommons-loadgen": "mlperf_loadgen",
}
# Run by the selected interpreter when it is not the one running cmpy. It
# tries each spelling given, since before Python 3.10 importlib.metadata did
# not normalise names (scikit-learn is installed as scikit_learn-*.dist-info).
_PROBE = """\
import json, os, sys
from importlib import metadata
found = None
for name in sys.argv[1:]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue
    where = str(getattr(dist, "_path", ""))
    for leaf in ("METADATA", "PKG-INFO"):
        if os.path.isfile(os.path.join(where, leaf)):
            where = os.path.join(where, leaf)
            break
    found = {"version": dist.version, "metadata": where}
    break
print("cmpy-probe:" + json.dumps(found))
"""


class PackageNotInstalled(ToolNotFound):
    """A Python package that is not in the interpreter and that pip could not install."""

    def __init__(
        self,
        package: str,
        python: str,
        *,
        problem: str,
        command: str = "",
        output_tail: str = "",
        hint: str,
    ) -> None:
        super().__init__(f"python package {package!r}", searched=[python], hint=hint)
        self.package = package
        self.python = python
        self.command = command
        self.output_tail = output_tail
        text = f"python package {package!r} is not in {python}, and {problem}"
        if command:
            text += f"\n  command: {command}"
        if output_tail.strip():
            lines = output_tail.rstrip().splitlines()[-12:]
            text += "\n  last output:\n" + "\n".join("    | " + line for line in lines)
        self.message = text
        self.args = (text,)


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runs_here(python: str) -> bool:
    """Whether ``python`` is the interpreter running cmpy, in the same environment.

    The same binary is not enough: a virtual environment's interpreter is a
    link to its base's, yet sees other packages. So the folders holding
    ``pyvenv.cfg`` (none outside a venv) must match as well.
    """
    try:
        if not os.path.samefile(python, sys.executable):
            return False
    except OSError:
        return False
    return _venv_root(python) == _venv_root(sys.executable)


def _venv_root(python: str) -> str | None:
    # as the interpreter itself looks: beside the executable, then one folder up
    folder = os.path.dirname(os.path.abspath(python))
    for candidate in (folder, os.path.dirname(folder)):
        if os.path.isfile(os.path.join(candidate, "pyvenv.cfg")):
            return os.path.realpath(candidate)
    return None


def _installed_here(name: str) -> tuple[str, str] | None:
    """(version, metadata file) of a distribution in this very interpreter, or None."""
    import importlib
    import importlib.metadata

    importlib.invalidate_caches()  # pip may have just changed site-packages
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    # The working folder is on sys.path under `python -m cmpy`, yet a checkout's
    # *.egg-info there is not an installed package (the probe of another
    # interpreter runs in the entry's folder for the same reason).
    paths = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    found = importlib.metadata.Distribution.discover(name=name, path=paths)
    dist = next(iter(found), None)
    if dist is None:
        return None
    # PathDistribution keeps its folder in _path; there is no public accessor
    folder = os.fspath(getattr(dist, "_path", ""))
    for leaf in ("METADATA", "PKG-INFO"):
        if os.path.isfile(os.path.join(folder, leaf)):
            return dist.version, os.path.join(folder, leaf)
    return dist.version, folder


def _installed(ctx: Ctx, python: str, name: str) -> tuple[str, str] | None:
    """(version, metadata file) of a distribution in ``python``, or None if it is not there."""
    if runs_here(python):
        return _installed_here(name)
    import json

    spellings = list(dict.fromkeys([name, name.replace("-", "_"), normalize_name(name)]))
    done = ctx.sh_sync([python, "-c", _PROBE, *spellings], check=False, quiet=True, cwd=ctx.folder)
    for line in reversed(done.output.splitlines()):
        if line.startswith("cmpy-probe:"):
            found = json.loads(line[len("cmpy-probe:") :])
            return None if found is None else (str(found["version"]), str(found["metadata"]))
    tail = "\n".join(done.output.rstrip().splitlines()[-10:])
    raise CmpyError(
        f"cannot list the packages of {python} (exit code {done.returncode}):\n{tail}",
        hint="it must be a working Python 3.8 or newer; choose another with "
        "--adr.python.env.CMPY_PYTHON_BIN_WITH_PATH=...",
    )


def _fits(version: str, spec: str) -> bool:
    if not spec:
        return True
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(spec, prereleases=True)
    except InvalidVersion:
        return False


def pip_command(python: str, package: str, env: dict[str, str]) -> list[str]:
    """The ``python -m pip install`` command line, with the index settings in ``env``.

    Every value is checked where it enters: an index or a wheel folder is a
    URL or a path (given as ``--opt=VALUE``, one argument), the package is a
    PEP 508 requirement or, from ``CMPY_PIP_SOURCE``, a path or URL, and it
    comes after ``--``, so that no value can become an option of pip's.
    ``CMPY_PIP_EXTRA_ARGS`` is the one way to hand pip options, on purpose.

    :raises UsageError: a value that is not what its setting takes.
    """
    import shlex

    cmd = [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check"]
    if env.get("CMPY_PIP_INDEX_URL"):
        cmd.append("--index-url=" + url_or_path("index_url", env["CMPY_PIP_INDEX_URL"]))
    for url in env.get("CMPY_PIP_EXTRA_INDEX_URL", "").split():
        cmd.append("--extra-index-url=" + url_or_path("extra_index_url", url))
    for where in env.get("CMPY_PIP_FIND_LINKS", "").split():
        cmd.append("--find-links=" + url_or_path("find_links", where))
    try:
        cmd += shlex.split(env.get("CMPY_PIP_EXTRA_ARGS", ""))
    except ValueError as exc:
        raise UsageError(f"pip_args={env['CMPY_PIP_EXTRA_ARGS']!r} does not split: {exc}") from None
    source = env.get("CMPY_PIP_SOURCE", "").strip()
    cmd += ["--", url_or_path("source", source) if source else package]
    return cmd


def _with_spec(wanted: str, spec: str) -> str:
    """A requirement with the recipe's version constraint added to its own."""
    if not spec:
        return wanted
    from packaging.requirements import Requirement

    req = Requirement(wanted)
    req.specifier &= spec
    return str(req)


def _specifier(wanted: str) -> str:
    from packaging.requirements import Requirement

    return str(Requirement(wanted).specifier)


def _install_hint(python: str, output: str) -> str:
    if "No module named pip" in output:
        return (
            f"this interpreter has no pip: run `{python} -m ensurepip --upgrade`, "
            "or use a virtual environment: --adr.python.tags=_venv.NAME"
        )
    if "externally-managed-environment" in output:
        return "this interpreter's packages belong to the system (PEP 668): use a virtual environment: --adr.python.tags=_venv.NAME"
    return (
        "check the network or point pip at an index (--index_url=URL), install from a folder "
        "of wheels (--find_links=DIR --pip_args=--no-index), or choose another interpreter "
        "(--adr.python.env.CMPY_PYTHON_BIN_WITH_PATH=... or --adr.python.tags=_venv.NAME)"
    )


@script(
    tags="get generic-python-lib python-lib",
    alias="get-generic-python-lib",
    uid="8b1aae76cade3aa9",
    cache=True,
    deps=[Dep("get python3", name="python")],
    variations={
        "package.#": Variation(
            env={"CMPY_PYTHON_PACKAGE_NAME": "#"}, help="the distribution's name on PyPI"
        ),
        **{
            short: Variation(base=[f"package.{pypi}"], help=f"the package {pypi}")
            for short, pypi in _SHORTCUTS.items()
        },
    },
    inputs={
        "index_url": ("CMPY_PIP_INDEX_URL", "the package index pip uses (--index-url)"),
        "extra_index_url": ("CMPY_PIP_EXTRA_INDEX_URL", "more indexes, space separated"),
        "find_links": ("CMPY_PIP_FIND_LINKS", "a folder of wheels (or a URL) pip also looks in"),
        "pip_args": (
            "CMPY_PIP_EXTRA_ARGS",
            "options for pip install, passed as they are, e.g. --no-index",
        ),
        "source": (
            "CMPY_PIP_SOURCE",
            "install the package from this wheel, folder or URL instead of an index",
        ),
    },
    exports=["CMPY_PYTHON_PACKAGE_*", "CMPY_PYTHONLIB_*"],
)
def get_generic_python_lib(ctx: Ctx) -> Result:
    """Make sure a Python package is installed in the chosen interpreter (pip only if needed)."""
    given = next((v.partition(".")[2] for v in ctx.variations if v.startswith("package.")), None)
    if given is None:
        raise UsageError(
            "get generic-python-lib needs the package: _package.NAME or a shortcut such as _numpy",
            hint='cmpy run "get generic-python-lib _package.pyyaml"',
        )
    # a requirement and nothing else: never an option, a path or a URL for pip
    wanted, package = requirement("_package", given)
    python = ctx.env.get("CMPY_PYTHON_BIN_WITH_PATH")
    if not python:
        raise CmpyError(
            "get generic-python-lib: the python dep exported no CMPY_PYTHON_BIN_WITH_PATH"
        )
    ask = _with_spec(wanted, ctx.version_spec)
    found = _installed(ctx, python, package)
    if found is not None and _fits(found[0], _specifier(ask)):
        ctx.log(f"{package} {found[0]} is installed in {python}")
    else:
        have = f" (found {found[0]})" if found is not None else ""
        ctx.log(f"installing {ask}{have} into {python}")
        cmd = pip_command(python, ask, ctx.env)
        # two pip runs into one interpreter (two packages asked for at once, or
        # two cmpy processes) can leave it half-installed: one at a time
        with ctx.lock_sync(f"pip {os.path.realpath(python)}"):
            done = ctx.sh_sync(cmd, check=False)
        shown = done.command
        if not done.ok:
            raise PackageNotInstalled(
                ask,
                python,
                problem=f"pip could not install it{have} (exit code {done.returncode})",
                command=shown,
                output_tail=done.output,
                hint=_install_hint(python, done.output),
            )
        found = _installed(ctx, python, package)
        if found is None:
            raise PackageNotInstalled(
                ask,
                python,
                problem="pip finished, yet this interpreter does not see it",
                command=shown,
                hint="pip may have installed it elsewhere (a user site, another environment); "
                "check the pip arguments given",
            )
    version, metadata = found
    upper = normalize_name(package).upper().replace("-", "_")
    env = {
        "CMPY_PYTHON_PACKAGE_NAME": package,
        "CMPY_PYTHON_PACKAGE_VERSION": version,
        "CMPY_PYTHON_PACKAGE_METADATA": metadata,
        "CMPY_PYTHON_PACKAGE_IMPORT_NAME": _IMPORT_NAMES.get(
            normalize_name(package), package.replace("-", "_")
        ),
        f"CMPY_PYTHONLIB_{upper}_VERSION": version,
    }
    return Result(env=env, version=version)
