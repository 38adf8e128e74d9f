"""The pure planner: a request becomes a DAG of nodes, each with a canonical key.

Planning reads only the registry (in memory) and the request: no I/O, no
clock. A node's key is a Merkle hash of the recipe's fingerprint, its
resolved variations, its version specifier, the input env it reads and the
keys of its deps, so two requests for the same work are the same node and a
cache lookup is possible before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._adr import adr_json, adr_name, override
from ._errors import CmpyError, DependencyCycle, RecipeDefinitionError, RecipeNotFound, UsageError
from ._hash import digest
from ._model import Dep, Recipe, label
from ._query import Query
from ._record import Record, field, fields, replace
from ._variations import resolve

__all__ = ["Node", "Plan", "Request", "condition_holds", "plan"]

_TRUE = frozenset({"yes", "on", "true", "1"})
_FALSE = frozenset({"no", "off", "false", "0"})
_MAX_DEPTH = 256
# the env key a recipe reads to be handed the adr in force below it, as JSON
ADR_ENV = "CMPY_ADR"

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Selector(Protocol):
        def select(self, query: Query) -> Recipe: ...


class Request(Record):
    """What a caller asks for: a recipe with variations, inputs, env, constraints."""

    recipe: Recipe
    variations: tuple[str, ...] = ()
    excluded_variations: tuple[str, ...] = ()
    spec: str = ""
    inputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    adr: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    inherited: Mapping[str, str] = field(default_factory=dict)

    def memo_key(self) -> tuple[object, ...]:
        """Everything that determines the plan, hashable: every field (a new one cannot be
        left out), the recipe by its uid and fingerprint."""
        return tuple(
            (self.recipe.uid, self.recipe.fingerprint) if name == "recipe" else _frozen(getattr(self, name))
            for name in fields(self)
        )


class Node(Record):
    """One unit of work: a recipe with everything that determines its result."""

    key: str
    base_key: str
    recipe: Recipe
    variations: tuple[str, ...]
    env: dict[str, str]
    spec: str
    deps: tuple[str, ...]
    dep_names: tuple[tuple[str, ...], ...]
    optional: tuple[bool, ...]
    post_deps: tuple[str, ...]
    chain: tuple[str, ...]

    @property
    def label(self) -> str:
        """``alias _var1 _var2`` as a user would read it."""
        return label(self.recipe.alias, self.variations)


class Plan(Record):
    """A DAG of nodes: ``nodes`` is in an order where every node follows its deps.

    ``adr_used`` names the caller's ``adr`` entries that some dep of the plan
    took; ``adr_env_unread`` lists ``(adr name, env key)`` pairs an ``adr``
    set that neither that dep's recipe nor anything below it reads.
    """

    root: str
    nodes: dict[str, Node]
    adr_used: frozenset[str] = frozenset()
    adr_env_unread: tuple[tuple[str, str], ...] = ()

    def children(self, key: str) -> tuple[str, ...]:
        node = self.nodes[key]
        return node.deps + node.post_deps


def _frozen(value: Any) -> object:
    """A value as a hashable key: mappings as sorted pairs, sequences as tuples."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def condition_holds(env: Mapping[str, str], wanted: Mapping[str, tuple[str, ...]]) -> bool:
    """CM's ``enable_if_env`` rule: every key's value is one of its listed values.

    ``yes/on/true/1`` match any truthy value; ``no/off/false/0`` also match a
    missing or empty key.
    """
    for key, values in wanted.items():
        have = env.get(key)
        if not any(_matches(have, w) for w in values):
            return False
    return True


def _matches(have: str | None, want: str) -> bool:
    lowered = want.lower()
    if lowered in _TRUE:
        return have is not None and have.lower() in _TRUE
    if lowered in _FALSE:
        return have is None or have == "" or have.lower() in _FALSE
    return have == want


def _digest(*parts: object) -> str:
    return digest(repr(parts))


def reads(recipe: Recipe, deps: tuple[Dep, ...]) -> tuple[set[str], tuple[str, ...]]:
    """The env keys a recipe reads from above: exact keys and glob patterns."""
    exact = set(recipe.env)
    exact.update(i.env for i in recipe.inputs.values())
    for var in recipe.variations.values():
        exact.update(var.env)
    for dep in deps:
        exact.update(dep.when_env)
        exact.update(dep.skip_env)
    return exact, recipe.reads


def _filtered(env: Mapping[str, str], exact: set[str], patterns: tuple[str, ...]) -> dict[str, str]:
    if not patterns:
        return {key: env[key] for key in sorted(env) if key in exact}
    import fnmatch

    return {
        key: env[key]
        for key in sorted(env)
        if key in exact or any(fnmatch.fnmatchcase(key, p) for p in patterns)
    }


def map_inputs(recipe: Recipe, inputs: Mapping[str, str], *, who: str) -> dict[str, str]:
    """Input values by input name -> env values by env key.

    Raises:
        UsageError: an input the recipe does not declare (with a did-you-mean).
    """
    out: dict[str, str] = {}
    for name, value in inputs.items():
        spec = recipe.inputs.get(name)
        if spec is None:
            from ._suggest import closest

            known = sorted(recipe.inputs)
            close = closest(name, known)
            hint = f"did you mean {close[0]!r}?" if close else None
            listing = ", ".join(known) if known else "none"
            raise UsageError(
                f"{who} gives {recipe.alias!r} the input {name!r}, which it does not take "
                f"(its inputs: {listing})",
                hint=hint or f"see: cmpy show {recipe.alias}",
            )
        out[spec.env] = value
    return out


class _Planner:
    def __init__(self, registry: Selector, caller_env: Mapping[str, str], caller_adr: Mapping[str, Mapping[str, Any]]) -> None:
        self.registry = registry
        self.caller_env = dict(caller_env)
        self.caller_adr = {k: dict(v) for k, v in caller_adr.items()}
        self.nodes: dict[str, Node] = {}
        self.memo: dict[tuple[object, ...], str] = {}
        self.stack: list[tuple[str, str]] = []
        self.on_stack: set[str] = set()
        self.reads: dict[tuple[str, tuple[str, ...]], tuple[set[str], tuple[str, ...]]] = {}
        self.unkeyed: dict[str, set[str]] = {}
        self.adr_used: set[str] = set()
        self.adr_env_unread: list[tuple[str, str]] = []

    def node(
        self,
        recipe: Recipe,
        requested: tuple[str, ...],
        excluded: tuple[str, ...],
        spec: str,
        inherited: Mapping[str, str],
        inherited_sig: tuple[tuple[str, str], ...],
        passed: Mapping[str, str],
        adr: Mapping[str, Mapping[str, Any]],
        adr_sig: str,
        chain: tuple[str, ...],
    ) -> str:
        # a request seen before (same recipe, variations, constraint, env and
        # overrides) is the same node: planning is deterministic
        early = (recipe.uid, requested, excluded, spec, inherited_sig, tuple(sorted(passed.items())), adr_sig)
        done = self.memo.get(early)
        if done is not None:
            return done
        resolved = resolve(recipe, requested, excluded)
        env: dict[str, str] = dict(recipe.env)
        env.update(inherited)
        env.update(resolved.env)
        env.update(passed)
        env.update(self.caller_env)
        if ADR_ENV in recipe.reads and (adr or self.caller_adr or resolved.adr):
            # a recipe that decides its deps as it runs (a CM script) is handed the
            # overrides in force for them, and they key its result
            env[ADR_ENV] = adr_json(env.get(ADR_ENV, ""), adr, resolved.adr, self.caller_adr)
            self.adr_used.update(self.caller_adr)
        all_deps = recipe.deps + resolved.deps
        read_key = (recipe.uid, resolved.names)
        read = self.reads.get(read_key)
        if read is None:
            read = self.reads[read_key] = reads(recipe, all_deps + recipe.post_deps)
        seen = _filtered(env, *read)
        unkeyed = self.unkeyed.get(recipe.uid)
        if unkeyed is None:
            unkeyed = self.unkeyed[recipe.uid] = {i.env for i in recipe.inputs.values() if not i.key}
        keyed = {k: v for k, v in seen.items() if k not in unkeyed} if unkeyed else seen
        shown = label(recipe.alias, resolved.names)
        chain = chain + (shown,)
        # the version specifier stays out of the base key, so that entries which
        # differ only by it are one family (a cached 3.11 serves ">=3.8" and ">=3.10")
        pre_key = _digest(recipe.fingerprint, recipe.uid, resolved.names, keyed)
        below_adr: dict[str, dict[str, Any]] = {k: dict(v) for k, v in adr.items()}
        for name, changes in resolved.adr.items():
            below_adr.setdefault(name, {}).update(changes)
        below_sig = repr(sorted(below_adr.items())) if below_adr else ""
        if pre_key in self.on_stack:
            start = next(i for i, (pk, _) in enumerate(self.stack) if pk == pre_key)
            raise DependencyCycle([lbl for _, lbl in self.stack[start:]] + [shown])
        if len(self.stack) >= _MAX_DEPTH:
            raise DependencyCycle([lbl for _, lbl in self.stack[-5:]] + [shown, "..."])
        self.stack.append((pre_key, shown))
        self.on_stack.add(pre_key)
        env_sig = tuple(sorted(env.items()))
        try:
            deps, names, optional = self._deps(all_deps, env, env_sig, below_adr, below_sig, chain, recipe)
            post, _, _ = self._deps(recipe.post_deps, env, env_sig, below_adr, below_sig, chain, recipe)
        finally:
            self.stack.pop()
            self.on_stack.discard(pre_key)
        base_key = _digest(pre_key, deps)
        key = _digest(base_key, spec) if spec else base_key
        existing = self.nodes.get(key)
        if existing is not None:
            # the same work asked for from two places whose post deps differ
            # (they read env the node itself does not): it runs once, then all of them
            extra = tuple(p for p in post if p not in existing.post_deps)
            if extra:
                self.nodes[key] = replace(existing, post_deps=existing.post_deps + extra)
        else:
            self.nodes[key] = Node(
                key=key,
                base_key=base_key,
                recipe=recipe,
                variations=resolved.names,
                env=seen,
                spec=spec,
                deps=deps,
                dep_names=names,
                optional=optional,
                post_deps=post,
                chain=chain,
            )
        self.memo[early] = key
        return key

    def _deps(
        self,
        deps: tuple[Dep, ...],
        env: dict[str, str],
        env_sig: tuple[tuple[str, str], ...],
        adr: dict[str, dict[str, Any]],
        adr_sig: str,
        chain: tuple[str, ...],
        parent: Recipe,
    ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[bool, ...]]:
        keys: list[str] = []
        names: list[tuple[str, ...]] = []
        optional: list[bool] = []
        for dep in deps:
            if dep.when_env and not condition_holds(env, dep.when_env):
                continue
            if dep.skip_env and condition_holds(env, dep.skip_env):
                continue
            query, spec, passed, inputs, from_adr = override(dep, adr, self.caller_adr, chain)
            self.adr_used.update(n for n in dep.names if n in self.caller_adr)
            try:
                near = getattr(self.registry, "select_near", None)
                child = self.registry.select(query) if near is None else near(query, parent)
                if inputs:
                    passed.update(map_inputs(child, inputs, who=f"the dep {str(query)!r}"))
            except CmpyError as exc:
                if dep.optional and isinstance(exc, RecipeNotFound):
                    continue
                raise exc.with_chain(chain + (str(query),)) from None
            key = self.node(
                child,
                query.variations,
                query.excluded_variations,
                spec,
                env,
                env_sig,
                passed,
                adr,
                adr_sig,
                chain,
            )
            if passed:
                self._check_read(dep, passed, from_adr, key, child, chain)
            if key not in keys:
                keys.append(key)
                names.append(dep.names)
                optional.append(dep.optional)
        return tuple(keys), tuple(names), tuple(optional)

    def _below(self, key: str) -> set[str]:
        """The env keys a node or anything below it reads (walked afresh: post deps can
        still be added to a node while planning goes on)."""
        found: set[str] = set()
        seen: set[str] = set()
        todo = [key]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            node = self.nodes[current]
            found.update(node.env)
            todo += node.deps + node.post_deps
        return found

    def _check_read(
        self,
        dep: Dep,
        passed: Mapping[str, str],
        from_adr: frozenset[str],
        key: str,
        child: Recipe,
        chain: tuple[str, ...],
    ) -> None:
        """Env handed to a dep must be read by its recipe or something below it.

        Raises:
            RecipeDefinitionError: a ``Dep(env=...)`` key nothing below reads
                (an ``adr`` one is only noted: the caller is told after the run).
        """
        own = self.nodes[key].env
        missing = [name for name in passed if name not in own]
        if not missing:
            return
        below = self._below(key)
        for name in missing:
            if name in below:
                continue
            if name in from_adr:
                self.adr_env_unread.append((adr_name(dep, self.caller_adr), name))
                continue
            if name in dep.env:
                owner = chain[-1] if chain else "the caller"
                raise RecipeDefinitionError(
                    owner,
                    f"its dep {str(dep.query)!r} sets {name} in env, which {child.alias} "
                    "never reads, nor does anything it depends on",
                    hint=f"declare it in {child.alias} (an input, an env default or "
                    f"reads=[{name!r}]), or drop it from the dep's env",
                ).with_chain(chain)


def plan(registry: Selector, request: Request, *, chain: tuple[str, ...] = ()) -> Plan:
    """Turn a request into a plan.

    Raises:
        DependencyCycle: recipes that depend on each other in a loop.
        RecipeNotFound, AmbiguousQuery, VariationError, UsageError: a dep that
            cannot be resolved (the error's ``chain`` says which).
    """
    planner = _Planner(registry, request.env, request.adr)
    passed = map_inputs(request.recipe, request.inputs, who="the call")
    root = planner.node(
        request.recipe,
        request.variations,
        request.excluded_variations,
        request.spec,
        request.inherited,
        tuple(sorted(request.inherited.items())),
        passed,
        {},
        "",
        chain,
    )
    return Plan(
        root,
        planner.nodes,
        adr_used=frozenset(planner.adr_used),
        adr_env_unread=tuple(dict.fromkeys(planner.adr_env_unread)),
    )

