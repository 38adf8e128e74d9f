"""Recipes for the tests of CM's API and spellings (tests/test_cm_access.py, tests/test_cm_cli.py)."""

from __future__ import annotations

UID = "0123456789abcdef"

RECIPES = f"""
    from cmpy import Ctx, Dep, Result, ToolNotFound, Variation, script

    @script(
        tags="cmdemo thing",
        alias="cmdemo-thing",
        uid="{UID}",
        cache=True,
        inputs={{"level": ("CMDEMO_LEVEL", "how much"), "loud": ("CMDEMO_LOUD", "shout")}},
        variations={{
            "small": Variation(group="size", default=True, env={{"CMDEMO_SIZE": "small"}}),
            "large": Variation(group="size", env={{"CMDEMO_SIZE": "large"}}),
        }},
        deps=[Dep("cmdemo reader", name="reader")],
        exports=["CMDEMO_OUT", "CMDEMO_LOUD", "CMDEMO_SEEN"],
    )
    def cmdemo_thing(ctx: Ctx) -> Result:
        print("a line for the terminal, never for stdout under -j")
        return Result(
            env={{
                "CMDEMO_OUT": ctx.env.get("CMDEMO_LEVEL", "0") + ctx.env["CMDEMO_SIZE"],
                "CMDEMO_LOUD": ctx.env.get("CMDEMO_LOUD", ""),
                "CMDEMO_SEEN": ctx.env["CMDEMO_SEEN"],
            }},
            state={{"made": ["thing"]}},
            version="1.2.3",
        )

    @script(tags="cmdemo reader", reads=["CMDEMO_*"], exports=["CMDEMO_SEEN"])
    def cmdemo_reader(ctx: Ctx) -> dict:
        return {{"CMDEMO_SEEN": ctx.env.get("CMDEMO_EXTRA", "none")}}

    @script(tags="cmdemo missing")
    def cmdemo_missing(ctx: Ctx) -> None:
        raise ToolNotFound("the frobnicator", hint="install one")

    @script(tags="cmdemo fails")
    def cmdemo_fails(ctx: Ctx) -> None:
        raise RuntimeError("broken on purpose")
"""
