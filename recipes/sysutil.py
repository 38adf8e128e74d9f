"""``get generic-sys-util``: make sure a system tool or library is there, installing it if not.

The tool is named by the wildcard variation ``_name.<tool>`` or a shortcut
(``_wget``, ``_g++``, ``_libssl-dev`` ...). A table maps each known tool to
the executable that proves it is installed and to its package name under
each package manager where that name differs; an unknown name is taken as
an executable of the same name in a package of the same name (a name ending
in ``-dev`` or ``-devel`` as a library).

Detection: an executable is looked up on PATH; a library (no executable of
its own) counts as installed when the package manager's database says its
package is (``dpkg-query``, ``rpm -q``, ``pacman -Q``, ``apk info -e``,
``brew list``).

Installation uses the host's package manager (``detect os``), as root
directly or through ``sudo -n`` (never a password prompt); when neither is
possible the error says the exact command to run by hand. ``--print_only``
shows that command instead of running it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping
from typing import NamedTuple

from cmpy import CmpyError, Ctx, Dep, Result, ToolNotFound, UsageError, Variation, script


class Tool(NamedTuple):
    """How to recognise a system tool and which package provides it."""

    exe: str | None
    """The executable that proves it is installed; ``None`` for a library."""
    packages: Mapping[str, str | None]
    """Package name by package manager where it differs from the tool's name
    (``None``: that package manager has no package for it)."""


_SAME: Mapping[str, str | None] = {}

# Only names that differ from the tool's own name are listed.
TOOLS: dict[str, Tool] = {
    "bzip2": Tool("bzip2", _SAME),
    "clang": Tool("clang", {"brew": "llvm"}),
    "cmake": Tool("cmake", _SAME),
    "curl": Tool("curl", _SAME),
    "g++": Tool(
        "g++",
        {
            "dnf": "gcc-c++",
            "yum": "gcc-c++",
            "zypper": "gcc-c++",
            "pacman": "gcc",
            "brew": "gcc",
        },
    ),
    "gcc": Tool("gcc", _SAME),
    "git": Tool("git", _SAME),
    "make": Tool("make", _SAME),
    "ninja": Tool(
        "ninja",
        {"apt-get": "ninja-build", "dnf": "ninja-build", "yum": "ninja-build", "apk": "samurai"},
    ),
    "numactl": Tool("numactl", {"brew": None}),
    "patch": Tool("patch", _SAME),
    "pkg-config": Tool(
        "pkg-config",
        {
            "dnf": "pkgconf-pkg-config",
            "yum": "pkgconf-pkg-config",
            "pacman": "pkgconf",
            "apk": "pkgconf",
        },
    ),
    "rsync": Tool("rsync", _SAME),
    "tar": Tool("tar", _SAME),
    "unzip": Tool("unzip", _SAME),
    "wget": Tool("wget", _SAME),
    "xz": Tool("xz", {"apt-get": "xz-utils"}),
    "zip": Tool("zip", _SAME),
    "libffi-dev": Tool(
        None,
        {
            "dnf": "libffi-devel",
            "yum": "libffi-devel",
            "zypper": "libffi-devel",
            "pacman": "libffi",
            "brew": "libffi",
        },
    ),
    "libgl": Tool(
        None,
        {
            "apt-get": "libgl1",
            "dnf": "mesa-libGL",
            "yum": "mesa-libGL",
            "zypper": "Mesa-libGL1",
            "pacman": "mesa",
            "apk": "mesa-gl",
            "brew": None,
        },
    ),
    "libnuma-dev": Tool(
        None,
        {
            "dnf": "numactl-devel",
            "yum": "numactl-devel",
            "zypper": "libnuma-devel",
            "pacman": "numactl",
            "apk": "numactl-dev",
            "brew": None,
        },
    ),
    "libssl-dev": Tool(
        None,
        {
            "dnf": "openssl-devel",
            "yum": "openssl-devel",
            "zypper": "libopenssl-devel",
            "pacman": "openssl",
            "apk": "openssl-dev",
            "brew": "openssl@3",
        },
    ),
    "zlib1g-dev": Tool(
        None,
        {
            "dnf": "zlib-devel",
            "yum": "zlib-devel",
            "zypper": "zlib-devel",
            "pacman": "zlib",
            "apk": "zlib-dev",
            "brew": "zlib",
        },
    ),
}

# Flags that make each package manager install without asking anything.
INSTALL: dict[str, tuple[str, ...]] = {
    "apt-get": ("apt-get", "install", "-y"),
    "dnf": ("dnf", "install", "-y"),
    "yum": ("yum", "install", "-y"),
    "zypper": ("zypper", "--non-interactive", "install"),
    "pacman": ("pacman", "-S", "--noconfirm", "--needed"),
    "apk": ("apk", "add", "--no-cache"),
    "brew": ("brew", "install"),
}

# apt-get's -y does not silence debconf questions (tzdata asks for a zone)
_INSTALL_ENV: dict[str, dict[str, str]] = {"apt-get": {"DEBIAN_FRONTEND": "noninteractive"}}

# How to ask each package manager whether a package is installed.
_QUERY: dict[str, tuple[str, ...]] = {
    "apt-get": ("dpkg-query", "-W", "-f=${Status}"),
    "dnf": ("rpm", "-q"),
    "yum": ("rpm", "-q"),
    "zypper": ("rpm", "-q"),
    "pacman": ("pacman", "-Q"),
    "apk": ("apk", "info", "-e"),
    "brew": ("brew", "list", "--versions"),
}

# Homebrew refuses to run as root: it never takes sudo.
_NO_SUDO = frozenset({"brew"})

_TRUE = frozenset({"yes", "on", "true", "1"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._@-]*")


def tool_for(name: str) -> Tool:
    """The table's entry for ``name``, or a guess: an executable (a library if ``*-dev``)."""
    known = TOOLS.get(name)
    if known is not None:
        return known
    is_library = name.endswith(("-dev", "-devel"))
    return Tool(None if is_library else name, _SAME)


def package_for(name: str, manager: str) -> str | None:
    """The package that provides ``name`` under ``manager`` (``None``: there is none)."""
    packages = tool_for(name).packages
    return packages.get(manager, name)


def env_name(name: str) -> str:
    """The part of env keys that names a tool: ``g++`` -> ``GXX``, ``libssl-dev`` -> ``LIBSSL_DEV``."""
    text = name.replace("+", "X").upper()
    return "".join(c if c.isalnum() else "_" for c in text)


def privileged(argv: list[str], manager: str, *, sudo: bool) -> list[str]:
    """``argv`` as it is run: unchanged as root, else through ``sudo -n`` (never a prompt).

    sudo resets the environment, so the package manager's env (``DEBIAN_FRONTEND``)
    is handed over as ``VAR=value`` arguments, which sudo applies to the command.
    """
    if not sudo:
        return argv
    assignments = [f"{k}={v}" for k, v in _INSTALL_ENV.get(manager, {}).items()]
    return ["sudo", "-n", *assignments, *argv]


def manual_command(manager: str, package: str, *, root: bool) -> str:
    """The install command as a person would type it in a terminal."""
    argv = [*INSTALL[manager], package]
    if not root and manager not in _NO_SUDO:
        argv.insert(0, "sudo")
    return shlex.join(argv)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _library_installed(ctx: Ctx, manager: str, package: str) -> bool:
    query = _QUERY.get(manager)
    if query is None or shutil.which(query[0]) is None:
        return False
    done = ctx.sh_sync([*query, package], check=False, quiet=True)
    if not done.ok:
        return False
    if manager == "apt-get":
        # a removed package whose configuration remains is "deinstall ok config-files"
        return "install ok installed" in done.output
    # brew lists nothing (and may still exit 0) for a formula that is not installed
    return manager != "brew" or bool(done.output.strip())


def _detect(ctx: Ctx, name: str, manager: str) -> dict[str, str] | None:
    """The env that says ``name`` is installed, or ``None`` when it is not."""
    tool = tool_for(name)
    key = env_name(name)
    if tool.exe is not None:
        found = shutil.which(tool.exe)
        if found is None:
            return None
        return {
            f"CMPY_SYS_UTIL_{key}_BIN_WITH_PATH": os.path.abspath(found),
            f"CMPY_SYS_UTIL_{key}_INSTALLED": "yes",
        }
    package = package_for(name, manager) if manager in INSTALL else None
    if package is None or not _library_installed(ctx, manager, package):
        return None
    return {f"CMPY_SYS_UTIL_{key}_INSTALLED": "yes"}


def _package(name: str, manager: str, what: str, searched: list[str]) -> str:
    """The package to install for ``name``, or a ``ToolNotFound`` that says why there is none."""
    if manager not in INSTALL:
        raise ToolNotFound(
            what,
            searched=searched,
            hint=f"no package manager known for this host ({manager or 'detect os found none'}); "
            "install it by hand, or name one with --package_manager=" + "|".join(INSTALL),
        )
    package = package_for(name, manager)
    if package is None:
        raise ToolNotFound(
            what, searched=searched, hint=f"{manager} has no package for {name}: install it by hand"
        )
    return package


def _shortcuts() -> dict[str, Variation]:
    return {name: Variation(base=[f"name.{name}"]) for name in TOOLS}


@script(
    tags="get generic-sys-util sys-util",
    alias="get-generic-sys-util",
    uid="87dff49dc867c73d",
    # Not cached: detection is a PATH lookup (or one package query), a tool can
    # be removed at any time, and installing runs only when it is missing, so a
    # run is cheap and idempotent. It exports only the binary's path, a stable
    # fact, so cached recipes that depend on it keep their entries.
    cache=False,
    dry_run_safe=True,
    deps=[Dep("detect os", name="os")],
    variations={
        "name.#": Variation(env={"CMPY_SYS_UTIL_NAME": "#"}, help="any tool by name"),
        **_shortcuts(),
    },
    inputs={
        "print_only": (
            "CMPY_SYS_UTIL_PRINT_ONLY",
            "print the install command instead of running it",
        ),
        "package_manager": (
            "CMPY_SYS_UTIL_PACKAGE_MANAGER",
            "use this package manager instead of the one detect os found: " + ", ".join(INSTALL),
        ),
    },
    env={
        "CMPY_SYS_UTIL_NAME": "",
        "CMPY_SYS_UTIL_PRINT_ONLY": "",
        "CMPY_SYS_UTIL_PACKAGE_MANAGER": "",
    },
    exports=[
        "CMPY_SYS_UTIL_*_BIN_WITH_PATH",
        "CMPY_SYS_UTIL_*_INSTALLED",
        "CMPY_SYS_UTIL_INSTALL_COMMAND",
    ],
)
def get_generic_sys_util(ctx: Ctx) -> Result:
    """Find a system tool or library; install it with the package manager when missing."""
    name = ctx.env.get("CMPY_SYS_UTIL_NAME", "")
    if not name:
        raise UsageError(
            "get generic-sys-util needs the tool to get",
            hint="name it: _name.<tool>, or one of " + ", ".join("_" + n for n in TOOLS),
        )
    if not _NAME.fullmatch(name):
        # it becomes an argument of a package manager run as root: no "-o..." options
        raise UsageError(
            f"get generic-sys-util: {name!r} is not a package name",
            hint="a name starts with a letter or digit and holds only letters, digits and +._@-",
        )
    manager = ctx.env.get("CMPY_SYS_UTIL_PACKAGE_MANAGER") or ctx.env.get(
        "CMPY_HOST_OS_PACKAGE_MANAGER", ""
    )
    # under --dry-run the body runs only to say what it would do
    print_only = ctx.dry_run or ctx.env.get("CMPY_SYS_UTIL_PRINT_ONLY", "").lower() in _TRUE
    found = _detect(ctx, name, manager)
    if found is not None and not print_only:
        return Result(env=found)

    from cmpy.tools import search_dirs

    tool = tool_for(name)
    what = tool.exe if tool.exe is not None else f"{name} (a library)"
    searched = search_dirs() if tool.exe else [f"the {manager or 'system'} package database"]
    try:
        package = _package(name, manager, what, searched)
    except ToolNotFound:
        if found is None:
            raise
        ctx.log(f"{name} is installed; no package manager here knows how to install it")
        return Result(env=found)
    direct = manager in _NO_SUDO or _is_root()
    manual = manual_command(manager, package, root=direct)
    sudo = not direct and shutil.which("sudo") is not None
    env = _INSTALL_ENV.get(manager, {})
    install = privileged([*INSTALL[manager], package], manager, sudo=sudo)

    if print_only:
        if direct or sudo:
            shown = shlex.join(install)
            if not sudo and env:
                shown = " ".join(f"{k}={v}" for k, v in env.items()) + " " + shown
        else:
            shown = manual  # it cannot run from here: what a person must run instead
        state = "installed" if found is not None else "missing"
        ctx.log(f"{name} is {state}; the command that installs it: {shown}")
        return Result(env={**(found or {}), "CMPY_SYS_UTIL_INSTALL_COMMAND": shown})

    if not direct and not sudo:
        raise ToolNotFound(
            what,
            searched=searched,
            hint=f"installing it needs root, and sudo is not available; run by hand: {manual}",
        )
    if sudo and not ctx.sh_sync(["sudo", "-n", "true"], check=False, quiet=True).ok:
        raise ToolNotFound(
            what,
            searched=searched,
            hint="installing it needs root, and sudo wants a password (cmpy never prompts); "
            f"run by hand: {manual}",
        )
    ctx.log(f"{name} is missing: installing the package {package} with {manager}")
    if manager == "apt-get":
        if not ctx.sh_sync(install, env=env, check=False).ok:
            # a fresh image has empty package lists: refresh them once and try again
            ctx.sh_sync(privileged(["apt-get", "update"], manager, sudo=sudo), env=env)
            ctx.sh_sync(install, env=env)
    else:
        ctx.sh_sync(install, env=env)
    found = _detect(ctx, name, manager)
    if found is None:
        raise CmpyError(
            f"{manager} installed the package {package}, but {what} is still not found",
            hint=f"check that the package provides it, or install it by hand: {manual}",
        )
    return Result(env=found)
