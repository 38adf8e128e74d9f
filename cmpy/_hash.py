"""The one digest cmpy keys things with: BLAKE2b, 128 bits, as hex.

``hashlib`` loads OpenSSL on import (several ms of every command); BLAKE2b
is built into CPython as ``_blake2``, so it is taken from there when it can be.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python implementation
    from hashlib import blake2b

__all__ = ["digest"]


def digest(text: str, size: int = 16) -> str:
    """The hex BLAKE2b digest of ``text`` (``size`` bytes long)."""
    return blake2b(text.encode(), digest_size=size).hexdigest()
