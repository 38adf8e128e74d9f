"""Did-you-mean: the known names closest to a mistyped one."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["closest", "distance"]


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn ``a`` into ``b``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def closest(word: str, candidates: Iterable[str], *, n: int = 1, slack: float = 0.34) -> list[str]:
    """The ``n`` candidates nearest to ``word``, within about a third of its length in edits.

    Edit distance rather than difflib's ratio: on short names such as variation
    names difflib misses one-letter typos ("azaa" for "aaa").
    """
    limit = max(1, round(len(word) * slack))
    scored = []
    for candidate in set(candidates):
        d = distance(word.lower(), candidate.lower())
        if d <= limit or (candidate.startswith(word) and len(word) >= 3):
            scored.append((d, len(candidate), candidate))
    return [c for _, _, c in sorted(scored)[:n]]
