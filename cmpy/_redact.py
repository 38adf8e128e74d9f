"""Credentials never leave in plain text: URLs with a password are shown redacted.

``https://user:secret@host/x`` becomes ``https://user:***@host/x`` wherever a
URL reaches a user or a file: an error, a log line, a cache record, an
exported value. A user name alone (``ssh://git@host``) is kept, unless it
is long enough to be a token (``https://ghp_...@github.com``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    import re

__all__ = ["redact", "redact_env"]

_MASK = "***"
# scheme://userinfo@ where userinfo has no "/", "@" or white space
_USERINFO = r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s]+)@"
# a user name this long, without a password, is a token put where a user name goes
_TOKEN_LENGTH = 20


def _mask(match: re.Match[str]) -> str:
    info = match["info"]
    user, colon, _password = info.partition(":")
    if colon:
        return f"{match['scheme']}{user}:{_MASK}@"
    if len(user) >= _TOKEN_LENGTH:
        return f"{match['scheme']}{_MASK}@"
    return match[0]


def redact(text: str) -> str:
    """``text`` with the password (or token) of every URL in it replaced by ``***``."""
    if "://" not in text or "@" not in text:
        return text
    import re  # compiled on first use: most commands never show a URL

    return re.sub(_USERINFO, _mask, text)


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` whose values are redacted (for what is recorded or shown)."""
    return {key: redact(value) for key, value in env.items()}
