"""From what a caller typed (a query and keyword arguments) to a planner Request."""

from __future__ import annotations

from collections.abc import Mapping

from ._errors import UsageError
from ._model import Recipe, checked_spec, env_value
from ._plan import Request
from ._query import Query, parse_query
from ._variations import canonical, known_names

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

    from ._plan import Selector

__all__ = ["make_request"]


def make_request(
    registry: Selector,
    query: str | Query,
    *,
    kwargs: Mapping[str, Any],
    env: Mapping[str, Any] | None = None,
    adr: Mapping[str, Mapping[str, Any]] | None = None,
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    inherited: Mapping[str, str] | None = None,
) -> Request:
    """Select the recipe and sort keyword arguments into variations and inputs.

    A keyword that names a variation requests it (``fp32=True``; ``False``
    excludes it; ``batch_size=32`` gives ``_batch_size.32`` for ``batch_size.#``);
    a keyword that names an input sets it; anything else is an error.

    Raises:
        QuerySyntaxError, RecipeNotFound, AmbiguousQuery, VariationError: the query.
        UsageError: a keyword that is neither a variation nor an input.
    """
    parsed = query if isinstance(query, Query) else parse_query(query)
    recipe = registry.select(parsed)
    variations = list(parsed.variations)
    excluded = list(parsed.excluded_variations)
    inputs: dict[str, str] = {}
    for name, value in kwargs.items():
        if value is None:
            continue
        if name in recipe.inputs:
            inputs[name] = env_value(value)
            continue
        var = _variation_name(recipe, name)
        if var is not None:
            if value is True:
                variations.append(var)
            elif value is False:
                excluded.append(var)
            else:
                raise UsageError(
                    f"{recipe.alias}: _{var} is a variation; pass {name}=True to ask for it, "
                    f"not {value!r}"
                )
            continue
        wildcard = _wildcard_name(recipe, name)
        if wildcard is not None:
            text = env_value(value)
            if not text or any(c.isspace() or c == "," for c in text):
                raise UsageError(
                    f"{recipe.alias}: the value {text!r} for _{wildcard}.# "
                    "must be non-empty, without spaces or commas"
                )
            variations.append(f"{wildcard}.{text}")
            continue
        raise _unknown_keyword(recipe, name)
    return Request(
        recipe=recipe,
        variations=tuple(dict.fromkeys(variations)),
        excluded_variations=tuple(dict.fromkeys(excluded)),
        spec=checked_spec(version, version_min, version_max),
        inputs=inputs,
        env={str(k): env_value(v) for k, v in (env or {}).items()},
        adr={str(k): dict(v) for k, v in (adr or {}).items()},
        inherited=dict(inherited or {}),
    )


def _variation_name(recipe: Recipe, name: str) -> str | None:
    for candidate in (name, name.replace("_", "-")):
        if candidate in recipe.variations and canonical(recipe, candidate) is not None:
            return candidate
    return None


def _wildcard_name(recipe: Recipe, name: str) -> str | None:
    for candidate in (name, name.replace("_", "-")):
        if candidate + ".#" in recipe.variations:
            return candidate
    return None


def _unknown_keyword(recipe: Recipe, name: str) -> UsageError:
    from ._suggest import closest

    words = sorted(recipe.inputs) + [n.removesuffix(".#") for n in known_names(recipe)]
    close = closest(name, words)
    inputs = ", ".join(sorted(recipe.inputs)) or "none"
    variations = ", ".join("_" + n for n in known_names(recipe)) or "none"
    return UsageError(
        f"{recipe.alias} has no input or variation called {name!r} "
        f"(inputs: {inputs}; variations: {variations})",
        hint=f"did you mean {close[0]!r}?" if close else f"see: cmpy show {recipe.alias}",
    )
