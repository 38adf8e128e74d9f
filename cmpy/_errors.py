"""The one error hierarchy of cmpy.

Every error a user can cause is a :class:`CmpyError`. Each carries the data
that explains it as attributes (``.query``, ``.candidates``, ``.chain``) and
renders a message that says what was asked, what went wrong and what to try.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousQuery",
    "ArchiveError",
    "ChecksumMismatch",
    "CmpyError",
    "CommandFailed",
    "DependencyCycle",
    "DownloadError",
    "Interrupted",
    "ProgramNotFound",
    "QuerySyntaxError",
    "RecipeDefinitionError",
    "RecipeFailed",
    "RecipeNotFound",
    "ToolNotFound",
    "UsageError",
    "VariationError",
    "VersionConflict",
]


class CmpyError(Exception):
    """Base of every error cmpy raises on purpose.

    ``chain`` names the recipes from the top query down to the one where the
    error happened (empty when the error is about the top query itself).
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.chain: tuple[str, ...] = ()

    def with_chain(self, chain: Sequence[str]) -> CmpyError:
        """Record where in the dependency graph this happened (outermost first)."""
        if not self.chain:
            self.chain = tuple(chain)
        return self

    def __str__(self) -> str:
        text = self.message
        if len(self.chain) > 1:
            text += "\n  while running: " + " -> ".join(self.chain)
        if self.hint:
            text += "\n  try: " + self.hint
        return text


class UsageError(CmpyError, ValueError):
    """A call or command line that cmpy cannot make sense of."""


class QuerySyntaxError(CmpyError, ValueError):
    """A query that does not parse; the message shows a caret under the bad span."""

    def __init__(self, query: str, start: int, end: int, reason: str) -> None:
        self.query = query
        self.start = start
        self.end = max(end, start + 1)
        self.reason = reason
        caret = " " * start + "^" * (self.end - start)
        super().__init__(
            f"invalid query: {reason}\n    {query}\n    {caret}",
            hint='a query is words such as "get ml-model resnet50 _fp32 -tflite": '
            "tags, _variation, _variation.value, -excluded-tag",
        )


class RecipeDefinitionError(CmpyError, TypeError):
    """A recipe whose definition is malformed; raised where it is defined."""

    def __init__(self, recipe: str, problem: str, *, hint: str | None = None) -> None:
        self.recipe = recipe
        self.problem = problem
        super().__init__(f"recipe {recipe!r} is malformed: {problem}", hint=hint)


class RecipeNotFound(CmpyError, LookupError):
    """No recipe matches a query."""

    def __init__(self, query: str, closest: Sequence[str] = ()) -> None:
        self.query = query
        self.closest = tuple(closest)
        hint = (
            "closest recipes: " + ", ".join(self.closest)
            if self.closest
            else "list what exists with: cmpy find"
        )
        super().__init__(f"no recipe matches {query!r}", hint=hint)


class AmbiguousQuery(CmpyError, LookupError):
    """Several recipes match a query and none has a higher priority."""

    def __init__(
        self, query: str, candidates: Sequence[str], separating: dict[str, str]
    ) -> None:
        self.query = query
        self.candidates = tuple(candidates)
        self.separating = dict(separating)
        lines = [f"{len(self.candidates)} recipes match {query!r}:"]
        for alias in self.candidates:
            tag = self.separating.get(alias)
            extra = f"   (add the tag {tag!r} to pick it)" if tag else ""
            lines.append(f"  - {alias}{extra}")
        hint = "add a tag that only one of them has, or name one by its alias"
        super().__init__("\n".join(lines), hint=hint)


class VariationError(CmpyError, ValueError):
    """An unknown variation, or two variations of one group."""

    def __init__(
        self,
        recipe: str,
        problem: str,
        *,
        name: str | None = None,
        group: str | None = None,
        known: Sequence[str] = (),
        suggestion: str | None = None,
    ) -> None:
        self.recipe = recipe
        self.name = name
        self.group = group
        self.known = tuple(known)
        self.suggestion = suggestion
        listing = ", ".join("_" + k for k in self.known)
        hint = None
        if suggestion:
            hint = f"did you mean _{suggestion}?" + (f"  (known: {listing})" if listing else "")
        elif listing:
            hint = "known variations: " + listing
        super().__init__(f"{recipe}: {problem}", hint=hint)


class DependencyCycle(CmpyError):
    """Recipes that depend on each other in a loop."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__(
            "dependency cycle: " + " -> ".join(self.cycle),
            hint="break the loop: one of these deps must not ask for its ancestor",
        )


class VersionConflict(CmpyError):
    """A recipe found a version that the constraint asked for does not admit."""

    def __init__(
        self,
        recipe: str,
        found: str | None,
        constraint: str,
        *,
        candidates: Sequence[str] = (),
        chain: Sequence[str] = (),
    ) -> None:
        self.recipe = recipe
        self.found = found
        self.constraint = constraint
        self.candidates = tuple(candidates)
        what = f"found version {found}" if found else "found no version"
        if self.candidates:
            what = "found " + ", ".join(self.candidates) + ", none of which fits"
        super().__init__(
            f"{recipe}: {what}, but {constraint!r} was asked for",
            hint="relax the constraint, or install a fitting version and run again",
        )
        self.chain = tuple(chain)


class CommandFailed(CmpyError):
    """A command run by ``ctx.sh`` exited with a non-zero status."""

    def __init__(
        self, command: str, returncode: int, output_tail: str, log: str | None = None
    ) -> None:
        self.command = command
        self.returncode = returncode
        self.output_tail = output_tail
        self.log = log
        text = f"command failed with exit code {returncode}: {command}"
        if output_tail.strip():
            text += "\n  last output:\n" + _indent(output_tail.rstrip(), "    | ")
        super().__init__(text, hint=f"the whole output is in {log}" if log else None)


class RecipeFailed(CmpyError):
    """A recipe body failed; names the chain of recipes down to it."""

    def __init__(
        self,
        recipe: str,
        chain: Sequence[str],
        cause: BaseException,
        *,
        output_tail: str = "",
        log: str | None = None,
    ) -> None:
        self.recipe = recipe
        self.cause = cause
        self.output_tail = output_tail
        self.log = log
        what = cause.message if isinstance(cause, CmpyError) else _describe(cause)
        text = f"recipe {recipe!r} failed: {what}"
        hint = cause.hint if isinstance(cause, CmpyError) else None
        if hint is None and not isinstance(cause, CmpyError):
            hint = "run again with --verbose for the traceback"
        super().__init__(text, hint=hint)
        self.chain = tuple(chain)


class ToolNotFound(CmpyError, LookupError):
    """A recipe looked for a tool, library or device and it is not there."""

    def __init__(
        self, what: str, *, searched: Sequence[str] = (), hint: str | None = None
    ) -> None:
        self.what = what
        self.searched = tuple(searched)
        text = f"{what} not found"
        if self.searched:
            text += " (searched: " + ", ".join(self.searched) + ")"
        super().__init__(text, hint=hint)


class ProgramNotFound(ToolNotFound):
    """A command could not start: its program is not there (or cannot be executed).

    A :class:`ToolNotFound`, so an optional dep whose command is missing is
    tolerated like any tool that is not there; ``program`` keeps the name.
    """

    def __init__(self, program: str, command: str, *, executable: bool = False) -> None:
        self.program = program
        self.command = command
        problem = "is not executable" if executable else "was not found"
        super().__init__(
            f"the program {program!r}",
            hint="install it, or check PATH" if not executable else "check its permissions",
        )
        self.message = f"cannot run {command!r}: {program!r} {problem}"
        self.args = (self.message,)


class DownloadError(CmpyError):
    """A download that could not be completed."""

    def __init__(self, url: str, problem: str, *, hint: str | None = None) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"download of {url} failed: {problem}", hint=hint)


class ChecksumMismatch(DownloadError):
    """A downloaded file whose checksum is not the expected one."""

    def __init__(self, url: str, algorithm: str, expected: str, actual: str) -> None:
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        super().__init__(
            url,
            f"{algorithm} mismatch: expected {expected}, got {actual}",
            hint="the file was deleted; check the URL or mirror, or the checksum given",
        )


class ArchiveError(CmpyError):
    """An archive that is corrupt or unsafe to extract; nothing was written."""

    def __init__(self, archive: str, problem: str) -> None:
        self.archive = archive
        self.problem = problem
        super().__init__(
            f"cannot extract {archive}: {problem}",
            hint="nothing was extracted; check the archive or download it again",
        )


class Interrupted(KeyboardInterrupt):
    """The run was stopped by Ctrl-C (SIGINT), SIGTERM or SIGHUP.

    ``recipe`` names the recipe that was running (the innermost one), ``what``
    what it was doing (``"the Offline performance run"``), ``note`` what
    became of its partial results, and ``signal_name`` which signal it was;
    the command line prints it as one line and exits with 128 + the signal's
    number (130 for Ctrl-C). A :class:`KeyboardInterrupt`, so ``except
    Exception`` never swallows it.
    """

    def __init__(
        self,
        what: str = "",
        *,
        note: str = "",
        signal_name: str = "SIGINT",
        recipe: str = "",
    ) -> None:
        super().__init__(what)
        self.what = what
        self.note = note
        self.signal_name = signal_name
        self.recipe = recipe

    def within(self, recipe: str) -> Interrupted:
        """The same interruption, said to have happened while ``recipe`` ran
        (unless an inner recipe was named already)."""
        if self.recipe:
            return self
        return Interrupted(self.what, note=self.note, signal_name=self.signal_name, recipe=recipe)

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a command a signal ended."""
        import signal

        number = getattr(signal, self.signal_name, signal.SIGINT)
        return 128 + int(number)

    def __str__(self) -> str:
        by = "Ctrl-C" if self.signal_name == "SIGINT" else self.signal_name
        text = f"interrupted by {by}"
        doing = ": ".join(part for part in (self.recipe, self.what) if part)
        if doing:
            text += f" while running {doing}"
        if self.note:
            text += f" ({self.note})"
        return text


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
