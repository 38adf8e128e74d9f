"""Tools for recipe bodies: find programs and their versions, download, extract.

Everything here is blocking and thread-safe; plain ``def`` bodies call it
directly, ``async def`` bodies through ``ctx.download`` / ``ctx.extract`` or
``anyio.to_thread``.

- :func:`find_executables`, :func:`detect_version`, :func:`choose`, :func:`detect`:
  Spack-style detection (every candidate on PATH, its ``--version``, the newest
  that fits a PEP 440 specifier).
- :func:`download`: http, https and file URLs, resumable, retried, verified.
- :func:`apply_url_overrides`: the mirrors a site asked for through env.
- :func:`extract`: tar and zip, refusing anything that would land outside the
  target, or expand past its limits (size, members, compression ratio).
- :func:`redact`: a text with the password of every URL in it shown as ``***``.
- :func:`requirement`, :func:`argument`, :func:`url_or_path`: values checked
  before they reach a command line (a PEP 508 requirement, never an option).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the guarded imports
if TYPE_CHECKING:
    from ._archive import KNOWN_FORMATS, MAX_MEMBER_DEPTH, archive_format, extract, list_members
    from ._checks import argument, requirement, url_or_path
    from ._detect import (
        Candidate,
        choose,
        detect,
        detect_version,
        find_executables,
        natural_key,
        search_dirs,
    )
    from ._download import MIRROR_ENV, URL_MAP_ENV, DownloadResult, apply_url_overrides, download
    from ._redact import redact

# each name is imported from its module when first asked for: a recipe module that
# needs detect_version does not load the download and archive code at start-up
_HOME = {
    **dict.fromkeys(
        ("KNOWN_FORMATS", "MAX_MEMBER_DEPTH", "archive_format", "extract", "list_members"),
        "_archive",
    ),
    **dict.fromkeys(("argument", "requirement", "url_or_path"), "_checks"),
    **dict.fromkeys(
        (
            "Candidate",
            "choose",
            "detect",
            "detect_version",
            "find_executables",
            "natural_key",
            "search_dirs",
        ),
        "_detect",
    ),
    **dict.fromkeys(
        ("MIRROR_ENV", "URL_MAP_ENV", "DownloadResult", "apply_url_overrides", "download"),
        "_download",
    ),
    "redact": "_redact",
}


def __getattr__(name: str) -> object:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'cmpy.tools' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"cmpy.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "KNOWN_FORMATS",
    "MAX_MEMBER_DEPTH",
    "MIRROR_ENV",
    "URL_MAP_ENV",
    "Candidate",
    "DownloadResult",
    "apply_url_overrides",
    "argument",
    "archive_format",
    "choose",
    "detect",
    "detect_version",
    "download",
    "extract",
    "find_executables",
    "list_members",
    "natural_key",
    "redact",
    "requirement",
    "search_dirs",
    "url_or_path",
]
