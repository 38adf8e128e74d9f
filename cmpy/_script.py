"""``@script``: a function made a recipe, its definition checked where it is written.

The decorator turns its arguments into a :class:`~cmpy._model.Recipe`, checks
it (:func:`validate`: an unknown base, a default outside its group, a bad
version constraint, ... fail at decoration, naming the recipe), marks the
function with it (``fn.__cmpy_recipe__``, which loaders collect) and tells
the process's book of definitions (:mod:`cmpy._definitions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ._definitions import DEFINITIONS
from ._errors import CmpyError, QuerySyntaxError, RecipeDefinitionError
from ._model import Dep, Input, Recipe, Variation, _str_map, _words
from ._query import has_glob, parse_query

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any, TypeVar, overload

    F = TypeVar("F", bound=Callable[..., Any])
else:

    def overload(fn: object) -> object:
        return fn  # the variants only inform type checkers; the last def is the function

__all__ = ["script", "uid_for", "validate"]

_CO_COROUTINE = 0x80


def uid_for(alias: str) -> str:
    """The stable uid of a recipe that does not declare one: 16 hex digits."""
    import hashlib

    return hashlib.sha256(alias.encode()).hexdigest()[:16]


@overload
def script(fn: F, /) -> F: ...


@overload
def script(  # noqa: F811 - overload variants (typing.overload under TYPE_CHECKING)
    fn: None = None,
    /,
    *,
    tags: str | Iterable[str] | None = None,
    alias: str | None = None,
    uid: str | None = None,
    deps: Iterable[Dep | str] = (),
    post_deps: Iterable[Dep | str] = (),
    variations: Mapping[str, Variation] | None = None,
    env: Mapping[str, Any] | None = None,
    inputs: Mapping[str, str | tuple[str, str] | Input] | None = None,
    exports: Iterable[str] | None = None,
    reads: Iterable[str] = (),
    process_env: Iterable[str] = (),
    dry_run_safe: bool = False,
    cache: bool = False,
    priority: int = 0,
    override: bool = False,
) -> Callable[[F], F]: ...


def script(  # noqa: F811
    fn: F | None = None,
    /,
    *,
    tags: str | Iterable[str] | None = None,
    alias: str | None = None,
    uid: str | None = None,
    deps: Iterable[Dep | str] = (),
    post_deps: Iterable[Dep | str] = (),
    variations: Mapping[str, Variation] | None = None,
    env: Mapping[str, Any] | None = None,
    inputs: Mapping[str, str | tuple[str, str] | Input] | None = None,
    exports: Iterable[str] | None = None,
    reads: Iterable[str] = (),
    process_env: Iterable[str] = (),
    dry_run_safe: bool = False,
    cache: bool = False,
    priority: int = 0,
    override: bool = False,
) -> F | Callable[[F], F]:
    """Declare a function as a recipe; bare (``@script``) or with arguments.

    Args:
        tags: the words that find it (default: its alias split on ``-``).
        alias: its unique name (default: the function name, ``_`` as ``-``).
        uid: 16 hex digits (default: derived from the alias).
        deps: recipes to run before the body; their exported env is in ``ctx.env``.
        post_deps: recipes to run after the body.
        variations: named specialisations (``"fp32"``, ``"batch_size.#"``,
            combined ``"pytorch,int8"``).
        env: default env values (the lowest precedence).
        inputs: input name -> env key, or ``(env key, help)``, or :class:`Input`.
        exports: glob patterns of the env keys handed back (CM's ``new_env_keys``);
            ``None`` hands back exactly what the body returns.
        reads: glob patterns of further env keys the body reads from above
            (the keys of ``env``, ``inputs``, variation env and dep conditions are
            read implicitly); they enter the cache key.
        process_env: names of process environment variables the result depends
            on (``PATH`` for a detector): their values are recorded with a
            cached result, which is made again when one changes. They stay out
            of the key, so a change that leaves the result the same
            invalidates nothing that depends on it.
        dry_run_safe: the body may run under ``--dry-run`` (with ``ctx.dry_run``
            set) to say what it would do: it must change nothing then.
        cache: whether its result is cached.
        priority: breaks ties between recipes matching one query.
        override: this recipe replaces another with the same alias or uid (a
            user's ``detect-os`` in place of the built-in one), on purpose:
            the registry says which won instead of warning about a duplicate.

    Raises:
        RecipeDefinitionError: when the definition is malformed, naming the recipe.
    """

    def decorate(func: F) -> F:
        recipe = _make_recipe(
            func,
            tags=tags,
            alias=alias,
            uid=uid,
            deps=deps,
            post_deps=post_deps,
            variations=variations,
            env=env,
            inputs=inputs,
            exports=exports,
            reads=reads,
            process_env=process_env,
            dry_run_safe=dry_run_safe,
            cache=cache,
            priority=priority,
            override=override,
        )
        # the marker a loader collects, and the book of what this process defined
        func.__cmpy_recipe__ = recipe  # type: ignore[attr-defined]
        DEFINITIONS.add(recipe, func)
        return func

    if fn is not None:
        return decorate(fn)
    return decorate


def _make_recipe(func: Callable[..., Any], **kw: Any) -> Recipe:
    code = getattr(func, "__code__", None)
    name = getattr(func, "__name__", "recipe")
    alias = kw["alias"] or name.strip("_").replace("_", "-")
    if not callable(func) or code is None:
        raise RecipeDefinitionError(alias, "@script must decorate a function")
    if code.co_argcount < 1:
        raise RecipeDefinitionError(
            alias, f"the body {name}() must take one argument, the Ctx", hint=f"def {name}(ctx): ..."
        )
    try:
        tags = _words(kw["tags"]) or tuple(alias.split("-"))
        uid = (kw["uid"] or uid_for(alias)).lower()
        for tag in tags:
            q = parse_query(tag)
            if q.tags != (tag,) or has_glob(tag):
                raise RecipeDefinitionError(alias, f"{tag!r} is not a valid tag")
        deps = tuple(d if isinstance(d, Dep) else Dep(d) for d in kw["deps"])
        post_deps = tuple(d if isinstance(d, Dep) else Dep(d) for d in kw["post_deps"])
        inputs = {str(k): _input(v) for k, v in (kw["inputs"] or {}).items()}
    except (QuerySyntaxError, TypeError, ValueError) as exc:
        if isinstance(exc, RecipeDefinitionError):
            raise
        text = exc.message if isinstance(exc, CmpyError) else str(exc)
        raise RecipeDefinitionError(alias, text) from exc
    recipe = Recipe(
        alias=alias,
        uid=uid,
        tags=tags,
        deps=deps,
        post_deps=post_deps,
        variations=dict(kw["variations"] or {}),
        env=_str_map(kw["env"], "env"),
        inputs=inputs,
        exports=None if kw["exports"] is None else _words(kw["exports"]),
        reads=_words(kw["reads"]),
        process_env=_words(kw["process_env"]),
        dry_run_safe=bool(kw["dry_run_safe"]),
        cache=bool(kw["cache"]),
        priority=int(kw["priority"]),
        override=bool(kw["override"]),
        is_async=bool(code.co_flags & _CO_COROUTINE),
        module=getattr(func, "__module__", "") or "",
        qualname=getattr(func, "__qualname__", name),
        file=code.co_filename,
        line=code.co_firstlineno,
        doc=_clean_doc(func.__doc__ or ""),
    )
    validate(recipe)
    return recipe


def _clean_doc(text: str) -> str:
    """A docstring without its indentation (``inspect.cleandoc``, without importing inspect)."""
    lines = text.expandtabs().strip().splitlines()
    if not lines:
        return ""
    rest = lines[1:]
    margin = min((len(s) - len(s.lstrip()) for s in rest if s.strip()), default=0)
    return "\n".join([lines[0].strip(), *(s[margin:].rstrip() for s in rest)]).strip()


def _input(value: str | tuple[str, str] | Input) -> Input:
    if isinstance(value, Input):
        return value
    if isinstance(value, str):
        return Input(value)
    if isinstance(value, tuple) and len(value) == 2:
        return Input(str(value[0]), str(value[1]))
    raise TypeError(f"an input is an env key, (env key, help) or Input, not {value!r}")


def validate(recipe: Recipe) -> None:
    """Check a recipe definition for the mistakes that can be seen without running it.

    Raises:
        RecipeDefinitionError: naming the recipe and the problem.
    """
    alias = recipe.alias
    if len(recipe.uid) != 16 or any(c not in "0123456789abcdef" for c in recipe.uid):
        raise RecipeDefinitionError(alias, f"uid {recipe.uid!r} is not 16 hex digits")
    variations = recipe.variations
    plain = {n for n in variations if "," not in n}
    wildcards = {n[:-2] for n in plain if n.endswith(".#")}
    defaults: dict[str, str] = {}

    def known(name: str) -> bool:
        if name in plain:
            return True
        prefix, dot, value = name.partition(".")
        return bool(dot and value and prefix in wildcards)

    for name, var in variations.items():
        if not isinstance(var, Variation):
            raise RecipeDefinitionError(alias, f"variation {name!r} must be a Variation(...)")
        parts = name.split(",")
        for part in parts if len(parts) > 1 else ():
            if not known(part):
                raise RecipeDefinitionError(
                    alias, f"combined variation {name!r} names {part!r}, which is not a variation"
                )
        for base in var.base:
            if not known(base):
                raise RecipeDefinitionError(
                    alias, f"variation {name!r} has base {base!r}, which is not a variation"
                )
        if var.alias is not None and not known(var.alias):
            raise RecipeDefinitionError(
                alias, f"variation {name!r} is an alias of {var.alias!r}, which is not a variation"
            )
        if var.alias is not None:
            chain = [name]
            target: str | None = var.alias
            while target is not None and target in variations:
                if target in chain:
                    raise RecipeDefinitionError(
                        alias, "variation aliases form a loop: " + " -> ".join([*chain, target])
                    )
                chain.append(target)
                target = variations[target].alias
        if var.default:
            if name.endswith(".#"):
                raise RecipeDefinitionError(
                    alias,
                    f"wildcard variation {name!r} cannot be a default: it needs a value",
                    hint=f"make a plain variation with base=['{name[:-2]}.VALUE'] the default",
                )
            if var.group is None:
                raise RecipeDefinitionError(
                    alias,
                    f"variation {name!r} is a default but belongs to no group",
                    hint="give it group=... (a default is what a group falls back to)",
                )
            if var.group in defaults:
                raise RecipeDefinitionError(
                    alias,
                    f"group {var.group!r} has two defaults: {defaults[var.group]!r} and {name!r}",
                )
            defaults[var.group] = name
    all_deps = list(recipe.deps) + list(recipe.post_deps)
    for var in variations.values():
        all_deps += var.deps
    for dep in all_deps:
        _check_spec(alias, dep)
    for name in recipe.inputs:
        if name in plain or name in wildcards:
            raise RecipeDefinitionError(
                alias,
                f"input {name!r} has the name of a variation",
                hint="rename one of them: run(..., name=...) must mean one thing",
            )


def _check_spec(alias: str, dep: Dep) -> None:
    spec = dep.spec
    if not spec:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        raise RecipeDefinitionError(
            alias,
            f"the dep {str(dep.query)!r} has a bad version constraint {spec!r}",
            hint="use PEP 440 versions, such as version_min='3.8' or version='>=3.8,<4'",
        ) from None
