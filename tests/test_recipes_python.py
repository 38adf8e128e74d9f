"""The Python recipes: get python3, install python-venv, get generic-python-lib.

Detection runs against fake interpreters (shell scripts) on a temporary PATH,
with the common locations switched off through CMPY_PYTHON_SEARCH_DIRS so that
this machine's own interpreters stay out. Virtual environments and pip run
for real, offline: wheels are built by hand into a folder, and the index, when
there is one, is a closed port on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _httpserver import closed_port_url

from cmpy import Result, ToolNotFound, UsageError, VersionConflict, run
from cmpy.recipes.python import normalize_name, pip_command, runs_here, venv_python

# -- fake interpreters ---------------------------------------------------------


def fake_python(folder: Path, name: str, version: str, *, prints_to: str = "stdout") -> Path:
    """A shell script that answers ``--version`` as Python does."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    redirect = " >&2" if prints_to == "stderr" else ""
    exe.write_text(f'#!/bin/sh\necho "Python {version}"{redirect}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """python3.9, python3.11, python3.12 and python3 -> python3.12, alone on PATH."""
    folder = tmp_path / "bin"
    fake_python(folder, "python3.9", "3.9.18")
    fake_python(folder, "python3.11", "3.11.4")
    fake_python(folder, "python3.12", "3.12.1")
    (folder / "python3").symlink_to("python3.12")
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    return folder


# no common locations and not the running interpreter: only what the test puts on PATH
NO_EXTRA = {"CMPY_PYTHON_SEARCH_DIRS": "", "CMPY_HOST_PYTHON": ""}


def test_without_a_constraint_the_first_python3_on_path(fake_bin: Path) -> None:
    r = run("get python3", env=NO_EXTRA, quiet=True)
    assert r["CMPY_PYTHON_BIN_WITH_PATH"] == str(fake_bin / "python3")
    assert r["CMPY_PYTHON_BIN"] == "python3"
    assert r["CMPY_PYTHON_BIN_PATH"] == str(fake_bin)
    assert r["CMPY_PYTHON_VERSION"] == "3.12.1" and r.version == "3.12.1"
    again = run("get python3", env=NO_EXTRA, quiet=True)
    assert again.cached and again.env == r.env


@pytest.mark.parametrize(
    ("constraint", "chosen"),
    [
        ({"version_min": "3.10"}, "python3"),  # 3.12.1, first found under that version
        ({"version_max": "3.11.9"}, "python3.11"),
        ({"version_min": "3.9", "version_max": "3.10"}, "python3.9"),
        ({"version": "3.11.4"}, "python3.11"),
    ],
)
def test_a_constraint_picks_the_newest_that_fits(
    fake_bin: Path, constraint: dict[str, Any], chosen: str
) -> None:
    r = run("get python3", env=NO_EXTRA, quiet=True, **constraint)
    assert r["CMPY_PYTHON_BIN_WITH_PATH"] == str(fake_bin / chosen)


def test_no_fitting_python_lists_every_one_found(fake_bin: Path) -> None:
    with pytest.raises(VersionConflict) as caught:
        run("get python3", env=NO_EXTRA, version_min="3.13", quiet=True)
    text = str(caught.value)
    for name, version in [("python3", "3.12.1"), ("python3.9", "3.9.18"), ("python3.11", "3.11.4")]:
        assert f"{fake_bin / name} ({version})" in text
    assert ">=3.13" in text and caught.value.constraint == ">=3.13"


def test_no_python_at_all_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty, extra = tmp_path / "empty", tmp_path / "extra"
    empty.mkdir()
    extra.mkdir()
    fake_python(tmp_path / "old", "python", "2.7.18", prints_to="stderr")
    monkeypatch.setenv("PATH", f"{empty}{os.pathsep}{tmp_path / 'old'}")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    with pytest.raises(ToolNotFound) as caught:
        run(
            "get python3",
            env={"CMPY_PYTHON_SEARCH_DIRS": str(extra), "CMPY_HOST_PYTHON": ""},
            quiet=True,
        )
    assert caught.value.searched == (str(empty), str(tmp_path / "old"), str(extra))
    assert "python3 not found" in str(caught.value)
    assert "2.7.18" in str(caught.value)  # a Python 2 was seen, and said to be no use


def test_other_folders_come_after_path(fake_bin: Path, tmp_path: Path) -> None:
    fake_python(tmp_path / "versions" / "3.13.0" / "bin", "python3", "3.13.0")
    fake_python(tmp_path / "versions" / "3.10.2" / "bin", "python3", "3.10.2")
    search = {
        "CMPY_PYTHON_SEARCH_DIRS": str(tmp_path / "versions" / "*" / "bin"),
        "CMPY_HOST_PYTHON": "",
    }
    first = run("get python3", env=search, quiet=True)
    assert first["CMPY_PYTHON_VERSION"] == "3.12.1"  # PATH wins without a constraint
    newer = run("get python3", env=search, version_min="3.13", quiet=True)
    assert newer["CMPY_PYTHON_BIN_WITH_PATH"] == str(
        tmp_path / "versions" / "3.13.0" / "bin" / "python3"
    )


def test_without_python3_on_path_the_newest_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    for version in ("3.9.1", "3.12.3", "3.10.0"):
        fake_python(tmp_path / "v" / version / "bin", "python3", version)
    r = run(
        "get python3",
        env={"CMPY_PYTHON_SEARCH_DIRS": str(tmp_path / "v" / "*" / "bin"), "CMPY_HOST_PYTHON": ""},
        quiet=True,
    )
    assert r.version == "3.12.3"


def test_a_shim_stands_for_the_interpreter_it_runs(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fake_python(tmp_path / "real", "python3.10", "3.10.7")
    shims = tmp_path / ".pyenv" / "shims"
    shims.mkdir(parents=True)
    shim = shims / "python3"
    shim.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-c" ]; then echo "cmpy-python:{real}"; else echo "Python 3.99.0"; fi\n'
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{fake_bin}")
    r = run("get python3", env=NO_EXTRA, quiet=True)
    assert r["CMPY_PYTHON_BIN_WITH_PATH"] == str(real) and r.version == "3.10.7"
    # with a constraint shims are left out: the 3.99 it claims is not a stable fact
    assert run("get python3", env=NO_EXTRA, version_min="3.11", quiet=True).version == "3.12.1"


def test_the_active_venv_and_the_running_interpreter_come_first(
    fake_bin: Path, venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside an active virtual environment that fits, it is chosen over PATH's newer ones;
    without one, the interpreter running cmpy; otherwise the PATH rule."""
    running = ".".join(str(p) for p in sys.version_info[:3])
    search = {"CMPY_PYTHON_SEARCH_DIRS": ""}
    monkeypatch.setenv("VIRTUAL_ENV", str(venv.parent.parent))
    chosen = run("get python3", env=search, version_min="3.8", quiet=True)
    assert chosen["CMPY_PYTHON_BIN_WITH_PATH"] == str(venv) and chosen.version == running
    monkeypatch.delenv("VIRTUAL_ENV")
    # the cached answer named the venv: without it active, the entry is stale
    chosen = run("get python3", env=search, version_min="3.8", quiet=True)
    assert not chosen.cached
    assert os.path.samefile(chosen["CMPY_PYTHON_BIN_WITH_PATH"], sys.executable)
    # a constraint the running interpreter does not meet: the newest that does
    newer = run("get python3", env=search, version_min="3.12", quiet=True)
    assert newer["CMPY_PYTHON_BIN_WITH_PATH"] == str(fake_bin / "python3")


def test_the_choice_rule_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    from cmpy._cli import main

    assert main(["show", "get-python3"]) == 0
    shown = capsys.readouterr().out
    assert "1. the one named by ``CMPY_PYTHON_BIN_WITH_PATH``" in shown
    assert "2. the active virtual environment" in shown
    assert "3. the interpreter running cmpy" in shown


def test_the_interpreter_given_from_above_is_used_as_is(fake_bin: Path) -> None:
    given = {**NO_EXTRA, "CMPY_PYTHON_BIN_WITH_PATH": str(fake_bin / "python3.9")}
    r = run("get python3", env=given, quiet=True)
    assert r["CMPY_PYTHON_BIN_WITH_PATH"] == str(fake_bin / "python3.9") and r.version == "3.9.18"
    with pytest.raises(VersionConflict, match=r"python3\.9 \(3\.9\.18\)"):
        run("get python3", env=given, version_min="3.10", quiet=True)
    with pytest.raises(ToolNotFound, match="CMPY_PYTHON_BIN_WITH_PATH"):
        run("get python3", env={"CMPY_PYTHON_BIN_WITH_PATH": str(fake_bin / "nope")}, quiet=True)


def test_a_replaced_interpreter_makes_the_cached_result_a_miss(fake_bin: Path) -> None:
    assert run("get python3", env=NO_EXTRA, quiet=True).version == "3.12.1"
    assert run("get python3", env=NO_EXTRA, quiet=True).cached
    fake_python(fake_bin, "python3.12", "3.12.10")  # an upgrade in place: size and mtime change
    r = run("get python3", env=NO_EXTRA, quiet=True)
    assert not r.cached and r.version == "3.12.10"


# -- real virtual environments and pip -------------------------------------------


@pytest.fixture(autouse=True)
def offline_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip sees no site configuration: no index or wheel folder but what a test gives."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(key, raising=False)


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel written by hand: no build backend, no network."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a test package\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: cmpy-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment (with pip) shared by this module's pip tests: its python."""
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    return Path(venv_python(root))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    make_wheel(folder, "cmpytoy", "1.0")
    make_wheel(folder, "cmpytoy", "2.0")
    return folder


def python_at(python: Path) -> dict[str, dict[str, dict[str, str]]]:
    """adr that points the python dep at this interpreter."""
    return {"python": {"env": {"CMPY_PYTHON_BIN_WITH_PATH": str(python)}}}


def installed_version(python: Path, name: str) -> str | None:
    """The version of a distribution in that interpreter, asked of it directly."""
    code = (
        "import sys\nfrom importlib import metadata\n"
        "try: print(metadata.version(sys.argv[1]))\n"
        "except metadata.PackageNotFoundError: print('-')"
    )
    out = subprocess.run(
        [str(python), "-c", code, name], capture_output=True, text=True, check=True
    )
    return None if out.stdout.strip() == "-" else out.stdout.strip()


def commands_in(result: Result) -> list[str]:
    """The commands a result's body ran, from its run log."""
    log = Path(result.folder or "") / "cmpy-run.log"
    if not log.exists():
        return []
    return [line[2:] for line in log.read_text().splitlines() if line.startswith("$ ")]


def test_install_python_venv_is_made_once_and_found_by_the_venv_variation() -> None:
    real = {"CMPY_PYTHON_BIN_WITH_PATH": sys.executable}
    made = run("install python-venv", name="work", env=real, quiet=True)
    python = made["CMPY_VENV_PYTHON"]
    assert made["CMPY_VENV_NAME"] == "work"
    assert made["CMPY_PYTHON_BIN_WITH_PATH"] == python == venv_python(made["CMPY_VENV_PATH"])
    assert made["CMPY_VENV_PATH"].startswith(made.folder or "-")
    assert made.version == sys.version.split()[0]
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == made["CMPY_VENV_PATH"]
    assert run("install python-venv", name="work", env=real, quiet=True).cached

    r = run("get python3 _venv.work", env=real, quiet=True)
    assert r["CMPY_PYTHON_BIN_WITH_PATH"] == python and r["CMPY_PYTHON_VENV_NAME"] == "work"
    inner = r.find("install-python-venv")
    assert inner is not None and inner.cached

    # --adr.python.tags=_venv.work points a library's python at that venv, where
    # pip is found by one probe of the venv's interpreter, and not installed
    lib = run(
        "get generic-python-lib _package.pip",
        adr={"python": {"tags": "_venv.work"}},
        env=real,
        quiet=True,
    )
    assert lib["CMPY_PYTHON_PACKAGE_METADATA"].startswith(made["CMPY_VENV_PATH"])
    assert not any("-m pip" in c for c in commands_in(lib))


def test_a_venv_name_is_a_plain_name() -> None:
    with pytest.raises(UsageError, match="not a name for a virtual environment"):
        run(
            "install python-venv",
            name="../x",
            env={"CMPY_PYTHON_BIN_WITH_PATH": sys.executable},
            quiet=True,
        )


def test_a_package_in_the_running_interpreter_is_found_without_any_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[object] = []

    def no_process(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    r = run("get generic-python-lib _packaging", adr=python_at(Path(sys.executable)), quiet=True)
    assert not started
    assert r.version == importlib.metadata.version("packaging")
    assert r["CMPY_PYTHONLIB_PACKAGING_VERSION"] == r.version
    metadata = Path(r["CMPY_PYTHON_PACKAGE_METADATA"])
    assert metadata.name == "METADATA" and metadata.is_file()
    assert commands_in(r) == []
    assert r.duration < 2.0
    assert run(
        "get generic-python-lib _packaging", adr=python_at(Path(sys.executable)), quiet=True
    ).cached


def test_a_missing_package_is_installed_from_a_folder_of_wheels(venv: Path, wheels: Path) -> None:
    source: dict[str, Any] = {"find_links": str(wheels), "pip_args": "--no-index"}
    query = "get generic-python-lib _package.cmpytoy"
    first = run(query, adr=python_at(venv), version="1.0", quiet=True, **source)
    assert first.version == "1.0" and installed_version(venv, "cmpytoy") == "1.0"
    assert first["CMPY_PYTHONLIB_CMPYTOY_VERSION"] == "1.0"
    assert first["CMPY_PYTHON_PACKAGE_NAME"] == "cmpytoy"
    (pip,) = [c for c in commands_in(first) if " -m pip " in c]
    assert pip.startswith(f"{venv} -m pip install") and "cmpytoy==1.0" in pip
    assert f"--find-links={wheels}" in pip and "--no-index" in pip
    assert pip.endswith(" -- cmpytoy==1.0")  # the package after --: never an option

    again = run(query, adr=python_at(venv), version="1.0", quiet=True, **source)
    assert again.cached and again.env == first.env

    newer = run(query, adr=python_at(venv), version_min="2.0", quiet=True, **source)
    assert newer.version == "2.0" and installed_version(venv, "cmpytoy") == "2.0"
    assert any("cmpytoy>=2.0" in c for c in commands_in(newer))
    # the upgrade removed 1.0's METADATA, which the first entry recorded: it is stale now
    plan = run(query, adr=python_at(venv), version="1.0", dry_run=True, **source)
    assert plan.state["plan"] == "run"
    # with no constraint the installed 2.0 will do: found by one probe, no pip
    plain = run(query, adr=python_at(venv), quiet=True, **source)
    assert plain.version == "2.0" and not any("-m pip" in c for c in commands_in(plain))


def test_a_package_no_index_has_fails_with_one_clear_error(venv: Path) -> None:
    with pytest.raises(ToolNotFound) as caught:
        run(
            "get generic-python-lib _package.cmpy-no-such-package",
            adr=python_at(venv),
            index_url=closed_port_url("/simple"),
            pip_args="--retries 0 --timeout 5",
            quiet=True,
        )
    text = str(caught.value)
    assert "python package 'cmpy-no-such-package' is not in" in text and str(venv) in text
    assert f"{venv} -m pip install" in text and "--index-url=http://127.0.0.1:" in text
    assert "--find_links" in text and "CMPY_PYTHON_BIN_WITH_PATH" in text  # what to try
    assert "get-generic-python-lib" in " ".join(caught.value.chain)


def test_dry_run_shows_the_plan_without_running_pip(venv: Path, wheels: Path) -> None:
    plan = run(
        "get generic-python-lib _package.cmpyplan",
        adr=python_at(venv),
        find_links=str(wheels),
        dry_run=True,
    )
    assert plan.dry_run and plan.state["plan"] == "run"
    assert [d.recipe for d in plan.deps] == ["get-python3"]
    assert installed_version(venv, "cmpyplan") is None
    done = subprocess.run(
        [sys.executable, "-m", "cmpy", "run", "get generic-python-lib _numpy", "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "get-generic-python-lib _numpy _package.numpy  [run]" in done.stdout
    assert "get-python3" in done.stdout


def test_a_package_must_be_named() -> None:
    with pytest.raises(UsageError, match=r"_package\.NAME"):
        run("get generic-python-lib", adr=python_at(Path(sys.executable)), quiet=True)


def test_shortcuts_name_their_pypi_packages() -> None:
    for shortcut, package in [
        ("scikit-learn", "scikit-learn"),
        ("mlcommons-loadgen", "mlcommons-loadgen"),
        ("pyyaml", "pyyaml"),
    ]:
        plan = run(f"get generic-python-lib _{shortcut}", dry_run=True)
        assert f"package.{package}" in plan.variations


# -- the pieces -------------------------------------------------------------------


def test_pip_command_carries_the_index_settings() -> None:
    cmd = pip_command(
        "/py",
        "numpy>=1.20",
        {
            "CMPY_PIP_INDEX_URL": "https://mirror/simple",
            "CMPY_PIP_EXTRA_INDEX_URL": "https://a/simple https://b/simple",
            "CMPY_PIP_FIND_LINKS": "/wheels",
            "CMPY_PIP_EXTRA_ARGS": "--no-deps --prefer-binary",
        },
    )
    assert cmd[:4] == ["/py", "-m", "pip", "install"] and "--no-input" in cmd
    assert cmd[cmd.index("--index-url=https://mirror/simple") :] == [
        "--index-url=https://mirror/simple",
        "--extra-index-url=https://a/simple",
        "--extra-index-url=https://b/simple",
        "--find-links=/wheels",
        "--no-deps",
        "--prefer-binary",
        "--",
        "numpy>=1.20",
    ]


@pytest.mark.parametrize(
    "setting",
    ["CMPY_PIP_INDEX_URL", "CMPY_PIP_EXTRA_INDEX_URL", "CMPY_PIP_FIND_LINKS", "CMPY_PIP_SOURCE"],
)
@pytest.mark.parametrize("hostile", ["-r/etc/hostname", "--log=/tmp/x", "a\x01b", "gopher://x/y"])
def test_pip_settings_never_become_options(setting: str, hostile: str) -> None:
    """An index, a wheel folder or a source that looks like an option is refused."""
    with pytest.raises(UsageError):
        pip_command("/py", "numpy", {setting: hostile})


def test_a_relative_source_is_made_absolute() -> None:
    cmd = pip_command("/py", "numpy", {"CMPY_PIP_SOURCE": "wheels/x.whl"})
    assert cmd[-2:] == ["--", os.path.abspath("wheels/x.whl")]


@pytest.mark.parametrize(
    "hostile",
    [
        "--log=LOGDIR/y",
        "-rLOGDIR/reqs.txt",
        "LOGDIR/project",  # a folder with a setup.py: never run, never installed
        "./project",
        "file:LOGDIR/project",
        "cmpytoy@file:LOGDIR/project",
        "cmpytoy;python_version>'3'",
    ],
)
def test_a_package_is_a_requirement_and_nothing_else(
    venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: str
) -> None:
    """_package.VALUE is a PEP 508 name with extras and specifier: pip never sees an option,
    a path or a URL through it, and nothing runs."""
    project = tmp_path / "project"
    project.mkdir()
    marker = tmp_path / "setup-py-ran"
    (project / "setup.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "reqs.txt").write_text("cmpytoy\n")
    monkeypatch.chdir(tmp_path)
    value = hostile.replace("LOGDIR", str(tmp_path))
    with pytest.raises(UsageError, match=r"not a (plain )?(package )?requirement"):
        run(f"get generic-python-lib _package.{value}", adr=python_at(venv), quiet=True)
    assert not marker.exists()
    assert not (tmp_path / "y").exists()


def test_a_package_from_an_explicit_source(venv: Path, wheels: Path, tmp_path: Path) -> None:
    """A wheel file (or folder, or URL) comes through --source, after --."""
    wheel = make_wheel(tmp_path / "w", "cmpysource", "3.1")
    r = run(
        "get generic-python-lib _package.cmpysource",
        adr=python_at(venv),
        source=str(wheel),
        pip_args="--no-index",
        quiet=True,
    )
    assert r.version == "3.1"
    (pip,) = [c for c in commands_in(r) if " -m pip " in c]
    assert pip.endswith(f" -- {wheel}")


def test_extras_and_specifiers_reach_pip_whole(venv: Path, tmp_path: Path) -> None:
    make_wheel(tmp_path, "cmpyextras", "1.0")
    make_wheel(tmp_path, "cmpyextras", "2.0")
    r = run(
        "get generic-python-lib _package.cmpyextras[fast]>=2",
        adr=python_at(venv),
        find_links=str(tmp_path),
        pip_args="--no-index",
        quiet=True,
    )
    assert r.version == "2.0" and r["CMPY_PYTHON_PACKAGE_NAME"] == "cmpyextras"
    (pip,) = [c for c in commands_in(r) if " -m pip " in c]
    assert pip.endswith(" -- 'cmpyextras[fast]>=2'")


def test_runs_here_tells_a_venv_from_its_base(venv: Path) -> None:
    assert runs_here(sys.executable)
    assert not runs_here(str(venv))  # a link to the same binary, but another environment
    assert not runs_here("/no/such/python")
    assert normalize_name("Scikit_Learn.x") == "scikit-learn-x"


def test_current_is_the_running_interpreter() -> None:
    """`get python3 _current` is the interpreter running cmpy, keyed on it."""
    result = run("get python3 _current", quiet=True)
    assert os.path.realpath(result["CMPY_PYTHON_BIN_WITH_PATH"]) == os.path.realpath(sys.executable)
    assert result.version == ".".join(str(p) for p in sys.version_info[:3])
    assert run("get python3 _current", quiet=True).cached
