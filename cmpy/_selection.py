"""Which recipe a query means: matching by tags, alias, uid and wildcard, and the errors.

Pure functions over the registry's tables: every recipe whose tags contain
the query's tags, none of its excluded ones, and which knows every variation
asked for. Nothing found is an error naming the nearest recipes; several, an
error listing them with what tells them apart, unless exactly one has a
higher priority.
"""

from __future__ import annotations

from ._errors import AmbiguousQuery, RecipeNotFound, UsageError, VariationError
from ._model import Recipe
from ._query import Query, has_glob
from ._table import Table
from ._variations import canonical, known_names

__all__ = ["closest", "matches", "select", "select_near"]


def matches(table: Table, query: Query, *, everywhere: bool = False) -> list[Recipe]:
    """Every recipe the query selects (tags, exclusions and variations), by alias.

    ``everywhere`` adds the recipes others override (of the same uid or
    alias), which a query otherwise reaches only as ``REPO:NAME``.
    """
    out = []
    keys = _by_words(table, query)
    if everywhere:
        keys |= _shadowed_matching(table, query)
    for uid in keys:
        recipe = table[uid].load()
        if _knows_all(recipe, query):
            out.append(recipe)
    return sorted(out, key=lambda r: (r.alias, r.uid))


def select(table: Table, query: Query, *, broken: dict[str, str] | None = None) -> Recipe:
    """The one recipe a query selects.

    Raises:
        UsageError: the query has no tag at all.
        RecipeNotFound: nothing matches (naming the closest recipes).
        VariationError: recipes match the tags but none has a requested variation.
        AmbiguousQuery: several match and none has a higher priority.
    """
    if not query.tags:
        what = "is empty" if query.is_empty else f"({str(query)!r}) has no tag"
        raise UsageError(
            f"the query {what}: it names no recipe",
            hint='give tags or an alias, such as cmpy run "detect os"; list the recipes with: cmpy find',
        )
    found = matches(table, query)
    if len(found) == 1:
        return found[0]
    text = str(query)
    if not found:
        by_tags = [table[u].load() for u in _by_words(table, query)]
        if by_tags:
            raise _variation_error(by_tags, query)
        error = RecipeNotFound(text, closest(table, query))
        if broken:
            why = next(iter(sorted(broken.items())))[1]
            more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            error.hint = f"{error.hint}; note: {why}{more}"
        raise error
    top = max(r.priority for r in found)
    best = [r for r in found if r.priority == top]
    if len(best) == 1:
        return best[0]
    # "print hello-world" names print-hello-world, not print-hello-world-java
    named = [r for r in best if r.alias == "-".join(query.tags)]
    if len(named) == 1:
        return named[0]
    aliases = [r.alias for r in best]
    if len(set(aliases)) < len(aliases):
        # one alias for several: only where they are defined tells them apart
        from ._table import origin

        labels = [f"{r.alias} (uid {r.uid}, {r.where}; name it {origin(r)}:{r.alias})" for r in best]
        raise AmbiguousQuery(text, labels, {})
    raise AmbiguousQuery(text, aliases, _separating(best))


def closest(table: Table, query: Query, n: int = 5) -> list[str]:
    """The recipes nearest to a query that matched none, nearest first.

    A recipe's distance is the smaller of: the edits that turn the query's
    words into some of its tags (each word to its nearest tag), and the
    edits that turn the words joined by ``-`` into its alias. So
    "get pyhton3" is one edit from get-python3 and seven from get-cmake,
    and the nearest is always first.
    """
    from ._suggest import distance

    words = [w.lower() for w in query.tags if not has_glob(w)]
    if not words:
        return []
    joined = "-".join(words)
    near: dict[str, int] = {}
    for entry in table.values():
        tags = [t.lower() for t in entry.tags]
        by_tags = sum(min((distance(w, t) for t in tags), default=len(w)) for w in words)
        score = min(by_tags, distance(joined, entry.alias.lower()))
        if score < near.get(entry.alias, score + 1):
            near[entry.alias] = score
    ranked = sorted(near.items(), key=lambda item: (item[1], item[0]))
    if not ranked:
        return []
    best = ranked[0][1]
    # beyond the nearest, only those not much farther and not mostly rewritten
    limit = best + max(1, len(joined) // 5)
    return [alias for alias, score in ranked[:n] if score <= limit or score == best]


def _by_words(table: Table, query: Query) -> set[str]:
    if len(query.tags) == 1 and not query.excluded:
        word = query.tags[0]
        direct = table.by_alias.get(word) or ([word.lower()] if word.lower() in table else None)
        if direct:
            return set(direct)
        if ":" in word and word not in table.by_tag:
            return _qualified(table, word)
    uids: set[str] | None = None
    for tag in query.tags:
        if has_glob(tag):
            import fnmatch

            hit = {
                e.uid
                for e in table.values()
                if fnmatch.fnmatchcase(e.alias, tag) or any(fnmatch.fnmatchcase(t, tag) for t in e.tags)
            }
        else:
            hit = set(table.by_tag.get(tag, ()))
        uids = hit if uids is None else uids & hit
        if not uids:
            return set()
    if uids is None:
        uids = set(table)
    for tag in query.excluded:
        uids -= set(table.by_tag.get(tag, ()))
    return uids


def select_near(table: Table, query: Query, near: Recipe, *, broken: dict[str, str] | None = None) -> Recipe:
    """:func:`select` for a dep of ``near``: one match of ``near``'s own repository wins."""
    from ._table import origin

    home = origin(near)
    own = [r for r in matches(table, query, everywhere=True) if origin(r) == home]
    if len(own) == 1:
        return own[0]
    return select(table, query, broken=broken)


def _qualified(table: Table, word: str) -> set[str]:
    """``REPO:NAME``: the recipe of that repository with that alias or uid, overridden or not."""
    from ._table import origin

    repo, _colon, name = word.partition(":")
    found = set()
    for key in [*table, *table.shadowed()]:
        entry = table[key]
        if name in (entry.alias, entry.uid) and origin(entry.load()) == repo:
            found.add(key)
    return found


def _shadowed_matching(table: Table, query: Query) -> set[str]:
    keys = set()
    for key in table.shadowed():
        entry = table[key]
        if all(t in entry.tags for t in query.tags) and not any(t in entry.tags for t in query.excluded):
            keys.add(key)
    return keys


def _knows_all(recipe: Recipe, query: Query) -> bool:
    names = query.variations + query.excluded_variations
    return all(canonical(recipe, n) is not None for n in names)


def _variation_error(recipes: list[Recipe], query: Query) -> VariationError:
    from ._suggest import closest as nearest

    names = query.variations + query.excluded_variations
    known = sorted({n for r in recipes for n in known_names(r)})
    missing = next((n for n in names if all(canonical(r, n) is None for r in recipes)), names[0])
    close = nearest(missing, known)
    label = recipes[0].alias if len(recipes) == 1 else ", ".join(r.alias for r in recipes)
    return VariationError(
        label,
        f"no recipe matching {str(query)!r} has the variation _{missing}",
        name=missing,
        known=known,
        suggestion=close[0] if close else None,
    )


def _separating(recipes: list[Recipe]) -> dict[str, str]:
    out: dict[str, str] = {}
    for recipe in recipes:
        others = set().union(*(set(r.tags) for r in recipes if r is not recipe))
        own = sorted(set(recipe.tags) - others, key=lambda t: (len(t), t))
        if own:
            out[recipe.alias] = own[0]
    return out

