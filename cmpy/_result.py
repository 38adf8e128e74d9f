"""What a run hands back, and what a recipe body may return."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ._hash import digest

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = ["Result", "export_digest", "canonical_repr"]


class Result:
    """The result of running (or finding in the cache) one recipe.

    ``result["KEY"]`` reads the exported env. A recipe body may also return a
    ``Result(env=..., state=..., version=...)``; the engine fills in the rest.

    Attributes:
        env: the exported env.
        state: the exported structured state.
        version: the version the recipe reported, if any.
        path: the result's folder (the cache entry's, or the run's), if it has one.
        cached: whether it came from the cache.
        recipe: the recipe's alias.
        variations: the resolved variations, canonical and sorted.
        deps: the results of its deps (static, dynamic, then post deps).
        duration: seconds its body ran (0 for a cache hit).
        key: its cache key.
        dry_run: whether this is a plan preview (nothing ran).
    """

    __slots__ = (
        "cached",
        "deps",
        "dry_run",
        "duration",
        "env",
        "folder",
        "key",
        "recipe",
        "state",
        "variations",
        "version",
    )

    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        state: dict[str, Any] | None = None,
        version: str | None = None,
        path: str | os.PathLike[str] | None = None,
        cached: bool = False,
        recipe: str = "",
        variations: tuple[str, ...] = (),
        deps: tuple[Result, ...] = (),
        duration: float = 0.0,
        key: str = "",
        dry_run: bool = False,
    ) -> None:
        self.env: dict[str, str] = {} if env is None else env
        self.state: dict[str, Any] = {} if state is None else state
        self.version = version
        # kept as a string: pathlib costs start-up time and most callers never look
        self.folder: str | None = None if path is None else os.fspath(path)
        self.cached = cached
        self.recipe = recipe
        self.variations = variations
        self.deps = deps
        self.duration = duration
        self.key = key
        self.dry_run = dry_run

    @property
    def path(self) -> Path | None:
        """The result's folder, if it has one."""
        if self.folder is None:
            return None
        from pathlib import Path

        return Path(self.folder)

    def __getitem__(self, key: str) -> str:
        return self.env[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The exported env value of ``key``, or ``default``."""
        return self.env.get(key, default)

    def find(self, alias: str) -> Result | None:
        """The first result below (or this one) whose recipe alias is ``alias``."""
        if self.recipe == alias:
            return self
        for dep in self.deps:
            found = dep.find(alias)
            if found is not None:
                return found
        return None

    def to_dict(self, *, deps: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (the document ``cmpy run --json`` prints)."""
        out: dict[str, Any] = {
            "recipe": self.recipe,
            "variations": list(self.variations),
            "version": self.version,
            "cached": self.cached,
            "path": self.folder,
            "duration": round(self.duration, 6),
            "key": self.key,
            "env": dict(self.env),
            "state": self.state,
        }
        if self.dry_run:
            out["dry_run"] = True
        if deps:
            out["deps"] = [d.to_dict(deps=True) for d in self.deps]
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        how = "cached" if self.cached else "ran"
        version = f" version={self.version}" if self.version else ""
        variations = "".join(" _" + v for v in self.variations)
        return f"<Result {self.recipe}{variations} {how}{version} env={len(self.env)} keys>"


def canonical_repr(value: Any) -> str:
    """A repr that is the same for equal JSON-like values (dict order ignored)."""
    if isinstance(value, Mapping):
        items = sorted((str(k), canonical_repr(v)) for k, v in value.items())
        return "{" + ",".join(f"{k!r}:{v}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_repr(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(canonical_repr(v) for v in value)) + "}"
    if hasattr(value, "__fspath__"):
        return repr(os.fspath(value))
    return repr(value)


def export_digest(env: Mapping[str, str], state: Mapping[str, Any], version: str | None) -> str:
    """A digest of everything a result hands to its dependents."""
    text = canonical_repr([env, state, version])
    return digest(text)
