"""Variation resolution: from what was asked to a canonical, closed set.

Resolution expands ``base`` variations transitively, fills each untouched
group with its default, rejects two members of one group and unknown names,
applies combined variations (``"pytorch,int8"``) whose parts are all present,
and substitutes ``#`` in the env of wildcard variations. The same request
always gives the same set, sorted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ._errors import VariationError
from ._model import Dep, Recipe, Variation
from ._record import Record

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Resolved", "resolve", "canonical", "known_names"]


class Resolved(Record):
    """The outcome of resolution: names, and the env, deps and adr they bring."""

    names: tuple[str, ...]
    env: dict[str, str]
    deps: tuple[Dep, ...]
    adr: dict[str, dict[str, Any]]


def known_names(recipe: Recipe) -> list[str]:
    """The variation names a user can ask for (wildcards as ``name.#``)."""
    return sorted(n for n in recipe.variations if "," not in n)


def canonical(recipe: Recipe, name: str) -> str | None:
    """The canonical form of a requested variation name, or None if unknown."""
    seen: set[str] = set()
    variations = recipe.variations
    while True:
        if name in seen:
            return None
        seen.add(name)
        var = variations.get(name)
        if var is not None and "," not in name and not name.endswith(".#"):
            if var.alias is None:
                return name
            name = var.alias
            continue
        prefix, dot, value = name.partition(".")
        if dot and value and prefix + ".#" in variations:
            return name
        return None


def _definition(recipe: Recipe, name: str) -> tuple[Variation, str | None]:
    """The Variation behind a canonical name, and the wildcard value if any."""
    var = recipe.variations.get(name)
    if var is not None:
        return var, None
    prefix, _, value = name.partition(".")
    return recipe.variations[prefix + ".#"], value


def _group(recipe: Recipe, name: str) -> str | None:
    var, value = _definition(recipe, name)
    if var.group is not None:
        return var.group
    if value is not None:
        # a wildcard takes one value: its instances behave as one group
        return "_" + name.partition(".")[0] + ".#"
    return None


def _unknown(recipe: Recipe, name: str, why: str) -> VariationError:
    from ._suggest import closest

    known = known_names(recipe)
    close = closest(name, known)
    if not close:
        prefix = name.partition(".")[0]
        close = [k for k in known if k.startswith(prefix + ".#")]
    return VariationError(
        recipe.alias,
        f"{why} _{name}, which it does not have",
        name=name,
        known=known,
        suggestion=close[0] if close else None,
    )


def resolve(
    recipe: Recipe, requested: Iterable[str] = (), excluded: Iterable[str] = ()
) -> Resolved:
    """Resolve requested variations of a recipe into a closed canonical set.

    Raises:
        VariationError: an unknown name (with a did-you-mean), two variations of
            one group, or a variation that is both excluded and needed.
    """
    exclude: set[str] = set()
    for name in excluded:
        canon = canonical(recipe, name)
        if canon is None:
            raise _unknown(recipe, name, "the query excludes")
        exclude.add(canon)

    chosen: dict[str, str] = {}
    members: dict[str, str] = {}

    def add(name: str, why: str) -> None:
        if name in chosen:
            return
        if name in exclude:
            raise VariationError(
                recipe.alias, f"_{name} is excluded, but {why} needs it", name=name
            )
        group = _group(recipe, name)
        if group is not None:
            other = members.get(group)
            if other is not None and other != name:
                label = group if not group.startswith("_") else group[1:]
                raise VariationError(
                    recipe.alias,
                    f"_{other} and _{name} ({why}) are both in group {label!r}; "
                    "a group takes one variation",
                    name=name,
                    group=label,
                    known=[n for n in known_names(recipe) if _group(recipe, n) == group],
                )
            members[group] = name
        chosen[name] = why
        var, _ = _definition(recipe, name)
        for base in var.base:
            canon = canonical(recipe, base)
            if canon is None:  # pragma: no cover - validate() rejects it at definition
                raise _unknown(recipe, base, f"_{name} has the base")
            add(canon, f"the base of _{name}")

    for name in requested:
        canon = canonical(recipe, name)
        if canon is None:
            raise _unknown(recipe, name, "asked for")
        add(canon, "the request")

    defaults: dict[str, str] = {}
    for name, var in sorted(recipe.variations.items()):
        canon = canonical(recipe, name) if var.default and var.group is not None else None
        if canon is not None:
            defaults[var.group] = canon  # type: ignore[index]
    combined = sorted(n for n in recipe.variations if "," in n)
    applied: list[str] = []
    while True:
        _add_defaults(recipe, defaults, members, exclude, add)
        fresh = [
            c
            for c in combined
            if c not in applied and all(canonical(recipe, p) in chosen for p in c.split(","))
        ]
        if not fresh:
            break
        for name in fresh:
            applied.append(name)
            for base in recipe.variations[name].base:
                canon = canonical(recipe, base)
                if canon is not None:
                    add(canon, f"the base of _{name}")

    return _collect(recipe, _ordered(recipe, chosen), applied)


def _closure(recipe: Recipe, name: str) -> set[str]:
    """A variation and everything its bases pull in, transitively."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        var, _ = _definition(recipe, current)
        todo += [c for c in (canonical(recipe, b) for b in var.base) if c is not None]
    return seen


def _add_defaults(
    recipe: Recipe,
    defaults: dict[str, str],
    members: dict[str, str],
    exclude: set[str],
    add: Callable[[str, str], None],
) -> None:
    """Fill each group nothing chose with its default, whatever the groups are called.

    A default whose group another pending default's bases will fill is not
    added: the base was asked for (through that default), the default only
    stands in when nothing was. So the outcome never depends on the order
    in which groups are visited.
    """
    while True:
        pending = {
            g: d for g, d in defaults.items() if g not in members and d not in exclude
        }
        if not pending:
            return
        claimed: set[str] = set()
        for group, name in pending.items():
            for pulled in _closure(recipe, name) - {name}:
                pulled_group = _group(recipe, pulled)
                if pulled_group is not None and pulled_group != group:
                    claimed.add(pulled_group)
        ready = {g: d for g, d in pending.items() if g not in claimed}
        if not ready:
            # defaults that claim each other's groups: take them in name order
            ready = dict([sorted(pending.items())[0]])
        for group, name in sorted(ready.items()):
            if group not in members:
                add(name, f"the default of group {group!r}")


def _ordered(recipe: Recipe, chosen: dict[str, str]) -> list[str]:
    """Chosen names with each base before what pulled it in (then by name)."""
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        var, _ = _definition(recipe, name)
        for base in sorted(var.base):
            canon = canonical(recipe, base)
            if canon in chosen:
                visit(canon)
        order.append(name)

    for name in sorted(chosen):
        visit(name)
    return order


def _collect(recipe: Recipe, order: Sequence[str], combined: Sequence[str]) -> Resolved:
    env: dict[str, str] = {}
    deps: list[Dep] = []
    adr: dict[str, dict[str, Any]] = {}
    for name in list(order) + sorted(combined):
        var, value = _definition(recipe, name)
        if value is None:
            env.update(var.env)
        else:
            env.update({k: v.replace("#", value) for k, v in var.env.items()})
        deps.extend(var.deps)
        for dep_name, override in var.adr.items():
            adr.setdefault(dep_name, {}).update(override)
    return Resolved(tuple(sorted(order)), env, tuple(deps), adr)
