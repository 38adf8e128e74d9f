"""``get generic-sys-util``: detection on PATH, installs through a fake package manager."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from _fakebin import CHMOD, ENV, fake_exe, only_path, printing

import cmpy
from cmpy import CmpyError, Ctx, Dep, ToolNotFound, UsageError, run, script
from cmpy._cli import main
from cmpy.recipes.sysutil import env_name, manual_command, package_for, tool_for

# The fake apt-get logs "DEBIAN_FRONTEND|args" and, for "install PKG", puts an
# executable PKG in the bin folder and a marker the fake dpkg-query reads.
# FAIL_UNTIL_UPDATE makes install fail until "apt-get update" has run.
APT_GET = f"""
printf '%s|%s\\n' "$DEBIAN_FRONTEND" "$*" >> "$LOGS/apt-get.log"
if [ "$1" = update ]; then : > "$STATE/updated"; exit 0; fi
if [ -n "$FAIL_UNTIL_UPDATE" ] && [ ! -e "$STATE/updated" ]; then
    echo "E: Unable to locate package $3"; exit 100
fi
for pkg in "$@"; do
    case "$pkg" in install|-y) continue ;; esac
    printf '#!/bin/sh\\necho %s\\n' "$pkg" > "$BIN/$pkg"
    {CHMOD} +x "$BIN/$pkg"
    : > "$STATE/$pkg"
done
"""

DPKG_QUERY = """
for pkg in "$@"; do :; done
if [ -e "$STATE/$pkg" ]; then printf 'install ok installed'; exit 0; fi
echo "dpkg-query: no packages found matching $pkg"; exit 1
"""

# The fake sudo logs its arguments; "sudo -n true" answers SUDO_RC (0: allowed).
SUDO = f"""
printf '%s\\n' "$*" >> "$LOGS/sudo.log"
[ "$1" = -n ] && shift
if [ "$1" = true ]; then exit "${{SUDO_RC:-0}}"; fi
exec {ENV} "$@"
"""


class Host:
    """A fake machine: a bin folder (the whole PATH), logs, package state."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = root / "bin"
        self.logs = root / "logs"
        self.state = root / "state"
        for folder in (self.logs, self.state):
            folder.mkdir()
        only_path(monkeypatch, [self.bin])
        for key, folder in (("BIN", self.bin), ("LOGS", self.logs), ("STATE", self.state)):
            monkeypatch.setenv(key, str(folder))
        monkeypatch.delenv("DEBIAN_FRONTEND", raising=False)
        monkeypatch.delenv("FAIL_UNTIL_UPDATE", raising=False)
        fake_exe(self.bin, "apt-get", APT_GET)
        fake_exe(self.bin, "dpkg-query", DPKG_QUERY)
        self.monkeypatch = monkeypatch

    def as_user(self, uid: int) -> None:
        self.monkeypatch.setattr(os, "geteuid", lambda: uid)

    def with_sudo(self, allowed: bool = True) -> None:
        fake_exe(self.bin, "sudo", SUDO)
        self.monkeypatch.setenv("SUDO_RC", "0" if allowed else "1")

    def log(self, name: str) -> list[str]:
        path = self.logs / f"{name}.log"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    return Host(tmp_path, monkeypatch)


def get(query: str, **kwargs: Any) -> cmpy.Result:
    return run(f"get generic-sys-util {query}", package_manager="apt-get", quiet=True, **kwargs)


def test_present_tool_is_found_without_installing(host: Host) -> None:
    wget = fake_exe(host.bin, "wget", printing("GNU Wget 1.21.3"))
    r = get("_wget")
    assert r["CMPY_SYS_UTIL_WGET_BIN_WITH_PATH"] == str(wget)
    assert r["CMPY_SYS_UTIL_WGET_INSTALLED"] == "yes"
    assert not r.cached and host.log("apt-get") == []
    assert set(r.env) == {"CMPY_SYS_UTIL_WGET_BIN_WITH_PATH", "CMPY_SYS_UTIL_WGET_INSTALLED"}


def test_root_installs_directly_and_non_interactively(host: Host) -> None:
    host.as_user(0)
    host.with_sudo()
    r = get("_wget")
    assert r["CMPY_SYS_UTIL_WGET_BIN_WITH_PATH"] == str(host.bin / "wget")
    assert host.log("apt-get") == ["noninteractive|install -y wget"]
    assert host.log("sudo") == []


def test_user_installs_through_sudo_n(host: Host) -> None:
    host.as_user(1000)
    host.with_sudo()
    r = get("_name.wget")
    assert r["CMPY_SYS_UTIL_WGET_INSTALLED"] == "yes"
    assert host.log("sudo") == [
        "-n true",
        "-n DEBIAN_FRONTEND=noninteractive apt-get install -y wget",
    ]
    # sudo drops the caller's env: DEBIAN_FRONTEND arrived through its arguments
    assert host.log("apt-get") == ["noninteractive|install -y wget"]


def test_user_without_sudo_gets_the_command_to_run(host: Host) -> None:
    host.as_user(1000)
    with pytest.raises(ToolNotFound) as caught:
        get("_wget")
    text = str(caught.value)
    assert "wget not found" in text and str(host.bin) in text
    assert "run by hand: sudo apt-get install -y wget" in text
    assert host.log("apt-get") == []


def test_sudo_that_wants_a_password_is_not_used(host: Host) -> None:
    host.as_user(1000)
    host.with_sudo(allowed=False)
    with pytest.raises(ToolNotFound, match="password") as caught:
        get("_g++")
    assert "run by hand: sudo apt-get install -y g++" in str(caught.value)
    assert host.log("sudo") == ["-n true"] and host.log("apt-get") == []


def test_optional_dep_lets_a_parent_go_on(host: Host) -> None:
    host.as_user(1000)

    @script(
        tags="wants wget",
        deps=[
            Dep("get generic-sys-util _wget", optional=True, inputs={"package_manager": "apt-get"})
        ],
    )
    def wants(ctx: Ctx) -> dict[str, str]:
        return {"HAS_WGET": ctx.env.get("CMPY_SYS_UTIL_WGET_INSTALLED", "no")}

    assert run("wants wget", quiet=True)["HAS_WGET"] == "no"
    host.as_user(0)
    assert run("wants wget", quiet=True)["HAS_WGET"] == "yes"


@pytest.mark.parametrize(
    ("uid", "sudo", "expected"),
    [
        (0, False, "DEBIAN_FRONTEND=noninteractive apt-get install -y wget"),
        (1000, True, "sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y wget"),
        (1000, False, "sudo apt-get install -y wget"),
    ],
)
def test_print_only_prints_and_runs_nothing(
    host: Host, capsys: pytest.CaptureFixture[str], uid: int, sudo: bool, expected: str
) -> None:
    host.as_user(uid)
    if sudo:
        host.with_sudo()
    r = run("get generic-sys-util _wget", package_manager="apt-get", print_only=True)
    assert r.env == {"CMPY_SYS_UTIL_INSTALL_COMMAND": expected}
    assert expected in capsys.readouterr().err
    assert host.log("apt-get") == [] and host.log("sudo") == []


def test_print_only_on_the_command_line(host: Host, capsys: pytest.CaptureFixture[str]) -> None:
    host.as_user(0)
    argv = ["run", "get generic-sys-util _wget", "--print_only", "--package_manager=apt-get"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "CMPY_SYS_UTIL_INSTALL_COMMAND=DEBIAN_FRONTEND=noninteractive apt-get install -y wget"
        in out
    )
    assert host.log("apt-get") == []


def test_dry_run_prints_the_install_command(host: Host, capsys: pytest.CaptureFixture[str]) -> None:
    """`cmpy run ... --dry-run` runs nothing, and says the command it would run."""
    host.as_user(1000)
    host.with_sudo()
    argv = ["run", "get generic-sys-util _wget", "--dry-run", "--package_manager=apt-get"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "get-generic-sys-util _name.wget _wget  [run (not cached), previewed]" in out
    assert "> wget is missing; the command that installs it: " in out
    assert "sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y wget" in out
    assert host.log("apt-get") == [] and host.log("sudo") == []


def test_print_only_of_an_installed_tool_also_says_where_it_is(host: Host) -> None:
    host.as_user(0)
    wget = fake_exe(host.bin, "wget", printing("GNU Wget"))
    r = get("_wget", print_only=True)
    assert r["CMPY_SYS_UTIL_WGET_BIN_WITH_PATH"] == str(wget)
    assert r["CMPY_SYS_UTIL_INSTALL_COMMAND"].endswith("apt-get install -y wget")


def test_apt_lists_are_refreshed_once_when_install_fails(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.as_user(0)
    monkeypatch.setenv("FAIL_UNTIL_UPDATE", "1")
    r = get("_curl")
    assert r["CMPY_SYS_UTIL_CURL_INSTALLED"] == "yes"
    assert host.log("apt-get") == [
        "noninteractive|install -y curl",
        "noninteractive|update",
        "noninteractive|install -y curl",
    ]


def test_library_is_detected_and_installed_through_the_package_database(host: Host) -> None:
    host.as_user(0)
    r = get("_libssl-dev")
    assert r.env == {"CMPY_SYS_UTIL_LIBSSL_DEV_INSTALLED": "yes"}
    assert host.log("apt-get") == ["noninteractive|install -y libssl-dev"]
    again = get("_libssl-dev")
    assert again.env == r.env and len(host.log("apt-get")) == 1


def test_a_package_that_does_not_provide_the_tool_is_an_error(host: Host) -> None:
    host.as_user(0)
    with pytest.raises(
        CmpyError, match="installed the package xz-utils, but xz is still not found"
    ):
        get("_xz")
    assert host.log("apt-get") == ["noninteractive|install -y xz-utils"]


@pytest.mark.parametrize(
    ("manager", "tool", "expected"),
    [
        ("dnf", "g++", "dnf install -y gcc-c++"),
        ("yum", "libssl-dev", "yum install -y openssl-devel"),
        ("zypper", "wget", "zypper --non-interactive install wget"),
        ("pacman", "libgl", "pacman -S --noconfirm --needed mesa"),
        ("apk", "ninja", "apk add --no-cache samurai"),
        ("brew", "libssl-dev", "brew install openssl@3"),
    ],
)
def test_package_names_per_manager(host: Host, manager: str, tool: str, expected: str) -> None:
    host.as_user(0)
    r = run(
        f"get generic-sys-util _name.{tool}", package_manager=manager, print_only=True, quiet=True
    )
    assert r["CMPY_SYS_UTIL_INSTALL_COMMAND"] == expected


def test_brew_never_takes_sudo(host: Host) -> None:
    host.as_user(501)
    host.with_sudo()
    assert manual_command("brew", "wget", root=False) == "brew install wget"
    r = run("get generic-sys-util _wget", package_manager="brew", print_only=True, quiet=True)
    assert r["CMPY_SYS_UTIL_INSTALL_COMMAND"] == "brew install wget"


def test_no_package_or_no_manager_is_tool_not_found(host: Host) -> None:
    host.as_user(0)
    with pytest.raises(ToolNotFound, match="brew has no package for numactl"):
        run("get generic-sys-util _numactl", package_manager="brew", quiet=True)
    with pytest.raises(ToolNotFound, match="--package_manager="):
        run("get generic-sys-util _wget", package_manager="nix", quiet=True)


def test_a_name_is_required_and_must_be_a_package_name(host: Host) -> None:
    host.as_user(0)
    with pytest.raises(UsageError, match=r"_name\.<tool>"):
        run("get generic-sys-util", quiet=True)
    with pytest.raises(UsageError, match="is not a package name"):
        get("_name.-oDPkg::Pre-Invoke::=/bin/false")
    assert host.log("apt-get") == []


def test_table_helpers() -> None:
    assert env_name("g++") == "GXX" and env_name("libssl-dev") == "LIBSSL_DEV"
    assert package_for("xz", "apt-get") == "xz-utils" and package_for("xz", "dnf") == "xz"
    assert package_for("some-tool", "pacman") == "some-tool"
    assert package_for("numactl", "brew") is None
    assert tool_for("some-tool").exe == "some-tool"
    assert tool_for("libfoo-dev").exe is None and tool_for("foo-devel").exe is None
