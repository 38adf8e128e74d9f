"""A recipe's fingerprint: what changes its results, hashed into its cache key.

The fingerprint covers the recipe's metadata (tags, deps, variations, env,
inputs, ...) and the source of its body, so that editing either makes its
results again. Where the definition sits in its file does not count: adding
a line above a recipe changes nothing. A loader whose recipes are more than
one function (a CM script folder) hashes every file of its source instead,
through :func:`of_texts`.
"""

from __future__ import annotations

from types import CodeType

from ._hash import digest
from ._record import replace

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._model import Recipe

__all__ = ["of_recipe", "of_texts", "source_text"]


def of_recipe(recipe: Recipe, body: object) -> Recipe:
    """The recipe with its fingerprint: its metadata and its body's source."""
    if recipe.fingerprint:
        return recipe
    meta = replace(recipe, file="", line=0, fingerprint="")
    return replace(recipe, fingerprint=digest(repr(meta) + "\0" + source_text(body)))


def of_texts(recipe: Recipe, texts: Iterable[str]) -> Recipe:
    """The recipe with a fingerprint of its metadata and of the given texts (in order)."""
    meta = replace(recipe, file="", line=0, fingerprint="")
    return replace(recipe, fingerprint=digest("\0".join([repr(meta), *texts])))


def source_text(fn: object) -> str:
    """The source lines of a function, read from its file without ``inspect``."""
    code = getattr(fn, "__code__", None)
    if not isinstance(code, CodeType):
        return ""
    last = _last_line(code)
    try:
        with open(code.co_filename, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return code.co_code.hex() + repr(code.co_consts)
    return "".join(lines[code.co_firstlineno - 1 : last])


def _last_line(code: CodeType) -> int:
    last = code.co_firstlineno
    for _start, _end, line in code.co_lines():
        if line is not None and line > last:
            last = line
    for const in code.co_consts:
        if isinstance(const, CodeType):
            last = max(last, _last_line(const))
    return last
