"""``cmpy run``, ``cmpy find`` and ``cmpy show``: what the recipes are, and running one."""

from __future__ import annotations

import sys

from ._cli_args import EXIT_USAGE, Args, automation_of, json_out, label, out, run_options, tag_words
from ._errors import RecipeNotFound, UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["cmd_find", "cmd_run", "cmd_show", "print_description", "print_found"]


def cmd_run(args: Args) -> int:
    from . import _api

    as_json = args.json()
    quiet = args.flag("quiet", "silent")
    verbose = args.verbose
    dry_run = args.flag("dry-run", "dry_run")
    refresh = args.flag("refresh")
    jobs_text = args.value("jobs")
    jobs = None
    if jobs_text is not None:
        if not jobs_text.isdigit() or int(jobs_text) < 1:
            raise UsageError(f"--jobs takes a positive number, not {jobs_text!r}")
        jobs = int(jobs_text)
    words = list(args.words)
    tags = tag_words(args)
    automation = automation_of(words[0]) if words else None
    if automation is not None:
        # CM's spelling: cmpy run script "detect os" | --tags=detect,os | ALIAS | UID
        words = words[1:]
        if automation == "cache":
            raise UsageError("a cached result is not run: run the recipe that made it", hint='cmpy run script "detect os"')
        if not words and not tags:
            raise UsageError(
                "cmpy run script needs tags, an alias or a uid",
                hint='cmpy run script --tags=detect,os, cmpy run script "detect os" or cmpy run script detect-os',
            )
    words += tags
    if not words:
        raise UsageError("cmpy run needs a query", hint='cmpy run "detect os"')
    query = " ".join(words)
    version = args.value("version")
    version_min = args.value("version_min")
    version_max = args.value("version_max")
    env, adr, kwargs = run_options(args)
    run_kwargs: dict[str, Any] = dict(
        env=env,
        adr=adr,
        version=version,
        version_min=version_min,
        version_max=version_max,
        jobs=jobs,
        quiet=quiet,
        refresh=refresh,
        dry_run=dry_run,
        verbose=verbose,
    )
    if as_json:
        # stdout holds one JSON document: whatever recipes print goes to stderr
        import contextlib

        from ._report import LIVE

        token = LIVE.set(False)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                result = _api.run(query, **run_kwargs, **kwargs)
        finally:
            LIVE.reset(token)
        json_out(result.to_dict())
        return 0
    result = _api.run(query, **run_kwargs, **kwargs)
    if dry_run:
        _print_tree(result)
        return 0
    how = "cached" if result.cached else f"ran in {result.duration:.3f} s"
    head = label(result.recipe, result.variations)
    out(f"{head}: {how}" + (f", version {result.version}" if result.version else ""))
    if result.folder:
        out(f"  path: {result.folder}")
    for key in sorted(result.env):
        out(f"  {key}={result.env[key]}")
    return 0


def _print_tree(result: Any) -> None:
    seen: set[str] = set()

    def show(res: Any, prefix: str, last: bool, top: bool) -> None:
        shown = label(res.recipe, res.variations)
        status = res.state.get("plan", "")
        again = res.key in seen
        branch = "" if top else ("└── " if last else "├── ")
        where = f"  {res.folder}" if res.folder and not again else ""
        out(f"{prefix}{branch}{shown}  [{status}{', see above' if again else ''}]{where}")
        if again:
            return
        seen.add(res.key)
        child_prefix = prefix if top else prefix + ("    " if last else "│   ")
        for line in res.state.get("said", ()):
            out(f"{child_prefix}{'│' if res.deps else ' '}   > {line}")
        for i, dep in enumerate(res.deps):
            show(dep, child_prefix, i == len(res.deps) - 1, False)

    show(result, "", True, True)


def cmd_find(args: Args) -> int:
    from . import _api

    as_json = args.json()
    args.reject_rest("find")
    query = " ".join(args.words)
    return print_found(_api.find(query), query, as_json)


def print_found(found: list[dict[str, Any]], query: str, as_json: bool) -> int:
    """Print what a find found (``cmpy find``, and CM's ``cmpy find script``)."""
    from . import _api

    if as_json:
        json_out(found)
        return 0
    if not found:
        err = RecipeNotFound(query, _api.nearest(query))
        sys.stderr.write(f"cmpy: {err}\n")
        return EXIT_USAGE
    width = min(max(len(d["alias"]) for d in found), 40)
    for d in found:
        out(f"{d['alias']:<{width}}  {' '.join(d['tags'])}")
    return 0


def cmd_show(args: Args) -> int:
    from . import _api

    as_json = args.json()
    args.reject_rest("show")
    if not args.words:
        raise UsageError("cmpy show needs a recipe", hint="cmpy show detect-os")
    print_description(_api.show(" ".join(args.words)), as_json)
    return 0


def print_description(desc: dict[str, Any], as_json: bool) -> None:
    """Print all about one recipe (``cmpy show``, and CM's ``cmpy load script``)."""
    if as_json:
        json_out(desc)
        return
    out(f"{desc['alias']}  (uid {desc['uid']})")
    if desc["doc"]:
        out(f"  {desc['doc']}")
    for line in desc["details"].splitlines():
        out(f"    {line}".rstrip())
    out(f"  tags: {' '.join(desc['tags'])}")
    out(f"  defined in: {desc['where']}")
    out(f"  cached: {'yes' if desc['cache'] else 'no'}" + (f", priority {desc['priority']}" if desc["priority"] else ""))
    if desc["inputs"]:
        out("  inputs:")
        for name, spec in desc["inputs"].items():
            out(f"    --{name}  (env {spec['env']})  {spec['help']}".rstrip())
    if desc["variations"]:
        out("  variations:")
        groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, var in desc["variations"].items():
            groups.setdefault(var.get("group") or "", []).append((name, var))
        for group in sorted(groups):
            if group:
                out(f"    group {group}:")
            for name, var in groups[group]:
                notes = []
                if var.get("default"):
                    notes.append("default")
                if var.get("base"):
                    notes.append("with " + ", ".join("_" + b for b in var["base"]))
                if var.get("alias"):
                    notes.append("alias of _" + var["alias"])
                if var.get("env"):
                    notes.append(" ".join(f"{k}={v}" for k, v in var["env"].items()))
                if var.get("help"):
                    notes.append(var["help"])
                indent = "      " if group else "    "
                out(f"{indent}_{name}" + (f"  ({'; '.join(notes)})" if notes else ""))
    for title in ("deps", "post_deps"):
        if desc[title]:
            out(f"  {title.replace('_', ' ')}:")
            for dep in desc[title]:
                extra = " ".join(
                    f"{k}={v}" for k, v in dep.items() if k not in ("query",)
                )
                out(f"    {dep['query']}" + (f"  ({extra})" if extra else ""))
    if desc["env"]:
        out("  default env:")
        for key, value in desc["env"].items():
            out(f"    {key}={value}")
    if desc["exports"] is not None:
        out(f"  exports: {' '.join(desc['exports'])}")


