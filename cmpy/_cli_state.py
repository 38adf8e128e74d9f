"""``cmpy cache``, ``cmpy repo`` and ``cmpy add``: the state cmpy keeps under ``CMPY_HOME``."""

from __future__ import annotations

import os
import sys

from ._cli_args import EXIT_FAILED, Args, automation_of, json_out, label, out, tag_words
from ._errors import UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from ._entry import Entry

__all__ = ["cmd_add", "cmd_cache", "cmd_repo", "print_entries", "print_removed"]


def cmd_cache(args: Args) -> int:
    from . import cache

    if not args.words:
        raise UsageError("cmpy cache needs a subcommand: ls, show, rm, prune or check")
    sub, rest = args.words[0], args.words[1:]
    as_json = args.json()
    if sub == "ls":
        args.reject_rest("cache ls")
        print_entries(cache.ls(" ".join(rest)), as_json)
        return 0
    if sub == "show":
        args.reject_rest("cache show")
        if len(rest) != 1:
            raise UsageError("cmpy cache show takes one key (or a unique prefix of one)")
        d = cache.show(rest[0]).describe()
        if as_json:
            json_out(d)
            return 0
        for key in ("key", "recipe", "variations", "version", "spec", "folder", "created", "duration"):
            out(f"{key}: {d[key]}")
        for title, values in (("env", d["env"]), ("input env", d["input_env"])):
            if values or title == "env":
                out(f"{title}:")
                for k, v in sorted(values.items()):
                    out(f"  {k}={v}")
        return 0
    if sub == "rm":
        every = args.flag("all")
        args.reject_rest("cache rm")
        print_removed(cache.rm(" ".join(rest), all=every))
        return 0
    if sub == "prune":
        args.reject_rest("cache prune")
        counts = cache.prune()
        out(", ".join(f"{n} {k}" for k, n in counts.items()) + " removed")
        return 0
    if sub == "check":
        from ._home import home

        args.reject_rest("cache check")
        if rest:
            raise UsageError("cmpy cache check takes no arguments")
        damages, notes = cache.check()
        for damage in damages:
            out(("repaired: " if damage.repaired else "NOT REPAIRED: ") + str(damage))
        for note in notes:
            out(note)
        left = [d for d in damages if not d.repaired]
        if left:
            sys.stderr.write(
                f"cmpy: {len(left)} damaged part{'s' if len(left) != 1 else ''} of {home()} could not be repaired; "
                "move them away by hand (or point CMPY_HOME at a new folder)\n"
            )
            return EXIT_FAILED
        if damages:
            out(f"repaired all of it; the damaged parts are in {os.path.join(home(), 'damaged')}")
        else:
            out("nothing is damaged")
        return 0
    raise UsageError(f"unknown cache subcommand {sub!r}", hint="ls, show, rm, prune or check")


def print_removed(removed: list[Entry]) -> None:
    out(f"removed {len(removed)} cached result{'s' if len(removed) != 1 else ''}")


def print_entries(entries: list[Entry], as_json: bool) -> None:
    """Print cached results (``cmpy cache ls``, and CM's ``cmpy list cache``)."""
    if as_json:
        json_out([e.describe() for e in entries])
        return
    for e in entries:
        version = f"  {e.version}" if e.version else ""
        out(f"{e.key[:12]}  {label(e.recipe, e.variations)}{version}  {e.folder}")
    if not entries:
        sys.stderr.write("cmpy: no cached results match\n")


def cmd_repo(args: Args) -> int:
    from . import _repos

    if not args.words:
        raise UsageError("cmpy repo needs a subcommand: add, ls, rm or pull")
    sub, rest = args.words[0], args.words[1:]
    as_json = args.json()
    args.reject_rest(f"repo {sub}")
    if sub == "ls":
        repos = _repos.list_repos()
        if as_json:
            json_out([{"name": r.name, "path": r.path} for r in repos])
        for r in [] if as_json else repos:
            out(f"{r.name}  {r.path}")
        return 0
    if len(rest) != 1:
        raise UsageError(f"cmpy repo {sub} takes one argument")
    if sub == "add":
        repo = _repos.add_repo(rest[0])
        out(f"added {repo.name}: {repo.path}")
    elif sub == "rm":
        repo = _repos.remove_repo(rest[0])
        out(f"removed {repo.name} ({repo.path} is left as it is)")
    elif sub == "pull":
        repo = _repos.pull_repo(rest[0])
        out(f"pulled {repo.name}: {repo.path}")
    else:
        raise UsageError(f"unknown repo subcommand {sub!r}", hint="add, ls, rm or pull")
    return 0


def cmd_add(args: Args) -> int:
    from . import _repos

    what = args.words[0] if args.words else ""
    if len(args.words) != 2 or not (what == "recipe" or automation_of(what) == "script"):
        raise UsageError(
            "usage: cmpy add recipe NAME --tags=get,my-tool [--repo PATH]",
            hint="CM's spelling works too: cmpy add script NAME --tags=get,my-tool",
        )
    tags = tag_words(args)
    repo = args.value("repo")
    args.reject_rest(f"add {what}")
    if not tags:
        raise UsageError(f"cmpy add {what} needs --tags=...", hint=f"cmpy add {what} get-my-tool --tags=get,my-tool")
    path = _repos.new_recipe(args.words[1], ",".join(tags), repo)
    out(f"wrote {path}")
    out(f'run it with: cmpy run "{" ".join(tags)}"')
    return 0
