"""What an archive may expand to: members, total size, compression ratio, counted as it goes.

:class:`_Budget` holds one extraction to its :class:`_Limits`: sizes the
headers declare refuse an archive before anything is written, and the bytes
really decompressed and written are counted again (:func:`_copy`, and the
tar stream), so a header that lies does not help. A refusal is a
:class:`_Refused` whose hint names the keyword that lifts the limit.
"""

from __future__ import annotations

import io
from typing import IO, Any, TypedDict

from ._archive_tree import _shown
from ._errors import UsageError
from ._record import Record
from ._sizes import _human

__all__ = [
    "_CHUNK",
    "_DEFAULT_MAX_MEMBERS",
    "_DEFAULT_MAX_RATIO",
    "_DEFAULT_MAX_TOTAL_SIZE",
    "_DEFAULT_RATIO_MIN_SIZE",
    "_RAW_CHUNK",
    "ExtractLimits",
    "_Budget",
    "_Limits",
    "_Refused",
    "_copy",
    "_empty",
    "_limit",
]

_CHUNK = 1 << 20
_DEFAULT_MAX_TOTAL_SIZE = 50 << 30
_DEFAULT_MAX_MEMBERS = 1_000_000
_DEFAULT_MAX_RATIO = 200.0
_DEFAULT_RATIO_MIN_SIZE = 100 << 20
# compressed bytes are read this much at a time, so a member's share is known
_RAW_CHUNK = 1 << 14


class ExtractLimits(TypedDict, total=False):
    """The keywords of :func:`extract` that bound what an archive may expand to."""

    allow_empty: bool
    max_total_size: int | None
    max_members: int | None
    max_ratio: float | None
    ratio_min_size: int


class _Refused(Exception):
    """An archive past a limit, or empty: the message and what to try."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class _Limits(Record):
    allow_empty: bool
    max_total_size: int | None
    max_members: int | None
    max_ratio: float | None
    ratio_min_size: int


class _Budget:
    """What an archive has expanded to so far; raises _Refused at the first limit passed.

    ``declared`` counts what headers announce (to refuse early), ``written``
    what is really decompressed and written; each is held to the limits.
    """

    def __init__(self, limits: _Limits, archive_size: int) -> None:
        self.limits = limits
        self.archive_size = archive_size
        self.members = 0
        self.declared = 0
        self.written = 0
        self.expanded = 0

    def member(self) -> None:
        """Count one member of the archive."""
        self.members += 1
        most = self.limits.max_members
        if most is not None and self.members > most:
            raise _Refused(
                f"it has more than {most:,} members (max_members={most})",
                _limit_hint("max_members"),
            )

    def declare(self, name: str, size: int, compressed: int | None = None) -> None:
        """Count a member's declared size: refuse before writing what would pass a limit."""
        self.declared += size
        self._check_total(self.declared, "its members declare")
        if compressed is not None:
            self._check_member_ratio(name, size, f"its {_human(compressed)} compressed", compressed)
        self._check_ratio(self.declared, "its members declare")

    def stream_at(self, position: int, *, declared: bool) -> None:
        """The decompressed stream has reached (or is asked to seek to) ``position``."""
        if position > self.expanded:
            self.expanded = position
            self._check_ratio(position, "its members declare" if declared else "it expands to")

    def wrote(self, count: int) -> None:
        """Count bytes decompressed and written."""
        self.written += count
        self._check_total(self.written, "it expands to")
        self._check_ratio(self.written, "it expands to")

    def member_expanded(self, name: str, size: int, compressed: int, *, exact: bool) -> None:
        """A member has expanded to ``size`` from ``compressed`` bytes (or about that many)."""
        if exact:
            self._check_member_ratio(name, size, f"its {_human(compressed)} compressed", compressed)
        else:
            # a member's share of a compressed stream is only known to a read's size
            compressed = max(compressed, _RAW_CHUNK)
            self._check_member_ratio(
                name,
                size,
                f"the roughly {_human(compressed)} of compressed stream it came from",
                compressed,
            )

    def _check_total(self, total: int, verb: str) -> None:
        most = self.limits.max_total_size
        if most is not None and total > most:
            raise _Refused(
                f"{verb} more than {_human(most)} in all (max_total_size={most})",
                _limit_hint("max_total_size"),
            )

    def _check_ratio(self, total: int, verb: str) -> None:
        ratio = self.limits.max_ratio
        if ratio is None or total <= self.limits.ratio_min_size:
            return
        if total > ratio * max(self.archive_size, 1):
            raise _Refused(
                f"{verb} more than {ratio:g} times the archive's {_human(self.archive_size)} "
                f"(max_ratio={ratio:g}, checked past ratio_min_size={self.limits.ratio_min_size}"
                "): a decompression bomb?",
                _limit_hint("max_ratio"),
            )

    def _check_member_ratio(self, name: str, size: int, source: str, compressed: int) -> None:
        ratio = self.limits.max_ratio
        if ratio is None or size <= self.limits.ratio_min_size:
            return
        if size > ratio * max(compressed, 1):
            raise _Refused(
                f"member {_shown(name)!r} expands to {_human(size)}, more than {ratio:g} times "
                f"{source} (max_ratio={ratio:g}, checked past "
                f"ratio_min_size={self.limits.ratio_min_size}): a decompression bomb?",
                _limit_hint("max_ratio"),
            )


def _limit_hint(option: str) -> str:
    also = " (or ratio_min_size=)" if option == "max_ratio" else ""
    return (
        f"nothing was extracted; if you trust the archive, raise {option}={also}, a keyword "
        "of cmpy.tools.extract and ctx.extract and an input of extract file and "
        f"download-and-extract; {option}=None (--{option}=none) lifts the limit"
    )


def _limit(what: str, value: Any, *, whole: bool, none: bool = True) -> Any:
    """A limit as given: a number >= 0 (a whole one for counts and sizes), or None."""
    if value is None and none:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    # written so that nan, which compares false to everything, is refused too
    if not number or not 0 <= value < float("inf") or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise UsageError(
            f"{what}={value!r} is not a limit",
            hint=f"give {what} as {kind} >= 0" + (", or None for no limit" if none else ""),
        )
    return int(value) if whole else float(value)


def _empty(strip: int, listed: int) -> _Refused:
    hint = (
        "if an empty result is what you expect, pass allow_empty=True (extract file --allow_empty)"
    )
    if listed:
        return _Refused(
            f"strip_components={strip} leaves none of its {listed} members",
            "give a smaller strip_components, or " + hint,
        )
    return _Refused("it holds no member (an empty archive)", hint)


def _copy(
    src: io.BufferedIOBase | IO[bytes],
    out: IO[bytes],
    budget: _Budget,
    member: str,
    compressed: int,
) -> None:
    """Copy one member, counting what is decompressed against the budget before writing it."""
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        budget.wrote(len(chunk))
        budget.member_expanded(member, written, compressed, exact=True)
        out.write(chunk)
