"""The ``cmpy`` command: dispatch, help, signals and exit statuses; the work is in the API.

Each command parses its words (:mod:`cmpy._cli_args`) and renders what the
API returns: ``run``/``find``/``show`` in :mod:`cmpy._cli_run`, ``cache``,
``repo`` and ``add`` in :mod:`cmpy._cli_state`, CM's spellings (``cmpy find
script``, ``cmpy rm cache``, ...) in :mod:`cmpy._cli_cm`. Exit status: 0 done, 1 a
recipe failed, 2 a usage error, 3 a bug, 128+N stopped by signal N.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from ._cli_args import EXIT_BUG, EXIT_FAILED, EXIT_USAGE, USAGE_ERRORS, Args, automation_of, out
from ._errors import CmpyError, Interrupted, UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    pass

__all__ = ["main"]

USAGE = """\
usage: cmpy <command> [arguments]

commands:
  run QUERY [--KEY=VALUE ...]   run the recipe a query selects (with its deps)
      --env.KEY=VALUE            env for the run (highest precedence)
      --adr.NAME.KEY=VALUE       override a named dep at any depth (version_min, tags, env.X, ...)
                                 (CM's --ad.NAME.KEY= is applied the same way, under the --adr.)
      --version=V --version_min=V --version_max=V
                                 constraints on the version the recipe reports
      --json                     print the result as one JSON document on stdout
      --dry-run                  print the plan with each node's cache status; run nothing
      --jobs N                   recipes that may run at once (default: CPU count)
      --refresh                  run the recipe again even if its result is cached
      --quiet / --verbose        less output / also each recipe's env and tracebacks
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
  CM's spellings (README: Coming from CM); -j is --json, -s is --quiet, --flag- is "no":
  run script --tags=T | "detect os" | ALIAS   (also: cmr "detect os")
  find script [ALIAS | "tags" | --tags=T]   as find (also: search script, ls script, list script)
  load script ALIAS [--json]    as show (also: show script)
  add script NAME --tags=T      as add recipe
  rm script ALIAS | --tags=T [-f]   delete a recipe's module from your own folders (-f: several)
  list cache [--tags=T]         as cache ls (also: find cache, show cache)
  rm cache --tags=T | -f        as cache rm (-f or --all alone: every cached result)

Every command takes --verbose (-v): tracebacks, and each recipe's env; `cmpy COMMAND --help`.
Queries are words: tags, _variation, _variation.value, -excluded-tag.
Environment: CMPY_HOME (state and cache folder), CMPY_RECIPES_PATH (folders of recipe modules).
Exit status: 0 done, 1 a recipe failed, 2 a usage error (a bad query, an unknown variation or
input, nothing found), 3 an internal error (a bug in cmpy), 128+N stopped by signal N (130: Ctrl-C).
"""



def _lazy(module: str, name: str) -> Callable[[Args], int]:
    """A command whose module is imported when it runs (start-up: only the one needed)."""

    def command(args: Args) -> int:
        import importlib

        function: Callable[[Args], int] = getattr(importlib.import_module(module, __package__), name)
        return function(args)

    command.__name__ = name
    return command


def _cm(action: str) -> Callable[[Args], int]:
    """CM's spelling ``cmpy ACTION script|cache ...`` (:mod:`cmpy._cli_cm`, imported when it runs)."""

    def command(args: Args) -> int:
        from ._cli_cm import cmd_cm

        return cmd_cm(action, args)

    command.__name__ = f"cmd_{action}"
    return command


COMMANDS: dict[str, Callable[[Args], int]] = {
    "run": _lazy("._cli_run", "cmd_run"),
    "find": _lazy("._cli_run", "cmd_find"),
    "show": _lazy("._cli_run", "cmd_show"),
    "cache": _lazy("._cli_state", "cmd_cache"),
    "repo": _lazy("._cli_state", "cmd_repo"),
    "add": _lazy("._cli_state", "cmd_add"),
    "search": _cm("search"),
    "ls": _cm("ls"),
    "list": _cm("list"),
    "load": _cm("load"),
    "rm": _cm("rm"),
}
# CM's ACTION script|cache: these cmpy commands hand such a command line to _cli_cm
_CM_TOO = ("find", "show")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cmpy`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv or "-v" in argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else EXIT_USAGE
    if argv[0] == "--version":
        from . import __version__

        out(f"cmpy {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if argv[0] in _CM_TOO and len(argv) > 1 and automation_of(argv[1]) is not None:
        command = _cm(argv[0])
    # a run (commands, benchmarks) ends on SIGTERM/SIGHUP as on Ctrl-C; the rest need not
    restore = _catch_signals() if argv[0] == "run" else _nothing
    try:
        if command is None:
            from ._suggest import closest

            close = closest(argv[0], COMMANDS)
            raise UsageError(
                f"unknown command {argv[0]!r}",
                hint=f"did you mean {close[0]!r}?" if close else "see: cmpy --help",
            )
        args = Args(argv[1:])
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
        return EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_FAILED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        sys.stderr.write(
            f"cmpy: internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in cmpy; run again with --verbose for the traceback and report it\n"
        )
        return EXIT_BUG
    finally:
        restore()
        # whatever a cancelled body left running dies with the command line
        children = sys.modules.get("cmpy._children")
        if children is not None:  # not loaded: no command was ever started
            children.kill_all()


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
