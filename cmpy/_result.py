"""What a run hands back, and what a recipe body may return."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Result", "export_digest", "canonical_repr"]


@dataclass(slots=True, kw_only=True)
class Result:
    """The result of running (or finding in the cache) one recipe.

    ``result["KEY"]`` reads the exported env. A recipe body may also return a
    ``Result(env=..., state=..., version=...)``; the engine fills in the rest.
    """

    env: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    path: Path | None = None
    cached: bool = False
    recipe: str = ""
    variations: tuple[str, ...] = ()
    deps: tuple[Result, ...] = ()
    duration: float = 0.0
    key: str = ""
    dry_run: bool = False

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
            "path": str(self.path) if self.path else None,
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

    def __repr__(self) -> str:
        how = "cached" if self.cached else "ran"
        version = f" version={self.version}" if self.version else ""
        return f"<Result {self.recipe}{''.join(' _' + v for v in self.variations)} {how}{version} env={len(self.env)} keys>"


def canonical_repr(value: Any) -> str:
    """A repr that is the same for equal JSON-like values (dict order ignored)."""
    if isinstance(value, Mapping):
        items = sorted((str(k), canonical_repr(v)) for k, v in value.items())
        return "{" + ",".join(f"{k!r}:{v}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_repr(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(canonical_repr(v) for v in value)) + "}"
    if isinstance(value, Path):
        return repr(str(value))
    return repr(value)


def export_digest(env: Mapping[str, str], state: Mapping[str, Any], version: str | None) -> str:
    """A digest of everything a result hands to its dependents."""
    text = canonical_repr([env, state, version])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
