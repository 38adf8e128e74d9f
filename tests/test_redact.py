"""Passwords in URLs never reach a message, a log or a record."""

from __future__ import annotations

from pathlib import Path

import pytest

import cmpy.cache
from cmpy import CommandFailed, RecipeFailed, run
from cmpy.tools import redact


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://ada:s3cret@host/x", "https://ada:***@host/x"),
        ("git clone https://ada:@host/r.git dest", "git clone https://ada:***@host/r.git dest"),
        ("fetch https://ghp_0123456789abcdefghijklmn@github.com/o/r", "fetch https://***@github.com/o/r"),
        ("ssh://git@host/repo and mail ada@example.org", "ssh://git@host/repo and mail ada@example.org"),
        ("a https://u:p@h/1 and a http://v:q@h/2", "a https://u:***@h/1 and a http://v:***@h/2"),
        ("no url at all", "no url at all"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_a_failed_command_shows_no_password(recipe_dir) -> None:  # type: ignore[no-untyped-def]
    recipe_dir(
        "leaky",
        """
        from cmpy import Ctx, script

        @script(tags="leaky command", cache=True, inputs={"url": ("LEAKY_URL", "")})
        def leaky(ctx: Ctx) -> None:
            ctx.sh_sync(["sh", "-c", 'echo "cannot fetch $U"; exit 3', ctx.env["LEAKY_URL"]],
                        env={"U": ctx.env["LEAKY_URL"]})

        @script(tags="quiet fetch", cache=True, inputs={"url": ("LEAKY_URL", "")})
        def quiet_fetch(ctx: Ctx) -> None:
            ctx.sh_sync(["echo", ctx.env["LEAKY_URL"]])
        """,
    )
    url = "https://ada:hunter2@example.invalid/repo.git"
    with pytest.raises(RecipeFailed) as caught:
        run("leaky command", url=url, quiet=True)
    assert isinstance(caught.value.cause, CommandFailed)
    text = str(caught.value)
    assert "hunter2" not in text and "https://ada:***@example.invalid" in text
    assert caught.value.log is not None
    assert "hunter2" not in Path(caught.value.log).read_text()
    done = run("quiet fetch", url=url, quiet=True)
    assert "hunter2" not in (Path(done.folder or "") / "cmpy-run.log").read_text()
    (entry,) = cmpy.cache.ls("quiet fetch")
    assert entry.input_env["LEAKY_URL"] == "https://ada:***@example.invalid/repo.git"
