"""Build tools: ``get gcc``, ``get llvm``, ``get cmake``, ``get git``, and ``compile program``.

The ``get`` recipes are Spack-style detectors: every candidate on PATH
(versioned names too: ``gcc-12``, ``clang-17``) is asked its ``--version``,
and the newest that fits the version asked for is chosen. They are not
cached: PATH is not part of a cache key, so a cached answer would survive a
change of PATH that puts another compiler first, while detection costs one
``--version`` per candidate, run side by side. They export only stable facts
(a path and a version), so a cached ``compile program`` that depends on them
keeps its entry for as long as they find the same tool (early cutoff).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cmpy import Ctx, Dep, Result, ToolNotFound, UsageError, Variation, script

# The first line of ``gcc --version`` is "NAME (PACKAGER ...) VERSION": Debian's
# "gcc (Debian 12.2.0-14) 12.2.0", Fedora's "gcc (GCC) 13.2.1 20231011 (Red Hat ...)".
# Apple's "gcc" is clang ("Apple clang version 15.0.0 (...)") and does not match.
GCC_VERSION = re.compile(r"^\S+ \(.*?\) (?P<version>\d+\.\d+(?:\.\d+)?)", re.MULTILINE)
# "Debian clang version 14.0.6", "clang version 17.0.6 (https://...)", "Apple clang version 15.0.0"
CLANG_VERSION = re.compile(r"clang version (?P<version>\d+(?:\.\d+)+)")
# "cmake version 3.25.1", "cmake3 version 3.20.2", "cmake version 3.28.0-rc1"
CMAKE_VERSION = re.compile(r"cmake\d* version (?P<version>\d+(?:\.\d+)+(?:-?rc\d+)?)")
# "git version 2.39.5", "git version 2.39.3 (Apple Git-145)", "git version 2.43.0.windows.1"
GIT_VERSION = re.compile(r"git version (?P<version>\d+(?:\.\d+)+)")


def _hint(util: str) -> str:
    return f'install it: cmpy run "get generic-sys-util _{util}" (or add its folder to PATH)'


def find_tool(
    names: list[str], regex: re.Pattern[str], spec: str, *, what: str, util: str
) -> tuple[Path, str]:
    """Find ``names`` on PATH, read each one's version and pick the newest that fits ``spec``.

    A candidate whose ``--version`` does not match ``regex`` is another program
    under that name (Apple's ``gcc`` is clang) and is never chosen.

    Raises:
        ToolNotFound: nothing of that name, or only other programs (hint: the
            ``get generic-sys-util`` variation ``_<util>`` that installs it).
        VersionConflict: candidates exist but none fits ``spec`` (lists them).
    """
    from cmpy.tools import detect

    try:
        chosen = detect(names, regex, spec=spec)
    except ToolNotFound as exc:
        raise ToolNotFound(what, searched=exc.searched, hint=_hint(util)) from None
    if chosen.version is None:
        # detect() falls back to the first candidate only when none has a version
        raise ToolNotFound(
            f"{what} (found {chosen.path}, which is another program)",
            searched=[str(chosen.path.parent)],
            hint=_hint(util),
        )
    return chosen.path, chosen.version


def sibling(exe: Path, base: str, other: str) -> Path | None:
    """The ``other`` program beside ``exe`` with the same version suffix (gcc-12 -> g++-12)."""
    name = exe.name
    if not name.startswith(base):
        return None
    candidate = exe.with_name(other + name[len(base) :])
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


@script(
    tags="get gcc compiler c-compiler",
    alias="get-gcc",
    uid="06d76a30d6612a99",
    exports=["CMPY_GCC_*", "CMPY_C_COMPILER_WITH_PATH", "CMPY_CXX_COMPILER_WITH_PATH"],
)
def get_gcc(ctx: Ctx) -> Result:
    """Find GCC (gcc, gcc-12, ...) and its g++: the newest that fits the version asked for."""
    gcc, version = find_tool(["gcc"], GCC_VERSION, ctx.version_spec, what="GCC", util="gcc")
    env = {
        "CMPY_GCC_BIN_WITH_PATH": str(gcc),
        "CMPY_GCC_VERSION": version,
        "CMPY_C_COMPILER_WITH_PATH": str(gcc),
    }
    gxx = sibling(gcc, "gcc", "g++")
    if gxx is not None:
        env["CMPY_CXX_COMPILER_WITH_PATH"] = str(gxx)
    else:
        ctx.log(f"no g++ beside {gcc}: C++ needs it (get generic-sys-util _g++)")
    return Result(env=env, version=version)


@script(
    tags="get llvm clang compiler c-compiler",
    alias="get-llvm",
    uid="7d67f7fc07bb6b3d",
    exports=["CMPY_LLVM_*", "CMPY_C_COMPILER_WITH_PATH", "CMPY_CXX_COMPILER_WITH_PATH"],
)
def get_llvm(ctx: Ctx) -> Result:
    """Find LLVM's clang (clang, clang-17, ...) and its clang++: the newest that fits."""
    clang, version = find_tool(
        ["clang"], CLANG_VERSION, ctx.version_spec, what="clang", util="clang"
    )
    env = {
        "CMPY_LLVM_CLANG_BIN_WITH_PATH": str(clang),
        "CMPY_LLVM_VERSION": version,
        "CMPY_C_COMPILER_WITH_PATH": str(clang),
    }
    clangxx = sibling(clang, "clang", "clang++")
    if clangxx is not None:
        env["CMPY_LLVM_CLANGXX_BIN_WITH_PATH"] = str(clangxx)
        env["CMPY_CXX_COMPILER_WITH_PATH"] = str(clangxx)
    else:
        ctx.log(f"no clang++ beside {clang}: C++ needs it")
    return Result(env=env, version=version)


@script(tags="get cmake", alias="get-cmake", uid="c279349e3edb3e05", exports=["CMPY_CMAKE_*"])
def get_cmake(ctx: Ctx) -> Result:
    """Find CMake (cmake, cmake3, ...): the newest that fits the version asked for."""
    cmake, version = find_tool(
        ["cmake"], CMAKE_VERSION, ctx.version_spec, what="cmake", util="cmake"
    )
    return Result(
        env={"CMPY_CMAKE_BIN_WITH_PATH": str(cmake), "CMPY_CMAKE_VERSION": version},
        version=version,
    )


@script(tags="get git", alias="get-git", uid="671c1ca2af10f9f3", exports=["CMPY_GIT_*"])
def get_git(ctx: Ctx) -> Result:
    """Find git: the newest on PATH that fits the version asked for."""
    git, version = find_tool(["git"], GIT_VERSION, ctx.version_spec, what="git", util="git")
    return Result(
        env={"CMPY_GIT_BIN_WITH_PATH": str(git), "CMPY_GIT_VERSION": version},
        version=version,
    )


_C_SUFFIXES = frozenset({".c"})
_CXX_SUFFIXES = frozenset({".cc", ".cpp", ".cxx", ".c++", ".C"})


@script(
    tags="compile program c cpp",
    alias="compile-program",
    uid="5a0407029b084f03",
    # cached: the key holds the source's path, the flags and the compiler's key;
    # the source itself is exported (CMPY_COMPILED_SOURCE), so the engine records
    # its mtime and size and an edited source is a miss.
    cache=True,
    variations={
        "gcc": Variation(group="compiler", default=True, deps=[Dep("get gcc", name="compiler")]),
        "llvm": Variation(group="compiler", deps=[Dep("get llvm", name="compiler")]),
    },
    inputs={
        "source": ("CMPY_SOURCE_FILE", "the C (.c) or C++ (.cc, .cpp, .cxx) file to compile"),
        "output": ("CMPY_PROGRAM_NAME", "the program's file name (default: the source's stem)"),
        "cflags": ("CMPY_C_FLAGS", "flags for a C source, split as a shell would"),
        "cxxflags": ("CMPY_CXX_FLAGS", "flags for a C++ source, split as a shell would"),
        "ldflags": (
            "CMPY_LD_FLAGS",
            "flags for the link (after the source), split as a shell would",
        ),
    },
    env={
        "CMPY_SOURCE_FILE": "",
        "CMPY_PROGRAM_NAME": "",
        "CMPY_C_FLAGS": "",
        "CMPY_CXX_FLAGS": "",
        "CMPY_LD_FLAGS": "",
    },
    exports=["CMPY_COMPILED_PROGRAM", "CMPY_COMPILED_SOURCE"],
)
def compile_program(ctx: Ctx) -> Result:
    """Compile one C or C++ source file into a program in the cache entry's folder.

    ``source`` must be an absolute path (the key holds the path as given).
    Headers the source includes are not tracked: only the source file is.
    """
    import shlex

    given = ctx.env.get("CMPY_SOURCE_FILE", "")
    if not given:
        raise UsageError(
            "compile program needs a source file",
            hint='cmpy run "compile program" --source=$PWD/hello.c',
        )
    source = Path(given).expanduser()
    if not source.is_absolute():
        # the key holds the path as given: "hello.c" from two folders would be one
        # key, and the second run would get the first folder's program
        raise UsageError(
            f"compile program: the source {given!r} must be an absolute path",
            hint=f"--source={source.absolute()}",
        )
    if not source.is_file():
        raise UsageError(f"compile program: the source file {source} does not exist")
    if source.suffix in _C_SUFFIXES:
        language, key, flags_key = "C", "CMPY_C_COMPILER_WITH_PATH", "CMPY_C_FLAGS"
    elif source.suffix in _CXX_SUFFIXES:
        language, key, flags_key = "C++", "CMPY_CXX_COMPILER_WITH_PATH", "CMPY_CXX_FLAGS"
    else:
        raise UsageError(
            f"compile program: {source.name} is neither C (.c) nor C++ "
            f"({', '.join(sorted(_CXX_SUFFIXES))})"
        )
    compiler = ctx.env.get(key, "")
    if not compiler:
        found = ctx.env.get("CMPY_C_COMPILER_WITH_PATH", "the compiler")
        other = "_gcc" if "llvm" in ctx.variations else "_llvm"
        raise ToolNotFound(
            f"a {language} compiler beside {found}",
            hint=_hint("clang" if "llvm" in ctx.variations else "g++")
            + f"; or use the other compiler: {other}",
        )
    name = ctx.env.get("CMPY_PROGRAM_NAME") or source.stem
    if os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise UsageError(
            f"compile program: the output {name!r} must be a file name, not a path",
            hint="the program is written into the cache entry's folder; "
            "its path is exported as CMPY_COMPILED_PROGRAM",
        )
    program = ctx.path / name
    try:
        flags = shlex.split(ctx.env.get(flags_key, ""))
        ldflags = shlex.split(ctx.env.get("CMPY_LD_FLAGS", ""))
    except ValueError as exc:
        raise UsageError(f"compile program: cannot split the flags: {exc}") from None
    # a list, never a shell: flags and paths reach the compiler as they are
    ctx.sh_sync([compiler, *flags, str(source), "-o", str(program), *ldflags], cwd=ctx.path)
    return Result(env={"CMPY_COMPILED_PROGRAM": str(program), "CMPY_COMPILED_SOURCE": str(source)})
