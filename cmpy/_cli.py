"""The ``cmpy`` command: argument parsing and printing only; the work is in the API.

Exit status: 0 on success, 1 when a recipe fails, 2 on a usage error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from ._errors import (
    AmbiguousQuery,
    CmpyError,
    Interrupted,
    QuerySyntaxError,
    RecipeDefinitionError,
    RecipeNotFound,
    UsageError,
    VariationError,
)

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]

USAGE = """\
usage: cmpy <command> [arguments]

commands:
  run QUERY [--KEY=VALUE ...]   run the recipe a query selects (with its deps)
      --env.KEY=VALUE            env for the run (highest precedence)
      --adr.NAME.KEY=VALUE       override a named dep at any depth (version_min, tags, env.X, ...)
      --version=V --version_min=V --version_max=V
                                 constraints on the version the recipe reports
      --json                     print the result as one JSON document on stdout
      --dry-run                  print the plan with each node's cache status; run nothing
      --jobs N                   recipes that may run at once (default: CPU count)
      --refresh                  run the recipe again even if its result is cached
      --quiet / --verbose        less output / also each recipe's env and tracebacks
      (CM's spelling works too: cmpy run script "detect os", cmpy run script --tags=detect,os)
  find [QUERY] [--json]         list the recipes a query matches
  show RECIPE [--json]          everything about one recipe (alias, uid or query)
  cache ls [QUERY] [--json]     list cached results (by tags, alias, _variation, version-X)
  cache show KEY                one cached result (a unique prefix of its key will do)
  cache rm QUERY | --all        delete cached results (a query of -exclusions alone is refused)
  cache prune                   drop broken entries and leftovers of killed runs
  cache check                   find damaged cache state and repair it (moved to CMPY_HOME/damaged/);
                                 exit status 1 if something could not be repaired
  repo add PATH                 remember a folder of recipe modules
  repo ls | repo rm NAME        list / forget them
  repo pull URL                 git clone a repository of recipes into CMPY_HOME, then add it
  add recipe NAME --tags=...    write a new recipe module that runs right away [--repo PATH]

Every command takes --verbose (-v): tracebacks, and each recipe's env; `cmpy COMMAND --help`.
Queries are words: tags, _variation, _variation.value, -excluded-tag.
Environment: CMPY_HOME (state and cache folder), CMPY_RECIPES_PATH (folders of recipe modules).
Exit status: 0 done, 1 a recipe failed, 2 a usage error (a bad query, an unknown variation or
input, nothing found), 3 an internal error (a bug in cmpy), 128+N stopped by signal N (130: Ctrl-C).
"""

_EXIT_USAGE = 2
_EXIT_FAILED = 1
_EXIT_BUG = 3
_USAGE_ERRORS = (
    UsageError,
    QuerySyntaxError,
    RecipeNotFound,
    AmbiguousQuery,
    VariationError,
    RecipeDefinitionError,
)


_TAKES_VALUE = ("jobs", "tags", "version", "version_min", "version_max", "repo")


def _check_text(arg: str) -> None:
    """Refuse an argument that is not text: bytes the locale could not decode."""
    if any("\udc80" <= c <= "\udcff" for c in arg):
        shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(
            f"the argument {shown!r} is not valid UTF-8 text",
            hint="give names and values as UTF-8 text (check the terminal's encoding)",
        )
    if "\x00" in arg:
        raise UsageError(f"the argument {arg!r} holds a NUL character")


class _Args:
    """Words and ``--options`` of a command line, in the order given."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.words: list[str] = []
        self.options: list[tuple[str, str | None]] = []
        # every command takes --verbose (and -v): tracebacks, each recipe's env
        self.verbose = False
        args = list(argv)
        for arg in args:
            _check_text(arg)
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                self.words += args[i + 1 :]
                break
            if arg.startswith("--") and len(arg) > 2:
                name, eq, value = arg[2:].partition("=")
                if not eq and name in _TAKES_VALUE and i + 1 < len(args):
                    value, i = args[i + 1], i + 1
                    eq = "="
                if name == "verbose" and not eq:
                    self.verbose = True
                else:
                    self.options.append((name, value if eq else None))
            elif arg == "-j":
                if i + 1 >= len(args) or not args[i + 1].isdigit():
                    raise UsageError("-j needs the number of recipes that may run at once: -j 4")
                self.options.append(("jobs", args[i + 1]))
                i += 1
            elif arg == "-v":
                self.verbose = True
            elif arg in ("-q", "-h"):
                self.options.append(({"-q": "quiet", "-h": "help"}[arg], None))
            else:
                self.words.append(arg)
            i += 1

    def flag(self, *names: str) -> bool:
        found = False
        for name, value in list(self.options):
            if name in names or name.replace("-", "_") in names:
                if value is not None:
                    raise UsageError(f"--{name} takes no value")
                self.options.remove((name, value))
                found = True
        return found

    def value(self, name: str) -> str | None:
        found = None
        for opt, value in list(self.options):
            if opt == name or opt.replace("-", "_") == name:
                if value is None:
                    raise UsageError(f"--{name} needs a value: --{name}=VALUE")
                self.options.remove((opt, value))
                found = value
        return found

    def reject_rest(self, command: str) -> None:
        if self.options:
            name = self.options[0][0]
            raise UsageError(f"cmpy {command} does not take --{name}", hint="see: cmpy --help")


def _label(alias: str, variations: Sequence[str]) -> str:
    from ._model import label

    return label(alias, variations)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _json(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def _set_nested(target: dict[str, Any], path: list[str], value: str) -> None:
    for part in path[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise UsageError(f"--adr: {'.'.join(path)} sets a key inside a value")
        target = nxt
    target[path[-1]] = value


def cmd_run(args: _Args) -> int:
    from . import _api

    as_json = args.flag("json")
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
    if words and words[0] == "script" and (len(words) > 1 or any(n == "tags" for n, _ in args.options)):
        words = words[1:]
    tags = args.value("tags")
    if tags:
        words += tags.replace(",", " ").split()
    if not words:
        raise UsageError("cmpy run needs a query", hint='cmpy run "detect os"')
    query = " ".join(words)
    version = args.value("version")
    version_min = args.value("version_min")
    version_max = args.value("version_max")
    env: dict[str, str] = {}
    adr: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    for name, value in args.options:
        if name in ("env", "adr", "ad"):
            example = "--env.KEY=VALUE" if name == "env" else f"--{name}.NAME.KEY=VALUE"
            raise UsageError(
                f"--{name} is not an option on its own: write {example}",
                hint=f"for example {'--env.CMPY_X=1' if name == 'env' else '--adr.python.version_min=3.10'}",
            )
        if name.startswith("env."):
            key = name[4:]
            if value is None:
                raise UsageError(f"--{name} needs a value: --{name}=VALUE")
            if not key or not key.strip() or key != key.strip():
                raise UsageError(
                    f"--{name}={value}: the env key is empty or has spaces around it",
                    hint="write --env.KEY=VALUE, such as --env.CMPY_PYTHON_BIN_WITH_PATH=/usr/bin/python3",
                )
            env[key] = value
        elif name.startswith(("adr.", "ad.")):
            parts = name.split(".")[1:]
            if len(parts) < 2 or value is None or any(not p.strip() for p in parts):
                raise UsageError(
                    f"--{name}{'' if value is None else '=' + value}: write --adr.NAME.KEY=VALUE, "
                    "with a dep's name and a key (tags, version, version_min, version_max, "
                    "env.X, inputs.X)",
                    hint="for example --adr.python.version_min=3.10",
                )
            _set_nested(adr, parts, value)
        else:
            kwargs[name.replace("-", "_") if name.replace("-", "_").isidentifier() else name] = (
                True if value is None else value
            )
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
        _json(result.to_dict())
        return 0
    result = _api.run(query, **run_kwargs, **kwargs)
    if dry_run:
        _print_tree(result)
        return 0
    how = "cached" if result.cached else f"ran in {result.duration:.3f} s"
    head = _label(result.recipe, result.variations)
    _out(f"{head}: {how}" + (f", version {result.version}" if result.version else ""))
    if result.folder:
        _out(f"  path: {result.folder}")
    for key in sorted(result.env):
        _out(f"  {key}={result.env[key]}")
    return 0


def _print_tree(result: Any) -> None:
    seen: set[str] = set()

    def show(res: Any, prefix: str, last: bool, top: bool) -> None:
        label = _label(res.recipe, res.variations)
        status = res.state.get("plan", "")
        again = res.key in seen
        branch = "" if top else ("└── " if last else "├── ")
        where = f"  {res.folder}" if res.folder and not again else ""
        _out(f"{prefix}{branch}{label}  [{status}{', see above' if again else ''}]{where}")
        if again:
            return
        seen.add(res.key)
        child_prefix = prefix if top else prefix + ("    " if last else "│   ")
        for line in res.state.get("said", ()):
            _out(f"{child_prefix}{'│' if res.deps else ' '}   > {line}")
        for i, dep in enumerate(res.deps):
            show(dep, child_prefix, i == len(res.deps) - 1, False)

    show(result, "", True, True)


def cmd_find(args: _Args) -> int:
    from . import _api

    as_json = args.flag("json")
    args.reject_rest("find")
    query = " ".join(args.words)
    found = _api.find(query)
    if as_json:
        _json(found)
        return 0
    if not found:
        err = RecipeNotFound(query, _api.nearest(query))
        sys.stderr.write(f"cmpy: {err}\n")
        return _EXIT_USAGE
    width = min(max(len(d["alias"]) for d in found), 40)
    for d in found:
        _out(f"{d['alias']:<{width}}  {' '.join(d['tags'])}")
    return 0


def cmd_show(args: _Args) -> int:
    from . import _api

    as_json = args.flag("json")
    args.reject_rest("show")
    if not args.words:
        raise UsageError("cmpy show needs a recipe", hint="cmpy show detect-os")
    desc = _api.show(" ".join(args.words))
    if as_json:
        _json(desc)
        return 0
    _out(f"{desc['alias']}  (uid {desc['uid']})")
    if desc["doc"]:
        _out(f"  {desc['doc']}")
    for line in desc["details"].splitlines():
        _out(f"    {line}".rstrip())
    _out(f"  tags: {' '.join(desc['tags'])}")
    _out(f"  defined in: {desc['where']}")
    _out(f"  cached: {'yes' if desc['cache'] else 'no'}" + (f", priority {desc['priority']}" if desc["priority"] else ""))
    if desc["inputs"]:
        _out("  inputs:")
        for name, spec in desc["inputs"].items():
            _out(f"    --{name}  (env {spec['env']})  {spec['help']}".rstrip())
    if desc["variations"]:
        _out("  variations:")
        groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, var in desc["variations"].items():
            groups.setdefault(var.get("group") or "", []).append((name, var))
        for group in sorted(groups):
            if group:
                _out(f"    group {group}:")
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
                _out(f"{indent}_{name}" + (f"  ({'; '.join(notes)})" if notes else ""))
    for title in ("deps", "post_deps"):
        if desc[title]:
            _out(f"  {title.replace('_', ' ')}:")
            for dep in desc[title]:
                extra = " ".join(
                    f"{k}={v}" for k, v in dep.items() if k not in ("query",)
                )
                _out(f"    {dep['query']}" + (f"  ({extra})" if extra else ""))
    if desc["env"]:
        _out("  default env:")
        for key, value in desc["env"].items():
            _out(f"    {key}={value}")
    if desc["exports"] is not None:
        _out(f"  exports: {' '.join(desc['exports'])}")
    return 0


def cmd_cache(args: _Args) -> int:
    from . import cache

    if not args.words:
        raise UsageError("cmpy cache needs a subcommand: ls, show, rm, prune or check")
    sub, rest = args.words[0], args.words[1:]
    as_json = args.flag("json")
    if sub == "ls":
        args.reject_rest("cache ls")
        entries = cache.ls(" ".join(rest))
        if as_json:
            _json([e.describe() for e in entries])
            return 0
        for e in entries:
            version = f"  {e.version}" if e.version else ""
            _out(f"{e.key[:12]}  {_label(e.recipe, e.variations)}{version}  {e.folder}")
        if not entries:
            sys.stderr.write("cmpy: no cached results match\n")
        return 0
    if sub == "show":
        args.reject_rest("cache show")
        if len(rest) != 1:
            raise UsageError("cmpy cache show takes one key (or a unique prefix of one)")
        d = cache.show(rest[0]).describe()
        if as_json:
            _json(d)
            return 0
        for key in ("key", "recipe", "variations", "version", "spec", "folder", "created", "duration"):
            _out(f"{key}: {d[key]}")
        for title, values in (("env", d["env"]), ("input env", d["input_env"])):
            if values or title == "env":
                _out(f"{title}:")
                for k, v in sorted(values.items()):
                    _out(f"  {k}={v}")
        return 0
    if sub == "rm":
        every = args.flag("all")
        args.reject_rest("cache rm")
        removed = cache.rm(" ".join(rest), all=every)
        _out(f"removed {len(removed)} cached result{'s' if len(removed) != 1 else ''}")
        return 0
    if sub == "prune":
        args.reject_rest("cache prune")
        counts = cache.prune()
        _out(", ".join(f"{n} {k}" for k, n in counts.items()) + " removed")
        return 0
    if sub == "check":
        from ._home import home

        args.reject_rest("cache check")
        if rest:
            raise UsageError("cmpy cache check takes no arguments")
        damages, notes = cache.check()
        for damage in damages:
            _out(("repaired: " if damage.repaired else "NOT REPAIRED: ") + str(damage))
        for note in notes:
            _out(note)
        left = [d for d in damages if not d.repaired]
        if left:
            sys.stderr.write(
                f"cmpy: {len(left)} damaged part{'s' if len(left) != 1 else ''} of {home()} could not be repaired; "
                "move them away by hand (or point CMPY_HOME at a new folder)\n"
            )
            return _EXIT_FAILED
        if damages:
            _out(f"repaired all of it; the damaged parts are in {os.path.join(home(), 'damaged')}")
        else:
            _out("nothing is damaged")
        return 0
    raise UsageError(f"unknown cache subcommand {sub!r}", hint="ls, show, rm, prune or check")


def cmd_repo(args: _Args) -> int:
    from . import _repos

    if not args.words:
        raise UsageError("cmpy repo needs a subcommand: add, ls, rm or pull")
    sub, rest = args.words[0], args.words[1:]
    as_json = args.flag("json")
    args.reject_rest(f"repo {sub}")
    if sub == "ls":
        repos = _repos.list_repos()
        if as_json:
            _json([{"name": r.name, "path": r.path} for r in repos])
        for r in [] if as_json else repos:
            _out(f"{r.name}  {r.path}")
        return 0
    if len(rest) != 1:
        raise UsageError(f"cmpy repo {sub} takes one argument")
    if sub == "add":
        repo = _repos.add_repo(rest[0])
        _out(f"added {repo.name}: {repo.path}")
    elif sub == "rm":
        repo = _repos.remove_repo(rest[0])
        _out(f"removed {repo.name} ({repo.path} is left as it is)")
    elif sub == "pull":
        repo = _repos.pull_repo(rest[0])
        _out(f"pulled {repo.name}: {repo.path}")
    else:
        raise UsageError(f"unknown repo subcommand {sub!r}", hint="add, ls, rm or pull")
    return 0


def cmd_add(args: _Args) -> int:
    from . import _repos

    if len(args.words) != 2 or args.words[0] != "recipe":
        raise UsageError("usage: cmpy add recipe NAME --tags=get,my-tool [--repo PATH]")
    tags = args.value("tags")
    repo = args.value("repo")
    args.reject_rest("add recipe")
    if not tags:
        raise UsageError("cmpy add recipe needs --tags=...", hint="cmpy add recipe get-my-tool --tags=get,my-tool")
    path = _repos.new_recipe(args.words[1], tags, repo)
    query = " ".join(w for w in tags.replace(",", " ").split())
    _out(f"wrote {path}")
    _out(f'run it with: cmpy run "{query}"')
    return 0


COMMANDS: dict[str, Callable[[_Args], int]] = {
    "run": cmd_run,
    "find": cmd_find,
    "show": cmd_show,
    "cache": cmd_cache,
    "repo": cmd_repo,
    "add": cmd_add,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cmpy`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv or "-v" in argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else _EXIT_USAGE
    if argv[0] == "--version":
        from . import __version__

        _out(f"cmpy {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    # a run (commands, benchmarks) ends on SIGTERM/SIGHUP as on Ctrl-C; the rest need not
    restore = _catch_signals() if command is cmd_run else _nothing
    try:
        if command is None:
            from ._suggest import closest

            close = closest(argv[0], COMMANDS)
            raise UsageError(
                f"unknown command {argv[0]!r}",
                hint=f"did you mean {close[0]!r}?" if close else "see: cmpy --help",
            )
        args = _Args(argv[1:])
        if args.flag("help"):
            sys.stdout.write(_command_help(argv[0]))
            return 0
        return command(args)
    except KeyboardInterrupt as exc:
        stopped = exc if isinstance(exc, Interrupted) else Interrupted()
        sys.stderr.write(f"cmpy: {stopped}\n")
        return stopped.exit_status
    except CmpyError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"cmpy: error: {exc}\n")
        return _EXIT_USAGE if isinstance(exc, _USAGE_ERRORS) else _EXIT_FAILED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _EXIT_FAILED
    except Exception as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        sys.stderr.write(
            f"cmpy: internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in cmpy; run again with --verbose for the traceback and report it\n"
        )
        return _EXIT_BUG
    finally:
        restore()
        # whatever a cancelled body left running dies with the command line
        from ._children import kill_all

        kill_all()


def _nothing() -> None:
    pass


def _command_help(command: str) -> str:
    """The lines of the usage text about one command, with what every command takes."""
    lines = USAGE.splitlines()
    start = lines.index("commands:") + 1
    mine: list[str] = []
    keep = False
    for line in lines[start:]:
        if not line.strip():
            break
        if line.startswith("  ") and not line.startswith("   "):
            keep = line[2:].startswith(command + " ") or line[2:] == command
        if keep:
            mine.append(line)
    tail = lines[lines.index("", start) + 1 :]
    return "\n".join([f"usage: cmpy {command} [arguments]", "", *mine, "", *tail]) + "\n"


def _catch_signals() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP end a run as Ctrl-C does: unwinding it, killing its commands.

    Returns what puts the previous handlers back. Only the main thread can
    set handlers; elsewhere (cmpy's main() called from a thread) nothing changes.
    """
    # _signal, not signal: the module's enums cost a millisecond of start-up
    import _signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    names = {_signal.SIGTERM: "SIGTERM", getattr(_signal, "SIGHUP", -1): "SIGHUP"}

    def stop(signum: int, _frame: object) -> None:
        raise Interrupted(signal_name=names.get(signum, "SIGTERM"))

    previous = {}
    for sig in names:
        if sig > 0 and _signal.getsignal(sig) == _signal.SIG_DFL:
            previous[sig] = _signal.signal(sig, stop)

    def restore() -> None:
        for sig, handler in previous.items():
            _signal.signal(sig, handler)

    return restore
