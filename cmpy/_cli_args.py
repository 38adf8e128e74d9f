"""The command line's words and options, and how it prints: shared by every command.

``Args`` reads a command line in order (``--key=value``, ``--flag``, CM's
``--flag-`` for "no", ``--key value`` for the options that take one,
``-j N`` for jobs, ``-j`` alone for JSON, ``-q``/``-s``, ``-v``), refusing
bytes that are not text. :func:`run_options` reads what a run is given
(``--env.KEY=``, ``--adr.NAME.KEY=``, CM's ``--ad.``, inputs) and
:func:`cm_input` turns a CM command line into the dict ``cmpy.access``
takes, both with one reading of dotted names. The exit statuses live here too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._errors import (
    AmbiguousQuery,
    QuerySyntaxError,
    RecipeDefinitionError,
    RecipeNotFound,
    UsageError,
    VariationError,
)

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "USAGE_ERRORS",
    "Args",
    "automation_of",
    "cm_input",
    "json_out",
    "label",
    "merge_overrides",
    "out",
    "run_options",
    "set_nested",
    "tag_words",
]

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_BUG = 3
USAGE_ERRORS = (
    UsageError,
    QuerySyntaxError,
    RecipeNotFound,
    AmbiguousQuery,
    VariationError,
    RecipeDefinitionError,
)

_TAKES_VALUE = ("jobs", "tags", "version", "version_min", "version_max", "repo")
_SHORT = {"-q": "quiet", "-s": "silent", "-h": "help"}
# CM's automations, by alias and uid (cmpy's recipes are CM's scripts)
_AUTOMATIONS = {"script": "script", "5b4e0237da074764": "script", "cache": "cache", "541d6f712a6b464e": "cache"}


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


class Args:
    """Words and ``--options`` of a command line, in the order given.

    An option's value is a string (``--key=value``), ``None`` for a bare
    ``--flag``, or ``False`` for CM's ``--flag-`` ("no").
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.words: list[str] = []
        self.options: list[tuple[str, str | bool | None]] = []
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
                if name in ("verbose", "verbose-") and not eq:
                    self.verbose = name == "verbose"
                elif name == "verbose":
                    raise UsageError("--verbose takes no value")
                elif not eq and name.endswith("-") and len(name) > 1:
                    self.options.append((name[:-1], False))  # CM's --flag- : "no"
                else:
                    self.options.append((name, value if eq else None))
            elif arg == "-j":
                # -j N: recipes at once (cmpy); -j alone: print JSON (CM)
                if i + 1 < len(args) and args[i + 1].isdigit():
                    self.options.append(("jobs", args[i + 1]))
                    i += 1
                else:
                    self.options.append(("json", None))
            elif arg == "-v":
                self.verbose = True
            elif arg in _SHORT:
                self.options.append((_SHORT[arg], None))
            else:
                self.words.append(arg)
            i += 1

    def flag(self, *names: str) -> bool:
        """Whether a flag was given (the last of ``--name`` and ``--name-`` wins); consumes it."""
        found = False
        for name, value in list(self.options):
            if name in names or name.replace("-", "_") in names:
                if isinstance(value, str):
                    raise UsageError(f"--{name} takes no value")
                self.options.remove((name, value))
                found = value is None
        return found

    def value(self, name: str) -> str | None:
        """The value of ``--name=VALUE`` (the last one given), or None; consumes it."""
        found = None
        for opt, value in list(self.options):
            if opt == name or opt.replace("-", "_") == name:
                if not isinstance(value, str):
                    raise UsageError(f"--{name} needs a value: --{name}=VALUE")
                self.options.remove((opt, value))
                found = value
        return found

    def json(self) -> bool:
        """Whether JSON output was asked for: ``--json``, ``-j`` or CM's ``--out=json``."""
        as_json = self.flag("json")
        shown = self.value("out")
        if shown is not None:
            if shown not in ("json", "con"):
                raise UsageError(f"--out={shown}: cmpy knows --out=json and --out=con", hint="or --json, -j")
            as_json = as_json or shown == "json"
        return as_json

    def reject_rest(self, command: str) -> None:
        if self.options:
            name, value = self.options[0]
            shown = f"--{name}-" if value is False else f"--{name}"
            raise UsageError(f"cmpy {command} does not take {shown}", hint="see: cmpy --help")


def label(alias: str, variations: Sequence[str]) -> str:
    from ._model import label

    return label(alias, variations)


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def json_out(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def set_nested(target: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``target[a][b]...[z] = value`` for the path ``[a, b, ..., z]``."""
    for part in path[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise UsageError(f"--adr: {'.'.join(path)} sets a key inside a value")
        target = nxt
    target[path[-1]] = value




def automation_of(word: str) -> str | None:
    """Which of CM's automations a word names (``script``, ``script,5b4e0237da074764``, its
    uid; ``cache`` likewise), or None."""
    return _AUTOMATIONS.get(word.partition(",")[0].strip().lower())


def tag_words(args: Args) -> list[str]:
    """The words of ``--tags=a,b`` (none when it is not given); consumes it.

    Raises:
        UsageError: ``--tags=`` given but naming no tag.
    """
    tags = args.value("tags")
    if tags is None:
        return []
    words = tags.replace(",", " ").split()
    if not words:
        raise UsageError(f"--tags={tags} names no tag", hint="give the tags, such as --tags=detect,os")
    return words


# CM's names of the dep overrides: adr at any depth, ad for direct deps
_OVERRIDES = {"adr": "adr", "add_deps_recursive": "adr", "ad": "ad", "add_deps": "ad"}


def _env_key(name: str, value: str | bool | None) -> str:
    if value is None:
        raise UsageError(f"--{name} needs a value: --{name}=VALUE")
    key = name.partition(".")[2]
    if not key or not key.strip() or key != key.strip():
        raise UsageError(
            f"--{name}={value}: the env key is empty or has spaces around it",
            hint="write --env.KEY=VALUE, such as --env.CMPY_PYTHON_BIN_WITH_PATH=/usr/bin/python3",
        )
    return key


def _override_path(name: str, value: str | bool | None) -> list[str]:
    parts = name.split(".")[1:]
    if len(parts) < 2 or not isinstance(value, str) or any(not p.strip() for p in parts):
        shown = "" if value is None else "-" if value is False else f"={value}"
        raise UsageError(
            f"--{name}{shown}: write --adr.NAME.KEY=VALUE (or --ad.NAME.KEY=VALUE), "
            "with a dep's name and a key (tags, version, version_min, version_max, env.X, inputs.X)",
            hint="for example --adr.python.version_min=3.10",
        )
    return parts


def _not_alone(name: str) -> UsageError:
    example = "--env.KEY=VALUE" if name == "env" else f"--{name}.NAME.KEY=VALUE"
    return UsageError(
        f"--{name} is not an option on its own: write {example}",
        hint=f"for example {'--env.CMPY_X=1' if name == 'env' else '--adr.python.version_min=3.10'}",
    )


def run_options(args: Args) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """The env, adr and keyword arguments in a run's remaining options; consumes them all.

    ``--env.KEY=VALUE``; ``--adr.NAME.KEY=VALUE`` (CM's ``--add_deps_recursive.``);
    CM's ``--ad.NAME.KEY=VALUE`` (``--add_deps.``) for direct deps, which cmpy
    applies as an adr (at any depth: its planner has no direct-only override),
    an ``--adr`` of the same name and key winning; any other option is an input
    or a variation: ``--name`` is True, ``--name-`` False.

    Raises:
        UsageError: a malformed ``--env.``/``--adr.``/``--ad.`` option.
    """
    from ._model import env_value

    env: dict[str, str] = {}
    overrides: dict[str, dict[str, Any]] = {"adr": {}, "ad": {}}
    kwargs: dict[str, Any] = {}
    for name, value in args.options:
        head, dot, _ = name.partition(".")
        if head == "env" or head in _OVERRIDES:
            if not dot:
                raise _not_alone(head)
            if head == "env":
                env[_env_key(name, value)] = env_value(value)
            else:
                set_nested(overrides[_OVERRIDES[head]], _override_path(name, value), str(value))
        else:
            key = name.replace("-", "_")
            kwargs[key if key.isidentifier() else name] = True if value is None else value
    args.options.clear()
    return env, merge_overrides(overrides["ad"], overrides["adr"]), kwargs


def merge_overrides(below: dict[str, Any], above: dict[str, Any]) -> dict[str, Any]:
    """Two adr dicts as one: per dep name and key (``env``/``inputs`` per key), ``above`` wins."""
    out: dict[str, Any] = {name: dict(changes) for name, changes in below.items()}
    for name, changes in above.items():
        mine = out.setdefault(name, {})
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(mine.get(key), dict):
                mine[key] = {**mine[key], **value}
            else:
                mine[key] = value
    return out


def cm_input(args: Args) -> dict[str, Any]:
    """CM's input dict from a command line, read as cmind reads one.

    ``ACTION AUTOMATION [ARTIFACT [MORE ...]]``; ``--key=value``; ``--flag`` is
    True and ``--flag-`` False; ``-f`` is the flag ``f``; ``--a.b=v`` nests
    (``{"a": {"b": "v"}}``); ``--key,=x,y`` is a list; ``@input.json`` merges
    a JSON file's object in.

    Raises:
        UsageError: a malformed option, or an input file that is not a JSON object.
    """
    i: dict[str, Any] = {}
    positional = []
    for word in args.words:
        if word.startswith("@") and len(word) > 1:
            i.update(_input_file(word[1:]))
        elif word.startswith("-") and word.strip("-"):
            args.options.append((word.lstrip("-"), None))
        elif word.startswith("-"):
            raise UsageError(f"{word!r} is not a flag", hint="such as -f, --quiet, --tags=detect,os")
        else:
            positional.append(word)
    for key, word in zip(("action", "automation", "artifact"), positional):
        i[key] = word
    if len(positional) > 3:
        i["artifacts"] = positional[3:]
    for name, raw in args.options:
        value: Any = True if raw is None else raw
        if name.endswith(",") and isinstance(raw, str):
            name, value = name[:-1], [v for v in raw.split(",") if v]
        head, dot, _ = name.partition(".")
        if not dot:
            i[name.replace("-", "_")] = value
            continue
        if head == "env":
            path = [_env_key(name, raw)]
        elif head in _OVERRIDES:
            path = _override_path(name, raw)
        else:
            path = name.split(".")[1:]
            if not head or any(not p.strip() for p in path):
                raise UsageError(f"--{name}: every part of a dotted option needs a name", hint="such as --env.KEY=VALUE")
        target = i.setdefault(head.replace("-", "_"), {})
        if not isinstance(target, dict):
            raise UsageError(f"--{name} sets a key inside --{head}, which has a value of its own")
        set_nested(target, path, value)
    args.options.clear()
    if args.verbose:
        i["verbose"] = True
    return i


def _input_file(path: str) -> dict[str, Any]:
    import json

    if not path.endswith(".json"):
        raise UsageError(f"@{path}: cmpy reads input files in JSON (@input.json)", hint="convert the YAML to JSON")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"@{path}: cannot read it as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"@{path}: the file must hold a JSON object")
    return data
