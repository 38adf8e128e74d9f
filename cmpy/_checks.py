"""Values checked where they enter a command line: requirements, arguments, URLs.

A value a user typed (a variation's value, an input) that a recipe hands to
a program must mean to that program exactly what it meant to the user: a
package name must not turn into ``--log=/tmp/x`` or ``-r /etc/hostname``,
a URL must not turn into ``--upload-pack=...``. Each check returns the value
to use or raises :class:`UsageError` naming what was given and what fits.
"""

from __future__ import annotations

from ._errors import UsageError

__all__ = ["argument", "requirement", "url_or_path"]

_URL_SCHEMES = ("http://", "https://", "file://")


def argument(what: str, value: str, *, hint: str | None = None) -> str:
    """A value passed to a program as one argument, which it must not take for an option.

    Raises:
        UsageError: the value starts with ``-`` or holds a control character.
    """
    text = value.strip()
    if text.startswith("-"):
        raise UsageError(
            f"{what}={value!r} starts with '-', which the program would read as an option",
            hint=hint or f"give {what} as a plain value; options are not accepted here",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(
            f"{what}={value!r} holds a control character",
            hint=hint or f"give {what} without newlines, tabs or other control characters",
        )
    return text


def requirement(what: str, value: str) -> tuple[str, str]:
    """A PEP 508 requirement made of a name, extras and a version specifier only.

    Returns the requirement in canonical form and the distribution's name.
    A URL (``name @ https://...``), a local path, an environment marker or
    anything pip would read as an option is refused: those come through an
    input of their own.

    Raises:
        UsageError: the value is not such a requirement.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    text = value.strip()
    hint = (
        "give a package name, with extras and a version specifier if you like "
        "(numpy, onnxruntime>=1.17, pandas[parquet]); to install from a file, a "
        "folder or a URL use --source=PATH_OR_URL"
    )
    if not text or text.startswith("-") or any(ord(c) < 32 for c in text):
        raise UsageError(f"{what}={value!r} is not a package requirement", hint=hint)
    try:
        parsed = Requirement(text)
    except InvalidRequirement:
        raise UsageError(f"{what}={value!r} is not a package requirement", hint=hint) from None
    if parsed.url or parsed.marker is not None:
        raise UsageError(
            f"{what}={value!r} is not a plain requirement: "
            + ("it names a URL" if parsed.url else "it carries an environment marker"),
            hint=hint,
        )
    return str(parsed), parsed.name


def url_or_path(what: str, value: str) -> str:
    """An index URL, a URL to install from, or a local path (made absolute).

    A URL keeps its form; anything else is taken as a path and made absolute,
    so that it cannot start with ``-``.

    Raises:
        UsageError: an empty value, a control character, or an unsupported scheme.
    """
    import os

    text = argument(what, value, hint=f"give {what} as a URL (https://...) or a path")
    if not text:
        raise UsageError(f"{what} is empty", hint=f"give {what} as a URL (https://...) or a path")
    lowered = text.lower()
    if lowered.startswith(_URL_SCHEMES) or lowered.startswith(("git+", "hg+", "svn+", "bzr+")):
        if any(c.isspace() for c in text):
            raise UsageError(f"{what}={value!r} is a URL with white space in it")
        return text
    if "://" in text:
        raise UsageError(
            f"{what}={value!r} uses a scheme that is not supported here",
            hint="use http://, https://, file:// (or git+https:// for a repository), or a path",
        )
    return os.path.abspath(os.path.expanduser(text))
