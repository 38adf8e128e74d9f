"""Detection of tools with fake executables on a temporary PATH (Spack style)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cmpy._detect import Candidate, choose, detect, detect_version, find_executables
from cmpy._errors import ToolNotFound, UsageError, VersionConflict

PYTHON_RE = r"Python (?P<version>\d+\.\d+\.\d+\S*)"


def fake_tool(folder: Path, name: str, output: str, *, stderr: bool = False) -> Path:
    """An executable shell script that prints ``output`` (on stderr if asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    redirect = " >&2" if stderr else ""
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'{redirect}\n{output}\nEOF\n")
    exe.chmod(0o755)
    return exe


def pathlist(*folders: Path) -> str:
    return os.pathsep.join(str(f) for f in folders)


@pytest.fixture
def pythons(tmp_path: Path) -> tuple[Path, Path]:
    """Two PATH folders: several interpreters, decoys, and a duplicate through a link."""
    first, second = tmp_path / "bin1", tmp_path / "bin2"
    fake_tool(first, "python3", "Python 3.10.12")
    fake_tool(first, "python3.9", "Python 3.9.18")
    fake_tool(first, "python3.11", "Python 3.11.4")
    fake_tool(first, "python3-config", "not an interpreter")
    fake_tool(first, "python3.13", "Python 3.13.0").chmod(0o644)  # not executable
    fake_tool(second, "python3.12", "Python 3.12.1")
    (second / "python3.11").symlink_to(first / "python3.11")  # the same file again
    (second / "python3.10").symlink_to(first / "python3")
    return first, second


def test_finds_versioned_variants_in_path_order_once_each(
    pythons: tuple[Path, Path],
) -> None:
    first, second = pythons
    found = find_executables(["python3"], path=pathlist(first, second))
    assert found == [
        first / "python3",
        first / "python3.9",
        first / "python3.11",
        second / "python3.12",
    ]


def test_patterns_off_finds_exact_names_only(pythons: tuple[Path, Path]) -> None:
    first, second = pythons
    found = find_executables(["python3"], path=pathlist(first, second), patterns=False)
    assert found == [first / "python3"]


def test_path_none_reads_the_environment(
    pythons: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pythons
    monkeypatch.setenv("PATH", pathlist(second, first))
    found = find_executables(["python3"])
    assert found[0] == second / "python3.10"  # PATH order decides which path is kept
    assert first / "python3" not in found


def test_extra_dirs_come_after_path(tmp_path: Path) -> None:
    on_path = fake_tool(tmp_path / "a", "cmake", "cmake version 3.22.1")
    extra = fake_tool(tmp_path / "opt" / "bin", "cmake", "cmake version 3.28.0")
    missing = tmp_path / "not-there"
    found = find_executables(
        ["cmake"],
        path=pathlist(missing, tmp_path / "a"),
        extra_dirs=[str(extra.parent)],
    )
    assert found == [on_path, extra]


def test_dash_and_plain_version_suffixes(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    for name in [
        "gcc",
        "gcc-12",
        "gcc-9",
        "gcc-ar",
        "gcc-ar-12",
        "clang17",
        "clang-format",
    ]:
        fake_tool(folder, name, name)
    assert [p.name for p in find_executables(["gcc", "clang"], path=str(folder))] == [
        "gcc",
        "gcc-9",
        "gcc-12",
        "clang17",
    ]


@pytest.mark.parametrize("spec", [">=3.9,<3.12", "~=3.11.0", "==3.11.*"])
def test_constraint_picks_the_newest_that_fits(pythons: tuple[Path, Path], spec: str) -> None:
    first, second = pythons
    found = detect(["python3"], PYTHON_RE, spec=spec, path=pathlist(first, second))
    assert found == Candidate(first / "python3.11", "3.11.4")


def test_no_constraint_picks_the_newest(pythons: tuple[Path, Path]) -> None:
    first, second = pythons
    found = detect(["python3"], PYTHON_RE, path=pathlist(first, second))
    assert found == Candidate(second / "python3.12", "3.12.1")


def test_no_fit_lists_what_was_found(pythons: tuple[Path, Path]) -> None:
    first, second = pythons
    with pytest.raises(VersionConflict) as info:
        detect(["python3"], PYTHON_RE, spec=">=3.13", path=pathlist(first, second))
    text = str(info.value)
    assert ">=3.13" in text
    for path, version in [
        (first / "python3", "3.10.12"),
        (first / "python3.9", "3.9.18"),
        (first / "python3.11", "3.11.4"),
        (second / "python3.12", "3.12.1"),
    ]:
        assert f"{path} ({version})" in text
    assert len(info.value.candidates) == 4


def test_nothing_found_lists_where_it_searched(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    fake_tool(tmp_path / "other", "ipython3", "Python 3.11.4")  # a name that only ends alike
    fake_tool(tmp_path / "other", "python3-config", "Python 3.11.4")
    with pytest.raises(ToolNotFound) as info:
        detect(["python3", "python"], PYTHON_RE, path=pathlist(empty, tmp_path / "other"))
    assert "python3 or python not found" in str(info.value)
    assert info.value.searched == (str(empty), str(tmp_path / "other"))


@pytest.mark.parametrize(
    ("output", "regex", "expected"),
    [
        ("Python 3.11.4", PYTHON_RE, "3.11.4"),
        (
            "gcc (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0\nCopyright (C) 2022",
            r"^gcc .*\) (\d+\.\d+\.\d+)",
            "12.3.0",
        ),
        (
            "Ubuntu clang version 17.0.6 (++20231209)",
            r"clang version (\d+\.\d+\.\d+)",
            "17.0.6",
        ),
        (
            "cmake version 3.27.4\n\nCMake suite maintained",
            r"cmake version (\S+)",
            "3.27.4",
        ),
        (
            "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 12.2, V12.2.140",
            r"release \S+ V(?P<version>[\d.]+)",
            "12.2.140",
        ),
        ("git version 2.43.0", r"\d+\.\d+\.\d+", "2.43.0"),  # no group: the whole match
        ("something else entirely", PYTHON_RE, None),
    ],
)
def test_detect_version_reads_known_outputs(
    tmp_path: Path, output: str, regex: str, expected: str | None
) -> None:
    exe = fake_tool(tmp_path, "tool", output)
    assert detect_version(exe, regex=regex) == expected


def test_detect_version_reads_stderr_and_ignores_exit_status(tmp_path: Path) -> None:
    exe = tmp_path / "python2"
    exe.write_text("#!/bin/sh\necho 'Python 2.7.18' >&2\nexit 1\n")
    exe.chmod(0o755)
    assert detect_version(exe, regex=PYTHON_RE) == "2.7.18"


def test_detect_version_passes_args_and_env(tmp_path: Path) -> None:
    exe = tmp_path / "java"
    exe.write_text('#!/bin/sh\n[ "$1" = "-version" ] && echo "openjdk version \\"$JV\\""\n')
    exe.chmod(0o755)
    regex = r'version "(\d[^"]*)"'
    assert detect_version(exe, args=["-version"], regex=regex, env={"JV": "21.0.2"}) == "21.0.2"
    assert detect_version(exe, regex=regex) is None


def test_detect_version_gives_up_on_a_hanging_tool(tmp_path: Path) -> None:
    exe = tmp_path / "hang"
    exe.write_text("#!/bin/sh\nexec sleep 30\n")
    exe.chmod(0o755)
    assert detect_version(exe, regex=PYTHON_RE, timeout=0.3) is None


def test_detect_version_kills_what_a_hanging_wrapper_started(tmp_path: Path) -> None:
    """A wrapper script whose child hangs must not keep the probe waiting on its output."""
    exe = tmp_path / "wrapper"
    exe.write_text("#!/bin/sh\nsleep 30\necho 'Python 3.11.4'\n")
    exe.chmod(0o755)
    started = time.monotonic()
    assert detect_version(exe, regex=PYTHON_RE, timeout=0.3) is None
    assert time.monotonic() - started < 5


def test_detect_version_of_something_that_cannot_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_bytes(b"\x00\x01 not a program")
    broken.chmod(0o755)
    assert detect_version(broken, regex=PYTHON_RE) is None
    assert detect_version(tmp_path / "missing", regex=PYTHON_RE) is None


def test_version_probes_run_concurrently(tmp_path: Path) -> None:
    """Each fake waits until all three are running; run one by one, none would say its version."""
    marks = tmp_path / "marks"
    marks.mkdir()
    folder = tmp_path / "bin"
    folder.mkdir()
    for minor in (1, 2, 3):
        exe = folder / f"tool-{minor}"
        exe.write_text(
            "#!/bin/sh\n"
            f"touch '{marks}/{minor}'\n"
            "i=0\n"
            f"while [ $(ls '{marks}' | wc -l) -lt 3 ] && [ $i -lt 100 ]; do\n"
            "  sleep 0.02; i=$((i+1))\n"
            "done\n"
            f"[ $(ls '{marks}' | wc -l) -ge 3 ] && echo 'tool 1.{minor}'\n"
        )
        exe.chmod(0o755)
    found = detect(["tool"], r"tool (\S+)", path=str(folder))
    assert found == Candidate(folder / "tool-3", "1.3")


def test_choose_prefers_final_releases_then_first_of_equals(tmp_path: Path) -> None:
    rc = Candidate(tmp_path / "a", "3.13.0rc1")
    final = Candidate(tmp_path / "b", "3.12.1")
    twin = Candidate(tmp_path / "c", "3.12.1")
    assert choose([rc, final, twin], ">=3.8") == final
    assert choose([final, rc], ">=3.12.5") == rc  # no final fits: the pre-release will do
    assert choose([twin, final], None) == twin


def test_choose_skips_versions_that_do_not_parse_but_lists_them(tmp_path: Path) -> None:
    odd = Candidate(tmp_path / "odd", "3.x-custom")
    unknown = Candidate(tmp_path / "quiet", None)
    good = Candidate(tmp_path / "good", "3.8.10")
    assert choose([odd, unknown, good], None) == good
    with pytest.raises(VersionConflict) as info:
        choose([odd, unknown, good], ">=3.9", what="python3")
    text = str(info.value)
    assert f"{tmp_path / 'odd'} (3.x-custom)" in text
    assert f"{tmp_path / 'quiet'} (version unknown)" in text
    assert f"{tmp_path / 'good'} (3.8.10)" in text


def test_choose_without_any_readable_version(tmp_path: Path) -> None:
    first = Candidate(tmp_path / "a", None)
    assert choose([first, Candidate(tmp_path / "b", "weird")], None) == first
    with pytest.raises(VersionConflict):
        choose([first], ">=1")


def test_choose_with_nothing_raises_tool_not_found() -> None:
    with pytest.raises(ToolNotFound, match="cmake not found"):
        choose([], ">=3", what="cmake", searched=["/usr/bin"])


def test_malformed_spec_and_regex_are_usage_errors(pythons: tuple[Path, Path]) -> None:
    first, _ = pythons
    with pytest.raises(UsageError, match="specifier"):
        detect(["python3"], PYTHON_RE, spec="3.11", path=str(first))
    with pytest.raises(UsageError, match="regex"):
        detect(["python3"], r"Python (\d+", path=str(first))
