"""``--dry-run`` of a CM script: the deps it would ask for, without running anything.

CM decides its deps as it goes, so the plan is read the way the run would
read it: the env as the script's meta, variations, inputs and version make
it, each dep's conditions checked against that env (``preprocess`` may
change them at run time: the plan says so), its tags completed, resolved
as the run would resolve it, and a CM dep planned the same way below. A dep
met again along one branch (the install-X / get-X cycles of the corpora,
which only run-time conditions break) is shown once and not followed.
"""

from __future__ import annotations

from .._errors import CmpyError
from .._query import parse_query
from .._result import Result
from ._deps import DepRunner

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from .._ctx import Ctx
    from .._model import Recipe
    from ._runner import Script

__all__ = ["plan_tree", "preview"]

_LISTS = ("predeps", "deps", "prehook_deps", "posthook_deps", "post_deps")
MAX_DEPTH = 24


def preview(script: Script, ctx: Ctx) -> Result:
    """The dry-run result of ``script``: its deps, as far as they can be known before it runs."""
    deps = plan_tree(
        script, list(ctx.variations), dict(ctx.env), dict(ctx.inputs), ctx.version_spec, ()
    )
    said = []
    import os

    if os.path.isfile(os.path.join(script.folder, "customize.py")):
        said.append("customize.py may change these deps' conditions when it runs")
    return Result(env={}, state={"said": said}, deps=tuple(deps), recipe=script.alias)


def plan_tree(
    script: Script,
    variations: list[str],
    inherited: dict[str, Any],
    inputs: dict[str, str],
    spec: str,
    chain: tuple[str, ...],
) -> list[Result]:
    """The previews of the deps ``script`` would ask for (raises what the run would raise)."""
    env, _state, plan, chosen, adr = script.prepare(variations, inherited, inputs, spec)
    runner = DepRunner(script, None, chosen, adr)
    out: list[Result] = []
    for name in _LISTS:
        for raw in plan.lists[name]:
            dep = runner.prepared(raw, env)
            if dep is None:
                continue
            tags = runner.tags_of(dep, env)
            query = runner.query_of(dep, tags)
            out.append(_preview_dep(script, query, dep, env, name, chain))
    return out


def _preview_dep(
    script: Script,
    query: str,
    dep: dict[str, Any],
    env: dict[str, Any],
    where: str,
    chain: tuple[str, ...],
) -> Result:
    from ._runner import Script as ScriptClass

    registry = getattr(script.loader, "registry", None)
    parsed = parse_query(query)
    recipe: Recipe = registry.select(parsed) if registry is not None else None  # type: ignore[assignment]
    status = "run" if recipe is not None and recipe.cache else "run (not cached)"
    status += "" if where == "deps" else f", {where.replace('_', ' ')}"
    label = recipe.alias if recipe is not None else query
    key = f"{label}:{query}"
    children: list[Result] = []
    if recipe is not None and recipe.module.startswith("cm:") and key not in chain:
        if len(chain) >= MAX_DEPTH:
            status += ", deeper than shown"
        else:
            child = ScriptClass.of(_folder(recipe), script.loader)
            child_env = {k: v for k, v in env.items()}
            child_env.update({str(k): v for k, v in (dep.get("env") or {}).items()})
            try:
                children = plan_tree(
                    child, list(parsed.variations), child_env, {}, "", chain + (key,)
                )
            except CmpyError as exc:
                raise exc.with_chain((script.alias, label)) from None
    elif key in chain:
        status += ", see above: decided at run time"
    return Result(
        env={},
        state={"plan": status},
        recipe=label,
        variations=tuple(v.lstrip("_") for v in query.split()[1:] if v.startswith("_")),
        deps=tuple(children),
        key=key,
        dry_run=True,
    )


def _folder(recipe: Recipe) -> str:
    import os

    return os.path.dirname(recipe.file)
