"""The query language: ``"get ml-model resnet50 _fp32 _batch_size.8 -tflite"``.

Words are split on white space or commas. A word is a tag, ``_name`` (a
variation), ``_name.value`` (a value for a wildcard variation ``name.#``),
``-tag`` (exclude recipes carrying the tag) or ``-_name`` (exclude a
variation). Tags may hold shell-style wildcards (``get-*``), which match
aliases and tags.
"""

from __future__ import annotations

from ._errors import QuerySyntaxError
from ._record import Record

__all__ = ["Query", "parse_query", "GLOB_CHARS"]

GLOB_CHARS = frozenset("*?[")

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_TAG_FIRST = _ALNUM | GLOB_CHARS
_TAG_REST = _TAG_FIRST | frozenset("_.+-/:@]")
_VAR_FIRST = _ALNUM
_VAR_REST = _ALNUM | frozenset("_+-")


class Query(Record):
    """A parsed query; ``str(query)`` prints it back in canonical form."""

    tags: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    variations: tuple[str, ...] = ()
    excluded_variations: tuple[str, ...] = ()

    def __str__(self) -> str:
        words = list(self.tags)
        words += ["-" + t for t in self.excluded]
        words += ["_" + v for v in self.variations]
        words += ["-_" + v for v in self.excluded_variations]
        return " ".join(words)

    @property
    def is_empty(self) -> bool:
        return not (self.tags or self.excluded or self.variations or self.excluded_variations)

    def merged(self, other: Query) -> Query:
        """The words of both queries (``other`` appended)."""
        return Query(
            _dedup(self.tags + other.tags),
            _dedup(self.excluded + other.excluded),
            _dedup(self.variations + other.variations),
            _dedup(self.excluded_variations + other.excluded_variations),
        )


def parse_query(text: str) -> Query:
    """Parse a query string.

    Raises:
        QuerySyntaxError: with a caret under the word that is malformed.
    """
    if not isinstance(text, str):
        raise QuerySyntaxError(repr(text), 0, 1, "a query must be a string")
    tags: list[str] = []
    excluded: list[str] = []
    variations: list[str] = []
    excluded_variations: list[str] = []
    for start, end in _words(text):
        word = text[start:end]
        if word.startswith("-_"):
            excluded_variations.append(_variation(text, word[2:], start + 2, end))
        elif word.startswith("_"):
            variations.append(_variation(text, word[1:], start + 1, end))
        elif word.startswith("-"):
            excluded.append(_tag(text, word[1:], start + 1, end))
        else:
            tags.append(_tag(text, word, start, end))
    return Query(
        _dedup(tags), _dedup(excluded), _dedup(variations), _dedup(excluded_variations)
    )


def _words(text: str) -> list[tuple[int, int]]:
    """The spans of the words of ``text``: runs of characters other than space and comma."""
    spans = []
    start = -1
    for i, char in enumerate(text):
        if char.isspace() or char == ",":
            if start >= 0:
                spans.append((start, i))
                start = -1
        elif start < 0:
            start = i
    if start >= 0:
        spans.append((start, len(text)))
    return spans


def _tag(text: str, tag: str, start: int, end: int) -> str:
    if not tag:
        raise QuerySyntaxError(text, start - 1, end, "'-' must be followed by a tag")
    bad = _first_bad(tag, _TAG_FIRST, _TAG_REST)
    if bad is not None:
        raise QuerySyntaxError(
            text, start + bad, start + bad + 1, f"character {tag[bad]!r} cannot appear in a tag"
        )
    return tag


def _variation(text: str, word: str, start: int, end: int) -> str:
    name, dot, value = word.partition(".")
    if not name:
        raise QuerySyntaxError(text, start - 1, end, "'_' must be followed by a variation name")
    bad = _first_bad(name, _VAR_FIRST, _VAR_REST)
    if bad is not None:
        raise QuerySyntaxError(
            text,
            start + bad,
            start + bad + 1,
            f"character {name[bad]!r} cannot appear in a variation name",
        )
    if dot and not value:
        raise QuerySyntaxError(
            text, start + len(name), end, f"'_{name}.' needs a value after the dot"
        )
    return word


def _first_bad(word: str, first: frozenset[str], rest: frozenset[str]) -> int | None:
    if word[0] not in first:
        return 0
    return next((i for i, c in enumerate(word) if i and c not in rest), None)


def _dedup(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def has_glob(word: str) -> bool:
    """Whether a tag holds a shell-style wildcard."""
    return not GLOB_CHARS.isdisjoint(word)
