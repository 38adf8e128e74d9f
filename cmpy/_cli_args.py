"""The command line's words and options, and how it prints: shared by every command.

``_Args`` reads a command line in order (``--key=value``, ``--flag``,
``--key value`` for the options that take one, ``-j N``, ``-q``, ``-v``),
refusing bytes that are not text; the exit statuses live here too.
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
    "json_out",
    "label",
    "out",
    "set_nested",
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


def label(alias: str, variations: Sequence[str]) -> str:
    from ._model import label

    return label(alias, variations)


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def json_out(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def set_nested(target: dict[str, Any], path: list[str], value: str) -> None:
    for part in path[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise UsageError(f"--adr: {'.'.join(path)} sets a key inside a value")
        target = nxt
    target[path[-1]] = value


