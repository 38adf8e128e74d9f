"""``get gcc/llvm/cmake/git`` with fake executables, and ``compile program`` with the real gcc."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _fakebin import CHMOD, fake_exe, only_path, printing

from cmpy import ToolNotFound, UsageError, VersionConflict, run

GCC_12 = """\
gcc (Debian 12.2.0-14) 12.2.0
Copyright (C) 2022 Free Software Foundation, Inc.
This is free software; see the source for copying conditions.  There is NO
warranty; not even for MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE."""
GCC_13 = "gcc-13 (GCC) 13.2.1 20231011 (Red Hat 13.2.1-4)\nCopyright (C) 2023"
APPLE_GCC = """\
Apple clang version 15.0.0 (clang-1500.3.9.4)
Target: arm64-apple-darwin23.4.0
Thread model: posix"""
CLANG_14 = "Debian clang version 14.0.6\nTarget: x86_64-pc-linux-gnu\nThread model: posix"
CLANG_17 = "Ubuntu clang version 17.0.6 (++20231208085846+6009708b4367-1~exp1~20231208085949.74)"


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder that is the whole PATH."""
    folder = tmp_path / "bin"
    only_path(monkeypatch, [folder])
    return folder


def test_gcc_newest_with_its_gxx(bin_dir: Path) -> None:
    gcc = fake_exe(bin_dir, "gcc", printing(GCC_12))
    fake_exe(bin_dir, "g++", printing(GCC_12))
    gcc13 = fake_exe(bin_dir, "gcc-13", printing(GCC_13))
    gxx13 = fake_exe(bin_dir, "g++-13", printing(GCC_13))
    r = run("get gcc", quiet=True)
    assert r.version == "13.2.1" and r["CMPY_GCC_VERSION"] == "13.2.1"
    assert r["CMPY_GCC_BIN_WITH_PATH"] == r["CMPY_C_COMPILER_WITH_PATH"] == str(gcc13)
    assert r["CMPY_CXX_COMPILER_WITH_PATH"] == str(gxx13)
    older = run("get-gcc", version_max="12.99", quiet=True)
    assert older.version == "12.2.0" and older["CMPY_GCC_BIN_WITH_PATH"] == str(gcc)
    assert older["CMPY_CXX_COMPILER_WITH_PATH"] == str(bin_dir / "g++")


def test_gcc_without_gxx_exports_no_cxx_compiler(bin_dir: Path) -> None:
    fake_exe(bin_dir, "gcc-12", printing(GCC_12))
    r = run("get gcc compiler c-compiler", quiet=True)
    assert r.version == "12.2.0" and "CMPY_CXX_COMPILER_WITH_PATH" not in r.env


def test_gcc_version_conflict_lists_what_was_found(bin_dir: Path) -> None:
    fake_exe(bin_dir, "gcc", printing(GCC_12))
    fake_exe(bin_dir, "gcc-13", printing(GCC_13))
    with pytest.raises(VersionConflict) as caught:
        run("get gcc", version_min="14", quiet=True)
    text = str(caught.value)
    assert "12.2.0" in text and "13.2.1" in text and ">=14" in text


def test_gcc_that_is_clang_is_not_gcc(bin_dir: Path) -> None:
    fake_exe(bin_dir, "gcc", printing(APPLE_GCC))
    with pytest.raises(ToolNotFound, match="another program") as caught:
        run("get gcc", quiet=True)
    assert 'cmpy run "get generic-sys-util _gcc"' in str(caught.value)


def test_llvm_newest_and_constrained(bin_dir: Path) -> None:
    clang = fake_exe(bin_dir, "clang", printing(CLANG_14))
    clangxx = fake_exe(bin_dir, "clang++", printing(CLANG_14))
    clang17 = fake_exe(bin_dir, "clang-17", printing(CLANG_17))
    clangxx17 = fake_exe(bin_dir, "clang++-17", printing(CLANG_17))
    r = run("get llvm", quiet=True)
    assert r.version == "17.0.6" and r["CMPY_LLVM_VERSION"] == "17.0.6"
    assert r["CMPY_LLVM_CLANG_BIN_WITH_PATH"] == r["CMPY_C_COMPILER_WITH_PATH"] == str(clang17)
    assert r["CMPY_CXX_COMPILER_WITH_PATH"] == str(clangxx17)
    r = run("get clang", version="==14.*", quiet=True)
    assert r.version == "14.0.6" and r["CMPY_LLVM_CLANG_BIN_WITH_PATH"] == str(clang)
    assert r["CMPY_CXX_COMPILER_WITH_PATH"] == str(clangxx)


@pytest.mark.parametrize(
    ("query", "exe", "output", "version", "prefix"),
    [
        ("get cmake", "cmake", "cmake version 3.25.1\n\nCMake suite maintained", "3.25.1", "CMAKE"),
        ("get-cmake", "cmake3", "cmake3 version 3.20.2", "3.20.2", "CMAKE"),
        ("get git", "git", "git version 2.39.5", "2.39.5", "GIT"),
        ("get-git", "git", "git version 2.39.3 (Apple Git-145)", "2.39.3", "GIT"),
    ],
)
def test_cmake_and_git(
    bin_dir: Path, query: str, exe: str, output: str, version: str, prefix: str
) -> None:
    path = fake_exe(bin_dir, exe, printing(output))
    r = run(query, quiet=True)
    assert r.version == version and r[f"CMPY_{prefix}_VERSION"] == version
    assert r[f"CMPY_{prefix}_BIN_WITH_PATH"] == str(path)


def test_git_picks_the_newest_that_fits(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    fake_exe(bin_dir, "git", printing("git version 2.30.2"))
    newer = fake_exe(other, "git", printing("git version 2.43.0.windows.1"))
    only_path(monkeypatch, [bin_dir, other])
    assert run("get git", quiet=True)["CMPY_GIT_BIN_WITH_PATH"] == str(newer)
    assert run("get git", version_max="2.40", quiet=True).version == "2.30.2"


@pytest.mark.parametrize(
    ("query", "util"),
    [("get gcc", "_gcc"), ("get llvm", "_clang"), ("get cmake", "_cmake"), ("get git", "_git")],
)
def test_missing_tool_says_how_to_install_it(bin_dir: Path, query: str, util: str) -> None:
    with pytest.raises(ToolNotFound) as caught:
        run(query, quiet=True)
    text = str(caught.value)
    assert "not found (searched: " + str(bin_dir) in text
    assert f'cmpy run "get generic-sys-util {util}"' in text


# -- compile program --------------------------------------------------------

needs_gcc = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("g++") is None, reason="needs gcc and g++"
)

HELLO_C = """\
#include <stdio.h>
#include <math.h>
int main(void) { printf("%s %d\\n", GREETING, (int)sqrt(VALUE)); return 0; }
"""

HELLO_CPP = """\
#include <iostream>
#include <string>
int main() { std::string s = "c++"; std::cout << s << " " << __cplusplus / 100 << "\\n"; }
"""


def output_of(program: str) -> str:
    return subprocess.run([program], capture_output=True, text=True, check=True).stdout


@needs_gcc
def test_compile_c_caches_and_recompiles_an_edited_source(tmp_path: Path) -> None:
    source = tmp_path / "hello.c"
    source.write_text(HELLO_C)
    flags: dict[str, Any] = {
        "cflags": "-O1 '-DGREETING=\"hello world\"' -DVALUE=16",
        "ldflags": "-lm",
    }
    r = run("compile program", source=str(source), quiet=True, **flags)
    program = r["CMPY_COMPILED_PROGRAM"]
    assert Path(program).parent == Path(r.folder or "") and Path(program).name == "hello"
    assert r["CMPY_COMPILED_SOURCE"] == str(source)
    assert output_of(program) == "hello world 4\n"
    again = run("compile-program", source=str(source), quiet=True, **flags)
    assert again.cached and again["CMPY_COMPILED_PROGRAM"] == program
    source.write_text(HELLO_C.replace("%s %d", "%s: %d"))
    edited = run("compile program", source=str(source), quiet=True, **flags)
    assert not edited.cached
    assert output_of(edited["CMPY_COMPILED_PROGRAM"]) == "hello world: 4\n"


@needs_gcc
def test_compile_cpp_with_its_flags_and_output_name(tmp_path: Path) -> None:
    source = tmp_path / "hello.cpp"
    source.write_text(HELLO_CPP)
    r = run(
        "compile program _gcc",
        source=str(source),
        output="greet",
        cxxflags="-std=c++17",
        quiet=True,
    )
    assert Path(r["CMPY_COMPILED_PROGRAM"]).name == "greet"
    assert output_of(r["CMPY_COMPILED_PROGRAM"]) == "c++ 2017\n"


# a fake compiler: writes a program at "-o PATH" that prints how it was made
FAKE_CLANG = f"""
if [ "$1" = --version ]; then printf '%s\\n' 'clang version 18.1.3'; exit 0; fi
out=""; prev=""
for arg in "$@"; do [ "$prev" = -o ] && out="$arg"; prev="$arg"; done
printf '#!/bin/sh\\necho built by %s with %s\\n' "$0" "$1" > "$out"
{CHMOD} +x "$out"
"""


def test_compile_with_llvm(bin_dir: Path, tmp_path: Path) -> None:
    fake_exe(bin_dir, "clang-18", FAKE_CLANG)
    clangxx = fake_exe(bin_dir, "clang++-18", FAKE_CLANG)
    source = tmp_path / "x.cc"
    source.write_text("int main() {}\n")
    r = run("compile program _llvm", source=str(source), cxxflags="-O2", quiet=True)
    assert output_of(r["CMPY_COMPILED_PROGRAM"]) == f"built by {clangxx} with -O2\n"


def test_compile_without_a_cxx_compiler(bin_dir: Path, tmp_path: Path) -> None:
    fake_exe(bin_dir, "gcc", printing(GCC_12))
    source = tmp_path / "x.cpp"
    source.write_text("int main() {}\n")
    with pytest.raises(ToolNotFound, match="C\\+\\+ compiler") as caught:
        run("compile program", source=str(source), quiet=True)
    assert "_g++" in str(caught.value)


def test_compile_refuses_what_it_cannot_compile(bin_dir: Path, tmp_path: Path) -> None:
    fake_exe(bin_dir, "gcc", printing(GCC_12))
    with pytest.raises(UsageError, match="needs a source file"):
        run("compile program", quiet=True)
    with pytest.raises(UsageError, match="must be an absolute path"):
        run("compile program", source="hello.c", quiet=True)
    with pytest.raises(UsageError, match="does not exist"):
        run("compile program", source=str(tmp_path / "missing.c"), quiet=True)
    fortran = tmp_path / "x.f90"
    fortran.write_text("end\n")
    with pytest.raises(UsageError, match="neither C"):
        run("compile program", source=str(fortran), quiet=True)
    source = tmp_path / "x.c"
    source.write_text("int main(void) { return 0; }\n")
    with pytest.raises(UsageError, match="file name, not a path"):
        run("compile program", source=str(source), output=os.path.join("..", "x"), quiet=True)
