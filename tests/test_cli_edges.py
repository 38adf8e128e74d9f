"""Sharp edges of the command line: whatever a user types ends in one usage error."""

from __future__ import annotations

import pytest

from cmpy import _cli
from cmpy._cli import main


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "detect os", "--version_min=abc"], "version_min='abc'"),
        (["run", "detect os", "--version=>=<3"], "version='>=<3'"),
        (["run", "detect os", "--version", " "], ""),
        (["run", "install python-venv", "--adr.python.version_min=abc", "--dry-run"], "adr python"),
        (["run", "detect os", "--env", "KEY=VALUE"], "--env"),
        (["run", "detect os", "--adr", "python.version=3"], "--adr"),
        (["run", "detect os", "--val=\udcff"], "--val="),
        (["run", "detect os\udcff"], "not valid UTF-8"),
        (["run", "detect os", "--env.=x"], "--env.=x"),
        (["run", "detect os", "--env. X=x"], "--env. X=x"),
        (["run", "detect os", "--adr..x=1"], "--adr..x=1"),
        (["run", "detect os", "--adr.python.=x"], "--adr.python.=x"),
        # -j N is jobs; -j alone is CM's JSON (tests/test_cm_cli.py), so "x" is a query word
        (["run", "detect os", "-j", "0"], "--jobs"),
        (["run", "detect os", "-j", "x"], "detect os x"),
        (["run", "detect os", "--jobs"], "--jobs"),
        (["run", ""], "empty"),
        (["run", "   "], "empty"),
        (["run", ",,,"], "empty"),
        (["run", "-f"], "no tag"),
        (["find", "no-such-recipe-anywhere"], "no-such-recipe-anywhere"),
    ],
)
def test_a_bad_command_line_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    if argv[:2] == ["run", "detect os"] and "--version" in argv and argv[-1] == " ":
        assert main(argv) == 0  # a blank constraint is no constraint
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert named in err
    assert err.startswith("cmpy:")


def test_every_command_takes_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["cache", "ls", "--verbose"], ["find", "detect", "-v"], ["repo", "ls", "--verbose"]):
        assert main(argv) == 0, capsys.readouterr().err
    assert main(["show", "detect-os", "--verbose"]) == 0


def test_run_help_shows_the_run_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: cmpy run")
    for option in ("--env.KEY=VALUE", "--adr.NAME.KEY=VALUE", "--dry-run", "--jobs", "--json"):
        assert option in out
    assert "cache ls" not in out
    assert "Exit status" in out


def test_an_internal_error_has_its_own_exit_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(_cli.COMMANDS, "find", broken)
    assert main(["find"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "this is a bug" in err
