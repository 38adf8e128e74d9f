"""The pure model: recipes, their dependencies, variations and inputs.

Nothing here does I/O. A :class:`Recipe` is plain data (it pickles into the
persisted metadata index); the body it describes stays with the function
(``@script`` marks it), so that planning from the index never imports
recipe modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ._errors import UsageError
from ._query import Query, parse_query
from ._record import Record, field

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    from ._ctx import Ctx

    Body: TypeAlias = Callable[[Ctx], Any]

__all__ = [
    "Dep",
    "Input",
    "Recipe",
    "Variation",
    "checked_spec",
    "env_value",
    "label",
    "version_spec",
]


def label(alias: str, variations: Iterable[str]) -> str:
    """How a recipe with its variations is written for a user: ``alias _var1 _var2``."""
    return " ".join([alias, *("_" + v for v in variations)])


def _str_map(value: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping of names to strings, not {type(value).__name__}")
    return {str(k): env_value(v) for k, v in value.items()}


def env_value(value: Any) -> str:
    """How a Python value is written into env: ``True`` is ``"yes"``, ``None`` empty."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return ""
    return str(value)


def _conditions(value: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    if not value:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for key, wanted in value.items():
        if isinstance(wanted, (str, bool, int)):
            out[str(key)] = (env_value(wanted),)
        else:
            out[str(key)] = tuple(env_value(w) for w in wanted)
    return out


def _words(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(w for w in value.replace(",", " ").split() if w)
    return tuple(str(w) for w in value)


def version_spec(
    version: str | None = None, version_min: str | None = None, version_max: str | None = None
) -> str:
    """Combine CM-style version constraints into one PEP 440 specifier string.

    ``version`` may be a bare version (``"3.11.7"`` means ``==3.11.7``) or any
    specifier (``">=3.8,<3.13"``). The result is canonical: sorted clauses.
    """
    clauses: list[str] = []
    text = str(version or "").strip()
    if text:
        if text[0] in "<>=!~":
            clauses += [c.strip() for c in text.split(",") if c.strip()]
        else:
            clauses.append("==" + text)
    if version_min and str(version_min).strip():
        clauses.append(">=" + str(version_min).strip())
    if version_max and str(version_max).strip():
        clauses.append("<=" + str(version_max).strip())
    return ",".join(sorted(set(clauses)))


class Input(Record):
    """An input a recipe accepts (CM's ``input_mapping``): its env key and help text.

    ``key=False`` marks a hint that does not change the result, so it stays
    out of the cache key: the URL of a file whose checksum is also given,
    a mirror, a log level. The body still sees it.
    """

    env: str
    help: str = ""
    key: bool = True


class Dep(Record):
    """A dependency: a query plus overrides and conditions.

    Args:
        query: the tags (and ``_variations``) of the recipe wanted.
        name: a handle for ``adr`` overrides from above (and for ``ctx.deps``).
        names: more handles for the same dep (CM's ``names: [python, python3]``):
            an ``adr`` for any of them applies, and ``ctx.deps`` has it under each.
        version, version_min, version_max: constraints on the version it reports.
        env: env handed to this dep only (above the dep's own defaults and variations).
        when_env: run the dep only when every key matches (CM's ``enable_if_env``).
        skip_env: skip the dep when every key matches (CM's ``skip_if_env``).
        inputs: inputs of the dep recipe, by input name.
        optional: when the dep finds nothing (``ToolNotFound``) or no fitting
            version (``VersionConflict``), go on without it instead of failing.
    """

    query: Query
    names: tuple[str, ...]
    version: str | None
    version_min: str | None
    version_max: str | None
    env: dict[str, str]
    when_env: dict[str, tuple[str, ...]]
    skip_env: dict[str, tuple[str, ...]]
    inputs: dict[str, str]
    optional: bool

    def __init__(
        self,
        query: str | Query,
        *,
        name: str | None = None,
        names: Iterable[str] = (),
        version: str | None = None,
        version_min: str | None = None,
        version_max: str | None = None,
        env: Mapping[str, Any] | None = None,
        when_env: Mapping[str, Any] | None = None,
        skip_env: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        optional: bool = False,
    ) -> None:
        parsed = query if isinstance(query, Query) else parse_query(query)
        setter = object.__setattr__
        setter(self, "query", parsed)
        handles = ((name,) if name else ()) + tuple(str(n) for n in names if n)
        setter(self, "names", tuple(dict.fromkeys(handles)))
        setter(self, "version", None if version is None else str(version))
        setter(self, "version_min", None if version_min is None else str(version_min))
        setter(self, "version_max", None if version_max is None else str(version_max))
        setter(self, "env", _str_map(env, "Dep env"))
        setter(self, "when_env", _conditions(when_env))
        setter(self, "skip_env", _conditions(skip_env))
        setter(self, "inputs", _str_map(inputs, "Dep inputs"))
        setter(self, "optional", bool(optional))

    @property
    def name(self) -> str | None:
        """Its first handle (``None`` when it has none)."""
        return self.names[0] if self.names else None

    @property
    def spec(self) -> str:
        """The version constraints as one PEP 440 specifier ("" when none)."""
        return version_spec(self.version, self.version_min, self.version_max)

    def __repr__(self) -> str:
        extra = f", names={list(self.names)!r}" if len(self.names) > 1 else ""
        extra = f", name={self.name!r}" if len(self.names) == 1 else extra
        if self.spec:
            extra += f", version={self.spec!r}"
        return f"Dep({str(self.query)!r}{extra})"


class Variation(Record):
    """A named specialisation of a recipe.

    Args:
        group: at most one variation of a group is chosen.
        default: chosen when its group has none requested.
        base: variations pulled in with this one.
        env: env it sets (``#`` is replaced by the value of a wildcard ``name.#``).
        deps: deps it adds.
        adr: overrides it applies to named deps below.
        alias: this name is another name for that variation.
        help: a line for ``cmpy show``.
    """

    group: str | None
    default: bool
    base: tuple[str, ...]
    env: dict[str, str]
    deps: tuple[Dep, ...]
    adr: dict[str, dict[str, Any]]
    alias: str | None
    help: str

    def __init__(
        self,
        *,
        group: str | None = None,
        default: bool = False,
        base: str | Iterable[str] = (),
        env: Mapping[str, Any] | None = None,
        deps: Iterable[Dep] = (),
        adr: Mapping[str, Mapping[str, Any]] | None = None,
        alias: str | None = None,
        help: str = "",
    ) -> None:
        setter = object.__setattr__
        setter(self, "group", group)
        setter(self, "default", bool(default))
        setter(self, "base", tuple(b.lstrip("_") for b in _words(base)))
        setter(self, "env", _str_map(env, "Variation env"))
        setter(self, "deps", tuple(deps))
        setter(self, "adr", {str(k): dict(v) for k, v in (adr or {}).items()})
        setter(self, "alias", alias.lstrip("_") if alias else None)
        setter(self, "help", help)


class Recipe(Record):
    """Everything known about a recipe except its body: plain, picklable data."""

    alias: str
    uid: str
    tags: tuple[str, ...]
    deps: tuple[Dep, ...] = ()
    post_deps: tuple[Dep, ...] = ()
    variations: dict[str, Variation] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, Input] = field(default_factory=dict)
    exports: tuple[str, ...] | None = None
    reads: tuple[str, ...] = ()
    process_env: tuple[str, ...] = ()
    dry_run_safe: bool = False
    cache: bool = False
    priority: int = 0
    override: bool = False
    is_async: bool = False
    module: str = ""
    qualname: str = ""
    file: str = ""
    line: int = 0
    doc: str = ""
    fingerprint: str = ""

    @property
    def where(self) -> str:
        """Where the recipe is defined, as ``file:line``."""
        return f"{self.file}:{self.line}" if self.file else self.module

    def describe(self) -> dict[str, Any]:
        """A plain description (what ``find`` and ``cmpy show`` print)."""
        return {
            "alias": self.alias,
            "uid": self.uid,
            "tags": list(self.tags),
            "doc": self.doc.partition("\n")[0],
            "details": self.doc.partition("\n")[2].strip("\n"),
            "cache": self.cache,
            "priority": self.priority,
            "override": self.override,
            "variations": {
                name: {
                    k: v
                    for k, v in (
                        ("group", var.group),
                        ("default", var.default or None),
                        ("base", list(var.base) or None),
                        ("env", var.env or None),
                        ("deps", [str(d.query) for d in var.deps] or None),
                        ("alias", var.alias),
                        ("help", var.help or None),
                    )
                    if v
                }
                for name, var in sorted(self.variations.items())
            },
            "inputs": {
                name: {"env": i.env, "help": i.help, **({} if i.key else {"key": False})}
                for name, i in self.inputs.items()
            },
            "env": dict(self.env),
            "deps": [_describe_dep(d) for d in self.deps],
            "post_deps": [_describe_dep(d) for d in self.post_deps],
            "exports": list(self.exports) if self.exports is not None else None,
            "reads": list(self.reads),
            "process_env": list(self.process_env),
            "where": self.where,
        }


def _describe_dep(dep: Dep) -> dict[str, Any]:
    out: dict[str, Any] = {"query": str(dep.query)}
    if len(dep.names) == 1:
        out["name"] = dep.names[0]
    elif dep.names:
        out["names"] = list(dep.names)
    if dep.spec:
        out["version"] = dep.spec
    if dep.optional:
        out["optional"] = True
    for key in ("env", "when_env", "skip_env", "inputs"):
        value = getattr(dep, key)
        if value:
            out[key] = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
    return out


def checked_spec(
    version: str | None = None,
    version_min: str | None = None,
    version_max: str | None = None,
    *,
    where: str = "",
) -> str:
    """:func:`version_spec`, refusing what is not a version or a PEP 440 specifier.

    ``where`` says where the values came from (``"--adr.python."``), so the
    error names the argument as the user wrote it.

    Raises:
        UsageError: a value that is not a version (``version_min="abc"``).
    """
    given = (("version", version), ("version_min", version_min), ("version_max", version_max))
    if not any(value for _name, value in given):
        return ""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    for name, value in given:
        if not value:
            continue
        try:
            SpecifierSet(version_spec(**{name: value}))
        except InvalidSpecifier:
            what = "a version or a version specifier" if name == "version" else "a version"
            raise UsageError(
                f"{where}{name}={value!r} is not {what}",
                hint="give a PEP 440 version such as 3.8 or 1.2.3"
                + (", or a specifier such as '>=3.8,<3.13'" if name == "version" else ""),
            ) from None
    return version_spec(version, version_min, version_max)


def __getattr__(name: str) -> object:
    # @script and the definition checks live in _script (which builds on this module)
    if name in ("script", "uid_for", "validate"):
        from . import _script

        return getattr(_script, name)
    raise AttributeError(f"module 'cmpy._model' has no attribute {name!r}")
