"""``cmpy.access``: CM's Python API (``cmind.access``) over cmpy's recipes and cache.

CM's callers hand one dict (or a command line as a string or list) and get
one dict back, ``{"return": 0, ...}`` or ``{"return": N, "error": ...}``
(16: not found; 4: no such action or automation; 1: anything else), never
an exception for an error cmpy knows (a :class:`~cmpy.CmpyError`). Ctrl-C
still stops it. What each action hands back follows cmind's script and cache
automations:

==========================  ==================================================
``run`` script              ``env``, ``new_env``, ``state``, ``new_state``,
                            ``deps`` (and cmpy's ``version``, ``cached``, ``path``)
``find``/``search``/``ls``  ``list`` of :class:`~cmpy._artifacts.ScriptArtifact`
``load``/``show`` script    ``path``, ``meta``, ``original_meta``, ``artifact``
``add`` script              ``path``, ``meta``, ``artifact`` (and ``file``)
``rm``/``delete``           ``deleted_list``
``find``/``show`` cache     ``list`` of :class:`~cmpy._artifacts.CacheArtifact`
``load`` cache              ``path``, ``meta``, ``original_meta``, ``artifact``
==========================  ==================================================

A run takes CM's keys (``tags``, ``artifact``, ``env``, ``state``, ``adr`` /
``add_deps_recursive``, ``ad`` / ``add_deps``, ``version``, ``version_min``,
``version_max``, ``quiet``, ``silent``/``s``, ``out``, ``json``/``j``), cmpy's
(``jobs``, ``refresh``, ``dry_run``, ``verbose``), and takes any other key as
an input or variation of the script, as CM's ``input_mapping`` does. ``ad``
is applied as an ``adr`` (to deps at any depth: cmpy's planner has no
direct-only override). A recipe does not see the ``state`` given: it is
handed back merged with what the run made, as CM hands back its global state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._artifacts import CacheArtifact, ScriptArtifact, cm_query
from ._errors import CmpyError, RecipeFailed, RecipeNotFound, ToolNotFound, UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._result import Result

__all__ = ["NOT_FOUND", "access", "error_code"]

NOT_FOUND = 16
_NO_SUCH = 4
_SCRIPT = {"run": "run", "find": "search", "search": "search", "ls": "search", "list": "search",
           "load": "load", "show": "load", "add": "add", "rm": "delete", "delete": "delete"}
_CACHE = {"find": "search", "search": "search", "ls": "search", "list": "search", "show": "search",
          "load": "load", "rm": "delete", "delete": "delete"}
# what cmind adds to an input for itself; a dict passed on from CM code may carry them
_BOOKKEEPING = ("cmd", "parsed_automation", "parsed_artifact", "parsed_artifacts", "recursion_spaces")


def access(i: Mapping[str, Any] | str | Sequence[str]) -> dict[str, Any]:
    """Do what CM's ``cmind.access(i)`` does, for cmpy's recipes (CM's scripts) and cache.

    Args:
        i: CM's input: ``{"action": "run", "automation": "script", "tags":
            "detect,os", ...}``, or a command line such as ``"run script
            --tags=detect,os -j"`` (a string, split as a shell would, or a list).

    Returns:
        ``{"return": 0, ...}`` with what the action hands back (see the module's
        documentation), or ``{"return": N, "error": message}``.
    """
    try:
        request = _as_input(i)
        for key in _BOOKKEEPING:
            request.pop(key, None)
        action = _text(request.pop("action", None), "action")
        named = _text(request.pop("automation", None), "automation")
        if not action:
            return _fail(_NO_SUCH, "no action given: such as access({'action': 'run', 'automation': 'script', ...})")
        if not named:
            return _fail(_NO_SUCH, f"automation was not specified (script or cache) for the action {action!r}")
        from ._cli_args import automation_of

        automation = automation_of(named)
        if automation is None:
            return _fail(_NO_SUCH, f'automation "{named}" not found: cmpy has script and cache')
        table = _SCRIPT if automation == "script" else _CACHE
        what = table.get(action.replace("-", "_"))
        if what is None:
            known = ", ".join(sorted(table))
            return _fail(_NO_SUCH, f'action "{action}" not found in automation "{automation}" (it has: {known})')
        return _HANDLERS[automation, what](request)
    except CmpyError as exc:
        return _fail(error_code(exc), str(exc))


def error_code(exc: CmpyError) -> int:
    """CM's return code for an error: 16 when something was not found, else 1."""
    cause = exc.cause if isinstance(exc, RecipeFailed) else exc
    return NOT_FOUND if isinstance(cause, (RecipeNotFound, ToolNotFound)) else 1


def _fail(code: int, message: str) -> dict[str, Any]:
    return {"return": code, "error": message}


def _as_input(i: Any) -> dict[str, Any]:
    if isinstance(i, Mapping):
        return dict(i)
    if isinstance(i, str):
        import shlex

        try:
            argv = shlex.split(i)
        except ValueError as exc:
            raise UsageError(f"cannot read the command line {i!r}: {exc}") from None
    elif isinstance(i, Sequence) and all(isinstance(a, str) for a in i):
        argv = list(i)
    else:
        raise UsageError(f"access() takes a dict or a command line, not {type(i).__name__}")
    from ._cli_args import Args, cm_input

    return cm_input(Args(argv))


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a string, not {value!r}")
    return value.strip()


def _flag(request: dict[str, Any], *names: str) -> bool:
    """Whether any of the named keys is set to something true (CM's ``"yes"`` included)."""
    found = False
    for name in names:
        value = request.pop(name, None)
        if isinstance(value, str):
            found = found or value.strip().lower() in ("yes", "on", "true", "1")
        else:
            found = found or bool(value)
    return found


def _mapping(request: dict[str, Any], *names: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in names:
        value = request.pop(name, None)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise UsageError(f"{name} must be a dict, not {value!r}")
        merged.update(value)
    return merged


def _version(request: dict[str, Any], name: str) -> str | None:
    value = request.pop(name, None)
    return None if value is None or value == "" else str(value)


def _query(request: dict[str, Any]) -> Any:
    return cm_query(request.pop("tags", None), request.pop("artifact", None), request.pop("artifacts", None))


def _wants_json(request: dict[str, Any]) -> bool:
    shown = request.pop("out", None)
    if shown not in (None, "", "con", "json"):
        raise UsageError(f"out={shown!r}: cmpy knows out='con' and out='json'")
    return _flag(request, "json", "j") or shown == "json"


def _reject_rest(request: dict[str, Any], what: str) -> None:
    if request:
        raise UsageError(f"{what} does not take {', '.join(sorted(map(str, request)))}")


def _run(request: dict[str, Any]) -> dict[str, Any]:
    from . import _api
    from ._cli_args import merge_overrides
    from ._model import env_value

    query = _query(request)
    env = {str(k): env_value(v) for k, v in _mapping(request, "env").items()}
    state = _mapping(request, "state")
    adr = merge_overrides(_mapping(request, "ad", "add_deps"), _mapping(request, "adr", "add_deps_recursive"))
    as_json = _wants_json(request)
    options: dict[str, Any] = {
        "quiet": _flag(request, "quiet", "silent", "s"),
        "verbose": _flag(request, "verbose", "v"),
        "refresh": _flag(request, "refresh"),
        "dry_run": _flag(request, "dry_run"),
        "version": _version(request, "version"),
        "version_min": _version(request, "version_min"),
        "version_max": _version(request, "version_max"),
    }
    jobs = request.pop("jobs", None)
    if jobs is not None:
        if not str(jobs).isdigit() or int(jobs) < 1:
            raise UsageError(f"jobs takes a positive number, not {jobs!r}")
        options["jobs"] = int(jobs)
    if not (query.tags or query.variations):
        raise UsageError(
            "run script needs tags or an artifact (an alias or a uid)",
            hint="access({'action': 'run', 'automation': 'script', 'tags': 'detect,os'})",
        )
    bad = [k for k in request if not isinstance(k, str)]
    if bad:
        raise UsageError(f"the inputs of a run are named by strings, not {bad[0]!r}")

    def run() -> Result:
        return _api.run(query, env=env, adr=adr, **options, **request)

    result = _to_stderr(run) if as_json else run()
    new_env = dict(result.env)
    new_state = dict(result.state)
    done = {
        "return": 0,
        "env": {**env, **new_env},
        "new_env": new_env,
        "state": {**state, **new_state},
        "new_state": new_state,
        # as CM lists them: a query (alias and _variations) for each dep that ran
        "deps": [",".join([d.recipe, *("_" + v for v in d.variations)]) for d in result.deps],
        "version": result.version or "",
        "cached": result.cached,
        "path": result.folder or "",
    }
    if as_json:
        _print_json(done)
    return done


def _to_stderr(run: Callable[[], Result]) -> Result:
    """Run with whatever recipes print sent to stderr: stdout holds the one JSON document."""
    import contextlib
    import sys

    from ._report import LIVE

    token = LIVE.set(False)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return run()
    finally:
        LIVE.reset(token)


def _print_json(done: dict[str, Any]) -> None:
    import json
    import sys

    def plain(value: Any) -> Any:
        if isinstance(value, (ScriptArtifact, CacheArtifact)):
            return value.to_dict()
        return str(value)

    sys.stdout.write(json.dumps(done, indent=2, default=plain) + "\n")


def _listing(key: str, items: Sequence[Any], as_json: bool) -> dict[str, Any]:
    done = {"return": 0, key: list(items)}
    if as_json:
        _print_json(done)
    return done


def _one(artifact: ScriptArtifact | CacheArtifact, as_json: bool, **extra: Any) -> dict[str, Any]:
    done = {"return": 0, "path": artifact.path, "meta": artifact.meta, "original_meta": artifact.meta,
            "artifact": artifact, **extra}
    if as_json:
        _print_json(done)
    return done


def _common(request: dict[str, Any]) -> tuple[Any, bool]:
    query = _query(request)
    as_json = _wants_json(request)
    _flag(request, "quiet", "silent", "s", "verbose", "v")  # nothing to print or ask
    return query, as_json


def _search_scripts(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import find_scripts

    query, as_json = _common(request)
    _reject_rest(request, "find script")
    return _listing("list", find_scripts(query), as_json)


def _load_script(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import load_script

    query, as_json = _common(request)
    _reject_rest(request, "load script")
    return _one(load_script(query), as_json)


def _add_script(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import add_script

    name = _text(request.pop("artifact", None), "artifact")
    tags = cm_query(request.pop("tags", None), request.pop("new_tags", None))
    repo = request.pop("repo", None)
    _, as_json = _common(request)
    _reject_rest(request, "add script")
    if not name:
        raise UsageError("add script needs the new script's name (artifact)", hint="cmpy add script get-my-tool --tags=get,my-tool")
    if not tags.tags:
        raise UsageError("add script needs tags", hint="cmpy add script get-my-tool --tags=get,my-tool")
    made = add_script(name, tags, None if repo is None else str(repo))
    return _one(made, as_json, file=made.file)


def _delete_scripts(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import remove_scripts

    force = _flag(request, "f", "force")
    query, as_json = _common(request)
    _reject_rest(request, "rm script")
    return _listing("deleted_list", remove_scripts(query, force=force), as_json)


def _search_cache(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import find_cache

    artifact = request.get("artifact")
    query, as_json = _common(request)
    request.pop("env", None)  # CM's show cache --env: cmpy's artifacts carry the env
    _reject_rest(request, "find cache")
    return _listing("list", find_cache(query, artifact if isinstance(artifact, str) else None), as_json)


def _load_cache(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import find_cache

    artifact = request.get("artifact")
    query, as_json = _common(request)
    _reject_rest(request, "load cache")
    found = find_cache(query, artifact if isinstance(artifact, str) else None) if not query.is_empty else []
    if len(found) != 1:
        what = "no cached result matches" if not found else f"{len(found)} cached results match"
        return {"return": NOT_FOUND if not found else 1, "error": f"{what} {str(query)!r}", "list": found}
    return _one(found[0], as_json, new_env=found[0].entry.env, new_state=found[0].entry.state)


def _delete_cache(request: dict[str, Any]) -> dict[str, Any]:
    from ._artifacts import remove_cache

    force = _flag(request, "f", "force")
    every = _flag(request, "all")
    query, as_json = _common(request)
    _reject_rest(request, "rm cache")
    removed = remove_cache(query, force=force, every=every)
    if not removed and not query.is_empty:
        return {"return": NOT_FOUND, "error": f"no cached result matches {str(query)!r}", "deleted_list": []}
    return _listing("deleted_list", removed, as_json)


_HANDLERS: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("script", "run"): _run,
    ("script", "search"): _search_scripts,
    ("script", "load"): _load_script,
    ("script", "add"): _add_script,
    ("script", "delete"): _delete_scripts,
    ("cache", "search"): _search_cache,
    ("cache", "load"): _load_cache,
    ("cache", "delete"): _delete_cache,
}
