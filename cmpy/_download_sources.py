"""Where a download comes from and what it is called: mirrors, URL maps, schemes, names.

:func:`apply_url_overrides` turns a site's ``CMPY_DOWNLOAD_MIRROR`` and
``CMPY_DOWNLOAD_URL_MAP`` into sources (see :mod:`cmpy._download`);
:func:`_sources` lists the sources of one call, mirrors first, refusing a
scheme other than http(s), file or a local path; :func:`_dest_path` names
the file a download into a folder creates, after the URL, when the URL's
last component is a usable file name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._errors import UsageError
from ._redact import redact

__all__ = [
    "MIRROR_ENV",
    "URL_MAP_ENV",
    "_dest_path",
    "_file_name",
    "_sources",
    "apply_url_overrides",
]

MIRROR_ENV = "CMPY_DOWNLOAD_MIRROR"
URL_MAP_ENV = "CMPY_DOWNLOAD_URL_MAP"
_SCHEMES = ("http", "https", "file")
_NAME_HINT = (
    "give the file's name: filename=... (download file, ctx.download), "
    "or a file path as dest (cmpy.tools.download)"
)


def apply_url_overrides(url: str, env: Mapping[str, str]) -> list[str]:
    """The sources to try for ``url`` under a site's mirror settings, best first.

    Reads ``CMPY_DOWNLOAD_URL_MAP`` (``orig_prefix=new_prefix;...``, longest
    matching prefix first) and ``CMPY_DOWNLOAD_MIRROR`` (base URLs or folders
    separated by ``;``, to which the file name of ``url`` is appended); see the
    documentation of :mod:`cmpy._download`. The original ``url`` is always last, and
    each source appears once, so the list can be passed as ``mirrors=`` to
    :func:`~cmpy._download.download`.

    :param url: the URL a recipe would download.
    :param env: the environment to read (usually ``os.environ``).
    :raises UsageError: when ``CMPY_DOWNLOAD_URL_MAP`` is malformed.
    """
    found: list[str] = []
    pairs: list[tuple[str, str]] = []
    for item in env.get(URL_MAP_ENV, "").split(";"):
        if not item.strip():
            continue
        orig, sep, new = item.partition("=")
        if not sep or not orig.strip():
            raise UsageError(
                f"{URL_MAP_ENV} has a malformed entry {redact(item)!r}",
                hint=f"write {URL_MAP_ENV}='https://orig.host/path/=https://mirror/path/;...'",
            )
        pairs.append((orig.strip(), new.strip()))
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    found += [new + url[len(orig) :] for orig, new in pairs if url.startswith(orig)]
    name = _file_name(url)
    if _usable_name(name):
        for base in env.get(MIRROR_ENV, "").split(";"):
            if base.strip():
                found.append(_join_base(base.strip(), name))
    found.append(url)
    return list(dict.fromkeys(found))


def _sources(url: str, mirrors: Sequence[str]) -> list[str]:
    _check_scheme(url)
    name = _file_name(url)
    sources: list[str] = []
    for mirror in mirrors:
        if _is_base(mirror):
            if not _usable_name(name):
                continue  # a base needs a file name to append, and this URL has none
            sources.append(_join_base(mirror, name))
        else:
            sources.append(mirror)
    sources.append(url)
    for source in sources:
        _check_scheme(source)
    return list(dict.fromkeys(sources))


def _check_scheme(source: str) -> None:
    from urllib.parse import urlsplit

    try:
        scheme = urlsplit(source).scheme.lower()
    except ValueError as e:
        raise UsageError(
            f"cannot download {redact(source)!r}: it is not a valid URL ({e})",
            hint="check the URL",
        ) from None
    if scheme in _SCHEMES or not scheme or (len(scheme) == 1 and os.name == "nt"):
        return
    raise UsageError(
        f"cannot download {redact(source)!r}: the {scheme!r} scheme is not supported",
        hint="use an http://, https:// or file:// URL, or a local path",
    )


def _is_base(mirror: str) -> bool:
    if mirror.endswith(("/", os.sep)):
        return True
    return "://" not in mirror and os.path.isdir(mirror)


def _join_base(base: str, name: str) -> str:
    if "://" in base:
        from urllib.parse import quote

        return base.rstrip("/") + "/" + quote(name)
    return os.path.join(base, name)


def _file_name(url: str) -> str:
    """The last path component of a URL or path ("" when it ends with a slash)."""
    if "://" not in url:
        return os.path.basename(url)
    from urllib.parse import unquote, urlsplit

    return os.path.basename(unquote(urlsplit(url).path))


def _usable_name(name: str) -> bool:
    """Whether a URL's file name can name a file in a folder (``..`` or ``%2e`` cannot)."""
    return name not in ("", ".", "..") and "\0" not in name


def _dest_path(dest: Path, url: str) -> Path:
    if not dest.is_dir():
        if dest.name in ("", ".", ".."):
            raise UsageError(
                f"cannot download {redact(url)} to {dest}: it names no file",
                hint="give dest as a file path",
            )
        return dest
    name = _file_name(url)
    if not name:
        raise UsageError(
            f"cannot download {redact(url)} into the folder {dest}: the URL names no file",
            hint=_NAME_HINT,
        )
    if not _usable_name(name):
        raise UsageError(
            f"cannot download {redact(url)} into the folder {dest}: the URL's file name "
            f"{name!r} is not a usable file name",
            hint=_NAME_HINT,
        )
    return dest / name
