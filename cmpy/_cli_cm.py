"""CM's spellings of the command line: ``cmpy ACTION script|cache ...`` and ``cmr``.

``cmpy find|search|ls|list script [--tags=...]``, ``cmpy load|show script
ALIAS``, ``cmpy rm script ALIAS [-f]``, ``cmpy list|find|show cache
[--tags=...]`` and ``cmpy rm cache --tags=... | -f`` read CM's arguments
(an artifact: an alias, a uid, or words with spaces that are tags; ``--tags=``;
``-f``) and print what cmpy's own commands print (``cmpy find``, ``cmpy show``,
``cmpy cache ls``, ``cmpy cache rm``). ``cmpy run script`` and ``cmpy add
script`` are read by ``run`` and ``add`` themselves; ``cmr "detect os"`` is
CM's shortcut for ``cmpy run script "detect os"``.
"""

from __future__ import annotations

from ._cli_args import Args, automation_of, json_out, out, tag_words
from ._errors import UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from ._query import Query

__all__ = ["cmd_cm", "cmr"]

_LISTS = ("find", "search", "ls", "list", "show", "load")


def cmr() -> int:
    """The ``cmr`` command: ``cmr "detect os" -j`` is ``cmpy run script "detect os" -j``."""
    import sys

    from ._cli import main

    return main(["run", "script", *sys.argv[1:]])


def cmd_cm(action: str, args: Args) -> int:
    """``cmpy ACTION script|cache ...``: CM's words for cmpy's commands."""
    automation = automation_of(args.words[0]) if args.words else None
    if automation is None:
        raise UsageError(
            f"cmpy {action} takes what to {action}: script or cache",
            hint=f"cmpy {action} script --tags=detect,os, or cmpy {action} cache --tags=python",
        )
    rest = args.words[1:]
    force = args.flag("f", "force")
    for word in [w for w in rest if w.startswith("-")]:
        if word != "-f":
            raise UsageError(
                f"cmpy {action} {automation} does not take {word}",
                hint="tags, exclusions among them, go in --tags=..., such as --tags=get,python,-conda",
            )
        force = True
    positional = [w for w in rest if not w.startswith("-")]
    tags = tag_words(args)
    from ._artifacts import cm_query

    query = cm_query(tags, positional[0] if positional else None, positional[1:])
    if automation == "script":
        return _script(action, args, query, force)
    return _cache(action, args, query, force, positional[0] if positional else None)


def _script(action: str, args: Args, query: Query, force: bool) -> int:
    from . import _artifacts
    from ._cli_run import print_description, print_found

    as_json = args.json()
    args.reject_rest(f"{action} script")
    if action == "rm":
        removed = _artifacts.remove_scripts(query, force=force)
        if as_json:
            json_out([a.to_dict() for a in removed])
        for artifact in [] if as_json else removed:
            out(f"removed {artifact.meta['alias']}: deleted {artifact.file}")
        return 0
    if force:
        raise UsageError(f"cmpy {action} script does not take -f")
    if action in ("load", "show"):
        if query.is_empty:
            raise UsageError(f"cmpy {action} script needs an alias, a uid or --tags", hint=f"cmpy {action} script detect-os")
        artifact = _artifacts.load_script(query)
        print_description({**artifact.meta, "path": artifact.path}, as_json)
        return 0
    found = _artifacts.find_scripts(query)
    return print_found([{**a.meta, "path": a.path} for a in found], str(query), as_json)


def _cache(action: str, args: Args, query: Query, force: bool, artifact: str | None) -> int:
    from . import _artifacts
    from ._cli_state import print_entries, print_removed

    as_json = args.json()
    every = args.flag("all")
    args.reject_rest(f"{action} cache")
    if action == "rm":
        print_removed([a.entry for a in _artifacts.remove_cache(query, force=force, every=every)])
        return 0
    if force or every:
        raise UsageError(f"cmpy {action} cache does not take {'-f' if force else '--all'}")
    if action not in _LISTS:  # pragma: no cover - the command line routes only these here
        raise UsageError(f"cmpy {action} cache is not a command")
    print_entries([a.entry for a in _artifacts.find_cache(query, artifact)], as_json)
    return 0
