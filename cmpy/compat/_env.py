"""CM's env and variation rules, as pure functions over plain dicts.

- Conditions (``enable_if_env`` and the like): a key matches when its value
  is one of those listed; ``yes``/``on``/``true``/``1`` listed match any
  value but a false one, ``no``/``off``/``false``/``0`` a false one or a
  missing key. A scalar stands for a one-item list, booleans and ints for
  their text.
- ``<<<KEY>>>`` inside a value is replaced by that key's value.
- ``+KEY`` holds a list, prepended to ``KEY`` with the OS path separator, or
  with the first character after ``+`` when it is not alphanumeric
  (``+ CFLAGS`` joins with a space).
- Values that are not strings (bool, int, float, list) are kept as they are
  for ``customize.py`` and written for the shell as CM writes them
  (``str(value)``).
- Variations: the requested ones (aliases followed), their ``base``, then per
  group a ``default_variations`` choice of a variation already chosen, else
  the group's ``default``; combined keys ``a,b`` apply when all their parts
  are chosen; ``name.#`` takes any value, ``#`` in its meta becoming it.
"""

from __future__ import annotations

import copy
import fnmatch
import os

from .._errors import UsageError, VariationError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "condition_holds",
    "merge_dicts",
    "new_env",
    "plus_join",
    "plus_separator",
    "render",
    "resolve_variations",
    "substitute",
    "variation_meta",
]

TRUE = frozenset(("yes", "on", "true", "1"))
FALSE = frozenset(("no", "off", "false", "0", ""))
_PLACEHOLDER = r"<<<(.*?)>>>"


def render(value: Any) -> str:
    """A value as the shell (and cmpy's exported env) sees it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return str(value)


def _text(value: Any) -> str:
    return render(value).strip().lower()


def condition_holds(env: dict[str, Any], conditions: Any, *, any_: bool = False) -> bool:
    """Whether ``env`` satisfies CM's ``enable_if_env``-style conditions (all keys, or ``any_``).

    Listing a true word (yes, on, true, 1) asks for any value but a false one;
    listing a false word also accepts a missing key; otherwise the value must
    be one of those listed (case aside).
    """
    if not isinstance(conditions, dict) or not conditions:
        return True
    results = []
    for key, wanted in conditions.items():
        listed = {_text(w) for w in (wanted if isinstance(wanted, list) else [wanted])}
        if key in env and env[key] is not None:
            value = _text(env[key])
            if listed & TRUE:
                hit = value not in FALSE
            elif listed & (FALSE - {""}):
                hit = value in FALSE
            else:
                hit = value in listed
        else:
            hit = bool(listed & FALSE)
        results.append(hit)
    return any(results) if any_ else all(results)


def substitute(env: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Replace ``<<<KEY>>>`` in every value of ``env`` (in place); unknown keys stay."""
    pool = dict(extra or {})
    pool.update(env)
    for key, value in list(env.items()):
        if isinstance(value, str) and "<<<" in value:
            env[key] = _fill(value, pool)
        elif isinstance(value, list):
            env[key] = [_fill(v, pool) if isinstance(v, str) else v for v in value]


def _fill(text: str, pool: dict[str, Any]) -> str:
    import re

    return re.sub(
        _PLACEHOLDER, lambda m: render(pool[m.group(1)]) if m.group(1) in pool else m.group(0), text
    )


def plus_separator(key: str) -> tuple[str, str]:
    """The real key of a ``+KEY`` and its separator: ``+PATH`` -> (PATH, os.pathsep)."""
    name = key[1:]
    if name and not name[0].isalnum() and name[0] != "_":
        return name[1:].strip(), name[0]
    return name, os.pathsep


def plus_join(key: str, items: list[Any], current: str | None) -> str:
    """The value ``KEY`` takes when the ``+KEY`` list is prepended to ``current``."""
    _name, sep = plus_separator(key)
    parts = [render(i) for i in items if render(i)]
    if current:
        parts.append(current)
    return sep.join(parts)


def merge_plus(env: dict[str, Any], key: str, value: Any) -> None:
    """Add the items of a ``+KEY`` (a list, or text joined with its separator) to ``env``."""
    _name, sep = plus_separator(key)
    items = value if isinstance(value, list) else [v for v in render(value).split(sep) if v]
    have = env.get(key)
    have = list(have) if isinstance(have, list) else []
    for item in items:
        if item not in have:
            have.append(item)
    env[key] = have


def merge_dicts(into: dict[str, Any], other: dict[str, Any]) -> None:
    """CM's merge of state: dicts merged deeply, lists appended (unique), the rest replaced."""
    for key, value in other.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge_dicts(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            old.extend(v for v in value if v not in old)
        else:
            into[key] = copy.deepcopy(value)


def new_env(env: dict[str, Any], patterns: list[str]) -> dict[str, Any]:
    """The keys of ``env`` that ``new_env_keys`` hands back (``<<<KEY>>>`` patterns filled)."""
    wanted = []
    for pattern in patterns:
        pattern = str(pattern)
        if "<<<" in pattern:
            pattern = _fill(pattern, env)
            if "<<<" in pattern:
                continue
        wanted.append(pattern)
    return {k: v for k, v in env.items() if any(fnmatch.fnmatchcase(k, p) for p in wanted)}


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip().lstrip("_") for v in value or () if str(v).strip()]


def variation_meta(variations: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The meta of one chosen variation; a wildcard instance has ``#`` replaced by its value."""
    found = variations.get(name)
    if isinstance(found, dict):
        return dict(found)
    if found is not None:
        return {}
    prefix, dot, value = name.partition(".")
    wild = variations.get(prefix + ".#") if dot else None
    if wild is None:
        return None
    replaced: dict[str, Any] = _replace_hash(wild if isinstance(wild, dict) else {}, value)
    return replaced


def _replace_hash(value: Any, by: str) -> Any:
    if isinstance(value, str):
        return value.replace("#", by)
    if isinstance(value, list):
        return [_replace_hash(v, by) for v in value]
    if isinstance(value, dict):
        return {k: _replace_hash(v, by) for k, v in value.items()}
    return value


def resolve_variations(
    alias: str,
    variations: dict[str, Any],
    requested: list[str],
    excluded: list[str] = (),  # type: ignore[assignment]
) -> list[str]:
    """CM's variation set for ``requested``: in application order, combined keys last.

    Raises:
        VariationError: a name the script does not have, or two of one group.
    """
    aliases = {
        str(k): str(v["alias"]).lstrip("_")
        for k, v in variations.items()
        if isinstance(v, dict) and isinstance(v.get("alias"), str)
    }
    known = {str(k) for k in variations}
    banned = {aliases.get(e, e) for e in excluded}
    chosen: list[str] = []
    groups: dict[str, str] = {}

    def group_of(name: str) -> str | None:
        meta = variation_meta(variations, name) or {}
        group = meta.get("group")
        return str(group) if group not in (None, "") else None

    def add(name: str, *, asked: bool) -> None:
        name = aliases.get(name, name)
        if name in chosen or name in banned:
            return
        if variation_meta(variations, name) is None:
            if asked:
                raise VariationError(
                    alias, f"{alias} has no variation _{name}", name=name, known=sorted(known)
                )
            return
        group = group_of(name)
        if group is not None:
            if group in groups and groups[group] != name:
                if not asked:
                    return  # a base or default that lost to an explicit choice
                raise VariationError(
                    alias,
                    f"_{groups[group]} and _{name} are both of the group {group!r} of {alias}",
                    name=name,
                    known=sorted(known),
                )
            groups[group] = name
        chosen.append(name)
        if not asked:
            bases(name)

    def bases(name: str) -> None:
        for base in _names((variation_meta(variations, name) or {}).get("base")):
            add(base, asked=False)

    # what was asked for first, then what it pulls in: a base never beats an explicit choice
    for name in requested:
        add(str(name).lstrip("_"), asked=True)
    for name in list(chosen):
        bases(name)
    for _round in range(64):
        before = len(chosen)
        for name in list(chosen):
            meta = variation_meta(variations, name) or {}
            defaults = meta.get("default_variations") or {}
            if isinstance(defaults, dict):
                for group, pick in defaults.items():
                    if str(group) not in groups:
                        add(str(pick).lstrip("_"), asked=False)
        for name, meta in sorted(variations.items(), key=lambda kv: str(kv[0])):
            if not isinstance(meta, dict) or not _truthy(meta.get("default")):
                continue
            group = meta.get("group")
            if group not in (None, "") and str(group) not in groups and "," not in str(name):
                add(str(name), asked=False)
        if len(chosen) == before:
            break
    singles = sorted(chosen)
    combined = sorted(
        str(k)
        for k in variations
        if "," in str(k) and all(p.strip().lstrip("_") in chosen for p in str(k).split(","))
    )
    return singles + combined


def _truthy(value: Any) -> bool:
    return value is True or _text(value) in TRUE


def split_spec(spec: str) -> dict[str, str]:
    """CM's version keys from a PEP 440 specifier: ``>=3.8,<=3.12`` -> version_min, version_max."""
    out: dict[str, str] = {}
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        for op, key in (("==", "version"), (">=", "version_min"), ("<=", "version_max")):
            if clause.startswith(op):
                out[key] = clause[len(op) :].strip()
                break
        else:
            raise UsageError(f"the version constraint {clause!r} has no CM form (==, >=, <=)")
    return out
